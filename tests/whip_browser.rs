//! WebRTC publishing (WHIP, RFC 9725) end to end through `yanxiu serve`:
//! Debian's headless Chromium publishes its fake camera and microphone
//! from a test page (tests/browser/whip.html) to a channel's WHIP URL; the
//! tests play what the origin serves with ffmpeg, read the channel's
//! status and events, and decode the recording the session leaves.
//!
//! The tests run one at a time ([`one_at_a_time`]): each runs a browser
//! encoder and a live ladder on a two-core machine.

mod common;

use std::time::Duration;

use common::browser::{browser_node_modules, run_driver};
use common::live::{
    LiveChannel, assert_monotonic, create_channel, decode_all_vfr, decode_live_vfr, get_text,
    of_kind, one_at_a_time, one_session_of, organiser, packet_times, parse_master, rendition_names,
    server_log, start_live, stored_rendition_runs, stored_session, wait_for_events,
    wait_for_master, wait_for_recording, wait_for_segments, wait_for_status,
};
use common::server::{Server, api, resource};
use serde::Deserialize;
use serde_json::json;

/// How long a master playlist may take to appear after the publish starts
/// (a browser, then the ladder, on two busy cores).
const MASTER_WAIT: Duration = Duration::from_secs(30);

/// What whip.cjs reports.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishReport {
    status: Option<u16>,
    /// The error body of a refused POST.
    #[allow(dead_code)]
    body: Option<String>,
    location: Option<String>,
    content_type: Option<String>,
    connection_state: Option<String>,
    codec: Option<String>,
    frames_sent: u64,
    delete_status: Option<u16>,
    failure: Option<String>,
}

fn whip_url(s: &Server, channel: &LiveChannel) -> String {
    format!("{}/whip/{}", s.base, channel.stream_name)
}

/// Publishes from Chromium for `seconds`, then ends as `end` says.
async fn browser_publish(
    s: &Server,
    channel: &LiveChannel,
    key: &str,
    codec: &str,
    seconds: u32,
    end: &str,
) -> PublishReport {
    let modules = browser_node_modules();
    let url = whip_url(s, channel);
    let seconds_arg = seconds.to_string();
    let report: PublishReport = run_driver(
        "whip.cjs",
        &modules,
        &[&url, key, codec, &seconds_arg, end],
        Duration::from_secs(u64::from(seconds) + 90),
    )
    .await;
    eprintln!("WHIP publish report: {report:?}");
    report
}

/// The renditions a master offers, by name, sorted.
fn sorted_renditions(master: &m3u8_rs::MasterPlaylist) -> Vec<String> {
    let mut names = rendition_names(master);
    names.sort();
    names
}

/// Publishes `codec` from the browser for 14 s while checking the live
/// side, ends with DELETE, and checks the recording. Returns the renditions.
async fn publish_and_check(codec: &str, expect_codec: &str) -> Vec<String> {
    let s = start_live(
        "preset = \"ultrafast\"\nrung_heights = [480, 360]\nreconnect_window_seconds = 3\n",
    );
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, &format!("教研直播 {codec}"), "low_latency").await;

    let publish = browser_publish(&s, &channel, &channel.stream_key, codec, 14, "delete");
    let live_checks = async {
        let master_text = wait_for_master(&s, &channel, MASTER_WAIT).await;
        eprintln!("master:\n{master_text}");
        let master = parse_master(&master_text);
        let renditions = sorted_renditions(&master);
        for rendition in &renditions {
            wait_for_segments(&s, &channel, rendition, 2, Duration::from_secs(20)).await;
        }
        for rendition in &renditions {
            decode_live_vfr(&channel.media_url(&s, rendition), 2);
        }
        let live = wait_for_status(
            &s,
            &token,
            &channel,
            Duration::from_secs(15),
            "the browser's input",
            |b| {
                let input = &b["status"]["input"];
                input["video_codec"] == expect_codec && input["width"] == 640
            },
        )
        .await;
        eprintln!("status while live: {live}");
        assert_eq!(live["status"]["live"], true, "{live}");
        assert_eq!(live["status"]["input"]["height"], 480, "{live}");
        assert_eq!(live["status"]["input"]["audio_codec"], "opus", "{live}");
        renditions
    };
    let (report, renditions) = tokio::join!(publish, live_checks);
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(report.status, Some(201), "{report:?}");
    assert_eq!(report.content_type.as_deref(), Some("application/sdp"));
    let location = report.location.as_deref().unwrap_or_default();
    assert!(
        location.starts_with(&format!("{}/whip/{}/", s.base, channel.stream_name)),
        "Location names the session: {location}"
    );
    assert_eq!(report.connection_state.as_deref(), Some("connected"));
    assert!(
        report
            .codec
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(&format!("video/{codec}"))),
        "the browser sent {codec}: {report:?}"
    );
    // The browser starts low and ramps up with the congestion feedback.
    assert!(report.frames_sent > 150, "{report:?}");
    assert_eq!(report.delete_status, Some(200), "{report:?}");

    // DELETE ended the publish: the session stops (after the reconnect
    // window) and the recording is a draft that decodes end to end.
    let (list, recording) = wait_for_recording(&s, &token, &channel).await;
    assert_eq!(of_kind(&list, "started").len(), 1, "{list:#?}");
    let stopped = of_kind(&list, "stopped")[0];
    eprintln!("stopped: {stopped}");
    let body = resource(&s, &token, &recording).await;
    assert_eq!(body["processing"]["status"], "ready", "{body}");
    assert_eq!(body["latest"]["state"], "draft", "{body}");
    let duration = body["processing"]["probe"]["duration_seconds"]
        .as_f64()
        .unwrap_or_default();
    assert!((9.0..=20.0).contains(&duration), "about 14 s: {body}");
    decode_recording(&s, &token, &recording).await;
    let log = server_log(&s);
    assert!(
        !log.contains(&channel.stream_key),
        "the stream key never reaches the log"
    );
    renditions
}

/// Decodes every rendition of a recording with a playback token (a
/// browser's frame rate varies: timestamps are kept as they are).
async fn decode_recording(s: &Server, token: &str, recording: &str) {
    let (status, grant) = api(
        s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(token),
        Some(json!({ "resource_id": recording })),
    )
    .await;
    assert!(status < 300, "playback token: {grant}");
    let preview = grant["token"].as_str().expect("token");
    let master = format!("{}/play/{recording}/master.m3u8?token={preview}", s.base);
    let (code, text) = get_text(&master).await;
    assert_eq!(code, 200, "{text}");
    for name in rendition_names(&parse_master(&text)) {
        decode_all_vfr(&format!(
            "{}/play/{recording}/{name}/index.m3u8?token={preview}",
            s.base
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_publishing_vp8_over_whip_is_laddered_served_as_hls_and_recorded() {
    let _turn = one_at_a_time().await;
    let renditions = publish_and_check("VP8", "vp8").await;
    // VP8 is decoded and laddered: no passthrough rendition.
    assert_eq!(renditions, ["360p", "480p", "audio"], "{renditions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_publishing_h264_over_whip_gets_a_passthrough_source_rendition() {
    let _turn = one_at_a_time().await;
    let renditions = publish_and_check("H264", "h264").await;
    assert_eq!(renditions, ["360p", "audio", "source"], "{renditions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_vanishes_and_publishes_again_within_the_window_continues_one_session() {
    let _turn = one_at_a_time().await;
    let s =
        start_live("preset = \"ultrafast\"\nrung_heights = [360]\nreconnect_window_seconds = 8\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "断线重连", "low_latency").await;

    // The first browser publishes, then disappears without a word (killed).
    let first = browser_publish(&s, &channel, &channel.stream_key, "VP8", 6, "drop").await;
    assert_eq!((first.status, first.failure.as_deref()), (Some(201), None));
    let master = wait_for_master(&s, &channel, MASTER_WAIT).await;
    let renditions = sorted_renditions(&parse_master(&master));
    // The server notices the silence (idle timeout) and opens the window.
    wait_for_events(
        &s,
        &token,
        &channel,
        Duration::from_secs(15),
        "a lost publisher",
        |_| server_log(&s).contains("no data within the idle timeout"),
    )
    .await;
    // A new browser publishes within the window, then ends with DELETE.
    let second = browser_publish(&s, &channel, &channel.stream_key, "VP8", 6, "delete").await;
    assert_eq!(
        (second.status, second.failure.as_deref()),
        (Some(201), None)
    );
    assert_eq!(second.delete_status, Some(200));

    let (list, recording) = wait_for_recording(&s, &token, &channel).await;
    let session = one_session_of(&list, &["started", "reconnected", "stopped"]);

    // One recording of both publishes, stored with a monotonic timeline.
    let body = resource(&s, &token, &recording).await;
    let duration = body["processing"]["probe"]["duration_seconds"]
        .as_f64()
        .unwrap_or_default();
    assert!((8.0..=18.0).contains(&duration), "about 12 s: {body}");
    let session_dir = stored_session(&s, &channel, &session);
    let work = tempfile::tempdir().expect("tempdir");
    for name in &renditions {
        let mut packets = Vec::new();
        for run in stored_rendition_runs(&session_dir.join(name), work.path()) {
            packets.extend(packet_times(&run));
        }
        assert!(packets.len() > 100, "{name}: {} packets", packets.len());
        assert_monotonic(name, &packets, 1.5);
    }
    decode_recording(&s, &token, &recording).await;
}
