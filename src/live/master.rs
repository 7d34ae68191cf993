//! The master playlist of a live session (served while live) and of its
//! recording (written when it ends), from what each rendition is. Pure.

use serde::{Deserialize, Serialize};
use yanxiu_packager::hls::{AudioRendition, MasterPlaylistSpec, VideoVariant};
use yanxiu_packager::media::TrackKind;

use super::pipeline::RenditionInfo;

/// Peak and average bitrate of a rendition, bit/s.
pub type Bitrates = (u64, u64);

/// What the master playlist says of a rendition (kept in the open-session
/// marker, so an interrupted session's recording can be finished later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterEntry {
    /// Name, also its directory.
    pub name: String,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Picture size of a video rendition.
    pub picture: Option<(u32, u32)>,
    /// Channel count of an audio rendition.
    pub channels: Option<u16>,
}

impl MasterEntry {
    /// The entry of a running rendition (its latest configuration).
    pub fn of(info: &RenditionInfo) -> Self {
        let (picture, channels) = match info.config.kind {
            TrackKind::Video { width, height, .. } => (Some((width, height)), None),
            TrackKind::Audio { channels, .. } => (None, Some(channels)),
        };
        Self {
            name: info.name.clone(),
            codec: info.config.codec_string(),
            picture,
            channels,
        }
    }

    /// Whether it is a video rendition.
    pub fn is_video(&self) -> bool {
        self.picture.is_some()
    }
}

/// The master playlist over `renditions` with their bitrates, each at
/// `{name}/index.m3u8`, video at `frame_rate`.
pub fn render_master(renditions: &[(MasterEntry, Bitrates)], frame_rate: f64) -> String {
    let mut spec = MasterPlaylistSpec::default();
    for (entry, (peak, average)) in renditions {
        let uri = format!("{}/index.m3u8", entry.name);
        match entry.picture {
            Some((width, height)) => spec.variants.push(VideoVariant {
                uri,
                codec: entry.codec.clone(),
                width,
                height,
                frame_rate,
                peak_bitrate: *peak,
                average_bitrate: *average,
            }),
            None => spec.audio.push(AudioRendition {
                uri,
                name: entry.name.clone(),
                language: None,
                channels: entry.channels,
                codec: entry.codec.clone(),
                peak_bitrate: *peak,
                average_bitrate: *average,
            }),
        }
    }
    spec.render()
}
