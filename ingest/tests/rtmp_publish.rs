//! The RTMP ingest server against real publishers: ffmpeg and GStreamer
//! push H.264/AAC over RTMP on loopback. The tools must be installed
//! (`ffmpeg`, `gst-launch-1.0` with x264enc, flvmux and rtmp2sink); a test
//! fails when one is missing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use yanxiu_ingest::rtmp::{
    EndReason, LiveEvent, LiveSession, PublishGate, PublishRefusal, PublishTicket, RtmpConfig,
    RtmpNotice, RtmpServer, key_fingerprint,
};

const GOOD_KEY: &str = "good-key-0001";
const OTHER_KEY: &str = "other-key-0002";
/// A key the gate takes 10 s to answer (a control plane that hangs).
const SLOW_KEY: &str = "slow-key-0003";

/// Knows two keys, each of its own channel.
struct KeyGate {
    keys: HashMap<&'static str, &'static str>,
}

#[async_trait]
impl PublishGate for KeyGate {
    async fn authorize(
        &self,
        app: &str,
        key: &str,
        _peer: SocketAddr,
    ) -> Result<PublishTicket, PublishRefusal> {
        if key == SLOW_KEY {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        match self.keys.get(key) {
            Some(channel) if app == "live" => Ok(PublishTicket {
                channel_id: (*channel).to_owned(),
            }),
            _ => Err(PublishRefusal {
                code: "unknown_key".into(),
                message_zh: "推流密钥无效".into(),
                message_en: "Unknown stream key".into(),
            }),
        }
    }
}

struct Running {
    addr: SocketAddr,
    notices: mpsc::Receiver<RtmpNotice>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

async fn start(config: RtmpConfig) -> Running {
    let gate = Arc::new(KeyGate {
        keys: HashMap::from([(GOOD_KEY, "channel-a"), (OTHER_KEY, "channel-b")]),
    });
    let (tx, notices) = mpsc::channel(16);
    let config = RtmpConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..config
    };
    let (server, addr) = RtmpServer::bind(config, gate, tx).await.expect("binds");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(server.run(shutdown.clone()));
    Running {
        addr,
        notices,
        shutdown,
        server,
    }
}

fn url(addr: SocketAddr, key: &str) -> String {
    format!("rtmp://{addr}/live/{key}")
}

/// ffmpeg pushing `seconds` of 320x240 testsrc2 (H.264, GOP 30) and a sine (AAC) in real time.
fn ffmpeg_push(addr: SocketAddr, key: &str, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
        ])
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "flv", &url(addr, key)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg must be installed (apt-get install ffmpeg)")
}

async fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    timeout(within, child.wait())
        .await
        .expect("publisher exits in time")
        .expect("publisher status")
}

async fn next_session(notices: &mut mpsc::Receiver<RtmpNotice>, within: Duration) -> LiveSession {
    match timeout(within, notices.recv())
        .await
        .expect("a publish in time")
    {
        Some(RtmpNotice::Published(session)) => session,
        Some(RtmpNotice::Refused(refused)) => panic!("unexpected refusal: {refused:?}"),
        None => panic!("notice channel closed"),
    }
}

/// Every event of a session up to and including `Ended`.
async fn collect_events(session: &mut LiveSession, within: Duration) -> Vec<LiveEvent> {
    let deadline = Instant::now() + within;
    let mut events = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = timeout(left, session.events.recv())
            .await
            .expect("session ends in time")
            .expect("Ended comes before the channel closes");
        let ended = matches!(event, LiveEvent::Ended { .. });
        events.push(event);
        if ended {
            return events;
        }
    }
}

fn video_frames(events: &[LiveEvent]) -> Vec<(u32, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Video {
                dts_ms, keyframe, ..
            } => Some((*dts_ms, *keyframe)),
            _ => None,
        })
        .collect()
}

fn end_reason(events: &[LiveEvent]) -> &EndReason {
    match events.last() {
        Some(LiveEvent::Ended { reason }) => reason,
        other => panic!("last event is not Ended: {other:?}"),
    }
}

fn assert_publish_is_complete(events: &[LiveEvent], expect_audio: bool) {
    assert!(
        matches!(&events[0], LiveEvent::Started { channel_id, .. } if channel_id == "channel-a"),
        "first event is Started: {:?}",
        events[0]
    );
    let first_media = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Video { .. } | LiveEvent::Audio { .. }))
        .expect("media arrived");
    let video_config = events
        .iter()
        .position(
            |e| matches!(e, LiveEvent::VideoConfig { avcc } if avcc.len() > 6 && avcc[0] == 1),
        )
        .expect("an avcC sequence header");
    assert!(
        video_config < first_media,
        "VideoConfig precedes the first frame"
    );
    if expect_audio {
        let audio_config = events
            .iter()
            .position(|e| matches!(e, LiveEvent::AudioConfig { asc } if asc.len() >= 2))
            .expect("an AudioSpecificConfig");
        assert!(
            audio_config < first_media,
            "AudioConfig precedes the first frame"
        );
        let audio_frames = events
            .iter()
            .filter(|e| matches!(e, LiveEvent::Audio { .. }))
            .count();
        assert!(
            audio_frames >= 100,
            "about 3 s of AAC frames, got {audio_frames}"
        );
    }
    let frames = video_frames(events);
    assert!(
        frames.len() >= 80,
        "at least 80 video frames, got {}",
        frames.len()
    );
    assert!(frames[0].1, "the first video frame is a keyframe");
    assert!(
        frames.windows(2).all(|w| w[0].0 <= w[1].0),
        "video dts is monotonic"
    );
    let keyframes = frames.iter().filter(|f| f.1).count();
    assert!(
        keyframes >= 2,
        "GOP of 30 gives a keyframe per second, got {keyframes}"
    );
    assert!(
        frames.last().map(|f| f.0).unwrap_or(0) >= 2500,
        "about 3 s of video timestamps"
    );
}

#[tokio::test]
async fn ffmpeg_publish_yields_configs_frames_metadata_and_end() {
    let mut running = start(RtmpConfig::default()).await;
    let mut ffmpeg = ffmpeg_push(running.addr, GOOD_KEY, 3);
    let mut session = next_session(&mut running.notices, Duration::from_secs(15)).await;
    assert_eq!(session.channel_id, "channel-a");
    let events = collect_events(&mut session, Duration::from_secs(30)).await;
    assert!(
        wait_exit(&mut ffmpeg, Duration::from_secs(10))
            .await
            .success(),
        "ffmpeg finishes cleanly"
    );

    assert_publish_is_complete(&events, true);
    let meta = events
        .iter()
        .find_map(|e| match e {
            LiveEvent::Metadata(meta) => Some(meta),
            _ => None,
        })
        .unwrap_or_else(|| panic!("onMetaData among {} events", events.len()));
    assert_eq!((meta.width, meta.height), (Some(320), Some(240)));
    assert_eq!(meta.frame_rate, Some(30.0));
    assert!(
        meta.encoder
            .as_deref()
            .is_some_and(|e| e.starts_with("Lavf"))
    );
    assert!(
        matches!(
            end_reason(&events),
            EndReason::Unpublished | EndReason::ClientClosed
        ),
        "clean end, got {:?}",
        end_reason(&events)
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn wrong_key_is_refused_before_any_media_and_ffmpeg_fails() {
    let mut running = start(RtmpConfig::default()).await;
    let mut ffmpeg = ffmpeg_push(running.addr, "stolen-or-typo-key", 3);
    let refused = match timeout(Duration::from_secs(15), running.notices.recv())
        .await
        .expect("in time")
    {
        Some(RtmpNotice::Refused(refused)) => refused,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused.refusal.code, "unknown_key");
    assert_eq!(refused.app, "live");
    assert_eq!(
        refused.key_fingerprint,
        key_fingerprint("stolen-or-typo-key")
    );
    let status = wait_exit(&mut ffmpeg, Duration::from_secs(15)).await;
    assert!(!status.success(), "ffmpeg exits non-zero when refused");
    assert!(
        running.notices.try_recv().is_err(),
        "no session was ever published"
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn gstreamer_rtmp2sink_publishes_h264() {
    let mut running = start(RtmpConfig::default()).await;
    let pipeline = format!(
        "videotestsrc num-buffers=90 is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! x264enc tune=zerolatency key-int-max=30 speed-preset=veryfast ! h264parse \
         ! flvmux streamable=true ! rtmp2sink location={}",
        url(running.addr, GOOD_KEY)
    );
    let mut gst = Command::new("gst-launch-1.0")
        .arg("-e")
        .args(pipeline.split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect(
            "gst-launch-1.0 must be installed (gstreamer1.0-tools, -plugins-ugly, -plugins-bad)",
        );
    let mut session = next_session(&mut running.notices, Duration::from_secs(15)).await;
    let events = collect_events(&mut session, Duration::from_secs(30)).await;
    assert!(
        wait_exit(&mut gst, Duration::from_secs(10)).await.success(),
        "gst-launch finishes cleanly"
    );
    assert_publish_is_complete(&events, false);
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn second_publish_on_a_live_channel_replaces_the_first() {
    let mut running = start(RtmpConfig::default()).await;
    let mut first = ffmpeg_push(running.addr, GOOD_KEY, 30);
    let mut old = next_session(&mut running.notices, Duration::from_secs(15)).await;
    // Let the first publisher get going before the "reconnect".
    let mut old_frames = 0;
    while old_frames < 10 {
        match timeout(Duration::from_secs(10), old.events.recv())
            .await
            .expect("frames in time")
        {
            Some(LiveEvent::Video { .. }) => old_frames += 1,
            Some(LiveEvent::Ended { reason }) => panic!("first publish ended early: {reason}"),
            Some(_) => {}
            None => panic!("event channel closed"),
        }
    }
    let mut second = ffmpeg_push(running.addr, GOOD_KEY, 3);
    let mut new = next_session(&mut running.notices, Duration::from_secs(15)).await;
    assert_eq!(new.channel_id, old.channel_id);
    assert_ne!(new.session_id, old.session_id);

    let old_rest = collect_events(&mut old, Duration::from_secs(10)).await;
    assert_eq!(end_reason(&old_rest), &EndReason::Replaced);
    assert!(
        !wait_exit(&mut first, Duration::from_secs(15))
            .await
            .success(),
        "the replaced ffmpeg fails"
    );

    let new_events = collect_events(&mut new, Duration::from_secs(30)).await;
    assert_publish_is_complete(&new_events, true);
    assert!(
        wait_exit(&mut second, Duration::from_secs(10))
            .await
            .success()
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn a_new_channel_beyond_max_publishers_is_refused_as_busy() {
    let mut running = start(RtmpConfig {
        max_publishers: 1,
        ..RtmpConfig::default()
    })
    .await;
    let _first = ffmpeg_push(running.addr, GOOD_KEY, 30);
    let mut live = next_session(&mut running.notices, Duration::from_secs(15)).await;
    let mut second = ffmpeg_push(running.addr, OTHER_KEY, 3);
    match timeout(Duration::from_secs(15), running.notices.recv())
        .await
        .expect("in time")
    {
        Some(RtmpNotice::Refused(refused)) => {
            assert_eq!(refused.refusal.code, PublishRefusal::SERVER_BUSY)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        !wait_exit(&mut second, Duration::from_secs(15))
            .await
            .success()
    );
    running.shutdown.cancel();
    let events = collect_events(&mut live, Duration::from_secs(10)).await;
    assert_eq!(end_reason(&events), &EndReason::ServerShutdown);
    timeout(Duration::from_secs(5), running.server)
        .await
        .expect("run returns after shutdown")
        .expect("server task");
}

#[tokio::test]
async fn oversized_message_cuts_the_publisher_off() {
    let mut running = start(RtmpConfig {
        max_message_bytes: 2_000,
        ..RtmpConfig::default()
    })
    .await;
    let mut ffmpeg = ffmpeg_push(running.addr, GOOD_KEY, 3);
    let mut session = next_session(&mut running.notices, Duration::from_secs(15)).await;
    let events = collect_events(&mut session, Duration::from_secs(15)).await;
    assert!(
        matches!(end_reason(&events), EndReason::Oversized { bytes } if *bytes > 2_000),
        "got {:?}",
        end_reason(&events)
    );
    assert!(
        !wait_exit(&mut ffmpeg, Duration::from_secs(15))
            .await
            .success()
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let running = start(RtmpConfig {
        idle_timeout: Duration::from_millis(500),
        ..RtmpConfig::default()
    })
    .await;
    let mut socket = tokio::net::TcpStream::connect(running.addr)
        .await
        .expect("connects");
    let opened = Instant::now();
    let mut buf = [0u8; 64];
    let read = timeout(Duration::from_secs(5), socket.read(&mut buf))
        .await
        .expect("closed in time");
    let waited = opened.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the server closed the socket: {read:?}"
    );
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(1500),
        "closed by the 500 ms idle timeout, after {waited:?}"
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn a_slow_consumer_slows_the_publisher_instead_of_losing_frames_or_cutting_it() {
    let mut running = start(RtmpConfig {
        event_buffer: 4,
        idle_timeout: Duration::from_secs(1),
        ..RtmpConfig::default()
    })
    .await;
    let mut ffmpeg = ffmpeg_push(running.addr, GOOD_KEY, 3);
    let mut session = next_session(&mut running.notices, Duration::from_secs(15)).await;
    // Read nothing for longer than the idle timeout: the channel (4 events)
    // fills, the server stops reading, the encoder waits on TCP.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(session.events.len() <= 4, "the event channel stays bounded");
    let events = collect_events(&mut session, Duration::from_secs(30)).await;
    assert_publish_is_complete(&events, true);
    assert!(
        matches!(
            end_reason(&events),
            EndReason::Unpublished | EndReason::ClientClosed
        ),
        "waiting on the consumer is not idleness, got {:?}",
        end_reason(&events)
    );
    assert!(
        wait_exit(&mut ffmpeg, Duration::from_secs(10))
            .await
            .success()
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn dropping_the_event_receiver_ends_the_publish() {
    let mut running = start(RtmpConfig::default()).await;
    let mut ffmpeg = ffmpeg_push(running.addr, GOOD_KEY, 30);
    let session = next_session(&mut running.notices, Duration::from_secs(15)).await;
    drop(session);
    let status = wait_exit(&mut ffmpeg, Duration::from_secs(15)).await;
    assert!(
        !status.success(),
        "the publisher is cut off once nobody consumes its stream"
    );
    // The channel is free again: a new publish is accepted.
    let mut again = ffmpeg_push(running.addr, GOOD_KEY, 1);
    let mut session = next_session(&mut running.notices, Duration::from_secs(15)).await;
    let events = collect_events(&mut session, Duration::from_secs(20)).await;
    assert!(matches!(events[0], LiveEvent::Started { .. }));
    assert!(
        wait_exit(&mut again, Duration::from_secs(10))
            .await
            .success()
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn a_client_trickling_bytes_without_publishing_is_cut_at_the_publish_deadline() {
    let running = start(RtmpConfig {
        idle_timeout: Duration::from_millis(500),
        publish_deadline: Duration::from_secs(1),
        ..RtmpConfig::default()
    })
    .await;
    let mut socket = tokio::net::TcpStream::connect(running.addr)
        .await
        .expect("connects");
    let opened = Instant::now();
    // One byte of handshake every 200 ms: never idle, never done.
    let closed_after = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let alive = socket.write_all(&[3]).await.is_ok();
        let mut buf = [0u8; 64];
        let closed = matches!(
            timeout(Duration::from_millis(1), socket.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        );
        if !alive || closed {
            break opened.elapsed();
        }
        assert!(
            opened.elapsed() < Duration::from_secs(5),
            "the trickling client was never cut off"
        );
    };
    assert!(
        closed_after >= Duration::from_millis(900) && closed_after < Duration::from_millis(2500),
        "cut by the 1 s publish deadline, after {closed_after:?}"
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}

#[tokio::test]
async fn a_gate_that_does_not_answer_in_time_refuses_the_publish() {
    let mut running = start(RtmpConfig {
        idle_timeout: Duration::from_secs(1),
        ..RtmpConfig::default()
    })
    .await;
    let asked = Instant::now();
    let mut ffmpeg = ffmpeg_push(running.addr, SLOW_KEY, 3);
    match timeout(Duration::from_secs(8), running.notices.recv())
        .await
        .expect("in time")
    {
        Some(RtmpNotice::Refused(refused)) => {
            assert_eq!(refused.refusal.code, PublishRefusal::GATE_TIMEOUT)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "refused long before the gate would answer"
    );
    assert!(
        !wait_exit(&mut ffmpeg, Duration::from_secs(15))
            .await
            .success()
    );
    running.shutdown.cancel();
    running.server.await.expect("server task");
}
