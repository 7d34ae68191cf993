//! Lectures without picture end to end through `yanxiu serve`: a producer uploads an MP3 (a
//! radio-style lecture) or a FLAC file as a resource of type 音频, the worker makes an
//! audio-only HLS ladder with a waveform poster, the review publishes it, and hls.js in
//! Debian's headless Chromium plays it to the end (driver: `tests/browser/play.cjs`). The
//! platform's rule (`[control.audio_only]`) refuses a sound file for a video resource or in a
//! category it does not list, with coded zh/en reasons, at processing and again at
//! self-review. ffmpeg, Chromium, Node.js and npm come from `scripts/install-deps.sh`; the
//! test fails, never skips, without them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use common::browser::{assert_no_fatal, browser_node_modules, run_driver};
use common::fixtures::fixtures_dir;
use common::live::{get_text, parse_master, parse_media, require_tool};
use common::server::{
    PASSWORD, Server, api, http, login, prepare, processed, review_and_publish, serve, start,
    upload_with,
};

/// What `tests/browser/play.cjs` prints (the fields this test reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaybackReport {
    current_time: f64,
    duration: Option<f64>,
    levels: usize,
    level_heights: Vec<Option<u32>>,
    ended: bool,
    errors: Vec<Value>,
    failure: Option<String>,
}

/// `ffprobe -show_streams -show_format` of `target` (a file or a URL), as JSON.
fn ffprobe(target: &str) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(target)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// Uploads `fixture` with `metadata` and waits for processing to end; the resource id and
/// its view.
async fn upload_fixture(
    s: &Server,
    token: &str,
    fixture: &str,
    metadata: Value,
) -> (String, Value) {
    let id = upload_with(s, token, &fixtures_dir().join(fixture), None, &metadata).await;
    let resource = processed(s, token, &id).await;
    (id, resource)
}

/// The processed resource is an audio-only ladder: one AAC rendition at `channels` ×
/// `sample_rate`, a poster, no storyboard.
fn assert_audio_only_ladder(resource: &Value, channels: u64, sample_rate: u64) {
    let p = &resource["processing"];
    assert_eq!(p["status"], "ready", "{resource}");
    assert_eq!(p["audio_only"], true, "{resource}");
    let renditions = p["renditions"].as_array().cloned().unwrap_or_default();
    assert_eq!(renditions.len(), 1, "{renditions:?}");
    assert_eq!(renditions[0]["name"], "audio");
    assert_eq!(renditions[0]["codec"], "mp4a.40.2");
    assert!(renditions[0]["width"].is_null(), "{renditions:?}");
    assert!(p["poster_url"].is_string(), "a waveform poster: {p}");
    assert!(p["storyboard_url"].is_null(), "no pictures to scrub: {p}");
    let probe = &p["probe"]["streams"][0]["audio"];
    assert_eq!(probe["channels"].as_u64(), Some(channels), "{probe}");
    assert_eq!(probe["sample_rate"].as_u64(), Some(sample_rate), "{probe}");
}

/// The published master lists the audio playlist as its only variant (no picture, no
/// resolution), the rendition decodes as AAC for the lecture's length, and the poster is a
/// 1280×720 JPEG. The master's URL.
async fn published_ladder_is_audio_only(
    s: &Server,
    id: &str,
    seconds: f64,
    channels: u64,
) -> String {
    let master_url = format!("{}/play/{id}/master.m3u8", s.base);
    let (status, text) = get_text(&master_url).await;
    assert_eq!(status, 200, "GET {master_url}: {text}");
    let master = parse_master(&text);
    assert_eq!(master.variants.len(), 1, "{text}");
    let variant = &master.variants[0];
    assert_eq!(variant.codecs.as_deref(), Some("mp4a.40.2"), "{text}");
    assert!(variant.resolution.is_none(), "{text}");
    assert!(master.alternatives.is_empty(), "{text}");

    let playlist_url = format!("{}/play/{id}/{}", s.base, variant.uri);
    let playlist = parse_media(
        &http()
            .get(&playlist_url)
            .send()
            .await
            .expect("playlist")
            .text()
            .await
            .expect("playlist text"),
    );
    assert!(playlist.end_list);
    let total: f64 = playlist
        .segments
        .iter()
        .map(|g| f64::from(g.duration))
        .sum();
    assert!((total - seconds).abs() < 0.3, "{total} s of {seconds} s");

    let decoded = ffprobe(&playlist_url);
    let stream = &decoded["streams"][0];
    assert_eq!(stream["codec_type"], "audio", "{decoded}");
    assert_eq!(stream["codec_name"], "aac", "{decoded}");
    assert_eq!(stream["channels"].as_u64(), Some(channels), "{decoded}");
    let duration: f64 = decoded["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("duration");
    assert!(
        (duration - seconds).abs() < 0.3,
        "{duration} s of {seconds} s"
    );

    let poster = http()
        .get(format!("{}/play/{id}/poster.jpg", s.base))
        .send()
        .await
        .expect("poster");
    assert_eq!(poster.status().as_u16(), 200);
    assert_eq!(poster.headers()["content-type"], "image/jpeg");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("poster.jpg");
    std::fs::write(&file, poster.bytes().await.expect("poster bytes")).expect("write poster");
    let picture = ffprobe(&file.to_string_lossy());
    let p = &picture["streams"][0];
    assert_eq!(
        (
            p["codec_name"].as_str(),
            p["width"].as_u64(),
            p["height"].as_u64()
        ),
        (Some("mjpeg"), Some(1280), Some(720)),
        "{picture}"
    );
    master_url
}

/// hls.js in Chromium plays the audio-only master to its end.
async fn hls_js_plays_it_to_the_end(modules: &Path, master_url: &str, seconds: f64) {
    let report: PlaybackReport =
        run_driver("play.cjs", modules, &[master_url], Duration::from_secs(120)).await;
    eprintln!("audio-only playback in Chromium: {report:?}");
    assert_no_fatal(&report.errors, report.failure.as_deref(), &report);
    assert_eq!(report.levels, 1, "{report:?}");
    assert!(
        report.level_heights.iter().all(|h| h.unwrap_or(0) == 0),
        "no picture: {report:?}"
    );
    assert!(report.ended, "{report:?}");
    assert!(report.current_time > seconds - 0.5, "{report:?}");
    let duration = report.duration.unwrap_or_default();
    assert!((duration - seconds).abs() < 0.5, "{report:?}");
}

/// The MP3 lecture uploaded as an audio resource, made an audio-only ladder, reviewed and
/// published; its id.
async fn published_mp3_lecture(s: &Server, producer: &str) -> String {
    let (id, resource) = upload_fixture(
        s,
        producer,
        "lecture_audio.mp3",
        json!({"resource_type": "audio"}),
    )
    .await;
    assert_audio_only_ladder(&resource, 2, 44_100);
    review_and_publish(s, producer, &id).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mp3_lecture_becomes_an_audio_only_ladder_with_a_waveform_poster_that_hls_js_plays() {
    require_tool("ffprobe", "-version");
    require_tool("/usr/bin/chromium", "--version");
    require_tool("node", "--version");
    let modules = browser_node_modules();

    let s = start();
    let producer = login(&s, "producer").await;
    let id = published_mp3_lecture(&s, &producer).await;
    let master_url = published_ladder_is_audio_only(&s, &id, 12.0, 2).await;
    hls_js_plays_it_to_the_end(&modules, &master_url, 12.0).await;
}

/// What `tests/browser/web_audio.cjs` prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebReport {
    reprocessed: bool,
    audio_only_shown: bool,
    quality_hidden: Option<bool>,
    poster: Option<String>,
    player_audio_only: Option<bool>,
    video_width: Option<u32>,
    current_time: f64,
    errors: Vec<Value>,
    failure: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_web_app_a_refused_sound_file_is_processed_again_and_plays_under_its_poster() {
    require_tool("/usr/bin/chromium", "--version");
    require_tool("node", "--version");
    let modules = browser_node_modules();
    let s = start();
    let producer = login(&s, "producer").await;
    // Published: a lecture without picture, for the player page.
    let published = published_mp3_lecture(&s, &producer).await;
    // Refused: the same file sent as a video; its type then corrected, as the refusal asks.
    let (refused, resource) = upload_fixture(&s, &producer, "lecture_audio.mp3", json!({})).await;
    assert_eq!(refusal(&resource).0, "audio_only.type_not_audio");
    let mut metadata = resource_metadata(&s, &producer, &refused).await;
    metadata["resource_type"] = json!("audio");
    set_metadata(&s, &producer, &refused, &metadata).await;

    let report: WebReport = run_driver(
        "web_audio.cjs",
        &modules,
        &[&s.base, "producer", PASSWORD, &refused, &published],
        Duration::from_secs(300),
    )
    .await;
    eprintln!("the web app with sound only: {report:?}");
    assert_eq!(report.failure, None, "{report:?}");
    assert!(report.errors.is_empty(), "page errors: {report:?}");
    assert!(report.reprocessed && report.audio_only_shown, "{report:?}");
    assert_eq!(report.quality_hidden, Some(true), "{report:?}");
    assert_eq!(report.player_audio_only, Some(true), "{report:?}");
    assert_eq!(report.video_width, Some(0), "no picture: {report:?}");
    assert!(
        report
            .poster
            .as_deref()
            .is_some_and(|p| p.ends_with(&format!("/play/{published}/poster.jpg"))),
        "{report:?}"
    );
    assert!(report.current_time > 2.0, "{report:?}");
    // The page's sign-in may have ended the earlier session (the concurrent-session limit).
    let producer = login(&s, "producer").await;
    let resource = processed(&s, &producer, &refused).await;
    assert_audio_only_ladder(&resource, 2, 44_100);
}

/// The processing refusal of a sound file: its one violation.
fn refusal(resource: &Value) -> (String, String, String) {
    let p = &resource["processing"];
    assert_eq!(p["status"], "rejected", "{resource}");
    let violations = p["validation"]["violations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(violations.len(), 1, "{violations:?}");
    let text = |k: &str| violations[0][k].as_str().unwrap_or_default().to_owned();
    (text("code"), text("message_zh"), text("message_en"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_rule_decides_by_type_and_category_which_resources_may_be_sound_alone() {
    require_tool("ffprobe", "-version");
    let (data, config) = prepare("\n[control.audio_only]\ncategories = [\"广播讲座\"]\n");
    let s = serve(data, config, 1);
    let producer = login(&s, "producer").await;

    // A FLAC lecture in a category the rule lists: an audio-only ladder, mono at 48 kHz.
    let (flac, resource) = upload_fixture(
        &s,
        &producer,
        "lecture_audio.flac",
        json!({"resource_type": "audio", "category1": "广播讲座"}),
    )
    .await;
    assert_audio_only_ladder(&resource, 1, 48_000);
    assert_eq!(resource["latest"]["metadata"]["resource_type"], "audio");

    // The same kind of file uploaded as a video: the producer is told to change the type,
    // does so, and has the kept file processed again (nothing uploaded twice).
    let (mp3, resource) = upload_fixture(&s, &producer, "lecture_audio.mp3", json!({})).await;
    let (code, zh, en) = refusal(&resource);
    assert_eq!(code, "audio_only.type_not_audio");
    assert!(zh.contains("“音频”") && zh.contains("“视频”"), "{zh}");
    assert!(en.contains("“audio”"), "{en}");
    let mut metadata = resource_metadata(&s, &producer, &mp3).await;
    metadata["resource_type"] = json!("audio");
    metadata["category1"] = json!("广播讲座");
    set_metadata(&s, &producer, &mp3, &metadata).await;
    let reprocess = format!("/api/v1/resources/{mp3}/reprocess");
    let (status, body) = api(&s, Method::POST, &reprocess, Some(&producer), None).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["job_id"].is_string(), "{body}");
    let resource = processed(&s, &producer, &mp3).await;
    assert_audio_only_ladder(&resource, 2, 44_100);
    // A ready file is not processed again, and only its editors may ask.
    let (status, body) = api(&s, Method::POST, &reprocess, Some(&producer), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let reviewer = login(&s, "dept-reviewer").await;
    let (status, body) = api(&s, Method::POST, &reprocess, Some(&reviewer), None).await;
    assert_eq!(status, 403, "{body}");

    // An audio resource in a category the rule does not list.
    let (_, resource) = upload_fixture(
        &s,
        &producer,
        "lecture_audio.mp3",
        json!({"resource_type": "audio", "category1": "名师课改示范课"}),
    )
    .await;
    let (code, zh, en) = refusal(&resource);
    assert_eq!(code, "audio_only.category_not_allowed");
    assert!(
        zh.contains("名师课改示范课") && zh.contains("广播讲座"),
        "{zh}"
    );
    assert!(en.contains("广播讲座"), "{en}");

    // The accepted FLAC moved to another category: self-review asks the rule again.
    let mut metadata = resource_metadata(&s, &producer, &flac).await;
    metadata["category1"] = json!("名师课改示范课");
    set_metadata(&s, &producer, &flac, &metadata).await;
    let reviews = format!("/api/v1/resources/{flac}/reviews");
    let self_review = json!({"level": "self", "decision": "approve", "comment": "自审通过"});
    let (status, body) = api(
        &s,
        Method::POST,
        &reviews,
        Some(&producer),
        Some(self_review.clone()),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"]["code"], "audio_only.category_not_allowed",
        "{body}"
    );
    // Back in its category, the review goes on.
    metadata["category1"] = json!("广播讲座");
    set_metadata(&s, &producer, &flac, &metadata).await;
    let (status, body) = api(
        &s,
        Method::POST,
        &reviews,
        Some(&producer),
        Some(self_review),
    )
    .await;
    assert!(status < 300, "{body}");
}

/// The latest revision's metadata.
async fn resource_metadata(s: &Server, token: &str, id: &str) -> Value {
    let (status, body) = api(
        s,
        Method::GET,
        &format!("/api/v1/resources/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["latest"]["metadata"].clone()
}

/// Replaces the latest revision's metadata.
async fn set_metadata(s: &Server, token: &str, id: &str, metadata: &Value) {
    let (status, body) = api(
        s,
        Method::PATCH,
        &format!("/api/v1/resources/{id}"),
        Some(token),
        Some(json!({ "metadata": metadata })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
