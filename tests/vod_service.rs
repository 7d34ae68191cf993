//! End-to-end: `yanxiu serve` on a free port with embedded defaults. A
//! producer uploads with a real tus client (tuspy) that is cut off halfway
//! and resumes; the upload becomes a draft resource that the in-process
//! worker probes, validates and transcodes; it goes through the three
//! review levels and is published; ffprobe and ffmpeg read the ladder over
//! HTTP. Broken and rule-breaking uploads end up rejected with their codes.

mod common;

use std::process::Command;

use common::server::{
    http, login, processed, review_and_publish, sha256_file, start, stored_source, upload,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_resumes_becomes_a_reviewed_published_ladder_read_over_http() {
    let s = start();
    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let size = std::fs::metadata(&source).expect("fixture").len();
    let id = upload(&s, &producer, &source, Some(size / 2)).await;

    assert_eq!(
        sha256_file(&stored_source(s.data.path(), &id)),
        sha256_file(&source)
    );
    let resource = processed(&s, &producer, &id).await;
    let p = &resource["processing"];
    assert_eq!(p["status"], "ready", "{resource}");
    assert_eq!(p["validation"]["accepted"], true);
    assert_eq!(p["probe"]["streams"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        p["renditions"].as_array().map(Vec::len),
        Some(5),
        "4 video rungs and audio: {p}"
    );
    assert_eq!(p["playback_url"], format!("/play/{id}/master.m3u8"));

    // Not published yet: nobody plays it.
    let master = format!("{}/play/{id}/master.m3u8", s.base);
    assert_eq!(
        http()
            .get(&master)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16(),
        404
    );

    review_and_publish(&s, &producer, &id).await;

    // A public resource plays without a token; ffprobe and ffmpeg read it over HTTP.
    let response = http().get(&master).send().await.expect("get master");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
            &master,
        ])
        .output()
        .expect("ffprobe must be installed");
    let kinds = String::from_utf8_lossy(&probe.stdout);
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert!(
        kinds.contains("video") && kinds.contains("audio"),
        "{kinds}"
    );
    let decode = Command::new("ffmpeg")
        .args([
            "-v", "error", "-i", &master, "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decode.stderr)
    );

    // Segments answer byte ranges.
    let ranged = http()
        .get(format!("{}/play/{id}/360p/init.mp4", s.base))
        .header("Range", "bytes=0-7")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.bytes().await.expect("body").len(), 8);
    // Poster and storyboard are served too.
    for path in ["poster.jpg", "storyboard/storyboard.vtt"] {
        let r = http()
            .get(format!("{}/play/{id}/{path}", s.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    // Paths cannot leave the ladder.
    let r = http()
        .get(format!("{}/play/{id}/..%2F..%2Fyanxiu.db", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404);

    // Metrics count the upload and the finished job.
    let metrics = http()
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("yanxiu_uploads_completed_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("yanxiu_jobs{state=\"succeeded\"} 1"),
        "{metrics}"
    );
    let ready = http()
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_and_rule_breaking_uploads_are_rejected_with_their_codes() {
    let s = start();
    let producer = login(&s, "producer").await;
    let dir = common::fixtures::fixtures_dir();

    let id = upload(&s, &producer, &dir.join("random.bin"), None).await;
    let r = processed(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "rejected", "{r}");
    let code = r["processing"]["failure"]["code"]
        .as_str()
        .unwrap_or_default();
    assert!(code.starts_with("probe."), "{r}");

    let id = upload(&s, &producer, &dir.join("video_only.mp4"), None).await;
    let r = processed(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "rejected", "{r}");
    let codes: Vec<&str> = r["processing"]["validation"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["audio.missing"], "{r}");
    assert!(
        r["processing"]["validation"]["violations"][0]["message_zh"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}
