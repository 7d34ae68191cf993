//! The master playlist of a live session (served while live) and of its
//! recording (written when it ends), from the renditions the pipeline
//! offered. Pure.

use yanxiu_packager::hls::{AudioRendition, MasterPlaylistSpec, VideoVariant};
use yanxiu_packager::media::TrackKind;

use super::pipeline::RenditionInfo;

/// Peak and average bitrate of a rendition, bit/s.
pub type Bitrates = (u64, u64);

/// The master playlist over `renditions`, each at `{name}/index.m3u8`;
/// `bitrates` gives each rendition's figures (declared while live,
/// measured for a recording), `frame_rate` the video frame rate.
pub fn render_master(
    renditions: &[RenditionInfo],
    frame_rate: f64,
    bitrates: impl Fn(&RenditionInfo) -> Bitrates,
) -> String {
    let mut spec = MasterPlaylistSpec {
        variants: Vec::new(),
        audio: Vec::new(),
    };
    for rendition in renditions {
        let (peak, average) = bitrates(rendition);
        let uri = format!("{}/index.m3u8", rendition.name);
        match &rendition.config.kind {
            TrackKind::Video { width, height, .. } => spec.variants.push(VideoVariant {
                uri,
                codec: rendition.config.codec_string(),
                width: *width,
                height: *height,
                frame_rate,
                peak_bitrate: peak,
                average_bitrate: average,
            }),
            TrackKind::Audio { channels, .. } => spec.audio.push(AudioRendition {
                uri,
                name: rendition.name.clone(),
                language: None,
                channels: Some(*channels),
                codec: rendition.config.codec_string(),
                peak_bitrate: peak,
                average_bitrate: average,
            }),
        }
    }
    spec.render()
}
