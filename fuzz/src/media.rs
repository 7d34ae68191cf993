//! The FLV tag targets: ingest's video and audio tag body parsers, then
//! what the live pipeline does with their payloads (the avcC record and
//! the AudioSpecificConfig parsed by the packager, the NAL units of a
//! frame walked by length prefix), with the invariants that must hold for
//! any input.

use bytes::Bytes;
use yanxiu_ingest::rtmp::flv::{AudioTag, VideoTag, parse_audio, parse_video};
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::h264::{AvcDecoderConfig, length_prefixed_nal_units, nal_type};

/// Size of the legacy FLV video tag header in front of an AVC payload.
const VIDEO_HEADER: usize = 5;
/// Size of the FLV audio tag header in front of an AAC payload.
const AUDIO_HEADER: usize = 2;

/// Parses `data` as an FLV video tag body and follows its payload into
/// the avcC parser (sequence header) or the NAL unit walk (frame).
pub fn flv_video_tag(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    // Enhanced RTMP: [IsExHeader | FrameType(3) | PacketType(4)] and a FourCC; CodedFrames
    // (packet type 1) adds a composition time, CodedFramesX (3) does not.
    let extended = data.first().is_some_and(|b| b & 0x80 != 0);
    let (frame_header, frame_type) = match data.first() {
        Some(b) if extended => (if b & 0x0F == 1 { 8 } else { 5 }, (b >> 4) & 0x07),
        Some(b) => (VIDEO_HEADER, b >> 4),
        None => (VIDEO_HEADER, 0),
    };
    match parse_video(&body) {
        Ok(VideoTag::Config { avcc }) => {
            assert_eq!(avcc.len() + VIDEO_HEADER, body.len(), "avcC slice");
            check_avcc(&avcc);
        }
        Ok(VideoTag::HevcConfig { hvcc }) => {
            assert!(extended, "HEVC only behind the extended header");
            assert_eq!(hvcc.len() + 5, body.len(), "hvcC slice");
        }
        Ok(VideoTag::Frame {
            keyframe,
            cts_ms,
            data: nalus,
        }) => {
            assert_eq!(nalus.len() + frame_header, body.len(), "frame slice");
            assert!(
                (-(1 << 23)..(1 << 23)).contains(&cts_ms),
                "composition time is a signed 24-bit value"
            );
            assert_eq!(keyframe, frame_type == 1, "key frame flag");
            check_nal_units(&nalus);
        }
        Ok(
            VideoTag::EndOfSequence
            | VideoTag::Command
            | VideoTag::Unsupported { .. }
            | VideoTag::UnsupportedFourCc { .. },
        )
        | Err(_) => {}
    }
}

/// Parses `data` as an FLV audio tag body and follows an AAC sequence
/// header into the AudioSpecificConfig parser.
pub fn flv_audio_tag(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    match parse_audio(&body) {
        Ok(AudioTag::Config { asc }) => {
            assert_eq!(asc.len() + AUDIO_HEADER, body.len(), "ASC slice");
            check_audio_specific_config(&asc);
        }
        Ok(AudioTag::Frame { data: frame }) => {
            assert_eq!(frame.len() + AUDIO_HEADER, body.len(), "frame slice");
        }
        Ok(AudioTag::Unsupported { sound_format }) => {
            assert_ne!(sound_format, yanxiu_ingest::rtmp::flv::FLV_SOUND_AAC);
        }
        Err(_) => {}
    }
}

/// An avcC record as the live transcoder reads it: a record that parses
/// re-serializes to one that parses to the same configuration, and
/// serializing that again gives the same bytes.
pub(crate) fn check_avcc(avcc: &[u8]) {
    let Ok(config) = AvcDecoderConfig::from_avcc(avcc) else {
        return;
    };
    let sps = config.parsed_sps();
    assert!(sps.width > 0 && sps.height > 0, "picture size");
    assert!((8..=14).contains(&sps.bit_depth_luma), "luma bit depth");
    assert!((8..=14).contains(&sps.bit_depth_chroma), "chroma bit depth");
    assert_eq!(config.codec_string().len(), "avc1.000000".len());
    assert!(!config.sps().is_empty() && !config.pps().is_empty());
    let bytes = config.to_bytes();
    let reparsed = AvcDecoderConfig::from_avcc(&bytes).expect("a written avcC record parses");
    assert_eq!(reparsed, config, "avcC round trip");
    assert_eq!(reparsed.to_bytes(), bytes, "avcC serialization is stable");
    let from_extradata =
        AvcDecoderConfig::from_extradata(avcc).expect("avcC extradata parses like avcC");
    assert_eq!(from_extradata, config);
}

/// An AudioSpecificConfig as the live transcoder reads it: the raw bytes
/// are kept, and a config built from the parsed fields parses back to them.
pub(crate) fn check_audio_specific_config(asc: &[u8]) {
    let Ok(config) = AudioSpecificConfig::from_bytes(asc) else {
        return;
    };
    assert_eq!(config.to_bytes(), asc, "raw bytes are kept");
    assert!(config.sampling_frequency() > 0);
    assert!(config.output_sampling_frequency() > 0);
    assert!(config.codec_string().starts_with("mp4a.40."));
    let reparsed = AudioSpecificConfig::from_bytes(&config.to_bytes()).expect("kept bytes parse");
    assert_eq!(reparsed, config);
    // Explicit SBR/PS signalling needs more than `new` writes.
    let object_type = config.object_type();
    if let (Some(channels), false) = (config.channels(), matches!(object_type, 5 | 29)) {
        let built = AudioSpecificConfig::new(object_type, config.sampling_frequency(), channels)
            .expect("parsed fields build a config");
        assert_eq!(built.object_type(), object_type);
        assert_eq!(built.sampling_frequency(), config.sampling_frequency());
        assert_eq!(
            built.channel_configuration(),
            config.channel_configuration()
        );
    }
}

/// Walks the 4-byte length-prefixed NAL units of a frame: they never
/// cover more than the frame.
pub(crate) fn check_nal_units(frame: &[u8]) {
    let mut covered = 0usize;
    for nal in length_prefixed_nal_units(frame) {
        covered += 4 + nal.len();
        assert!(covered <= frame.len(), "NAL units stay inside the frame");
        if let Some(kind) = nal_type(nal) {
            assert!(kind < 32);
        }
    }
}
