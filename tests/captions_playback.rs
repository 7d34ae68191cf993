//! Captions end to end through `yanxiu serve`: a producer attaches a SubRip file and a WebVTT
//! file to the 10 s lecture, broken files are refused with the rule and the line, the
//! published master playlist lists both tracks as its SUBTITLES group, and hls.js in
//! Debian's headless Chromium shows the chosen track's cues at their times while the lecture
//! plays (driver: `tests/browser/captions.cjs`). Chromium, Node.js and npm come from
//! `scripts/install-deps.sh`; the test fails, never skips, without them.

mod common;

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use common::browser::{assert_no_fatal, browser_node_modules, run_driver};
use common::live::{parse_master, parse_media, require_tool};
use common::server::{Server, api, http, login, processed, review_and_publish, start, upload};

/// Chinese captions as a teacher's editing tool writes them: SubRip, CRLF, a BOM.
const CHINESE_SRT: &str = "\u{feff}1\r\n00:00:00,500 --> 00:00:02,500\r\n第一句：欢迎参加研修\r\n\r\n2\r\n00:00:03,000 --> 00:00:05,000\r\n第二句：今天讲单元整体教学\r\n\r\n3\r\n00:00:06,000 --> 00:00:08,000\r\n第三句：请看板书\r\n";

/// English captions in WebVTT.
const ENGLISH_VTT: &str = "WEBVTT\n\nintro\n00:00.500 --> 00:02.500\nWelcome to the course\n\n00:03.000 --> 00:05.000 line:80%\nToday: whole-unit teaching\n\n00:06.000 --> 00:08.000\nPlease look at the board\n";

/// What `tests/browser/captions.cjs` prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaptionReport {
    subtitle_tracks: Vec<Track>,
    cues: Vec<Cue>,
    shown: Vec<Shown>,
    current_time: f64,
    errors: Vec<Value>,
    failure: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Track {
    lang: Option<String>,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Cue {
    start: f64,
    end: f64,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Shown {
    time: f64,
    text: String,
}

/// `PUT` a caption file; status and JSON answer.
async fn put_captions(
    s: &Server,
    token: &str,
    id: &str,
    language: &str,
    query: &str,
    body: Vec<u8>,
    accept_language: &str,
) -> (u16, Value) {
    let response = http()
        .put(format!(
            "{}/api/v1/resources/{id}/captions/{language}{query}",
            s.base
        ))
        .bearer_auth(token)
        .header("Accept-Language", accept_language)
        .header("Content-Type", "application/x-subrip")
        .body(body)
        .send()
        .await
        .expect("caption upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str) -> reqwest::Response {
    http().get(url).send().await.expect("GET")
}

/// Broken files are refused with the rule, in the caller's language, naming the line, and
/// nothing is recorded.
async fn broken_files_are_refused(s: &Server, producer: &str, id: &str) {
    let late = "1\n00:00:30,000 --> 00:00:31,000\n视频结束之后\n"
        .as_bytes()
        .to_vec();
    let (status, body) = put_captions(s, producer, id, "zh-CN", "", late, "en").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "captions.after_media_end");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Line 2"), "{message}");
    // "第一句" in GBK, as an old Windows editor saves it.
    let gbk = b"1\n00:00:01,000 --> 00:00:02,000\n\xb5\xda\xd2\xbb\xbe\xe4\n".to_vec();
    let (status, body) = put_captions(s, producer, id, "zh-CN", "", gbk, "zh-CN").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "captions.not_utf8");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("UTF-8"),
        "{body}"
    );
    let (status, body) =
        put_captions(s, producer, id, "english!", "", ENGLISH_VTT.into(), "en").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("captions.bad_language")),
        "{body}"
    );
    let refused = resource_captions(s, producer, id).await;
    assert!(refused.is_empty(), "nothing recorded: {refused:?}");
}

/// Attaches the Chinese SubRip and the English WebVTT captions; the stored zh-CN WebVTT.
async fn attach_both_tracks(s: &Server, producer: &str, id: &str) -> String {
    let (status, body) = put_captions(
        s,
        producer,
        id,
        "zh-cn",
        "?label=%E4%B8%AD%E6%96%87",
        CHINESE_SRT.into(),
        "zh-CN",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = put_captions(
        s,
        producer,
        id,
        "en",
        "?label=English",
        ENGLISH_VTT.into(),
        "en",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let tracks = body["latest"]["captions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let summary: Vec<(String, String, u64, String)> = tracks
        .iter()
        .map(|t| {
            (
                t["language"].as_str().unwrap_or_default().to_owned(),
                t["label"].as_str().unwrap_or_default().to_owned(),
                t["cues"].as_u64().unwrap_or_default(),
                t["source_format"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("en".into(), "English".into(), 3, "webvtt".into()),
            ("zh-CN".into(), "中文".into(), 3, "srt".into()),
        ]
    );
    let stored = http()
        .get(format!("{}/api/v1/resources/{id}/captions/zh-CN", s.base))
        .bearer_auth(producer)
        .send()
        .await
        .expect("caption download");
    assert_eq!(stored.status().as_u16(), 200);
    let vtt = stored.text().await.expect("WebVTT");
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    assert!(
        vtt.contains("00:00:03.000 --> 00:00:05.000\n第二句：今天讲单元整体教学"),
        "{vtt}"
    );
    assert!(!vtt.contains('\r') && !vtt.contains('\u{feff}'), "{vtt:?}");
    vtt
}

/// The public master lists both tracks and every variant names the group; a track's
/// playlist is one WebVTT segment as long as the lecture, serving `vtt`. The master's URL.
async fn master_lists_the_tracks(s: &Server, id: &str, vtt: &str) -> String {
    let master_url = format!("{}/play/{id}/master.m3u8", s.base);
    let master = parse_master(&get(&master_url).await.text().await.expect("master"));
    let subtitles: Vec<_> = master
        .alternatives
        .iter()
        .filter(|m| m.media_type == m3u8_rs::AlternativeMediaType::Subtitles)
        .collect();
    let languages: Vec<_> = subtitles
        .iter()
        .map(|m| m.language.clone().unwrap_or_default())
        .collect();
    assert_eq!(languages, ["en", "zh-CN"]);
    assert!(
        master
            .variants
            .iter()
            .all(|v| v.subtitles.as_deref() == Some("subs"))
    );
    // A track's playlist: one WebVTT segment as long as the lecture.
    let track_uri = subtitles[1].uri.clone().unwrap_or_default();
    let track = parse_media(
        &get(&format!("{}/play/{id}/{track_uri}", s.base))
            .await
            .text()
            .await
            .expect("track playlist"),
    );
    assert!(track.end_list);
    assert_eq!(track.segments.len(), 1);
    assert!(
        (f64::from(track.segments[0].duration) - 10.0).abs() < 0.5,
        "{track:?}"
    );
    let vtt_url = format!("{}/play/{id}/captions/{}", s.base, track.segments[0].uri);
    let served = get(&vtt_url).await;
    assert_eq!(served.status().as_u16(), 200, "{vtt_url}");
    assert_eq!(
        served.headers()["content-type"],
        "text/vtt; charset=utf-8",
        "{vtt_url}"
    );
    assert_eq!(served.text().await.expect("vtt"), vtt);
    master_url
}

/// hls.js in Chromium lists both tracks and shows the zh-CN cues at their times.
async fn hls_js_shows_the_cues(modules: &std::path::Path, master_url: &str) {
    let report: CaptionReport = run_driver(
        "captions.cjs",
        modules,
        &[master_url, "zh-CN"],
        Duration::from_secs(180),
    )
    .await;
    eprintln!("captions in Chromium: {report:?}");
    assert_no_fatal(&report.errors, report.failure.as_deref(), &report);
    let names: Vec<_> = report
        .subtitle_tracks
        .iter()
        .map(|t| (t.lang.clone().unwrap_or_default(), t.name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("en".to_owned(), "English".to_owned()),
            ("zh-CN".to_owned(), "中文".to_owned())
        ]
    );
    // hls.js put the three cues on the track, at the file's times.
    let expected = [
        (0.5, 2.5, "第一句：欢迎参加研修"),
        (3.0, 5.0, "第二句：今天讲单元整体教学"),
        (6.0, 8.0, "第三句：请看板书"),
    ];
    assert_eq!(report.cues.len(), 3, "{report:?}");
    for (cue, (start, end, text)) in report.cues.iter().zip(expected) {
        assert!(
            (cue.start - start).abs() < 0.1 && (cue.end - end).abs() < 0.1,
            "cue {text} at {}–{}: {report:?}",
            cue.start,
            cue.end
        );
        assert_eq!(cue.text, text);
    }
    // While playing, a caption on screen is the one of the moment (none between cues).
    let mut seen = 0;
    for sample in report.shown.iter().filter(|s| !s.text.is_empty()) {
        let due = expected
            .iter()
            .find(|(start, end, _)| sample.time > start - 0.3 && sample.time < end + 0.3);
        match due {
            Some((_, _, text)) => {
                assert_eq!(sample.text, *text, "at {:.2} s: {report:?}", sample.time)
            }
            None => panic!(
                "{:?} shown at {:.2} s, between cues: {report:?}",
                sample.text, sample.time
            ),
        }
        seen += 1;
    }
    assert!(seen >= 10, "captions were seen on screen: {report:?}");
    assert!(
        report.current_time > 9.0,
        "it played to the end: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captions_are_checked_listed_in_the_master_and_shown_by_hls_js_while_the_lecture_plays() {
    require_tool("/usr/bin/chromium", "--version");
    require_tool("node", "--version");
    require_tool("npm", "--version");
    let modules = browser_node_modules();

    let s = start();
    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let id = upload(&s, &producer, &source, None).await;
    let resource = processed(&s, &producer, &id).await;
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");

    broken_files_are_refused(&s, &producer, &id).await;
    let vtt = attach_both_tracks(&s, &producer, &id).await;
    review_and_publish(&s, &producer, &id).await;
    let master_url = master_lists_the_tracks(&s, &id, &vtt).await;
    hls_js_shows_the_cues(&modules, &master_url).await;
}

/// The latest revision's caption tracks.
async fn resource_captions(s: &Server, token: &str, id: &str) -> Vec<Value> {
    let (_, body) = api(
        s,
        Method::GET,
        &format!("/api/v1/resources/{id}"),
        Some(token),
        None,
    )
    .await;
    body["latest"]["captions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
