//! End to end over TLS, with certificates made by a CA created in each test:
//! ffmpeg publishing over RTMPS and hls.js in headless Chromium playing over
//! HTTPS; the certificate swapped on SIGHUP without dropping the listeners
//! (and a bad new file keeping the old one); the security headers on every
//! route, HSTS on HTTPS only; the web app itself over HTTPS under its
//! content security policy, playing over HLS and WHEP; 413 for bodies over the limit and 429 with
//! Retry-After for sign-in and anonymous floods, in the API's error shape.

mod common;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use common::browser::{CHROMIUM, browser_node_modules, run_driver, watch_live};
use common::live::{
    FfmpegPublish, ORGANISER, create_channel, ffmpeg_publisher, one_at_a_time, organiser,
    require_tool, start_live_with, wait_for_master, wait_for_segments,
};
use common::server::{self, PASSWORD, Server};
use common::tls::{Leaf, TestCa, tls_config};

/// A server with `[tls]` serving a fresh leaf of `ca`, plus `extra` config.
fn start_tls(ca: &TestCa, certs: &tempfile::TempDir, extra: &str) -> (Server, Leaf) {
    let leaf = ca.leaf(1, certs.path(), "server");
    let (data, config) = server::prepare(&format!("{}{extra}", tls_config(&leaf)));
    (server::serve_tls(data, config, 0, "info"), leaf)
}

fn host_port(url: &str) -> String {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_publishes_over_rtmps_and_hls_js_plays_it_over_https() {
    require_tool(CHROMIUM, "--version");
    require_tool("node", "--version");
    let modules = browser_node_modules();
    let _turn = one_at_a_time().await;
    let ca = TestCa::new();
    let certs = tempfile::tempdir().expect("tempdir");
    let leaf = ca.leaf(1, certs.path(), "server");
    let s = start_live_with(
        &format!(
            "rung_heights = [360]\npreset = \"ultrafast\"\n{}",
            tls_config(&leaf)
        ),
        true,
        "info",
    );
    assert!(s.rtmps.starts_with("rtmps://127.0.0.1:"), "{}", s.rtmps);
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "TLS 直播", "low_latency").await;

    let url = format!("{}/{}", s.rtmps, channel.obs_stream_key);
    let mut publisher = ffmpeg_publisher(
        &url,
        &FfmpegPublish {
            size: "640x360",
            seconds: 120.0,
            extra: Vec::new(),
        },
    );
    wait_for_master(&s, &channel, Duration::from_secs(20)).await;
    wait_for_segments(&s, &channel, "source", 2, Duration::from_secs(20)).await;

    let master = format!("{}/live/{}/master.m3u8", s.https, channel.id);
    let https = ca.https_client();
    let resp = https.get(&master).send().await.expect("master over HTTPS");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .contains_key(reqwest::header::STRICT_TRANSPORT_SECURITY),
        "HSTS on HTTPS: {:?}",
        resp.headers()
    );

    let report = watch_live(&modules, &master, 8.0).await;
    eprintln!("{report:?}");
    let web: Value = run_driver(
        "web_https.cjs",
        &modules,
        &[&s.https, ORGANISER, PASSWORD, &channel.id],
        Duration::from_secs(180),
    )
    .await;
    eprintln!("web app over HTTPS: {web}");
    assert!(publisher.running(), "{}", publisher.stderr());
    publisher.kill();
    assert_eq!(web["failure"], Value::Null, "{web}");
    assert_eq!(
        web["cspViolations"],
        json!([]),
        "the app runs under its CSP: {web}"
    );
    assert_eq!(web["errors"], json!([]), "{web}");
    assert!(web["hlsTime"].as_f64().is_some_and(|t| t > 2.0), "{web}");
    assert!(
        web["webrtcFrames"].as_u64().is_some_and(|f| f > 30),
        "WHEP over HTTPS: {web}"
    );

    report.assert_played(8.0, 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_the_certificate_and_a_bad_new_file_keeps_the_old_one() {
    let ca = TestCa::new();
    let certs = tempfile::tempdir().expect("tempdir");
    let (mut s, first) = start_tls(&ca, &certs, "");
    let https_addr = host_port(&s.https);
    let rtmps_addr = host_port(&s.rtmps);
    assert_eq!(ca.served_certificate(&https_addr).await, first.der);
    assert_eq!(ca.served_certificate(&rtmps_addr).await, first.der);

    let second = ca.leaf(2, certs.path(), "next");
    std::fs::copy(&second.cert_file, &first.cert_file).expect("install the new certificate");
    std::fs::copy(&second.key_file, &first.key_file).expect("install the new key");
    assert_ne!(first.der, second.der);
    hangup(&s);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ca.served_certificate(&https_addr).await != second.der {
        assert!(
            Instant::now() < deadline,
            "the new certificate is never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ca.served_certificate(&rtmps_addr).await, second.der);

    std::fs::write(&first.cert_file, "-----BEGIN CERTIFICATE-----\nbroken\n")
        .expect("break the certificate file");
    hangup(&s);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&s.stderr_log)
        .unwrap_or_default()
        .contains("TLS certificate reload failed")
    {
        assert!(Instant::now() < deadline, "the failed reload is not logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ca.served_certificate(&https_addr).await, second.der);
    let resp = ca
        .https_client()
        .get(format!("{}/healthz", s.https))
        .send()
        .await
        .expect("HTTPS still answers");
    assert_eq!(resp.status(), 200);
    assert!(
        s.child.try_wait().expect("try_wait").is_none(),
        "still running"
    );
    let (_, metrics) = common::live::get_text(&format!("{}/metrics", s.base)).await;
    let expiry: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("yanxiu_tls_certificate_expiry_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("the certificate's expiry is exported: {metrics}"));
    // rcgen's default notAfter: 4096-01-01.
    assert_eq!(expiry, 67_090_118_400, "{metrics}");
    s.stop("TERM");
}

fn hangup(s: &Server) {
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(s.child.id().to_string())
        .status()
        .expect("kill(1) must be installed (util-linux)");
    assert!(status.success(), "kill -HUP failed");
}

/// Every route of the OpenAPI document (API, uploads, playback, live,
/// WHIP/WHEP, operations), the web app's routes and unknown paths.
async fn every_route(s: &Server) -> Vec<(Method, String)> {
    let (status, doc) = server::api(s, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200, "{doc}");
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete: String = path
            .split('/')
            .map(|seg| match seg.starts_with('{') {
                true => "x1",
                false => seg,
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().expect("path item").keys() {
            if let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
                routes.push((m, concrete.clone()));
            }
        }
    }
    assert!(
        routes.len() > 50,
        "the document lists the routes: {routes:?}"
    );
    for path in [
        "/",
        "/setup",
        "/assets/app.js",
        "/favicon.ico",
        "/no-such-page",
        "/api/v1/no-such-route",
    ] {
        routes.push((Method::GET, path.to_owned()));
    }
    routes.push((Method::OPTIONS, "/whip/x1".to_owned()));
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_with_the_security_headers_and_https_adds_hsts() {
    let ca = TestCa::new();
    let certs = tempfile::tempdir().expect("tempdir");
    let (s, _) = start_tls(&ca, &certs, "");
    let https = ca.https_client();
    let plain = server::http();
    let routes = every_route(&s).await;
    let mut failures = Vec::new();
    for (method, path) in &routes {
        for (client, base, tls) in [(&https, &s.https, true), (&plain, &s.base, false)] {
            let resp = client
                .request(method.clone(), format!("{base}{path}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let h = resp.headers();
            let has = |name: &str, want: &str| {
                h.get(name)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains(want))
            };
            let mut missing = Vec::new();
            for (name, want) in [
                ("content-security-policy", "frame-ancestors 'none'"),
                ("content-security-policy", "script-src 'self'"),
                ("x-frame-options", "DENY"),
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
                ("permissions-policy", "camera=(self)"),
            ] {
                if !has(name, want) {
                    missing.push(format!("{name}: {want}"));
                }
            }
            if tls != has("strict-transport-security", "max-age=600") {
                missing.push(format!("HSTS on HTTPS only (tls = {tls})"));
            }
            if resp.status() == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
                missing.push("no 500 (client address and state reach every handler)".to_owned());
            }
            let private = ["/api/", "/setup", "/whip/", "/whep/"]
                .iter()
                .any(|p| path.starts_with(p));
            if private && !h.contains_key("cache-control") {
                missing.push("cache-control on a per-user answer".to_owned());
            }
            if !missing.is_empty() {
                failures.push(format!(
                    "{method} {base}{path} ({}): {missing:?}",
                    resp.status()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    let (status, body) = server::api(
        &s,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"username": "producer", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let resp = https
        .post(format!("{}/api/v1/sessions", s.https))
        .json(&json!({"username": "producer", "password": PASSWORD}))
        .send()
        .await
        .expect("sign in over HTTPS");
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "a token is never cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_413_in_the_api_error_shape() {
    let (data, config) = server::prepare("\n[limits]\nbody_kib = 16\n");
    let s = server::serve(data, config, 0);
    let big = "x".repeat(20 * 1024);
    let sign_in = json!({"username": "producer", "password": big});
    let url = format!("{}/api/v1/sessions", s.base);

    let resp = server::http()
        .post(&url)
        .json(&sign_in)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("请求体过大")),
        "{body}"
    );

    // Chunked (no Content-Length): refused as the bytes arrive, in English on request.
    let bytes = serde_json::to_vec(&sign_in).expect("json");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let resp = server::http()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept-language", "en")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("post chunked");
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too large")),
        "{body}"
    );

    // A body under the limit is still read and judged.
    let (status, body) = server::api(
        &s,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"username": "producer", "password": "wrong"})),
    )
    .await;
    assert_eq!(status, 401, "{body}");

    // WHIP offers keep their own small limit (64 KiB by default), same shape.
    let resp = server::http()
        .post(format!("{}/whip/some-stream", s.base))
        .header("content-type", "application/sdp")
        .bearer_auth("not-a-key")
        .body("v=0\r\n".repeat(30_000))
        .send()
        .await
        .expect("post offer");
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("JSON error");
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_anonymous_floods_get_429_with_retry_after() {
    let (data, config) = server::prepare(
        "\n[limits]\nsign_in_burst = 3\nsign_in_per_minute = 1\nanonymous_burst = 5\n\
         anonymous_per_minute = 1\n",
    );
    let s = server::serve(data, config, 0);
    let client = server::http();
    let attempt = || {
        client
            .post(format!("{}/api/v1/sessions", s.base))
            .header("accept-language", "en")
            .json(&json!({"username": "producer", "password": "wrong"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt().await.expect("sign in").status(), 401);
    }
    let refused = attempt().await.expect("sign in");
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "retry after {retry} s");
    let body: Value = refused.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(
        body["error"]["message"], "too many requests, try again later",
        "{body}"
    );

    // The right password does not get past the limit either.
    let (status, _) = server::api(
        &s,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"username": "producer", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 429);

    // Anonymous requests: five (the metrics scrape is one), then 429 (zh-CN
    // by default); health probes never.
    let metrics = client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("yanxiu_http_requests_refused_total{reason=\"sign_in\"} 2"),
        "{metrics}"
    );
    for _ in 0..4 {
        let r = client
            .get(format!("{}/assets/app.js", s.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), 200);
    }
    let r = client
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .expect("document");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers().contains_key("content-security-policy"));
    let body: Value = r.json().await.expect("JSON error");
    assert_eq!(
        body["error"]["message"], "请求过于频繁，请稍后再试",
        "{body}"
    );
    let r = client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
}

/// Starts `serve` over a prepared data directory and returns the process
/// (killed on drop) and its first `lines` stdout lines.
struct Raw(std::process::Child);

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_raw(data: &std::path::Path, config: &std::path::Path, lines: usize) -> (Raw, Vec<String>) {
    use std::io::BufRead;
    let mut child = server::yanxiu()
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--data-dir",
        ])
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn yanxiu serve");
    let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut out = Vec::new();
    for _ in 0..lines {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a line");
        out.push(line.trim().to_owned());
    }
    (Raw(child), out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_can_redirect_to_https_or_be_off_and_plain_rtmp_can_be_off() {
    let ca = TestCa::new();
    let certs = tempfile::tempdir().expect("tempdir");
    let leaf = ca.leaf(1, certs.path(), "server");
    let (data, config) = server::prepare(&format!(
        "{}plain_http = \"redirect\"\nplain_rtmp = false\n",
        tls_config(&leaf)
    ));
    let (process, lines) = serve_raw(data.path(), &config, 3);
    let http = lines[0]
        .strip_prefix("yanxiu: redirecting ")
        .and_then(|l| l.strip_suffix(" to HTTPS"))
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_owned();
    let https = lines[1]
        .strip_prefix("yanxiu: listening on ")
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_owned();
    assert!(https.starts_with("https://"), "{lines:?}");
    assert!(
        lines[2].starts_with("yanxiu: RTMPS ingest on rtmps://"),
        "no plain RTMP line: {lines:?}"
    );
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = no_follow
        .get(format!("{http}/api/v1/openapi.json?x=1"))
        .send()
        .await
        .expect("plain request");
    assert_eq!(resp.status(), 308);
    assert_eq!(
        resp.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location"),
        format!("{https}/api/v1/openapi.json?x=1")
    );
    let resp = no_follow
        .get(format!("{http}/healthz"))
        .send()
        .await
        .expect("probe");
    assert_eq!(resp.status(), 200, "probes still answered over plain HTTP");
    let resp = ca
        .https_client()
        .get(format!("{https}/api/v1/openapi.json"))
        .send()
        .await
        .expect("over HTTPS");
    assert_eq!(resp.status(), 200);
    drop(process);

    let config_off = data.path().join("off.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config_off, text.replace("\"redirect\"", "\"off\"")).expect("write");
    let (_process, lines) = serve_raw(data.path(), &config_off, 2);
    assert!(
        lines[0].starts_with("yanxiu: listening on https://"),
        "only HTTPS: {lines:?}"
    );
    assert!(
        lines[1].starts_with("yanxiu: RTMPS ingest on rtmps://"),
        "{lines:?}"
    );
}
