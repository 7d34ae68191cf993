//! End-to-end: `yanxiu serve` on a free port with embedded defaults. A
//! producer uploads with a real tus client (tuspy) that is cut off halfway
//! and resumes; the upload becomes a draft resource that the in-process
//! worker probes, validates and transcodes; it goes through the three
//! review levels and is published; ffprobe and ffmpeg read the ladder over
//! HTTP. Broken and rule-breaking uploads end up rejected with their codes.

mod common;
#[path = "../ingest/tests/tus_support/mod.rs"]
mod tus_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "Lecture-2026-pass!";

struct Server {
    child: Child,
    base: String,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn yanxiu() -> Command {
    Command::new(env!("CARGO_BIN_EXE_yanxiu"))
}

/// Cheap password hashing keeps account set-up fast in tests.
const TEST_CONFIG: &str =
    "[control.hash_cost]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n";

fn admin(data: &Path, config: &Path, args: &[&str]) {
    let out = yanxiu()
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run yanxiu admin");
    assert!(
        out.status.success(),
        "yanxiu admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start() -> Server {
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("yanxiu.toml");
    std::fs::write(&config, TEST_CONFIG).expect("write config");
    for (user, role, dept) in [
        ("producer", "producer", "物理教研室"),
        ("dept-reviewer", "department_reviewer", "物理教研室"),
        ("centre-reviewer", "centre_reviewer", "教师网络研修中心"),
    ] {
        admin(
            data.path(),
            &config,
            &[
                "create-user",
                "--username",
                user,
                "--password",
                PASSWORD,
                "--role",
                role,
                "--department",
                dept,
            ],
        );
    }
    let mut child = yanxiu()
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--data-dir",
        ])
        .arg(data.path())
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn yanxiu serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    let base = line
        .trim()
        .strip_prefix("yanxiu: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, base, data }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn api(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http().request(method, format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let value = resp.json().await.unwrap_or(Value::Null);
    (status, value)
}

async fn login(s: &Server, user: &str) -> String {
    let (status, body) = api(
        s,
        reqwest::Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({ "username": user, "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 201, "login {user}: {body}");
    body["token"].as_str().expect("token").to_owned()
}

/// Uploads `file` with tuspy: the first run stops after `stop_at` bytes
/// (the client "loses its connection"), a second run resumes from the
/// stored URL. Returns the resource id the upload became.
async fn upload(s: &Server, token: &str, file: &Path, stop_at: Option<u64>) -> String {
    let python = tus_support::tuspy_python();
    let work = tempfile::tempdir().expect("tempdir");
    let script = work.path().join("tus_upload.py");
    std::fs::write(&script, tus_support::TUSPY_SCRIPT).expect("write script");
    let endpoint = format!("{}/api/v1/uploads", s.base);
    let run = |stop: Option<u64>| {
        let out = Command::new(&python)
            .arg(&script)
            .arg(&endpoint)
            .arg(file)
            .arg(work.path().join("urls.json"))
            .arg("262144")
            .arg(stop.unwrap_or(0).to_string())
            .arg(format!("Bearer {token}"))
            .arg("1")
            .output()
            .expect("run tuspy");
        assert!(
            out.status.success(),
            "tuspy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or("")
            .to_owned();
        serde_json::from_str::<Value>(&last).expect("tuspy output")
    };
    let size = std::fs::metadata(file).expect("file").len();
    if let Some(stop) = stop_at {
        let first = run(Some(stop));
        let offset = first["offset"].as_u64().expect("offset");
        assert!(
            offset > 0 && offset < size,
            "the first run should stop halfway, at {offset} of {size}"
        );
        let second = run(None);
        assert_eq!(
            second["start_offset"].as_u64(),
            Some(offset),
            "the second run resumes"
        );
        assert_eq!(second["url"], first["url"], "the same upload is resumed");
    } else {
        run(None);
    }
    // The newest resource of the producer is the upload.
    let (status, list) = api(
        s,
        reqwest::Method::GET,
        "/api/v1/resources?per_page=100",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["items"]
        .as_array()
        .and_then(|items| items.iter().max_by_key(|r| r["created_at"].as_i64()))
        .and_then(|r| r["id"].as_str())
        .expect("a resource for the upload")
        .to_owned()
}

/// Polls the resource until processing reaches a final status.
async fn processed(s: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, body) = api(
            s,
            reqwest::Method::GET,
            &format!("/api/v1/resources/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let state = body["processing"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if ["ready", "rejected", "failed"].contains(&state.as_str()) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "still {state} after 180 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn sha256_file(path: &Path) -> String {
    tus_support::sha256_hex(&std::fs::read(path).expect("read"))
}

fn stored_source(data: &Path, resource: &str) -> PathBuf {
    let dir = data.join("sources").join(resource);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a stored source")
}

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

    // Three levels of review, then publication.
    let review = |level: &'static str| json!({ "level": level, "decision": "approve", "comment": "符合要求" });
    let reviews = format!("/api/v1/resources/{id}/reviews");
    let (st, b) = api(
        &s,
        reqwest::Method::POST,
        &reviews,
        Some(&producer),
        Some(review("self")),
    )
    .await;
    assert!(st < 300, "self review: {b}");
    let dept = login(&s, "dept-reviewer").await;
    let (st, b) = api(
        &s,
        reqwest::Method::POST,
        &reviews,
        Some(&dept),
        Some(review("department")),
    )
    .await;
    assert!(st < 300, "department review: {b}");
    let centre = login(&s, "centre-reviewer").await;
    let (st, b) = api(
        &s,
        reqwest::Method::POST,
        &reviews,
        Some(&centre),
        Some(review("technical")),
    )
    .await;
    assert!(st < 300, "technical review: {b}");
    let (st, b) = api(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/resources/{id}/publish"),
        Some(&centre),
        Some(json!({})),
    )
    .await;
    assert!(st < 300, "publish: {b}");

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
