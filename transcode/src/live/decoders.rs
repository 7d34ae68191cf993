//! The live input's codecs: what a source is ([`VideoSource`],
//! [`AudioSource`]), opening libavcodec's decoder for each (H.264 from its
//! avcC, HEVC from its hvcC, VP8/VP9, AAC from its AudioSpecificConfig, Opus), and the pure
//! facts about the input the decode thread needs: the picture size and
//! passthrough track of an avcC, the length of an Opus packet from its TOC
//! byte, the OpusHead an Opus decoder is given.

use bytes::Bytes;
use ffmpeg_next::{codec, decoder};
use scuffle_h265::{HEVCDecoderConfigurationRecord, NALUnitType, SpsNALUnit};
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::h264::AvcDecoderConfig;
use yanxiu_packager::hevc::HevcDecoderConfig;
use yanxiu_packager::media::{TrackConfig, TrackKind, VideoCodecConfig};

use super::{LiveError, VpxCodec, ffi};
use crate::timing::VIDEO_TIMESCALE;

/// Opus always decodes at 48 kHz.
pub const OPUS_RATE: u32 = 48_000;

/// Samples (at 48 kHz) of the longest Opus packet (120 ms, RFC 6716 §3.2.5).
const OPUS_MAX_PACKET_SAMPLES: u32 = 5760;

/// The video a publisher sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// H.264 with its avcC: decoded, and passed through when the ladder has
    /// a passthrough rendition.
    H264 {
        /// The AVCDecoderConfigurationRecord as received.
        avcc: Bytes,
        /// The passthrough track configuration it makes.
        track: TrackConfig,
        /// Picture width from the SPS.
        width: u32,
        /// Picture height from the SPS.
        height: u32,
    },
    /// HEVC (Enhanced RTMP, SRT) with its hvcC: decoded and laddered to
    /// H.264, which every player takes, and passed through as well where the
    /// channel allows it.
    Hevc {
        /// The HEVCDecoderConfigurationRecord as received.
        hvcc: Bytes,
        /// The passthrough track configuration it makes; `None` when the
        /// record cannot describe an `hvc1` track (no VPS, SPS or PPS):
        /// such a source is laddered only.
        track: Option<TrackConfig>,
        /// Picture width from the SPS (conformance window applied).
        width: u32,
        /// Picture height from the SPS.
        height: u32,
    },
    /// VP8 or VP9: decoded and laddered, never passed through.
    Vpx {
        /// Which codec.
        codec: VpxCodec,
        /// Declared picture width.
        width: u32,
        /// Declared picture height.
        height: u32,
    },
}

impl VideoSource {
    /// An H.264 source from its avcC (parsed for the picture size).
    pub fn h264(avcc: Bytes) -> Result<Self, LiveError> {
        let ((width, height), track) = source_track(&avcc)?;
        Ok(Self::H264 {
            avcc,
            track,
            width,
            height,
        })
    }

    /// An HEVC source from its hvcC (its SPS read for the picture size).
    pub fn hevc(hvcc: Bytes) -> Result<Self, LiveError> {
        let (width, height) = hevc_picture_size(&hvcc)?;
        let track = HevcDecoderConfig::from_hvcc(&hvcc)
            .ok()
            .map(|record| TrackConfig {
                timescale: VIDEO_TIMESCALE,
                kind: TrackKind::Video {
                    width,
                    height,
                    codec: VideoCodecConfig::Hevc(record),
                },
            });
        Ok(Self::Hevc {
            hvcc,
            track,
            width,
            height,
        })
    }

    /// The picture size.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Self::H264 { width, height, .. }
            | Self::Hevc { width, height, .. }
            | Self::Vpx { width, height, .. } => (*width, *height),
        }
    }

    /// The passthrough track configuration (H.264, and HEVC whose record
    /// describes an `hvc1` track; never VP8/VP9).
    pub fn passthrough_track(&self) -> Option<&TrackConfig> {
        match self {
            Self::H264 { track, .. } => Some(track),
            Self::Hevc { track, .. } => track.as_ref(),
            Self::Vpx { .. } => None,
        }
    }

    /// Whether switching from `self` to `next` changes what the rungs are
    /// fed: another codec or another picture size (a new avcC of the same
    /// size is a new decoder but the same pictures).
    pub fn shape_differs(&self, next: &Self) -> bool {
        let codec = |s: &Self| match s {
            Self::H264 { .. } => "h264",
            Self::Hevc { .. } => "hevc",
            Self::Vpx {
                codec: VpxCodec::Vp8,
                ..
            } => "vp8",
            Self::Vpx {
                codec: VpxCodec::Vp9,
                ..
            } => "vp9",
        };
        codec(self) != codec(next) || self.size() != next.size()
    }

    /// Opens a decoder for this source.
    pub fn open_decoder(&self) -> Result<decoder::Video, LiveError> {
        match self {
            Self::H264 { avcc, .. } => {
                let codec =
                    decoder::find(codec::Id::H264).ok_or(LiveError::MissingCodec("h264"))?;
                let mut ctx = codec::context::Context::new_with_codec(codec);
                ffi::set_extradata(&mut ctx, avcc)
                    .map_err(|e| LiveError::codec("video decoder", e))?;
                open_video(ctx)
            }
            Self::Hevc { hvcc, .. } => {
                let codec =
                    decoder::find(codec::Id::HEVC).ok_or(LiveError::MissingCodec("hevc"))?;
                let mut ctx = codec::context::Context::new_with_codec(codec);
                ffi::set_extradata(&mut ctx, hvcc)
                    .map_err(|e| LiveError::codec("video decoder", e))?;
                open_video(ctx)
            }
            Self::Vpx { codec: vpx, .. } => {
                let (name, id) = match vpx {
                    VpxCodec::Vp8 => ("vp8", codec::Id::VP8),
                    VpxCodec::Vp9 => ("vp9", codec::Id::VP9),
                };
                // libavcodec's own decoders first (libvpx's only as a fallback).
                let codec = decoder::find_by_name(name)
                    .or_else(|| decoder::find(id))
                    .ok_or(LiveError::MissingCodec(name))?;
                open_video(codec::context::Context::new_with_codec(codec))
            }
        }
    }
}

fn open_video(ctx: codec::context::Context) -> Result<decoder::Video, LiveError> {
    ctx.decoder()
        .video()
        .map_err(|e| LiveError::codec("video decoder", e))
}

/// The audio a publisher sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// AAC with its AudioSpecificConfig.
    Aac(AudioSpecificConfig),
    /// Opus at 48 kHz.
    Opus {
        /// Channels (1 or 2).
        channels: u16,
    },
}

impl AudioSource {
    /// An AAC source from its AudioSpecificConfig.
    pub fn aac(asc: &[u8]) -> Result<Self, LiveError> {
        AudioSpecificConfig::from_bytes(asc)
            .map(Self::Aac)
            .map_err(|e| LiveError::Bitstream(format!("audio: {e}")))
    }

    /// An Opus source of `channels` channels (mono or stereo: mapping
    /// family 0, which is what WebRTC sends).
    pub fn opus(channels: u16) -> Result<Self, LiveError> {
        if !(1..=2).contains(&channels) {
            return Err(LiveError::OpusChannels(channels));
        }
        Ok(Self::Opus { channels })
    }

    /// Channels, as the ladder plans the audio rendition.
    pub fn channels(&self) -> u16 {
        match self {
            Self::Aac(asc) => asc.channels().unwrap_or(2),
            Self::Opus { channels } => *channels,
        }
    }

    /// The rate the decoder outputs (and the repaired audio timeline's unit).
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Aac(asc) => asc.output_sampling_frequency(),
            Self::Opus { .. } => OPUS_RATE,
        }
    }

    /// The length of one input unit, in samples of [`Self::sample_rate`],
    /// when it is known.
    pub fn frame_samples(&self, packet: &[u8]) -> Option<u32> {
        match self {
            Self::Aac(asc) => {
                Some(1024 * asc.output_sampling_frequency() / asc.sampling_frequency().max(1))
            }
            Self::Opus { .. } => opus_packet_samples(packet),
        }
    }

    /// Opens a decoder for this source.
    pub fn open_decoder(&self) -> Result<decoder::Audio, LiveError> {
        let err = |e| LiveError::codec("audio decoder", e);
        let (codec, extradata) = match self {
            Self::Aac(asc) => (
                decoder::find(codec::Id::AAC).ok_or(LiveError::MissingCodec("aac"))?,
                asc.to_bytes(),
            ),
            Self::Opus { channels } => (
                // libavcodec's own decoder first (libopus's only as a fallback).
                decoder::find_by_name("opus")
                    .or_else(|| decoder::find(codec::Id::OPUS))
                    .ok_or(LiveError::MissingCodec("opus"))?,
                opus_head(*channels).to_vec(),
            ),
        };
        let mut ctx = codec::context::Context::new_with_codec(codec);
        ffi::set_extradata(&mut ctx, &extradata).map_err(err)?;
        ctx.decoder().audio().map_err(err)
    }
}

/// The OpusHead (RFC 7845 §5.1) for a mono or stereo stream: version 1, no
/// pre-skip (RTP carries none), 48 kHz, no gain, channel mapping family 0.
/// The decoder takes its channel count (and layout) from it.
pub fn opus_head(channels: u16) -> [u8; 19] {
    let mut head = [0u8; 19];
    head[..8].copy_from_slice(b"OpusHead");
    head[8] = 1;
    head[9] = u8::try_from(channels).unwrap_or(2);
    // Pre-skip 0 (bytes 10-11), then the input rate, little endian.
    head[12..16].copy_from_slice(&OPUS_RATE.to_le_bytes());
    // Output gain 0 (bytes 16-17), mapping family 0 (byte 18).
    head
}

/// The samples (at 48 kHz) one Opus packet decodes to, from its TOC byte
/// (RFC 6716 §3.1): the configuration gives the frame length (2.5 to
/// 60 ms), the code the frame count (1, 2, or the count in the second
/// byte). `None` for an empty or malformed packet (no frames, or more than
/// 120 ms).
pub fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame: u32 = match (config, config % 4) {
        // SILK: 10, 20, 40, 60 ms.
        (0..=11, 0) => 480,
        (0..=11, 1) => 960,
        (0..=11, 2) => 1920,
        (0..=11, _) => 2880,
        // Hybrid: 10, 20 ms.
        (12..=15, 0 | 2) => 480,
        (12..=15, _) => 960,
        // CELT: 2.5, 5, 10, 20 ms.
        (_, 0) => 120,
        (_, 1) => 240,
        (_, 2) => 480,
        (_, _) => 960,
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let total = frame * frames;
    (frames > 0 && total <= OPUS_MAX_PACKET_SAMPLES).then_some(total)
}

/// The picture size and the passthrough track configuration of an avcC.
pub fn source_track(avcc: &[u8]) -> Result<((u32, u32), TrackConfig), LiveError> {
    let source = AvcDecoderConfig::from_avcc(avcc)
        .map_err(|e| LiveError::Bitstream(format!("video: {e}")))?;
    let (width, height) = (source.parsed_sps().width, source.parsed_sps().height);
    let config = TrackConfig {
        timescale: VIDEO_TIMESCALE,
        kind: TrackKind::Video {
            width,
            height,
            codec: VideoCodecConfig::H264(source),
        },
    };
    Ok(((width, height), config))
}

/// The picture size an hvcC's first SPS declares, its conformance window applied.
pub fn hevc_picture_size(hvcc: &[u8]) -> Result<(u32, u32), LiveError> {
    let bad = |what: String| LiveError::Bitstream(format!("video: HEVC {what}"));
    let record = HEVCDecoderConfigurationRecord::demux(std::io::Cursor::new(hvcc))
        .map_err(|e| bad(format!("decoder configuration: {e}")))?;
    let sps = record
        .arrays
        .iter()
        .filter(|array| array.nal_unit_type == NALUnitType::SpsNut)
        .flat_map(|array| array.nalus.iter())
        .next()
        .ok_or_else(|| bad("decoder configuration without an SPS".to_owned()))?;
    let sps = SpsNALUnit::parse(std::io::Cursor::new(sps.as_ref()))
        .map_err(|e| bad(format!("SPS: {e}")))?;
    let width = u32::try_from(sps.rbsp.cropped_width()).unwrap_or(0);
    let height = u32::try_from(sps.rbsp.cropped_height()).unwrap_or(0);
    if width == 0 || height == 0 {
        return Err(bad(format!("picture of {width}x{height}")));
    }
    Ok((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hvcC x265 writes for a 640x360 picture (VPS, SPS, PPS; its SEI left out): the
    /// SPS codes 640x368 with a conformance window of 8 rows.
    fn x265_hvcc_640x360() -> Vec<u8> {
        let hex = concat!(
            "0101600000009000000000003ff000fcfdf8f800000f03a00001001840010c01ffff016000000300",
            "90000003000003003f959809a10001002a42010101600000030090000003000003003fa005020169",
            "65959a4932bc05a02000000300200000030321a2000100074401c172b46240",
        );
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn an_hevc_source_takes_its_picture_size_from_the_sps_conformance_window_applied() {
        let source = VideoSource::hevc(Bytes::from(x265_hvcc_640x360())).expect("parses");
        let track = source.passthrough_track().expect("an hvc1 track");
        assert_eq!(track.codec_string(), "hvc1.1.6.L63.90");
        assert!(matches!(
            track.kind,
            TrackKind::Video {
                width: 640,
                height: 360,
                codec: VideoCodecConfig::Hevc(_)
            }
        ));
        assert_eq!(source.size(), (640, 360));
        assert!(source.open_decoder().is_ok(), "libavcodec takes the hvcC");
        let vp9 = VideoSource::Vpx {
            codec: VpxCodec::Vp9,
            width: 640,
            height: 360,
        };
        assert!(
            source.shape_differs(&vp9),
            "another codec restarts the rungs"
        );
    }

    #[test]
    fn an_hvcc_without_an_sps_or_cut_short_is_refused() {
        let mut record = x265_hvcc_640x360();
        record.truncate(30);
        assert!(matches!(
            VideoSource::hevc(Bytes::from(record)),
            Err(LiveError::Bitstream(_))
        ));
        let mut no_arrays = x265_hvcc_640x360();
        no_arrays.truncate(23);
        no_arrays[22] = 0;
        assert!(matches!(
            hevc_picture_size(&no_arrays),
            Err(LiveError::Bitstream(_))
        ));
    }

    #[test]
    fn an_hvcc_without_a_vps_is_laddered_but_not_passed_through() {
        let record = x265_hvcc_640x360();
        // The first array is the VPS: one NAL unit after a 1-byte type and a
        // 2-byte count, with a 2-byte length.
        assert_eq!(record[23] & 0x3f, 32, "VPS array first");
        let vps_len = usize::from(u16::from_be_bytes([record[26], record[27]]));
        let mut without_vps = record[..23].to_vec();
        without_vps[22] = 2;
        without_vps.extend_from_slice(&record[28 + vps_len..]);
        let source = VideoSource::hevc(Bytes::from(without_vps)).expect("the SPS gives the size");
        assert_eq!(source.size(), (640, 360));
        assert!(source.passthrough_track().is_none());
    }

    fn toc(config: u8, code: u8) -> u8 {
        (config << 3) | code
    }

    #[test]
    fn a_single_frame_packet_lasts_its_configurations_frame_length() {
        // SILK narrowband 10/20/40/60 ms.
        let silk: Vec<_> = (0..4).map(|c| opus_packet_samples(&[toc(c, 0)])).collect();
        assert_eq!(silk, [Some(480), Some(960), Some(1920), Some(2880)]);
        // SILK wideband 60 ms.
        assert_eq!(opus_packet_samples(&[toc(11, 0)]), Some(2880));
        // Hybrid fullband 10/20 ms.
        assert_eq!(opus_packet_samples(&[toc(14, 0)]), Some(480));
        assert_eq!(opus_packet_samples(&[toc(15, 0)]), Some(960));
        // CELT fullband 2.5/5/10/20 ms (what browsers send is 20 ms).
        let celt: Vec<_> = (28..32)
            .map(|c| opus_packet_samples(&[toc(c, 0), 0xff]))
            .collect();
        assert_eq!(celt, [Some(120), Some(240), Some(480), Some(960)]);
    }

    #[test]
    fn two_frame_packets_last_twice_their_frame_length() {
        assert_eq!(opus_packet_samples(&[toc(31, 1)]), Some(1920));
        assert_eq!(opus_packet_samples(&[toc(1, 2), 3, 0, 0]), Some(1920));
    }

    #[test]
    fn a_code_three_packet_counts_the_frames_its_second_byte_gives() {
        // Three 20 ms CELT frames (padding and VBR flags ignored).
        assert_eq!(opus_packet_samples(&[toc(31, 3), 0xc3]), Some(2880));
        // Six 20 ms frames: 120 ms, the longest allowed.
        assert_eq!(opus_packet_samples(&[toc(31, 3), 6]), Some(5760));
    }

    #[test]
    fn malformed_opus_packets_have_no_length() {
        assert_eq!(opus_packet_samples(&[]), None);
        // Code 3 without its count byte, with no frames, or over 120 ms.
        assert_eq!(opus_packet_samples(&[toc(31, 3)]), None);
        assert_eq!(opus_packet_samples(&[toc(31, 3), 0]), None);
        assert_eq!(opus_packet_samples(&[toc(3, 3), 3]), None);
    }

    #[test]
    fn the_opus_head_declares_the_channels_at_48_khz_without_pre_skip() {
        let head = opus_head(1);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(head[8], 1, "version");
        assert_eq!(head[9], 1, "channels");
        assert_eq!(u16::from_le_bytes([head[10], head[11]]), 0, "pre-skip");
        let rate = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        assert_eq!(rate, 48_000);
        assert_eq!(head[18], 0, "mapping family");
        assert_eq!(opus_head(2)[9], 2);
    }

    #[test]
    fn only_mono_and_stereo_opus_is_accepted() {
        assert!(AudioSource::opus(1).is_ok());
        assert_eq!(AudioSource::opus(2).unwrap().sample_rate(), 48_000);
        assert!(matches!(
            AudioSource::opus(0),
            Err(LiveError::OpusChannels(0))
        ));
        assert!(matches!(
            AudioSource::opus(6),
            Err(LiveError::OpusChannels(6))
        ));
    }

    #[test]
    fn an_opus_source_times_its_packets_by_their_toc() {
        let opus = AudioSource::opus(2).unwrap();
        assert_eq!(opus.frame_samples(&[toc(31, 0)]), Some(960));
        assert_eq!(opus.frame_samples(&[toc(3, 0)]), Some(2880));
        assert_eq!(opus.frame_samples(&[]), None);
    }

    #[test]
    fn a_change_of_codec_or_size_changes_what_the_rungs_are_fed() {
        let vpx = |codec, width, height| VideoSource::Vpx {
            codec,
            width,
            height,
        };
        let vp8 = vpx(VpxCodec::Vp8, 640, 480);
        assert!(!vp8.shape_differs(&vpx(VpxCodec::Vp8, 640, 480)));
        assert!(vp8.shape_differs(&vpx(VpxCodec::Vp9, 640, 480)));
        assert!(vp8.shape_differs(&vpx(VpxCodec::Vp8, 320, 240)));
        assert!(vp8.passthrough_track().is_none());
    }
}
