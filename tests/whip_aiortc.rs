//! WHIP with a publisher that is not a browser: aiortc (an independent
//! WebRTC implementation in Python, pinned from PyPI) publishes a fixture
//! (looped) over WHIP to `yanxiu serve`, in VP8 and then in H.264, so the
//! server is not only compatible with Chromium.

mod common;

use std::time::Duration;

use common::live::{
    create_channel, decode_live_vfr, get_text, of_kind, one_at_a_time, organiser, parse_master,
    require_tool, start_live, wait_for_master, wait_for_recording, wait_for_segments,
    wait_for_status,
};
use common::pyvenv::python_with;
use serde::Deserialize;

/// The aiortc release the client is written against.
const AIORTC: &str = "aiortc==1.16.0";

/// What tests/whip_client.py reports.
#[derive(Debug, Deserialize)]
struct ClientReport {
    status: Option<u16>,
    location: Option<String>,
    connection_state: Option<String>,
    codecs: Vec<String>,
    delete_status: Option<u16>,
    failure: Option<String>,
}

/// A 640x480 25 fps H.264 + AAC clip of `seconds` (a lecture-like test
/// pattern with a tone), made with the ffmpeg CLI.
fn make_clip(path: &std::path::Path, seconds: u32) {
    require_tool("ffmpeg", "-version");
    let duration = seconds.to_string();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x480:rate=25")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t",
            &duration,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "50",
        ])
        .args(["-c:a", "aac", "-b:a", "96k"])
        .arg(path)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "make the clip: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn aiortc_publish(url: &str, key: &str, seconds: u32, codec: &str) -> ClientReport {
    let python = python_with("aiortc", AIORTC);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/whip_client.py");
    let work = tempfile::tempdir().expect("tempdir");
    let media = work.path().join("clip.mp4");
    make_clip(&media, seconds + 10);
    let out = tokio::time::timeout(
        Duration::from_secs(u64::from(seconds) + 60),
        tokio::process::Command::new(python)
            .arg(script)
            .args([url, key])
            .arg(&media)
            .args([&seconds.to_string(), codec])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the aiortc client gave no result in time")
    .expect("run the aiortc client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
    assert!(
        out.status.success(),
        "aiortc client failed:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    let line = stdout.trim().lines().last().unwrap_or_default();
    let report: ClientReport = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("client output {line:?} ({e}):\n{stderr}"));
    eprintln!("aiortc report: {report:?}");
    report
}

/// Whether the media playlist of `rendition` is served within 20 s (a
/// rendition is listed once configured; its playlist appears with its
/// first media).
async fn wait_for_playlist(
    s: &common::server::Server,
    channel: &common::live::LiveChannel,
    rendition: &str,
) -> bool {
    let url = channel.media_url(s, rendition);
    for _ in 0..100 {
        if get_text(&url).await.0 == 200 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// aiortc publishes `codec` for 25 s; the channel goes live with a source
/// rendition when `passthrough`, laddered rungs always, and records.
async fn an_aiortc_publish_goes_live(codec: &str, passthrough: bool) {
    let _turn = one_at_a_time().await;
    let s =
        start_live("preset = \"ultrafast\"\nrung_heights = [360]\nreconnect_window_seconds = 2\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "aiortc 推流", "standard").await;
    let url = format!("{}/whip/{}", s.base, channel.stream_name);

    let publish = aiortc_publish(&url, &channel.stream_key, 25, codec);
    let live = async {
        let text = wait_for_master(&s, &channel, Duration::from_secs(30)).await;
        wait_for_status(
            &s,
            &token,
            &channel,
            Duration::from_secs(15),
            "input",
            |b| {
                b["status"]["input"]["video_codec"] == codec
                    && b["status"]["input"]["audio_codec"] == "opus"
            },
        )
        .await;
        let master = parse_master(&text);
        let names: Vec<String> = master
            .variants
            .iter()
            .map(|v| v.uri.split('/').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            names.contains(&"source".to_owned()),
            passthrough,
            "{names:?}"
        );
        assert!(names.contains(&"360p".to_owned()), "{names:?}");
        // Every rendition first (the publish is short), then decode each.
        let all: Vec<&str> = names.iter().map(String::as_str).chain(["audio"]).collect();
        for name in &all {
            if !wait_for_playlist(&s, &channel, name).await {
                let now = common::live::status(&s, &token, &channel).await;
                panic!("{name}: no playlist within 20 s; status {now}; master:\n{text}");
            }
            wait_for_segments(&s, &channel, name, 2, Duration::from_secs(20)).await;
        }
        for name in &all {
            decode_live_vfr(&channel.media_url(&s, name), 2);
        }
    };
    let (report, ()) = tokio::join!(publish, live);
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(report.status, Some(201));
    assert!(report.location.is_some());
    assert_eq!(report.connection_state.as_deref(), Some("connected"));
    assert!(
        report
            .codecs
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&format!("video/{codec}"))),
        "{report:?}"
    );
    assert_eq!(report.delete_status, Some(200));
    let (list, _recording) = wait_for_recording(&s, &token, &channel).await;
    assert_eq!(of_kind(&list, "started").len(), 1, "{list:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aiortc_publisher_sending_vp8_goes_live_over_whip() {
    an_aiortc_publish_goes_live("vp8", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aiortc_publisher_sending_h264_goes_live_with_a_passthrough() {
    an_aiortc_publish_goes_live("h264", true).await;
}
