//! End-to-end: `yanxiu serve` on a free port with embedded defaults. A
//! producer uploads with a real tus client (tuspy) that is cut off halfway
//! and resumes; the upload becomes a draft resource that the in-process
//! worker probes, validates and transcodes; it goes through the three
//! review levels and is published; ffprobe and ffmpeg read the ladder over
//! HTTP. Broken and rule-breaking uploads end up rejected with their codes.

mod common;

use std::process::Command;

use common::server::{
    api, http, login, prepare, processed, review_and_publish, serve, sha256_file, start,
    stored_source, upload,
};
use serde_json::json;

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

    // The producer previews it with a playback token; the token is carried
    // into every URI of the playlists.
    let (st, grant) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(&producer),
        Some(json!({ "resource_id": id })),
    )
    .await;
    assert!(st < 300, "playback token: {grant}");
    let token = grant["token"]
        .as_str()
        .expect("a token for an unpublished resource");
    let preview = http()
        .get(format!("{master}?token={token}"))
        .send()
        .await
        .expect("preview master")
        .text()
        .await
        .expect("text");
    assert!(
        preview
            .lines()
            .any(|l| l.starts_with("360p/index.m3u8?") && l.contains(&format!("token={token}"))),
        "{preview}"
    );
    let media = http()
        .get(format!(
            "{}/play/{id}/360p/index.m3u8?token={token}",
            s.base
        ))
        .send()
        .await
        .expect("preview media")
        .text()
        .await
        .expect("text");
    assert!(
        media.contains("init.mp4?") && media.contains(&format!("&token={token}\"")),
        "{media}"
    );
    let segment = http()
        .get(format!("{}/play/{id}/360p/seg-00001.m4s", s.base))
        .send()
        .await
        .expect("segment without token");
    assert_eq!(
        segment.status().as_u16(),
        404,
        "without a token an unpublished resource does not exist"
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
    // Poster and storyboard are served too, at the URLs the API gives.
    for field in ["poster_url", "storyboard_url"] {
        let path = resource["processing"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {resource}"));
        let r = http()
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 200, "{field} {path}");
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
    // One OpenAPI document covers the whole server.
    let doc: serde_json::Value = http()
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    for path in [
        "/api/v1/uploads",
        "/api/v1/imports",
        "/play/{resource_id}/{path}",
        "/api/v1/resources/{id}",
        "/live/{channel_id}/master.m3u8",
        "/api/v1/channels/{id}/status",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
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

    // Deleting a rejected resource removes its stored source too.
    let source = stored_source(s.data.path(), &id);
    let (st, b) = api(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/v1/resources/{id}"),
        Some(&producer),
        None,
    )
    .await;
    assert!(st < 300, "delete: {b}");
    assert!(
        !source.exists(),
        "the source of a deleted resource is removed"
    );

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

/// Serves the fixtures directory over HTTP on 127.0.0.1 (a "cloud drive").
async fn file_server() -> String {
    use axum::extract::Path as UrlPath;
    let dir = common::fixtures::fixtures_dir();
    let app = axum::Router::new().route(
        "/files/{name}",
        axum::routing::get(move |UrlPath(name): UrlPath<String>| {
            let path = dir.join(name);
            async move { std::fs::read(path).map_err(|_| axum::http::StatusCode::NOT_FOUND) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/files")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_by_link_are_fetched_and_processed_and_private_links_refused_by_default() {
    let files = file_server().await;
    let url = format!("{files}/talk_720p25.mp4");

    // Default configuration: a link to a private address is refused.
    let s = start();
    let producer = login(&s, "producer").await;
    let (st, body) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/imports",
        Some(&producer),
        Some(json!({ "url": url })),
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let id = body["resource_id"]
        .as_str()
        .expect("resource_id")
        .to_owned();
    let r = processed(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "rejected", "{r}");
    assert_eq!(
        r["processing"]["failure"]["code"], "fetch.private_address",
        "{r}"
    );
    let (st, _) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/imports",
        Some(&producer),
        Some(json!({ "url": "ftp://x/y.mp4" })),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/imports",
        None,
        Some(json!({ "url": url })),
    )
    .await;
    assert_eq!(st, 401);
    drop(s);

    // An intranet deployment allows it: the file is fetched and processed.
    let (data, config) = prepare("\n[imports]\nallow_private = true\n");
    let s = serve(data, config, 1);
    let producer = login(&s, "producer").await;
    let (st, body) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/imports",
        Some(&producer),
        Some(json!({ "url": url, "title": "教学案例 课堂实录" })),
    )
    .await;
    assert_eq!(st, 202, "{body}");
    let id = body["resource_id"]
        .as_str()
        .expect("resource_id")
        .to_owned();
    let r = processed(&s, &producer, &id).await;
    assert_eq!(r["processing"]["status"], "ready", "{r}");
    assert_eq!(r["latest"]["metadata"]["name"], "教学案例 课堂实录");
    assert_eq!(
        sha256_file(&stored_source(s.data.path(), &id)),
        sha256_file(&common::fixtures::fixtures_dir().join("talk_720p25.mp4"))
    );
}
