//! The WebRTC targets: the offer checks the server runs on every WHIP
//! `POST` body, the answer to a WHEP player's offer, and the assembly of depacketized WebRTC video frames (H.264
//! Annex B, VP8, VP9) into live events, with the invariants that must hold
//! for any input.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use yanxiu_ingest::publish::{LiveEvent, VpxCodec};
use yanxiu_ingest::whep::viewer::WhepViewer;
use yanxiu_ingest::whep::{FeedFrame, FeedMedia, FeedVideoCodec};
use yanxiu_ingest::whip::check_offer;
use yanxiu_ingest::whip::offer::{AUDIO_CODECS, VIDEO_CODECS};
use yanxiu_ingest::whip::video::{FrameOutcome, VideoAssembler, WebRtcVideoCodec};
use yanxiu_packager::h264::{AvcDecoderConfig, length_prefixed_nal_units};

/// The limit the server applies by default.
const MAX_OFFER: usize = 64 * 1024;

/// Checks `data` (as text) as a WHIP offer: an accepted offer names only
/// supported codecs, at least one video codec; a refusal has a WHIP code
/// and both messages.
pub fn whip_offer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match check_offer(&text, MAX_OFFER) {
        Ok(summary) => {
            assert!(!summary.video.is_empty(), "an accepted offer sends video");
            assert!(
                summary
                    .video
                    .iter()
                    .all(|c| VIDEO_CODECS.contains(&c.as_str()))
            );
            assert!(
                summary
                    .audio
                    .iter()
                    .all(|c| AUDIO_CODECS.contains(&c.as_str()))
            );
        }
        Err(e) => {
            assert!(e.code().starts_with("whip."), "{e:?}");
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
    }
}

/// The first byte picks the codec, the rest is cut into frames at every
/// `0xFF 0xFE` marker; the frames go through one assembler in order, with
/// a loss signalled before every third one. Every event must be usable by
/// the live pipeline.
pub fn webrtc_video_frame(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let codec = match selector % 3 {
        0 => WebRtcVideoCodec::H264,
        1 => WebRtcVideoCodec::Vpx(VpxCodec::Vp8),
        _ => WebRtcVideoCodec::Vpx(VpxCodec::Vp9),
    };
    let mut assembler = VideoAssembler::new(codec);
    let mut configured = false;
    for (index, frame) in split_frames(rest).into_iter().enumerate() {
        if index % 3 == 2 {
            assembler.lost();
        }
        let mut events = Vec::new();
        let outcome = assembler.frame(frame, index as u32 * 33, &mut events);
        let emitted = matches!(outcome, FrameOutcome::Emitted { .. });
        assert_eq!(
            events.iter().any(|e| matches!(e, LiveEvent::Video { .. })),
            emitted,
            "a frame event exactly when one is emitted: {outcome:?} {events:?}"
        );
        for event in &events {
            match event {
                LiveEvent::VideoConfig { avcc } => {
                    configured = true;
                    let config = AvcDecoderConfig::from_avcc(avcc).expect("our avcC parses");
                    assert!(!config.sps().is_empty() && !config.pps().is_empty());
                }
                LiveEvent::VpxConfig { width, height, .. } => {
                    configured = true;
                    assert!(*width > 0 && *height > 0, "a real size");
                }
                LiveEvent::Video { data, keyframe, .. } => {
                    assert!(configured, "no frame before a configuration");
                    assert!(!data.is_empty());
                    if codec == WebRtcVideoCodec::H264 {
                        let walked: usize =
                            length_prefixed_nal_units(data).map(|n| n.len() + 4).sum();
                        assert_eq!(walked, data.len(), "length prefixes cover the frame");
                    }
                    if let FrameOutcome::Emitted { keyframe: k } = outcome {
                        assert_eq!(*keyframe, k);
                    }
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}

fn split_frames(data: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == 0xFF && data[i + 1] == 0xFE {
            frames.push(&data[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    frames.push(&data[start..]);
    frames
}

/// Where the fuzzed viewer is reachable.
const WHEP_CANDIDATE: &str = "127.0.0.1:8189";

/// The first byte picks the channel's video codec (H.264, VP8, VP9) and
/// whether its audio is Opus; the rest (as text) is a player's WHEP offer.
/// An answered offer names the channel's codec and takes a keyframe and
/// an audio packet without panicking; a refusal has a WHEP or live code,
/// a 4xx/5xx status and both messages.
pub fn whep_offer(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let video = match selector % 3 {
        0 => FeedVideoCodec::H264,
        1 => FeedVideoCodec::Vp8,
        _ => FeedVideoCodec::Vp9,
    };
    let media = FeedMedia {
        video: Some(video),
        opus_audio: selector & 0x80 != 0,
        reordered: false,
    };
    let offer = String::from_utf8_lossy(rest);
    let candidate: SocketAddr = WHEP_CANDIDATE.parse().expect("a literal address");
    let now = Instant::now();
    match WhepViewer::answer(&offer, &[candidate], media, Duration::from_secs(5), now) {
        Ok((mut viewer, answer)) => {
            let rtpmap = format!("{}/90000", video.name()).to_ascii_lowercase();
            assert!(
                answer.to_ascii_lowercase().contains(&rtpmap),
                "the answer sends the channel's codec: {answer}"
            );
            let key = FeedFrame::Video {
                codec: video,
                pts_ms: 0,
                keyframe: true,
                data: bytes::Bytes::from_static(&[0, 0, 0, 1, 0x65, 0x88, 0x84]),
            };
            viewer.send(&key, now);
            let sound = FeedFrame::Audio {
                pts_ms: 0,
                data: bytes::Bytes::from_static(&[0xfc, 0xff, 0xfe]),
            };
            viewer.send(&sound, now);
            viewer.tick(now + Duration::from_secs(6));
            viewer.take_transmits().for_each(drop);
        }
        Err(e) => {
            assert!(
                e.code().starts_with("whep.") || e.code().starts_with("live."),
                "{e:?}"
            );
            assert!(e.status().is_client_error() || e.status().is_server_error());
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
    }
}
