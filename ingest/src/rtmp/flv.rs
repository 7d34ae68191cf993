//! FLV tag bodies as RTMP carries them: the video tag (frame type, codec,
//! AVCPacketType, composition time) and the audio tag (sound format,
//! AACPacketType). Pure: bytes in, typed tags out, no IO.
//!
//! H.264 (codec id 7) and AAC (sound format 10) are understood in the legacy
//! header; Enhanced RTMP's extended video header (the published E-RTMP spec:
//! `IsExHeader`, a packet type and a FourCC) is understood for HEVC (`hvc1`)
//! and H.264 (`avc1`). Other codecs come back as `Unsupported` so the caller
//! can decide what to do with the stream.

use bytes::Bytes;

/// Codec id of H.264/AVC in the legacy FLV video tag header.
pub const FLV_CODEC_AVC: u8 = 7;
/// Sound format of AAC in the FLV audio tag header.
pub const FLV_SOUND_AAC: u8 = 10;

/// What a video tag body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoTag {
    /// AVC sequence header: an `AVCDecoderConfigurationRecord` (avcC).
    Config {
        /// The avcC record.
        avcc: Bytes,
    },
    /// One coded picture: length-prefixed NAL units.
    Frame {
        /// True for a key frame (FLV frame type 1).
        keyframe: bool,
        /// Composition time offset (pts - dts), milliseconds, signed.
        cts_ms: i32,
        /// Length-prefixed NAL units (AVCC framing).
        data: Bytes,
    },
    /// HEVC sequence start (Enhanced RTMP, FourCC `hvc1`): an
    /// `HEVCDecoderConfigurationRecord` (hvcC).
    HevcConfig {
        /// The hvcC record.
        hvcc: Bytes,
    },
    /// AVC end of sequence marker; carries no picture.
    EndOfSequence,
    /// Video command frame (FLV frame type 5); carries no picture.
    Command,
    /// A legacy codec other than H.264.
    Unsupported {
        /// Legacy codec id.
        codec_id: u8,
    },
    /// An Enhanced RTMP FourCC other than `hvc1` and `avc1` (`av01`, `vp09`, …).
    UnsupportedFourCc {
        /// The FourCC as sent.
        fourcc: [u8; 4],
    },
}

/// What an audio tag body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTag {
    /// AAC sequence header: an `AudioSpecificConfig`.
    Config {
        /// The AudioSpecificConfig bytes.
        asc: Bytes,
    },
    /// One raw AAC frame (no ADTS header).
    Frame {
        /// The raw AAC access unit.
        data: Bytes,
    },
    /// A sound format other than AAC.
    Unsupported {
        /// FLV sound format (upper four bits of the first byte).
        sound_format: u8,
    },
}

/// Why a tag body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlvError {
    /// The body ends before its header does.
    #[error("FLV {kind} tag body too short: {len} bytes")]
    TooShort {
        /// "video" or "audio".
        kind: &'static str,
        /// Bytes present.
        len: usize,
    },
    /// AVCPacketType or AACPacketType outside the defined values.
    #[error("unknown {kind} packet type {value}")]
    UnknownPacketType {
        /// "AVC" or "AAC".
        kind: &'static str,
        /// The value read.
        value: u8,
    },
}

/// Reads a video tag body (the payload of an RTMP video message).
pub fn parse_video(body: &Bytes) -> Result<VideoTag, FlvError> {
    let Some(&first) = body.first() else {
        return Err(FlvError::TooShort {
            kind: "video",
            len: 0,
        });
    };
    if first & 0x80 != 0 {
        return parse_extended_video(first, body);
    }
    let frame_type = first >> 4;
    let codec_id = first & 0x0F;
    if codec_id != FLV_CODEC_AVC {
        return Ok(VideoTag::Unsupported { codec_id });
    }
    if frame_type == 5 {
        return Ok(VideoTag::Command);
    }
    if body.len() < 5 {
        return Err(FlvError::TooShort {
            kind: "video",
            len: body.len(),
        });
    }
    let cts_ms = composition_time(body[2], body[3], body[4]);
    match body[1] {
        0 => Ok(VideoTag::Config {
            avcc: body.slice(5..),
        }),
        1 => Ok(VideoTag::Frame {
            keyframe: frame_type == 1,
            cts_ms,
            data: body.slice(5..),
        }),
        2 => Ok(VideoTag::EndOfSequence),
        value => Err(FlvError::UnknownPacketType { kind: "AVC", value }),
    }
}

/// Enhanced RTMP `VideoPacketType`s (E-RTMP v1, "ExVideoTagHeader").
mod packet_type {
    pub const SEQUENCE_START: u8 = 0;
    pub const CODED_FRAMES: u8 = 1;
    pub const SEQUENCE_END: u8 = 2;
    pub const CODED_FRAMES_X: u8 = 3;
    pub const METADATA: u8 = 4;
    pub const MPEG2TS_SEQUENCE_START: u8 = 5;
}

/// An Enhanced RTMP video tag: `[IsExHeader | FrameType(3) | PacketType(4)]`, a FourCC,
/// then per packet type: the decoder configuration (SequenceStart), a signed 24-bit
/// composition time and the coded frames (CodedFrames, HEVC and H.264 only), the coded
/// frames with a composition time of 0 (CodedFramesX), or nothing of a picture.
fn parse_extended_video(first: u8, body: &Bytes) -> Result<VideoTag, FlvError> {
    let too_short = || FlvError::TooShort {
        kind: "video",
        len: body.len(),
    };
    if body.len() < 5 {
        return Err(too_short());
    }
    let frame_type = (first >> 4) & 0x07;
    let packet = first & 0x0F;
    let fourcc = [body[1], body[2], body[3], body[4]];
    let hevc = &fourcc == b"hvc1";
    if !hevc && &fourcc != b"avc1" {
        return Ok(VideoTag::UnsupportedFourCc { fourcc });
    }
    if frame_type == 5 {
        return Ok(VideoTag::Command);
    }
    match packet {
        packet_type::SEQUENCE_START if hevc => Ok(VideoTag::HevcConfig {
            hvcc: body.slice(5..),
        }),
        packet_type::SEQUENCE_START => Ok(VideoTag::Config {
            avcc: body.slice(5..),
        }),
        packet_type::CODED_FRAMES => {
            if body.len() < 8 {
                return Err(too_short());
            }
            Ok(VideoTag::Frame {
                keyframe: frame_type == 1,
                cts_ms: composition_time(body[5], body[6], body[7]),
                data: body.slice(8..),
            })
        }
        packet_type::CODED_FRAMES_X => Ok(VideoTag::Frame {
            keyframe: frame_type == 1,
            cts_ms: 0,
            data: body.slice(5..),
        }),
        packet_type::SEQUENCE_END => Ok(VideoTag::EndOfSequence),
        // Colour metadata (AMF) and an MPEG-2 TS descriptor carry no picture.
        packet_type::METADATA | packet_type::MPEG2TS_SEQUENCE_START => Ok(VideoTag::Command),
        value => Err(FlvError::UnknownPacketType {
            kind: "E-RTMP video",
            value,
        }),
    }
}

/// Reads an audio tag body (the payload of an RTMP audio message).
pub fn parse_audio(body: &Bytes) -> Result<AudioTag, FlvError> {
    let Some(&first) = body.first() else {
        return Err(FlvError::TooShort {
            kind: "audio",
            len: 0,
        });
    };
    let sound_format = first >> 4;
    if sound_format != FLV_SOUND_AAC {
        return Ok(AudioTag::Unsupported { sound_format });
    }
    if body.len() < 2 {
        return Err(FlvError::TooShort {
            kind: "audio",
            len: body.len(),
        });
    }
    match body[1] {
        0 => Ok(AudioTag::Config {
            asc: body.slice(2..),
        }),
        1 => Ok(AudioTag::Frame {
            data: body.slice(2..),
        }),
        value => Err(FlvError::UnknownPacketType { kind: "AAC", value }),
    }
}

/// The FLV composition time: a signed 24-bit big-endian integer.
fn composition_time(b0: u8, b1: u8, b2: u8) -> i32 {
    let raw = (i32::from(b0) << 16) | (i32::from(b1) << 8) | i32::from(b2);
    // Sign-extend from 24 bits.
    (raw << 8) >> 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(bytes: &[u8]) -> Result<VideoTag, FlvError> {
        parse_video(&Bytes::copy_from_slice(bytes))
    }

    fn audio(bytes: &[u8]) -> Result<AudioTag, FlvError> {
        parse_audio(&Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn avc_sequence_header_yields_the_avcc_record() {
        let tag = video(&[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f]).expect("parses");
        assert_eq!(
            tag,
            VideoTag::Config {
                avcc: Bytes::from_static(&[1, 0x64, 0, 0x1f])
            }
        );
    }

    #[test]
    fn avc_keyframe_carries_composition_time_and_nalus() {
        let tag = video(&[0x17, 1, 0, 0, 80, 0, 0, 0, 1, 0x65]).expect("parses");
        assert_eq!(
            tag,
            VideoTag::Frame {
                keyframe: true,
                cts_ms: 80,
                data: Bytes::from_static(&[0, 0, 0, 1, 0x65]),
            }
        );
    }

    #[test]
    fn an_enhanced_rtmp_hevc_sequence_start_yields_the_hvcc_record() {
        // IsExHeader | key frame (1) | SequenceStart (0), "hvc1", the record.
        let tag = video(&[0x90, b'h', b'v', b'c', b'1', 1, 2, 3]).expect("parses");
        assert_eq!(
            tag,
            VideoTag::HevcConfig {
                hvcc: Bytes::from_static(&[1, 2, 3])
            }
        );
    }

    #[test]
    fn enhanced_rtmp_coded_frames_carry_their_composition_time_and_coded_frames_x_none() {
        let tag = video(&[
            0x91, b'h', b'v', b'c', b'1', 0xFF, 0xFF, 0xD8, 0, 0, 0, 2, 0x26, 1,
        ])
        .expect("parses");
        assert_eq!(
            tag,
            VideoTag::Frame {
                keyframe: true,
                cts_ms: -40,
                data: Bytes::from_static(&[0, 0, 0, 2, 0x26, 1]),
            }
        );
        let tag = video(&[0xA3, b'h', b'v', b'c', b'1', 0, 0, 0, 2, 2, 1]).expect("parses");
        assert_eq!(
            tag,
            VideoTag::Frame {
                keyframe: false,
                cts_ms: 0,
                data: Bytes::from_static(&[0, 0, 0, 2, 2, 1]),
            }
        );
    }

    #[test]
    fn enhanced_rtmp_avc1_is_h264_and_other_fourccs_are_named() {
        let tag = video(&[0x90, b'a', b'v', b'c', b'1', 1, 0x64]).expect("parses");
        assert_eq!(
            tag,
            VideoTag::Config {
                avcc: Bytes::from_static(&[1, 0x64])
            }
        );
        assert_eq!(
            video(&[0x90, b'a', b'v', b'0', b'1', 1]).expect("parses"),
            VideoTag::UnsupportedFourCc { fourcc: *b"av01" }
        );
        assert_eq!(
            video(&[0x92, b'h', b'v', b'c', b'1']).expect("parses"),
            VideoTag::EndOfSequence
        );
        assert_eq!(
            video(&[0x94, b'h', b'v', b'c', b'1', 2, 0]).expect("parses"),
            VideoTag::Command,
            "colour metadata carries no picture"
        );
        assert!(
            video(&[0x91, b'h', b'v', b'c', b'1', 0]).is_err(),
            "cut short"
        );
        assert!(
            video(&[0x97, b'h', b'v', b'c', b'1']).is_err(),
            "unknown packet type"
        );
    }

    #[test]
    fn inter_frame_is_not_a_keyframe() {
        let tag = video(&[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]).expect("parses");
        assert!(matches!(
            tag,
            VideoTag::Frame {
                keyframe: false,
                cts_ms: 0,
                ..
            }
        ));
    }

    #[test]
    fn negative_composition_time_is_sign_extended() {
        let tag = video(&[0x27, 1, 0xFF, 0xFF, 0xD8, 9]).expect("parses");
        assert!(matches!(tag, VideoTag::Frame { cts_ms: -40, .. }));
    }

    #[test]
    fn end_of_sequence_and_command_frames_carry_no_picture() {
        assert_eq!(
            video(&[0x17, 2, 0, 0, 0]).expect("parses"),
            VideoTag::EndOfSequence
        );
        assert_eq!(video(&[0x57, 0]).expect("parses"), VideoTag::Command);
    }

    #[test]
    fn other_legacy_codecs_are_unsupported() {
        assert_eq!(
            video(&[0x12, 0]).expect("parses"),
            VideoTag::Unsupported { codec_id: 2 }
        );
    }

    #[test]
    fn truncated_or_unknown_video_headers_are_errors() {
        assert_eq!(
            video(&[]),
            Err(FlvError::TooShort {
                kind: "video",
                len: 0
            })
        );
        assert_eq!(
            video(&[0x17, 1, 0]),
            Err(FlvError::TooShort {
                kind: "video",
                len: 3
            })
        );
        assert_eq!(
            video(&[0x17, 7, 0, 0, 0]),
            Err(FlvError::UnknownPacketType {
                kind: "AVC",
                value: 7
            })
        );
    }

    #[test]
    fn aac_sequence_header_yields_the_audio_specific_config() {
        assert_eq!(
            audio(&[0xAF, 0, 0x12, 0x10]).expect("parses"),
            AudioTag::Config {
                asc: Bytes::from_static(&[0x12, 0x10])
            }
        );
    }

    #[test]
    fn aac_raw_frame_is_passed_without_header() {
        assert_eq!(
            audio(&[0xAF, 1, 0x21, 0x10, 0x05]).expect("parses"),
            AudioTag::Frame {
                data: Bytes::from_static(&[0x21, 0x10, 0x05])
            }
        );
    }

    #[test]
    fn non_aac_audio_is_unsupported_and_bad_aac_is_an_error() {
        assert_eq!(
            audio(&[0x2F, 0]).expect("parses"),
            AudioTag::Unsupported { sound_format: 2 }
        );
        assert_eq!(
            audio(&[0xAF]),
            Err(FlvError::TooShort {
                kind: "audio",
                len: 1
            })
        );
        assert_eq!(
            audio(&[0xAF, 3]),
            Err(FlvError::UnknownPacketType {
                kind: "AAC",
                value: 3
            })
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_slices_stay_inside_the_body() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..24);
            let body: Bytes = (0..len)
                .map(|_| rng.r#gen::<u8>())
                .collect::<Vec<u8>>()
                .into();
            if let Ok(VideoTag::Frame { data, .. } | VideoTag::Config { avcc: data }) =
                parse_video(&body)
            {
                assert_eq!(data.len() + 5, body.len());
            }
            if let Ok(AudioTag::Frame { data } | AudioTag::Config { asc: data }) =
                parse_audio(&body)
            {
                assert_eq!(data.len() + 2, body.len());
            }
        }
    }
}
