//! A str0m client publishing to a [`WhipPeer`] in memory: no sockets, time
//! driven by the test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use super::*;

const SERVER: &str = "127.0.0.1:8189";
const CLIENT: &str = "127.0.0.1:50000";

struct Pair {
    client: Rtc,
    server: WhipPeer,
    now: Instant,
    client_timeout: Instant,
    client_connected: bool,
    events: Vec<LiveEvent>,
    video: Mid,
    audio: Mid,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn timeouts() -> PeerTimeouts {
    PeerTimeouts {
        connect: Duration::from_secs(5),
        idle: Duration::from_secs(3),
        keyframe_every: Some(Duration::from_secs(2)),
    }
}

/// A client offering to send video in `codec` (only) and Opus audio.
fn client_offer(codec: Codec, now: Instant) -> (Rtc, SdpPendingOffer, String, Mid, Mid) {
    let config = RtcConfig::new().clear_codecs().enable_opus(true, false);
    let config = match codec {
        Codec::H264 => config.enable_h264(true),
        Codec::Vp9 => config.enable_vp9(true),
        _ => config.enable_vp8(true),
    };
    let mut client = config.build(now);
    client.add_local_candidate(Candidate::host(addr(CLIENT), "udp").unwrap());
    let mut change = client.sdp_api();
    let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    (client, pending, offer.to_sdp_string(), video, audio)
}

impl Pair {
    fn connect(codec: Codec) -> Self {
        let now = Instant::now();
        let (mut client, pending, offer, video, audio) = client_offer(codec, now);
        let (server, answer) =
            WhipPeer::answer(&offer, &[addr(SERVER)], timeouts(), now).expect("answer");
        assert!(answer.contains("a=ice-lite"), "{answer}");
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
            events: Vec::new(),
            video,
            audio,
        };
        for _ in 0..500 {
            pair.step(Duration::from_millis(10));
            if pair.client_connected && *pair.server.state() == PeerState::Connected {
                return pair;
            }
        }
        panic!("no connection: server {:?}", pair.server.state());
    }

    /// Exchanges everything pending, then lets `dt` pass.
    fn step(&mut self, dt: Duration) {
        for _ in 0..100 {
            let mut moved = false;
            // Client output to the server.
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
                    Output::Event(_) => {}
                }
            }
            // Server output to the client.
            let out: Vec<Transmit> = self.server.take_transmits().collect();
            for t in out {
                moved = true;
                let receive =
                    Receive::new(Protocol::Udp, t.source, t.destination, &t.contents).unwrap();
                self.client
                    .handle_input(Input::Receive(self.now, receive))
                    .unwrap();
            }
            self.events.extend(self.server.take_events());
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

    fn write(&mut self, mid: Mid, codec: Codec, ticks: u64, rate: u32, data: &[u8]) {
        let writer = self.client.writer(mid).unwrap();
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .unwrap()
            .pt();
        let time = MediaTime::new(ticks, str0m::media::Frequency::new(rate).unwrap());
        writer.write(pt, self.now, time, data.to_vec()).unwrap();
    }
}

fn vp8_frame(key: bool, size: usize) -> Vec<u8> {
    let mut f = if key {
        vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]
    } else {
        vec![0x31, 0x02, 0x00]
    };
    f.resize(size, 0x5a);
    f
}

#[test]
fn a_vp8_and_opus_publisher_connects_and_its_frames_become_timed_live_events() {
    let mut pair = Pair::connect(Codec::Vp8);
    // One second: 30 video frames (a keyframe first) and 50 Opus packets.
    let mut next_frame = 0u64;
    for i in 0..50u64 {
        while next_frame * 1000 / 30 <= i * 20 {
            let video = pair.video;
            let frame = vp8_frame(next_frame == 0, 2_500);
            pair.write(video, Codec::Vp8, next_frame * 3_000, 90_000, &frame);
            next_frame += 1;
        }
        let audio = pair.audio;
        pair.write(audio, Codec::Opus, i * 960, 48_000, &[0xfc, 0xff, 0xfe]);
        pair.step(Duration::from_millis(20));
    }
    for _ in 0..20 {
        pair.step(Duration::from_millis(20));
    }
    let events = std::mem::take(&mut pair.events);
    let config = events
        .iter()
        .find_map(|e| match e {
            LiveEvent::VpxConfig {
                codec,
                width,
                height,
            } => Some((*codec, *width, *height)),
            _ => None,
        })
        .expect("a VP8 configuration");
    assert_eq!(config, (VpxCodec::Vp8, 640, 480));
    assert_eq!(
        events.first(),
        Some(&LiveEvent::OpusConfig { channels: 2 }),
        "the audio is announced before any video"
    );
    let video: Vec<(u32, bool)> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Video {
                dts_ms, keyframe, ..
            } => Some((*dts_ms, *keyframe)),
            _ => None,
        })
        .collect();
    assert!(video.len() >= 28, "{} video frames", video.len());
    assert!(video[0].1, "the first frame passed on is the keyframe");
    for pair in video.windows(2) {
        let step = pair[1].0 - pair[0].0;
        assert!(
            (33..=34).contains(&step),
            "video steps by the RTP clock: {video:?}"
        );
    }
    let audio: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Audio { dts_ms, .. } => Some(*dts_ms),
            _ => None,
        })
        .collect();
    assert_eq!(audio.len(), 50);
    assert!(audio.windows(2).all(|w| w[1] - w[0] == 20), "{audio:?}");
    assert_eq!(pair.server.counters().video_frames as usize, video.len());
}

#[test]
fn an_h264_publisher_gives_an_avcc_configuration_for_the_passthrough() {
    let mut pair = Pair::connect(Codec::H264);
    let sps: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];
    let pps: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];
    let mut idr = vec![0, 0, 0, 1];
    idr.extend_from_slice(sps);
    idr.extend_from_slice(&[0, 0, 0, 1]);
    idr.extend_from_slice(pps);
    idr.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, 0x84]);
    idr.resize(idr.len() + 3_000, 0x11);
    let mut delta = vec![0, 0, 0, 1, 0x41, 0x9a];
    delta.resize(800, 0x22);
    for i in 0..10u64 {
        let frame = if i == 0 { &idr } else { &delta };
        let video = pair.video;
        pair.write(video, Codec::H264, 1_000 + i * 3_000, 90_000, frame);
        pair.step(Duration::from_millis(33));
    }
    pair.step(Duration::from_millis(100));
    let events = std::mem::take(&mut pair.events);
    assert_eq!(
        events.first(),
        Some(&LiveEvent::OpusConfig { channels: 2 }),
        "the audio is announced on connect"
    );
    let LiveEvent::VideoConfig { avcc } = &events[1] else {
        panic!("then the video configuration: {:?}", events.get(1))
    };
    let config = yanxiu_packager::h264::AvcDecoderConfig::from_avcc(avcc).unwrap();
    assert_eq!(config.parsed_sps().width, 320);
    let frames = events
        .iter()
        .filter(|e| matches!(e, LiveEvent::Video { .. }))
        .count();
    assert_eq!(frames, 10);
}

#[test]
fn an_h264_publisher_is_asked_for_a_keyframe_every_segment_target_a_vp8_one_is_not() {
    for (codec, expected) in [(Codec::H264, true), (Codec::Vp8, false)] {
        let mut pair = Pair::connect(codec);
        let key: Vec<u8> = if codec == Codec::H264 {
            let mut f = vec![0, 0, 0, 1];
            f.extend_from_slice(&[
                0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
                0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
            ]);
            f.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xcb, 0x83, 0xcb, 0x20]);
            f.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x11]);
            f
        } else {
            vp8_frame(true, 500)
        };
        let delta: Vec<u8> = if codec == Codec::H264 {
            vec![0, 0, 0, 1, 0x41, 0x9a, 0x22, 0x22]
        } else {
            vp8_frame(false, 200)
        };
        let video = pair.video;
        pair.write(video, codec, 0, 90_000, &key);
        pair.step(Duration::from_millis(33));
        let asked = pair.server.counters().keyframe_requests;
        // Three seconds of delta frames only.
        for i in 1..=90u64 {
            pair.write(video, codec, i * 3_000, 90_000, &delta);
            pair.step(Duration::from_millis(33));
        }
        let more = pair.server.counters().keyframe_requests - asked;
        assert_eq!(more > 0, expected, "{codec:?}: {more} requests");
        assert!(more <= 2, "{codec:?}: paced, not every frame: {more}");
    }
}

#[test]
fn a_publisher_that_never_connects_is_closed_at_the_connect_timeout() {
    let now = Instant::now();
    let (_client, _pending, offer, _, _) = client_offer(Codec::Vp8, now);
    let (mut server, _) = WhipPeer::answer(&offer, &[addr(SERVER)], timeouts(), now).unwrap();
    server.tick(now + Duration::from_secs(4));
    assert_eq!(*server.state(), PeerState::Connecting);
    server.tick(now + Duration::from_secs(5));
    assert!(
        matches!(server.state(), PeerState::Closed(EndReason::Transport(why)) if why.contains("did not connect")),
        "{:?}",
        server.state()
    );
    assert!(
        server.take_events().is_empty(),
        "nothing of it reaches the pipeline"
    );
}

#[test]
fn a_connected_publisher_that_stops_sending_is_cut_off_as_idle() {
    let mut pair = Pair::connect(Codec::Vp8);
    let video = pair.video;
    pair.write(video, Codec::Vp8, 0, 90_000, &vp8_frame(true, 1_000));
    pair.step(Duration::from_millis(10));
    let silent_until = pair.now + Duration::from_secs(4);
    while pair.now < silent_until {
        pair.now += Duration::from_millis(250);
        pair.server.tick(pair.now);
    }
    assert_eq!(*pair.server.state(), PeerState::Closed(EndReason::Idle));
}

#[test]
fn garbage_datagrams_are_not_taken_and_change_nothing() {
    let now = Instant::now();
    let (_client, _pending, offer, _, _) = client_offer(Codec::Vp8, now);
    let (mut server, _) = WhipPeer::answer(&offer, &[addr(SERVER)], timeouts(), now).unwrap();
    for junk in [
        &b""[..],
        &[0u8; 3],
        &[0x16, 0xfe, 0xfd, 0, 0],
        &[0x80; 40],
        &[0xff; 1200],
    ] {
        server.try_receive(now, addr(CLIENT), addr(SERVER), junk);
    }
    assert_eq!(*server.state(), PeerState::Connecting);
    assert!(server.take_events().is_empty());
}

#[test]
fn an_offer_the_stack_cannot_parse_is_a_negotiation_error() {
    let err = WhipPeer::answer(
        "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
        &[addr(SERVER)],
        timeouts(),
        Instant::now(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "whip.negotiation_failed");
}
