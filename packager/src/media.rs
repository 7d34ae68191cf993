//! The typed inputs of the packager: a track's configuration, its samples
//! (access units with timing) and the end-of-track marker.

use bytes::Bytes;

use crate::{aac, h264, hevc};

/// Everything needed to describe one track in an init segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    /// Ticks per second of `Sample::dts`/`pts`/`duration` (90000 for video, the sample rate for audio).
    pub timescale: u32,
    /// Video or audio, with the codec configuration.
    pub kind: TrackKind,
}

/// The media kind of a track and its kind-specific parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    /// A video track.
    Video {
        /// Displayed width in pixels.
        width: u32,
        /// Displayed height in pixels.
        height: u32,
        /// The decoder configuration.
        codec: VideoCodecConfig,
    },
    /// An audio track.
    Audio {
        /// Output sample rate in Hz.
        sample_rate: u32,
        /// Channel count.
        channels: u16,
        /// The decoder configuration.
        codec: AudioCodecConfig,
    },
}

/// Video decoder configurations the packager can write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoCodecConfig {
    /// H.264 / AVC, described by an avcC record.
    H264(h264::AvcDecoderConfig),
    /// HEVC / H.265, described by an hvcC record (a source passed through).
    Hevc(hevc::HevcDecoderConfig),
}

/// Audio decoder configurations the packager can write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioCodecConfig {
    /// AAC, described by an AudioSpecificConfig.
    Aac(aac::AudioSpecificConfig),
}

impl TrackConfig {
    /// RFC 6381 codec string: `avc1.64001f`, `hvc1.1.6.L93.B0`, `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        match &self.kind {
            TrackKind::Video { codec, .. } => codec.codec_string(),
            TrackKind::Audio { codec, .. } => codec.codec_string(),
        }
    }

    /// True for video tracks.
    pub fn is_video(&self) -> bool {
        matches!(self.kind, TrackKind::Video { .. })
    }

    /// True for audio tracks.
    pub fn is_audio(&self) -> bool {
        matches!(self.kind, TrackKind::Audio { .. })
    }
}

impl VideoCodecConfig {
    /// RFC 6381 codec string.
    pub fn codec_string(&self) -> String {
        match self {
            Self::H264(config) => config.codec_string(),
            Self::Hevc(config) => config.codec_string(),
        }
    }
}

impl AudioCodecConfig {
    /// RFC 6381 codec string.
    pub fn codec_string(&self) -> String {
        match self {
            Self::Aac(config) => config.codec_string(),
        }
    }
}

/// One access unit.
///
/// `dts`/`pts` are in the track timescale; `dts` is non-negative and strictly
/// increasing; `duration` is exact (the caller computes it). `data` for H.264
/// is 4-byte length-prefixed NAL units (AVCC form), for HEVC NAL units
/// prefixed with the hvcC's length size, for AAC one raw AAC frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Decode timestamp in track ticks.
    pub dts: i64,
    /// Presentation timestamp in track ticks.
    pub pts: i64,
    /// Duration in track ticks.
    pub duration: u32,
    /// True for random access points (IDR pictures; every AAC frame).
    pub is_sync: bool,
    /// The coded access unit.
    pub data: Bytes,
}

impl Sample {
    /// `pts - dts`, the composition time offset written to `trun`.
    pub fn composition_offset(&self) -> i64 {
        self.pts - self.dts
    }
}

/// What a rendition receives, in order: one `Config`, any number of `Sample`s, one `End`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackInput {
    /// The track configuration; must come first.
    Config(TrackConfig),
    /// One access unit.
    Sample(Sample),
    /// No more samples.
    End,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_strings_come_from_the_codec_configuration() {
        let audio = TrackConfig {
            timescale: 48000,
            kind: TrackKind::Audio {
                sample_rate: 48000,
                channels: 2,
                codec: AudioCodecConfig::Aac(
                    aac::AudioSpecificConfig::from_bytes(&[0x11, 0x90]).unwrap(),
                ),
            },
        };
        assert_eq!(audio.codec_string(), "mp4a.40.2");
        assert!(audio.is_audio());

        let video = TrackConfig {
            timescale: 90000,
            kind: TrackKind::Video {
                width: 320,
                height: 240,
                codec: VideoCodecConfig::H264(
                    h264::AvcDecoderConfig::from_extradata(
                        &h264::test_fixtures::x264_annexb_extradata(),
                    )
                    .unwrap(),
                ),
            },
        };
        assert_eq!(video.codec_string(), "avc1.64000d");
        assert!(video.is_video());

        let hevc = TrackConfig {
            timescale: 90000,
            kind: TrackKind::Video {
                width: 640,
                height: 360,
                codec: VideoCodecConfig::Hevc(
                    hevc::HevcDecoderConfig::from_hvcc(&hevc::test_fixtures::x265_hvcc_640x360())
                        .unwrap(),
                ),
            },
        };
        assert_eq!(hevc.codec_string(), "hvc1.1.6.L63.90");
    }
}
