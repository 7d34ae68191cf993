//! A str0m client playing from a [`WhepViewer`] in memory: no sockets,
//! time driven by the test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use super::*;

const SERVER: &str = "127.0.0.1:8189";
const CLIENT: &str = "127.0.0.1:50001";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn media(video: FeedVideoCodec) -> FeedMedia {
    FeedMedia {
        video: Some(video),
        opus_audio: true,
        reordered: false,
    }
}

/// A player offering to receive video in `codecs` and Opus audio.
fn player_offer(codecs: &[Codec], now: Instant) -> (Rtc, SdpPendingOffer, String, Mid) {
    let mut config = RtcConfig::new().clear_codecs().enable_opus(true, false);
    for codec in codecs {
        config = match codec {
            Codec::H264 => config.enable_h264(true),
            Codec::Vp9 => config.enable_vp9(true),
            _ => config.enable_vp8(true),
        };
    }
    let mut client = config.build(now);
    client.add_local_candidate(Candidate::host(addr(CLIENT), "udp").unwrap());
    let mut change = client.sdp_api();
    let video = change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    (client, pending, offer.to_sdp_string(), video)
}

struct Pair {
    client: Rtc,
    server: WhepViewer,
    now: Instant,
    client_timeout: Instant,
    client_connected: bool,
    received: Vec<MediaData>,
    video: Mid,
}

impl Pair {
    fn connect(codec: FeedVideoCodec) -> Self {
        let now = Instant::now();
        let (mut client, pending, offer, video) = player_offer(&[Codec::Vp8, Codec::H264], now);
        let (server, answer) = WhepViewer::answer(
            &offer,
            &[addr(SERVER)],
            media(codec),
            Duration::from_secs(5),
            now,
        )
        .expect("answer");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("a=sendonly"), "{answer}");
        client
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
        let mut pair = Self {
            client,
            server,
            now,
            client_timeout: now,
            client_connected: false,
            received: Vec::new(),
            video,
        };
        for _ in 0..500 {
            pair.step(Duration::from_millis(10));
            if pair.client_connected && *pair.server.state() == PeerState::Connected {
                return pair;
            }
        }
        panic!("no connection: viewer {:?}", pair.server.state());
    }

    fn step(&mut self, dt: Duration) {
        for _ in 0..100 {
            let mut moved = false;
            loop {
                match self.client.poll_output().unwrap() {
                    Output::Timeout(t) => {
                        self.client_timeout = t;
                        break;
                    }
                    Output::Transmit(t) => {
                        moved = true;
                        assert!(self.server.try_receive(
                            self.now,
                            t.source,
                            t.destination,
                            &t.contents
                        ));
                    }
                    Output::Event(Event::Connected) => self.client_connected = true,
                    Output::Event(Event::MediaData(data)) => self.received.push(data),
                    Output::Event(_) => {}
                }
            }
            let out: Vec<Transmit> = self.server.take_transmits().collect();
            for t in out {
                moved = true;
                let receive =
                    Receive::new(Protocol::Udp, t.source, t.destination, &t.contents).unwrap();
                self.client
                    .handle_input(Input::Receive(self.now, receive))
                    .unwrap();
            }
            if !moved {
                break;
            }
        }
        self.now += dt;
        self.server.tick(self.now);
        if self.now >= self.client_timeout {
            self.client.handle_input(Input::Timeout(self.now)).unwrap();
        }
    }

    fn send(&mut self, frame: FeedFrame) {
        let now = self.now;
        self.server.send(&frame, now);
        self.step(Duration::from_millis(20));
    }

    fn video_received(&self) -> Vec<&MediaData> {
        self.received
            .iter()
            .filter(|d| d.mid == self.video)
            .collect()
    }
}

fn ms(data: &MediaData) -> u64 {
    data.time.numer() * 1000 / u64::from(data.time.denom())
}

fn vp8(pts_ms: u32, keyframe: bool) -> FeedFrame {
    // A VP8 frame tag: bit 0 clear = keyframe; then the start code for keyframes.
    let mut data = vec![if keyframe { 0x10 } else { 0x11 }, 0x02, 0x00];
    if keyframe {
        data.extend_from_slice(&[0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
    }
    data.extend(std::iter::repeat_n(0x55u8, 300));
    FeedFrame::Video {
        codec: FeedVideoCodec::Vp8,
        pts_ms,
        keyframe,
        data: Bytes::from(data),
    }
}

#[test]
fn a_player_receives_the_source_frames_from_the_first_keyframe_on() {
    let mut pair = Pair::connect(FeedVideoCodec::Vp8);
    assert!(
        pair.server.take_keyframe_request(),
        "asks for a keyframe on connect"
    );
    pair.send(vp8(0, false));
    pair.send(vp8(33, false));
    assert!(
        pair.video_received().is_empty(),
        "delta frames before a keyframe are skipped"
    );
    for (i, pts) in [66u32, 100, 133, 166].into_iter().enumerate() {
        pair.send(vp8(pts, i == 0));
    }
    pair.step(Duration::from_millis(50));
    let frames = pair.video_received();
    assert_eq!(frames.len(), 4, "every frame from the keyframe on");
    assert_eq!(frames[0].params.spec().codec, Codec::Vp8);
    assert_eq!(
        ms(frames[3]) - ms(frames[0]),
        100,
        "RTP times follow the feed's ms timeline"
    );
    let c = pair.server.counters();
    assert_eq!((c.video_frames, c.skipped_frames), (4, 2));
}

#[test]
fn opus_packets_reach_the_player_as_audio() {
    let mut pair = Pair::connect(FeedVideoCodec::Vp8);
    for i in 0..5u32 {
        pair.send(FeedFrame::Audio {
            pts_ms: i * 20,
            data: Bytes::from_static(&[0xfc, 0xff, 0xfe]),
        });
    }
    pair.step(Duration::from_millis(50));
    let audio: Vec<_> = pair
        .received
        .iter()
        .filter(|d| d.params.spec().codec == Codec::Opus)
        .collect();
    assert_eq!(audio.len(), 5);
    assert_eq!(pair.server.counters().audio_packets, 5);
}

#[test]
fn after_lost_frames_the_viewer_waits_for_the_next_keyframe_and_asks_for_one() {
    let mut pair = Pair::connect(FeedVideoCodec::Vp8);
    pair.server.take_keyframe_request();
    pair.send(vp8(0, true));
    pair.send(vp8(33, false));
    pair.server.lost();
    assert!(pair.server.take_keyframe_request());
    pair.send(vp8(200, false));
    pair.send(vp8(233, true));
    pair.step(Duration::from_millis(50));
    let times: Vec<u64> = pair.video_received().iter().map(|d| ms(d)).collect();
    assert_eq!(times.len(), 3, "{times:?}");
    assert_eq!(times[2] - times[0], 233);
}

#[test]
fn a_player_keyframe_request_is_passed_up() {
    let mut pair = Pair::connect(FeedVideoCodec::Vp8);
    pair.server.take_keyframe_request();
    pair.send(vp8(0, true));
    let mid = pair.video;
    let mut writer = pair.client.writer(mid).unwrap();
    writer
        .request_keyframe(None, KeyframeRequestKind::Pli)
        .unwrap();
    pair.step(Duration::from_millis(20));
    assert!(pair.server.take_keyframe_request());
    assert_eq!(pair.server.counters().keyframe_requests, 1);
}

#[test]
fn a_player_that_cannot_receive_the_source_codec_is_refused() {
    let now = Instant::now();
    let (_client, _pending, offer, _) = player_offer(&[Codec::Vp8], now);
    let refused = WhepViewer::answer(
        &offer,
        &[addr(SERVER)],
        media(FeedVideoCodec::H264),
        Duration::from_secs(5),
        now,
    );
    assert!(
        matches!(refused, Err(WhepError::ViewerCodec { codec: "h264" })),
        "{refused:?}"
    );
}

#[test]
fn a_channel_without_known_video_cannot_be_watched() {
    let now = Instant::now();
    let (_client, _pending, offer, _) = player_offer(&[Codec::Vp8], now);
    let refused = WhepViewer::answer(
        &offer,
        &[addr(SERVER)],
        FeedMedia::default(),
        Duration::from_secs(5),
        now,
    );
    assert!(matches!(refused, Err(WhepError::NotLive)), "{refused:?}");
}

#[test]
fn a_player_that_never_connects_is_closed_at_the_timeout() {
    let now = Instant::now();
    let (_client, _pending, offer, _) = player_offer(&[Codec::Vp8], now);
    let (mut viewer, _) = WhepViewer::answer(
        &offer,
        &[addr(SERVER)],
        media(FeedVideoCodec::Vp8),
        Duration::from_secs(2),
        now,
    )
    .unwrap();
    viewer.tick(now + Duration::from_secs(3));
    assert!(matches!(viewer.state(), PeerState::Closed(_)));
}
