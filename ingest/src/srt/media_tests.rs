//! Tests of the MPEG-TS to live event conversion, on transport streams the
//! ffmpeg CLI makes (required: a missing ffmpeg fails the test).

use std::process::Command;

use super::*;

/// An MPEG-TS of `seconds` of testsrc2 (H.264 with B-frames, 1 s GOPs, or
/// `video_codec`) and a 48 kHz stereo AAC sine.
fn ffmpeg_ts(video_codec: &str, seconds: u32) -> Vec<u8> {
    ffmpeg_ts_with(
        video_codec,
        seconds,
        &["-c:a", "aac", "-ac", "2", "-ar", "48000"],
    )
}

/// [`ffmpeg_ts`] with `audio` as the audio options (`-an`: none).
fn ffmpeg_ts_with(video_codec: &str, seconds: u32, audio: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.ts");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args(["-c:v", video_codec, "-g", "25", "-pix_fmt", "yuv420p"])
        .args(audio)
        .args(["-f", "mpegts"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("these tests need the ffmpeg CLI (apt-get install ffmpeg): {e}")
        });
    assert!(status.success(), "ffmpeg failed: {status}");
    std::fs::read(&out).expect("read the ts")
}

/// All events of `ts` pushed in `chunk`-byte pieces.
fn events_of(ts: &[u8], chunk: usize) -> Result<Vec<LiveEvent>, EndReason> {
    let mut convert = TsToEvents::new(8 << 20);
    let mut events = Vec::new();
    for piece in ts.chunks(chunk) {
        events.extend(convert.push(piece)?);
    }
    Ok(events)
}

#[test]
fn an_ffmpeg_h264_aac_stream_becomes_config_then_keyframe_then_frames() {
    let events = events_of(&ffmpeg_ts("libx264", 2), 1316).expect("events");
    let first_video = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Video { .. }))
        .expect("video frames");
    let config = events
        .iter()
        .position(|e| matches!(e, LiveEvent::VideoConfig { .. }))
        .expect("a video config");
    assert!(config < first_video);
    let audio_config = events
        .iter()
        .position(|e| matches!(e, LiveEvent::AudioConfig { .. }))
        .expect("an audio config");
    assert!(
        audio_config < first_video,
        "the transcoder plans its renditions at the first frame: audio must be known"
    );
    let LiveEvent::VideoConfig { avcc } = &events[config] else {
        unreachable!()
    };
    let parsed = AvcDecoderConfig::from_avcc(avcc).expect("a valid avcC");
    assert_eq!(parsed.parsed_sps().width, 320);
    let videos: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Video {
                dts_ms,
                cts_ms,
                keyframe,
                data,
            } => Some((*dts_ms, *cts_ms, *keyframe, data.clone())),
            _ => None,
        })
        .collect();
    assert!(videos[0].2, "the first frame is a keyframe");
    // 50 frames; the last PES packet ends only with the next one.
    assert!((48..=50).contains(&videos.len()), "{} frames", videos.len());
    assert_eq!(
        videos.iter().filter(|v| v.2).count(),
        2,
        "one keyframe a second"
    );
    assert!(videos.windows(2).all(|w| w[0].0 < w[1].0), "dts increases");
    assert!(
        videos.iter().any(|v| v.1 > 0),
        "B-frames give composition offsets"
    );
    assert_eq!(videos[0].0, 1_000, "time starts at one second");
    assert!((videos[25].0 - videos[0].0).abs_diff(1_000) <= 1);
    for (_, _, _, data) in &videos {
        // Length-prefixed NAL units that exactly fill the frame.
        let units: usize = yanxiu_packager::h264::length_prefixed_nal_units(data)
            .map(|nal| nal.len() + 4)
            .sum();
        assert_eq!(units, data.len());
    }
}

#[test]
fn adts_audio_becomes_its_audio_specific_config_and_raw_frames_at_their_pace() {
    let events = events_of(&ffmpeg_ts("libx264", 2), 1316).expect("events");
    let asc: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::AudioConfig { asc } => Some(asc.clone()),
            _ => None,
        })
        .collect();
    // AAC LC (2), 48 kHz (index 3), two channels.
    assert_eq!(asc, vec![Bytes::from_static(&[0x11, 0x90])]);
    let audio: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Audio { dts_ms, data } => Some((*dts_ms, data.clone())),
            _ => None,
        })
        .collect();
    assert!(audio.len() >= 85, "{} AAC frames in 2 s", audio.len());
    assert!(
        audio.iter().all(|(_, data)| data[0] != 0xff),
        "ADTS headers removed"
    );
    for pair in audio.windows(2) {
        let step = pair[1].0 - pair[0].0;
        assert!(
            (21..=22).contains(&step),
            "1024 samples at 48 kHz, got {step} ms"
        );
    }
}

#[test]
fn chunk_boundaries_and_leading_garbage_do_not_change_the_events() {
    let ts = ffmpeg_ts("libx264", 1);
    let whole = events_of(&ts, 1316).expect("events");
    assert_eq!(events_of(&ts, 1000).expect("events"), whole);
    let mut late = vec![0x12, 0x47, 0x00];
    late.extend_from_slice(&ts);
    assert_eq!(events_of(&late, 1316).expect("events"), whole);
}

#[test]
fn an_hevc_stream_gives_an_hvcc_of_its_parameter_sets_and_length_prefixed_frames_from_a_keyframe() {
    let events = events_of(&ffmpeg_ts("libx265", 2), 1316).expect("events");
    let Some(LiveEvent::HevcConfig { hvcc }) = events
        .iter()
        .find(|e| matches!(e, LiveEvent::HevcConfig { .. }))
    else {
        panic!("no HEVC config: {events:?}");
    };
    let record =
        scuffle_h265::HEVCDecoderConfigurationRecord::demux(std::io::Cursor::new(hvcc.as_ref()))
            .expect("the hvcC reads back");
    let types: Vec<_> = record.arrays.iter().map(|a| a.nal_unit_type).collect();
    assert_eq!(
        types,
        [
            scuffle_h265::NALUnitType::VpsNut,
            scuffle_h265::NALUnitType::SpsNut,
            scuffle_h265::NALUnitType::PpsNut
        ]
    );
    assert_eq!(record.length_size_minus_one, 3);
    assert_eq!(record.general_profile_idc, 1, "Main profile");
    let sps =
        scuffle_h265::SpsNALUnit::parse(std::io::Cursor::new(record.arrays[1].nalus[0].as_ref()))
            .expect("SPS");
    assert_eq!(
        (sps.rbsp.cropped_width(), sps.rbsp.cropped_height()),
        (320, 240)
    );
    let frames: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Video { keyframe, data, .. } => Some((*keyframe, data.clone())),
            _ => None,
        })
        .collect();
    assert!(
        frames.len() >= 45,
        "two seconds of frames: {}",
        frames.len()
    );
    assert!(frames[0].0, "the first frame is a random access point");
    assert_eq!(
        frames.iter().filter(|(k, _)| *k).count(),
        2,
        "one per 1 s GOP"
    );
    for (_, data) in &frames {
        let mut at = 0;
        while at < data.len() {
            let len = u32::from_be_bytes(data[at..at + 4].try_into().expect("length")) as usize;
            at += 4 + len;
        }
        assert_eq!(at, data.len(), "4-byte length-prefixed NAL units");
    }
}

#[test]
fn a_codec_that_is_not_laddered_is_refused_as_unsupported_media() {
    let result = events_of(&ffmpeg_ts("mpeg2video", 1), 1316);
    assert_eq!(
        result,
        Err(EndReason::UnsupportedMedia("mpeg-2 video".into()))
    );
}

#[test]
fn a_pes_packet_over_the_limit_ends_the_publish() {
    let mut convert = TsToEvents::new(1_000);
    let result = ffmpeg_ts("libx264", 1)
        .chunks(1316)
        .try_for_each(|piece| convert.push(piece).map(drop));
    assert!(
        matches!(result, Err(EndReason::Oversized { .. })),
        "{result:?}"
    );
}

#[test]
fn adts_headers_give_object_type_rate_channels_and_length() {
    // AAC LC, 44.1 kHz (index 4), mono, no CRC, frame of 10 bytes.
    let frame = [0xff, 0xf1, 0x50, 0x40, 0x01, 0x5f, 0xfc, 1, 2, 3];
    assert_eq!(
        parse_adts(&frame),
        Ok(AdtsFrame {
            asc: [0x12, 0x08],
            rate: 44_100,
            header_len: 7,
            frame_len: 10,
        })
    );
    assert!(parse_adts(&frame[..9]).is_err(), "a truncated frame");
    assert!(parse_adts(&[0x47; 10]).is_err(), "not ADTS");
}

#[test]
fn timestamps_count_on_across_the_33_bit_wrap() {
    let mut clock = Clock::default();
    let near_end = WRAP - 90 * 500;
    assert_eq!(clock.ms(near_end), 1_000);
    assert_eq!(clock.ms(90 * 500), 2_000);
    // A slightly earlier timestamp of the other track stays before it.
    assert_eq!(clock.ms(90 * 400), 1_900);
}

/// `ts` with every packet of PID `pid` moved `delay` packets later.
fn delay_pid(ts: &[u8], pid: u16, delay: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(ts.len());
    let mut queue = std::collections::VecDeque::new();
    for (i, packet) in ts.chunks(188).enumerate() {
        while queue.front().is_some_and(|(due, _)| *due <= i) {
            let (_, late): (usize, &[u8]) = queue.pop_front().expect("front");
            out.extend_from_slice(late);
        }
        if u16::from_be_bytes([packet[1] & 0x1f, packet[2]]) == pid {
            queue.push_back((i + delay, packet));
        } else {
            out.extend_from_slice(packet);
        }
    }
    queue
        .into_iter()
        .for_each(|(_, late)| out.extend_from_slice(late));
    out
}

#[test]
fn a_stream_whose_audio_comes_late_starts_with_its_audio_config() {
    // ffmpeg's audio PID (0x101), a few hundred packets (~0.5 s) late.
    let ts = delay_pid(&ffmpeg_ts("libx264", 3), 0x101, 400);
    let events = events_of(&ts, 1316).expect("events");
    let first_video = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Video { .. }))
        .expect("video");
    assert!(
        events[..first_video]
            .iter()
            .any(|e| matches!(e, LiveEvent::AudioConfig { .. })),
        "the audio config comes before the first frame"
    );
}

#[test]
fn a_stream_without_audio_starts_at_once() {
    let ts = ffmpeg_ts_with("libx264", 1, &["-an"]);
    let mut convert = TsToEvents::new(8 << 20);
    let mut first_frame_at = None;
    for (i, piece) in ts.chunks(1316).enumerate() {
        let events = convert.push(piece).expect("events");
        if first_frame_at.is_none() && events.iter().any(|e| matches!(e, LiveEvent::Video { .. })) {
            first_frame_at = Some(i);
        }
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, LiveEvent::AudioConfig { .. }))
        );
    }
    // Frames come out while the stream goes on, not only at its end.
    let chunks = ts.len().div_ceil(1316);
    assert!(
        first_frame_at.is_some_and(|i| i < chunks / 2),
        "{first_frame_at:?} of {chunks}"
    );
}
