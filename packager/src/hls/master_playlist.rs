//! The master (multivariant) playlist of an adaptive ladder: video variants
//! sharing one audio rendition group and, when the video carries CEA-608
//! captions, one closed-captions group.

use std::collections::HashMap;

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ClosedCaptionGroupId, InstreamId, MasterPlaylist,
    QuotedOrUnquoted, Resolution, VariantStream,
};

use super::{PLAYLIST_VERSION, render};

/// `GROUP-ID` of the audio renditions.
pub const AUDIO_GROUP_ID: &str = "audio";

/// `GROUP-ID` of the closed captions carried in the video (CEA-608).
pub const CLOSED_CAPTIONS_GROUP_ID: &str = "cc";

/// CEA-608 captions carried in every video rendition (ATSC A/53 SEI user
/// data), announced as one `CLOSED-CAPTIONS` rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedCaptions {
    /// The 608 channel, written as `INSTREAM-ID="CC<n>"` (1 to 4).
    pub channel: u8,
    /// What players show in their caption menu, written as `NAME`.
    pub name: String,
    /// `LANGUAGE` (RFC 5646 tag such as `zh` or `en`), if known.
    pub language: Option<String>,
}

impl ClosedCaptions {
    /// Channel CC1 (the primary caption service of a 608 stream), named in
    /// Chinese and English since the source does not say its language.
    pub fn cc1() -> Self {
        Self {
            channel: 1,
            name: "隐藏字幕 / Closed captions (CC1)".to_string(),
            language: None,
        }
    }
}

/// One video rendition, measured.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoVariant {
    /// Media playlist URI relative to the master, e.g. `720p/index.m3u8`.
    pub uri: String,
    /// Video codec string, e.g. `avc1.64001f`.
    pub codec: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub frame_rate: f64,
    /// Peak segment bitrate of the video playlist alone, bit/s.
    pub peak_bitrate: u64,
    /// Average segment bitrate of the video playlist alone, bit/s.
    pub average_bitrate: u64,
}

/// One audio rendition, measured.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRendition {
    /// Media playlist URI relative to the master, e.g. `audio/index.m3u8`.
    pub uri: String,
    /// Human-readable `NAME` (quotes and line breaks are removed when rendering).
    pub name: String,
    /// `LANGUAGE` (RFC 5646 tag such as `zh` or `en`), if known.
    pub language: Option<String>,
    /// Channel count, written as `CHANNELS`.
    pub channels: Option<u16>,
    /// Audio codec string, e.g. `mp4a.40.2`.
    pub codec: String,
    /// Peak segment bitrate, bit/s.
    pub peak_bitrate: u64,
    /// Average segment bitrate, bit/s.
    pub average_bitrate: u64,
}

/// What a master playlist lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MasterPlaylistSpec {
    /// Video variants (any order; rendering sorts them).
    pub variants: Vec<VideoVariant>,
    /// Audio renditions; the first one is the default.
    pub audio: Vec<AudioRendition>,
    /// CEA-608 captions every video variant carries, if any.
    pub closed_captions: Option<ClosedCaptions>,
}

impl MasterPlaylistSpec {
    /// Renders the master playlist (`EXT-X-VERSION:7`, `EXT-X-INDEPENDENT-SEGMENTS`).
    ///
    /// Audio renditions become `EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"` entries
    /// (first one `DEFAULT=YES`, all `AUTOSELECT=YES`). Each video variant
    /// becomes an `EXT-X-STREAM-INF` with `BANDWIDTH` = its peak + the highest
    /// audio peak, `AVERAGE-BANDWIDTH` = its average + the highest audio
    /// average, `CODECS="<video>,<audio>"`, `RESOLUTION`, `FRAME-RATE` (3
    /// decimals) and `AUDIO="audio"`.
    ///
    /// With [`MasterPlaylistSpec::closed_captions`], one
    /// `EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc"` entry with its
    /// `NAME`, `INSTREAM-ID="CC<n>"`, `DEFAULT=YES` and `AUTOSELECT=YES`
    /// (608 captions have no URI: they are in the video), and every video
    /// variant names it with `CLOSED-CAPTIONS="cc"`.
    ///
    /// Variants are sorted by `BANDWIDTH` **ascending** (ties by height): the
    /// first listed variant is where players without a bandwidth estimate
    /// (Safari) start, so playback starts quickly on constrained networks and
    /// then climbs. Without video, each audio rendition is listed as an
    /// audio-only variant.
    pub fn render(&self) -> String {
        let audio_peak = self.audio.iter().map(|a| a.peak_bitrate).max().unwrap_or(0);
        let audio_average = self
            .audio
            .iter()
            .map(|a| a.average_bitrate)
            .max()
            .unwrap_or(0);
        let audio_codec = self.audio.first().map(|a| a.codec.clone());

        let mut variants: Vec<&VideoVariant> = self.variants.iter().collect();
        variants.sort_by_key(|v| (v.peak_bitrate, v.average_bitrate, v.height));

        let mut playlist = MasterPlaylist {
            version: Some(PLAYLIST_VERSION),
            independent_segments: true,
            ..MasterPlaylist::default()
        };
        if variants.is_empty() {
            playlist.variants = self.audio_only_variants();
            return render(|out| playlist.write_to(out));
        }

        playlist.alternatives = self.alternatives();
        playlist.variants = variants
            .into_iter()
            .map(|video| {
                let codecs = match &audio_codec {
                    Some(audio) => format!("{},{}", video.codec, audio),
                    None => video.codec.clone(),
                };
                VariantStream {
                    uri: video.uri.clone(),
                    bandwidth: video.peak_bitrate + audio_peak,
                    average_bandwidth: Some(video.average_bitrate + audio_average),
                    codecs: Some(codecs),
                    resolution: Some(Resolution {
                        width: u64::from(video.width),
                        height: u64::from(video.height),
                    }),
                    // m3u8-rs prints f64 in shortest form; HLS wants 3 decimals.
                    other_attributes: Some(HashMap::from([(
                        "FRAME-RATE".to_string(),
                        QuotedOrUnquoted::Unquoted(format!("{:.3}", video.frame_rate)),
                    )])),
                    audio: (!self.audio.is_empty()).then(|| AUDIO_GROUP_ID.to_string()),
                    closed_captions: self.closed_captions.as_ref().map(|_| {
                        ClosedCaptionGroupId::GroupId(CLOSED_CAPTIONS_GROUP_ID.to_string())
                    }),
                    ..VariantStream::default()
                }
            })
            .collect();
        render(|out| playlist.write_to(out))
    }

    /// Without video: each audio rendition as an audio-only variant.
    fn audio_only_variants(&self) -> Vec<VariantStream> {
        self.audio
            .iter()
            .map(|audio| VariantStream {
                uri: audio.uri.clone(),
                bandwidth: audio.peak_bitrate,
                average_bandwidth: Some(audio.average_bitrate),
                codecs: Some(audio.codec.clone()),
                ..VariantStream::default()
            })
            .collect()
    }

    /// The `EXT-X-MEDIA` renditions beside the video: the audio group (the
    /// first rendition the default) and the closed-captions group.
    fn alternatives(&self) -> Vec<AlternativeMedia> {
        let mut alternatives: Vec<AlternativeMedia> = self
            .audio
            .iter()
            .enumerate()
            .map(|(index, audio)| AlternativeMedia {
                media_type: AlternativeMediaType::Audio,
                uri: Some(audio.uri.clone()),
                group_id: AUDIO_GROUP_ID.to_string(),
                language: audio.language.as_deref().map(attribute_text),
                name: attribute_text(&audio.name),
                default: index == 0,
                autoselect: true,
                channels: audio.channels.map(|c| c.to_string()),
                ..AlternativeMedia::default()
            })
            .collect();
        if let Some(captions) = &self.closed_captions {
            alternatives.push(AlternativeMedia {
                media_type: AlternativeMediaType::ClosedCaptions,
                group_id: CLOSED_CAPTIONS_GROUP_ID.to_string(),
                language: captions.language.as_deref().map(attribute_text),
                name: attribute_text(&captions.name),
                default: true,
                autoselect: true,
                instream_id: Some(InstreamId::CC(captions.channel.clamp(1, 4))),
                ..AlternativeMedia::default()
            });
        }
        alternatives
    }
}

/// Quoted-string attribute values may not contain `"`, CR or LF (RFC 8216 4.2).
fn attribute_text(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n'))
        .collect()
}
