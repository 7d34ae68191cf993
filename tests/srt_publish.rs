//! SRT live ingest end to end through `yanxiu serve` (`[live] srt_addr`):
//! ffmpeg (`-f mpegts srt://…?streamid=…`) and GStreamer's `srtsink` publish
//! MPEG-TS with H.264 (or HEVC, laddered to H.264 and, on a channel that
//! allows it, also passed through as it came) and AAC, the channel goes
//! live and its HLS decodes; a wrong key is rejected before the connection is
//! up and recorded with the code RTMP uses.
//!
//! The tests run one at a time ([`one_at_a_time`]) with the RTMP ones: each
//! encodes in real time and the server runs a live ladder.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::live::{
    LiveChannel, create_channel, decode_live, events, of_kind, one_at_a_time, organiser,
    parse_master, patch_channel, rendition_names, require_tool, server_log, spawn_logged,
    start_live, status, wait_for_master, wait_for_segments, wait_for_status,
};
use common::server::Server;
use serde_json::json;

/// How long a master playlist may take to appear after a publish starts.
const MASTER_WAIT: Duration = Duration::from_secs(15);

/// A free UDP port on the loopback for the server's SRT listener.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("a free UDP port")
        .port()
}

/// A live server with SRT on a free port; the `srt://127.0.0.1:PORT` base.
fn start_srt_live() -> (Server, String) {
    let port = free_udp_port();
    let server = start_live(&format!(
        "srt_addr = \"127.0.0.1:{port}\"\nrung_heights = [360]\npreset = \"ultrafast\"\n"
    ));
    (server, format!("srt://127.0.0.1:{port}"))
}

/// The SRT access-control streamid for `channel` with `key`.
fn access_control_id(channel: &LiveChannel, key: &str, mode: &str) -> String {
    format!("#!::r={},k={key},m={mode}", channel.stream_name)
}

/// ffmpeg publishing testsrc2 (640x360, 2 s GOPs) and a sine as MPEG-TS
/// over SRT with `stream_id`, in real time, for `seconds`.
fn ffmpeg_srt_publisher(base: &str, stream_id: &str, seconds: u32) -> common::live::Publisher {
    ffmpeg_srt_publisher_with(base, stream_id, seconds, "libx264")
}

/// [`ffmpeg_srt_publisher`] encoding the video with `video_codec`.
fn ffmpeg_srt_publisher_with(
    base: &str,
    stream_id: &str,
    seconds: u32,
    video_codec: &str,
) -> common::live::Publisher {
    require_tool("ffmpeg", "-version");
    let mut command = Command::new("ffmpeg");
    command
        .args(["-hide_banner", "-nostdin", "-loglevel", "warning", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            video_codec,
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "1M",
        ])
        .args(["-c:a", "aac", "-b:a", "96k", "-ar", "48000"])
        .args(["-f", "mpegts"])
        .arg(format!("{base}?streamid={stream_id}&pkt_size=1316"));
    spawn_logged(command, "ffmpeg (SRT)")
}

/// GStreamer 1.22 publishing videotestsrc + audiotestsrc (x264enc,
/// avenc_aac, mpegtsmux) with `srtsink` and `stream_id`, for `seconds`.
fn gstreamer_srt_publisher(base: &str, stream_id: &str, seconds: u32) -> common::live::Publisher {
    require_tool("gst-launch-1.0", "--version");
    for element in ["srtsink", "mpegtsmux", "x264enc", "avenc_aac", "aacparse"] {
        let found = Command::new("gst-inspect-1.0")
            .arg(element)
            .output()
            .is_ok_and(|out| out.status.success());
        assert!(
            found,
            "GStreamer element {element} missing: install gstreamer1.0-plugins-bad (srtsink, \
             mpegtsmux), -ugly (x264enc), -libav (avenc_aac), -good"
        );
    }
    let buffers = seconds * 30;
    let audio_buffers = seconds * 47;
    let mut command = Command::new("gst-launch-1.0");
    command.arg("-e").args(
        format!(
            "mpegtsmux name=m alignment=7 ! srtsink uri={base} streamid={stream_id} \
             videotestsrc is-live=true num-buffers={buffers} \
             ! video/x-raw,width=640,height=360,framerate=30/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 bitrate=1500 \
             ! h264parse ! queue ! m. \
             audiotestsrc is-live=true wave=sine num-buffers={audio_buffers} \
             ! audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac ! aacparse \
             ! queue ! m."
        )
        .split_whitespace(),
    );
    spawn_logged(command, "gst-launch-1.0 (srtsink)")
}

/// Waits for the master, then for two segments of every rendition, each of
/// which must decode; the renditions.
async fn assert_live_and_decodes(s: &Server, channel: &LiveChannel) -> Vec<String> {
    let started = Instant::now();
    let master_text = wait_for_master(s, channel, MASTER_WAIT).await;
    eprintln!(
        "master after {:.1} s:\n{master_text}",
        started.elapsed().as_secs_f64()
    );
    let renditions = rendition_names(&parse_master(&master_text));
    assert!(
        renditions.contains(&"source".to_owned()) && renditions.contains(&"audio".to_owned()),
        "{master_text}"
    );
    for rendition in &renditions {
        wait_for_segments(s, channel, rendition, 2, Duration::from_secs(20)).await;
        eprintln!(
            "{rendition}: two segments after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        decode_live(&channel.media_url(s, rendition), 3);
    }
    renditions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ffmpeg_srt_publisher_goes_live_and_its_hls_decodes() {
    let _turn = one_at_a_time().await;
    let (s, base) = start_srt_live();
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "SRT 录播教室：物理实验", "standard").await;

    let started = Instant::now();
    let stream_id = access_control_id(&channel, &channel.stream_key, "publish");
    assert_eq!(
        channel.srt_publish_url,
        Some(format!("{base}?streamid={stream_id}")),
        "the channel hands out the URL this publisher uses"
    );
    let mut publisher = ffmpeg_srt_publisher(&base, &stream_id, 14);
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    wait_for_segments(&s, &channel, "source", 1, MASTER_WAIT).await;
    eprintln!(
        "first source segment after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let renditions = assert_live_and_decodes(&s, &channel).await;
    assert!(renditions.contains(&"360p".to_owned()) || renditions.len() >= 2);
    let live = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "the SRT input measured",
        |b| b["status"]["input"]["width"] == 640,
    )
    .await;
    assert_eq!(live["status"]["live"], true, "{live}");
    assert_eq!(live["status"]["input"]["audio_codec"], "aac", "{live}");
    assert_eq!(
        of_kind(&events(&s, &token, &channel).await, "started").len(),
        1
    );
    assert!(publisher.running(), "{}", publisher.stderr());

    // ffmpeg ends its publish: the caller closed the connection.
    let exit = publisher.wait(Duration::from_secs(20));
    assert!(exit.success(), "{exit}: {}", publisher.stderr());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server_log(&s).contains("SRT publish ended") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server_log(&s);
    let ended = log
        .lines()
        .find(|l| l.contains("SRT publish ended"))
        .unwrap_or_else(|| panic!("the end of the publish is logged:\n{log}"));
    assert!(
        ended.contains("publisher closed the connection"),
        "ended as ClientClosed: {ended}"
    );
    assert!(
        log.contains("SRT publish accepted"),
        "the publish is logged"
    );
    assert!(
        !log.contains(channel.stream_key.as_str()),
        "a stream key in the server's log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gstreamer_srtsink_publisher_with_the_obs_stream_key_goes_live() {
    let _turn = one_at_a_time().await;
    let (s, base) = start_srt_live();
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "化学实验直播（SRT）", "standard").await;

    let mut publisher = gstreamer_srt_publisher(&base, &channel.obs_stream_key, 30);
    assert_live_and_decodes(&s, &channel).await;
    let live = status(&s, &token, &channel).await;
    assert_eq!(live["status"]["live"], true, "{live}");
    assert!(publisher.running(), "{}", publisher.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_play_request_is_rejected_before_the_connection_is_up() {
    let _turn = one_at_a_time().await;
    let (s, base) = start_srt_live();
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "数学教研活动（SRT）", "standard").await;

    for (stream_id, why) in [
        (
            access_control_id(&channel, "sk_not-the-key-0123456789", "publish"),
            "wrong key",
        ),
        (
            access_control_id(&channel, &channel.stream_key, "request"),
            "play request",
        ),
    ] {
        let started = Instant::now();
        let mut publisher = ffmpeg_srt_publisher(&base, &stream_id, 20);
        let exit = publisher.wait(Duration::from_secs(10));
        assert!(
            !exit.success(),
            "{why}: ffmpeg must fail, got {exit}:\n{}",
            publisher.stderr()
        );
        eprintln!(
            "{why}: rejected after {:.2} s: {}",
            started.elapsed().as_secs_f64(),
            publisher.stderr().trim()
        );
    }
    let codes: Vec<_> = of_kind(&events(&s, &token, &channel).await, "refused")
        .iter()
        .map(|e| e["detail"]["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    // The gate's refusal, as over RTMP; the play request never reaches the gate.
    assert_eq!(codes, ["wrong_key"]);
    let idle = status(&s, &token, &channel).await;
    assert_eq!(idle["state"], "idle", "{idle}");
    assert_eq!(idle["status"]["live"], false, "{idle}");
    assert!(
        of_kind(&events(&s, &token, &channel).await, "started").is_empty(),
        "no session started"
    );
    let log = server_log(&s);
    for code in ["wrong_key", "srt_not_publish"] {
        assert!(
            log.contains("SRT publish refused") && log.contains(code),
            "the refusal {code} is logged"
        );
    }
    for key in [channel.stream_key.as_str(), "sk_not-the-key"] {
        assert!(!log.contains(key), "a stream key in the server's log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_srt_publisher_on_a_live_channel_replaces_the_first() {
    let _turn = one_at_a_time().await;
    let (s, base) = start_srt_live();
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "SRT 编码器重连", "standard").await;
    let stream_id = access_control_id(&channel, &channel.stream_key, "publish");

    let _first = ffmpeg_srt_publisher(&base, &stream_id, 30);
    wait_for_master(&s, &channel, MASTER_WAIT).await;
    let _second = ffmpeg_srt_publisher(&base, &stream_id, 30);
    let deadline = Instant::now() + Duration::from_secs(10);
    let replaced = loop {
        let log = server_log(&s);
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("SRT publish ended") && l.contains("replaced"))
        {
            break line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the first publish is not replaced:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("{replaced}");
    let log = server_log(&s);
    assert!(log.contains("SRT publish replaces the channel's live publisher"));
    // The channel stays live on the second publisher.
    let before = wait_for_segments(&s, &channel, "source", 1, MASTER_WAIT).await;
    let grown = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "live on the second publisher",
        |b| b["status"]["live"] == true,
    )
    .await;
    assert_eq!(grown["status"]["live"], true, "{grown}");
    wait_for_segments(
        &s,
        &channel,
        "source",
        before.segments.len() + 2,
        Duration::from_secs(15),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hevc_srt_publish_is_laddered_to_h264_and_passed_through_where_the_channel_allows() {
    let _turn = one_at_a_time().await;
    let (s, base) = start_srt_live();
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "手机 HEVC 推流", "standard").await;
    let changed = patch_channel(&s, &token, &channel, json!({"hevc_passthrough": true})).await;
    assert_eq!(changed["hevc_passthrough"], true, "{changed}");
    let stream_id = access_control_id(&channel, &channel.stream_key, "publish");

    let _publisher = ffmpeg_srt_publisher_with(&base, &stream_id, 20, "libx265");
    let master_text = wait_for_master(&s, &channel, MASTER_WAIT).await;
    let master = parse_master(&master_text);
    let renditions = rendition_names(&master);
    assert!(
        renditions.contains(&"source".to_owned()) && renditions.contains(&"audio".to_owned()),
        "the HEVC source is passed through: {master_text}"
    );
    for variant in &master.variants {
        let codecs = variant.codecs.as_deref().unwrap_or_default();
        let wanted = if variant.uri.starts_with("source/") {
            "hvc1."
        } else {
            "avc1."
        };
        assert!(
            codecs.starts_with(wanted),
            "{}: {wanted} expected: {master_text}",
            variant.uri
        );
    }
    assert!(
        master
            .variants
            .iter()
            .any(|v| !v.uri.starts_with("source/")),
        "an H.264 ladder beside it: {master_text}"
    );
    for rendition in &renditions {
        wait_for_segments(&s, &channel, rendition, 2, Duration::from_secs(20)).await;
        decode_live(&channel.media_url(&s, rendition), 3);
    }
    let live = status(&s, &token, &channel).await;
    assert_eq!(live["status"]["input"]["video_codec"], "hevc", "{live}");
    assert_eq!(live["status"]["input"]["audio_codec"], "aac", "{live}");
}
