//! The web app served by `yanxiu serve` at `/`: its embedded files (types, ETags, caching,
//! gzip for the vendored libraries, byte for byte what `web/` holds), the paths it must not
//! claim, the string catalogues (same keys in zh-CN and English, every key the code names),
//! the first-run setup link, and one journey per role in Debian's headless Chromium through
//! playwright-core against the real server (no mocked API): a producer uploads a fixture
//! through the page, interrupted by a reload and resumed, fills the metadata and self-reviews;
//! the department and centre reviewers approve and publish through their pages; a learner
//! finds it in the catalogue and plays it to the end at two quality levels, resuming after a
//! reload, rates and comments it and reports it; the centre reviewer approves the rating,
//! takes the resource down and restores it; the learner reads progress, credit hours and the
//! complaint's outcome on "my learning"; an organiser creates a channel and sees its key once,
//! goes live from the page over WHIP with Chromium's fake camera (refused with a wrong key in
//! the API's words, reconnected after the server drops the session, stopped from the page)
//! while the dashboard reports the input and a learner plays it live over HLS and over WebRTC
//! (WHEP, then refused in the server's words once the channel ended), and the recording
//! becomes a draft; audience members are managed by name (department admin) and by account id
//! (organiser); each admin does one task and is refused another's page (the security admin
//! ends a session, unlocks a locked account and resets another's second factor); every
//! reviewer and administrator enrols a TOTP second factor through the page and signs in with
//! codes the test computes (recovery codes shown once, a replayed code refused, a recovery code
//! sign-in, an expired password changed first); the system admin changes a settings section
//! and puts it back. Every page visited passes axe-core (no serious or critical
//! violation) and renders in zh-CN and English with no missing string; screenshots go to
//! `docs/web/`.
//!
//! Chromium, Node.js and npm come from `scripts/install-deps.sh`; the tests fail, never skip,
//! without them.

#[path = "web_app_checks/mod.rs"]
mod checks;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use common::browser::{CHROMIUM, browser_node_modules, run_driver};
use common::server::{PASSWORD, TEST_CONFIG, prepare, serve, yanxiu};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("prefix").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn require_tool(program: &str) {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the web app test needs `{program}` ({e}); run scripts/install-deps.sh \
                 (Debian packages chromium, nodejs, npm)"
            )
        });
    assert!(out.status.success(), "`{program} --version` failed");
}

#[tokio::test]
async fn every_file_of_web_is_served_byte_for_byte_with_its_type_etag_and_cache_policy() {
    let s = serve_prepared();
    let client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let web = repo().join("web");
    let mut served = 0;
    let mut player_page_bytes = 0usize;
    for rel in files_under(&web.join("assets")) {
        let rel = rel.to_string_lossy().replace('\\', "/");
        if rel.ends_with(".gz") {
            continue;
        }
        let url = format!("{}/assets/{rel}", s.base);
        let resp = client.get(&url).send().await.expect("get");
        assert_eq!(resp.status(), 200, "{url}");
        let h = resp.headers().clone();
        let ctype = h["content-type"].to_str().expect("type").to_owned();
        let expected_type = match rel.rsplit_once('.').map(|(_, e)| e) {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("json") => "application/json",
            Some("svg") => "image/svg+xml",
            Some("txt") => "text/plain",
            other => panic!("unexpected file type {other:?} in web/assets: {rel}"),
        };
        assert!(ctype.starts_with(expected_type), "{rel}: {ctype}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("content-security-policy"), "{rel}");
        let cache = h["cache-control"].to_str().expect("cache");
        if rel.starts_with("vendor/") {
            assert!(cache.contains("immutable"), "{rel}: {cache}");
        } else {
            assert_eq!(cache, "no-cache", "{rel}");
        }
        let body = resp.bytes().await.expect("body");
        let on_disk = std::fs::read(web.join("assets").join(&rel)).expect("read");
        assert!(
            body.as_ref() == on_disk.as_slice(),
            "{rel} differs from web/"
        );
        let etag = h["etag"].to_str().expect("etag").to_owned();
        let again = client
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("revalidate");
        assert_eq!(again.status(), 304, "{rel}");
        if web.join("assets").join(format!("{rel}.gz")).exists() {
            let gz = client
                .get(&url)
                .header("accept-encoding", "gzip, br")
                .send()
                .await
                .expect("gzip");
            assert_eq!(gz.headers()["content-encoding"], "gzip", "{rel}");
            let gz_body = gz.bytes().await.expect("gz body");
            let gz_disk = std::fs::read(web.join("assets").join(format!("{rel}.gz"))).expect("gz");
            assert!(gz_body.as_ref() == gz_disk.as_slice(), "{rel}.gz");
        }
        let player_parts = [
            "app.css",
            "app.js",
            "api.js",
            "i18n.js",
            "ui.js",
            "i18n/zh-CN.json",
            "views/player.js",
            "views/feedback.js",
            "vendor/hls-1.5.20.min.js",
        ];
        if player_parts.contains(&rel.as_str()) {
            let gz = web.join("assets").join(format!("{rel}.gz"));
            player_page_bytes += match std::fs::read(&gz) {
                Ok(b) => b.len(),
                Err(_) => on_disk.len(),
            };
        }
        served += 1;
    }
    assert!(served >= 20, "only {served} files");
    for page in ["/", "/setup"] {
        let resp = client
            .get(format!("{}{page}", s.base))
            .send()
            .await
            .expect("shell");
        assert_eq!(resp.status(), 200, "{page}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with("text/html")
        );
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
        let body = resp.bytes().await.expect("body");
        let index = std::fs::read(web.join("index.html")).expect("index");
        assert!(
            body.as_ref() == index.as_slice(),
            "{page} serves web/index.html"
        );
        player_page_bytes += if page == "/" { body.len() } else { 0 };
    }
    eprintln!(
        "the player page before the video: {player_page_bytes} bytes (vendored hls.js gzipped, \
         the app's own files as they are)"
    );
    assert!(player_page_bytes < 300 * 1024, "{player_page_bytes} bytes");
}

#[tokio::test]
async fn the_web_app_claims_no_api_playback_or_operational_path() {
    let s = serve_prepared();
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", s.base)).send();
    let api = get("/api/v1/no-such-thing").await.expect("api 404");
    assert_eq!(api.status(), 404);
    let body: Value = api.json().await.expect("json 404");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let health = get("/healthz").await.expect("healthz");
    assert_eq!(health.status(), 200);
    let play = get("/play/nope/master.m3u8").await.expect("play");
    assert!(play.status().is_client_error(), "{}", play.status());
    assert!(
        !play
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("text/html")
    );
    let missing = get("/assets/no-such-file.js").await.expect("asset 404");
    assert_eq!(missing.status(), 404);
    let metrics = get("/metrics").await.expect("metrics");
    assert_eq!(metrics.status(), 200);
}

/// String literals such as `'upload.title'` in the app's JS, for the namespaces of the
/// catalogues.
fn keys_named_in(js: &str, namespaces: &BTreeSet<String>) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for quote in ['\'', '`'] {
        for piece in js.split(quote).skip(1).step_by(2) {
            let Some((ns, rest)) = piece.split_once('.') else {
                continue;
            };
            let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
            if namespaces.contains(ns) && !rest.is_empty() && rest.chars().all(plain) {
                keys.insert(piece.to_owned());
            }
        }
    }
    keys
}

#[test]
fn both_catalogues_have_the_same_keys_and_cover_every_key_the_code_names() {
    let dir = repo().join("web/assets/i18n");
    let read = |f: &str| -> BTreeMap<String, String> {
        serde_json::from_slice(&std::fs::read(dir.join(f)).expect("catalogue"))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    let zh = read("zh-CN.json");
    let en = read("en.json");
    let zh_keys: BTreeSet<_> = zh.keys().cloned().collect();
    let en_keys: BTreeSet<_> = en.keys().cloned().collect();
    assert_eq!(
        zh_keys.symmetric_difference(&en_keys).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys in one catalogue only"
    );
    for (k, v) in zh.iter().chain(en.iter()) {
        assert!(!v.trim().is_empty(), "{k} is empty");
    }
    for (k, v) in &zh {
        let placeholders = |s: &str| -> BTreeSet<String> {
            s.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect()
        };
        assert_eq!(placeholders(v), placeholders(&en[k]), "placeholders of {k}");
    }
    let namespaces: BTreeSet<String> = zh_keys
        .iter()
        .filter_map(|k| k.split_once('.').map(|(ns, _)| ns.to_owned()))
        .collect();
    let mut missing = Vec::new();
    let assets = repo().join("web/assets");
    for rel in files_under(&assets) {
        if rel.extension().is_some_and(|e| e == "js") && !rel.starts_with("vendor") {
            let js = std::fs::read_to_string(assets.join(&rel)).expect("js");
            for key in keys_named_in(&js, &namespaces) {
                if !zh.contains_key(&key) {
                    missing.push(format!("{}: {key}", rel.display()));
                }
            }
        }
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "keys named in code but not catalogued"
    );
}

/// A `yanxiu serve` with accounts, and the accounts file for the drivers.
fn serve_prepared() -> common::server::Server {
    let (data, config) = prepare("");
    serve(data, config, 1)
}

/// Creates an account with the CLI before the server starts.
fn create_user(data: &Path, config: &Path, user: &str, role: &str, department: Option<&str>) {
    let mut cmd = yanxiu();
    cmd.args([
        "admin",
        "create-user",
        "--username",
        user,
        "--password",
        PASSWORD,
    ])
    .args(["--role", role, "--data-dir"])
    .arg(data)
    .arg("--config")
    .arg(config);
    if let Some(d) = department {
        cmd.args(["--department", d]);
    }
    let out = cmd.output().expect("yanxiu admin");
    assert!(
        out.status.success(),
        "create {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server started here (not through the shared helper) so that its stdout can be read
/// past the two listening lines.
struct FirstRun {
    child: Child,
    base: String,
    lines: Vec<String>,
    _data: tempfile::TempDir,
}

impl Drop for FirstRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How `yanxiu serve` prints the one-time setup link.
const SETUP_LINE: &str = "yanxiu: setup link ";

fn first_run_server() -> FirstRun {
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("yanxiu.toml");
    std::fs::write(&config, TEST_CONFIG).expect("config");
    let mut child = yanxiu()
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--data-dir",
        ])
        .arg(data.path())
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn yanxiu serve");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    // The listening lines, then the setup link (other services may print lines between).
    let mut lines = Vec::new();
    while lines.len() < 12 && !lines.iter().any(|l: &String| l.starts_with(SETUP_LINE)) {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read stdout") == 0 {
            break;
        }
        lines.push(line.trim().to_owned());
    }
    let base = lines[0]
        .strip_prefix("yanxiu: listening on ")
        .unwrap_or_else(|| panic!("first line {:?}", lines[0]))
        .to_owned();
    FirstRun {
        child,
        base,
        lines,
        _data: data,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_prints_a_one_time_setup_link_whose_page_creates_the_first_system_admin() {
    require_tool(CHROMIUM);
    require_tool("node");
    let modules = browser_node_modules();
    let server = first_run_server();
    let link = server
        .lines
        .iter()
        .find_map(|l| l.strip_prefix(SETUP_LINE))
        .unwrap_or_else(|| panic!("no setup link: {:?}", server.lines))
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/setup?token=", server.base)),
        "{link}"
    );
    let token = link.split("token=").nth(1).expect("token").to_owned();
    assert_eq!(token.len(), 64, "{link}");

    let client = reqwest::Client::new();
    let wrong = client
        .post(format!("{}/setup", server.base))
        .json(&json!({"token": "0".repeat(64), "username": "mallory", "password": PASSWORD}))
        .send()
        .await
        .expect("wrong token");
    assert_eq!(wrong.status(), 400, "a wrong token is refused");

    let shots = repo().join("docs/web");
    std::fs::create_dir_all(&shots).expect("docs/web");
    let report: Value = run_driver(
        "web_setup.cjs",
        &modules,
        &[
            &link,
            "root-admin",
            PASSWORD,
            shots.to_str().expect("utf-8"),
        ],
        Duration::from_secs(120),
    )
    .await;
    eprintln!("setup report: {report}");
    assert_eq!(report["failure"], Value::Null, "{report}");
    assert_eq!(
        report["firstPage"], "/account/security",
        "the first administrator enrols a second factor before anything else: {report}"
    );
    checks::enrolment_page_showed_everything(&report["enrolment"]);
    assert_eq!(report["landed"], "/admin/users", "{report}");
    assert_eq!(
        report["again"], "/admin/users",
        "signed in again with a TOTP code: {report}"
    );
    assert_eq!(
        report["urlHasToken"], false,
        "the token leaves the address bar: {report}"
    );
    assert_pages_clean(&report);

    let reused = client
        .post(format!("{}/setup", server.base))
        .json(&json!({"token": token, "username": "second", "password": PASSWORD}))
        .send()
        .await
        .expect("reuse");
    assert_eq!(reused.status(), 409, "the link works once");
    let login = client
        .post(format!("{}/api/v1/sessions", server.base))
        .json(&json!({"username": "root-admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(
        login.status(),
        202,
        "the administrator has a second factor now"
    );
    let challenge: Value = login.json().await.expect("challenge");
    assert_eq!(
        challenge["methods"],
        json!(["totp", "recovery_code"]),
        "{challenge}"
    );
}

/// No page of the report has a serious or critical axe violation or a missing string.
fn assert_pages_clean(report: &Value) {
    let pages = report["pages"].as_object().expect("pages");
    assert!(!pages.is_empty(), "{report}");
    for (name, page) in pages {
        assert_eq!(page["axe"], json!([]), "axe, zh-CN, page {name}: {page}");
        assert_eq!(page["axeEn"], json!([]), "axe, en, page {name}: {page}");
        assert_eq!(
            page["missing"],
            json!([]),
            "missing strings on page {name}: {page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_does_its_work_in_the_browser_from_upload_to_playback() {
    require_tool(CHROMIUM);
    require_tool("node");
    let modules = browser_node_modules();
    let fixture = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let rejected = common::fixtures::fixtures_dir().join("video_only.mp4");
    let (data, config) = prepare("");
    for (user, role, dept) in [
        ("learner", "learner", Some("物理教研室")),
        ("organiser", "event_organiser", Some("物理教研室")),
        ("sys-admin", "system_admin", None),
        ("sec-admin", "security_admin", None),
        ("audit-admin", "audit_admin", None),
        ("dept-admin", "department_admin", Some("物理教研室")),
    ] {
        create_user(data.path(), &config, user, role, dept);
    }
    let accounts = json!({
        "producer": {"username": "producer", "password": PASSWORD},
        "department_reviewer": {"username": "dept-reviewer", "password": PASSWORD},
        "centre_reviewer": {"username": "centre-reviewer", "password": PASSWORD},
        "learner": {"username": "learner", "password": PASSWORD},
        "event_organiser": {"username": "organiser", "password": PASSWORD},
        "system_admin": {"username": "sys-admin", "password": PASSWORD},
        "security_admin": {"username": "sec-admin", "password": PASSWORD},
        "audit_admin": {"username": "audit-admin", "password": PASSWORD},
        "department_admin": {"username": "dept-admin", "password": PASSWORD},
    });
    let accounts_file = data.path().join("accounts.json");
    std::fs::write(&accounts_file, accounts.to_string()).expect("accounts");
    checks::expire_password(data.path(), "audit-admin").await;
    let s = serve(data, config, 1);
    let shots = repo().join("docs/web");
    std::fs::create_dir_all(&shots).expect("docs/web");
    let report: Value = run_driver(
        "web_journey.cjs",
        &modules,
        &[
            &s.base,
            accounts_file.to_str().expect("utf-8"),
            fixture.to_str().expect("utf-8"),
            shots.to_str().expect("utf-8"),
            rejected.to_str().expect("utf-8"),
        ],
        Duration::from_secs(600),
    )
    .await;
    eprintln!("journey report: {report}");
    assert_eq!(report["failure"], Value::Null, "{report}");
    assert_eq!(report["errors"], json!([]), "page errors: {report}");

    let upload = &report["upload"];
    let before = upload["percentBeforeReload"].as_f64().unwrap_or_default();
    assert!(
        before > 0.0 && before < 100.0,
        "interrupted mid-way: {upload}"
    );
    assert_eq!(upload["unfinishedListed"], 1, "{upload}");
    assert_eq!(
        upload["creationsAfterReload"], 0,
        "the same upload resumed: {upload}"
    );
    assert_eq!(
        upload["firstOffsetAfterReload"],
        2 * 128 * 1024,
        "resumed after the two chunks that arrived: {upload}"
    );
    let refusal = upload["captionRefusal"].as_str().unwrap_or_default();
    assert!(
        refusal.contains("第 2 行") && refusal.contains("00:00:30.000"),
        "a refused caption file names the line and the time: {upload}"
    );
    let row = upload["captionRow"].as_str().unwrap_or_default();
    assert!(
        row.contains("zh-CN") && row.contains("中文") && row.contains("SubRip"),
        "the uploaded captions are listed: {upload}"
    );
    let reasons = upload["rejectedReasons"].as_array().expect("reasons");
    assert!(
        !reasons.is_empty()
            && reasons
                .iter()
                .all(|r| r.as_str().is_some_and(|t| !t.is_empty())),
        "the rejection reasons in plain words: {upload}"
    );
    assert_eq!(
        report["apiToken"], "yxt_",
        "an API token is shown once: {report}"
    );
    assert_eq!(
        upload["dropped"], 1,
        "the second upload survived a dropped connection: {upload}"
    );
    let measure = &report["measure"];
    eprintln!("loopback medians of 10 cold loads: {measure}");
    let player_bytes = measure["player"]["bytes"].as_u64().unwrap_or(u64::MAX);
    assert!(
        player_bytes < 300 * 1024,
        "the player page before the video stays under 300 KB: {measure}"
    );
    let review = &report["review"];
    assert_eq!(
        review["reasonNeeded"], "驳回须填写理由。",
        "a rejection without a reason is stopped: {review}"
    );
    assert!(
        review["producerSeesRejection"]
            .as_str()
            .is_some_and(|h| h.contains("请补充主讲人职称与课程简介")),
        "the producer reads the reason: {review}"
    );
    let playback = &report["playback"];
    assert_eq!(playback["catalogueCount"], 1, "{playback}");
    let levels = playback["levels"].as_u64().unwrap_or_default();
    assert!(levels >= 2, "{playback}");
    assert_eq!(
        playback["forced"],
        json!([0, levels - 1]),
        "the quality menu switched to the lowest, then the highest level: {playback}"
    );
    assert_eq!(playback["rate"], 1.5, "{playback}");
    assert_eq!(
        playback["captionOptions"],
        json!(["关闭", "中文"]),
        "the player offers the resource's captions: {playback}"
    );
    assert_eq!(playback["captionTrack"], 0, "{playback}");
    let left = playback["leftAt"].as_f64().unwrap_or_default();
    let resumed = playback["resumedAt"].as_f64().unwrap_or_default();
    assert!(
        resumed >= 3.0 && (resumed - left).abs() < 1.0,
        "resumed where the learner left: {playback}"
    );
    assert_eq!(playback["ended"], true, "{playback}");
    let fatal: Vec<_> = playback["errors"]
        .as_array()
        .map(|e| e.iter().filter(|x| x["fatal"] == true).collect())
        .unwrap_or_default();
    assert!(fatal.is_empty(), "{playback}");

    let thumbnail = &playback["thumbnail"];
    assert_eq!(thumbnail["status"], 200, "storyboard thumbnail: {playback}");
    assert_eq!(thumbnail["type"], "image/jpeg", "{playback}");
    assert!(
        playback["scrubbedTo"].as_f64().is_some_and(|t| t >= 3.0),
        "the slider seeks: {playback}"
    );
    assert_eq!(
        report["phone"],
        json!({"catalogueFits": true, "playerFits": true}),
        "no sideways scrolling on a phone: {report}"
    );
    assert!(
        report["wrongPasswordMessage"]
            .as_str()
            .is_some_and(|m| m.contains("密码")),
        "a wrong password shows the API's message: {report}"
    );

    let organiser = &report["organiser"];
    assert!(
        organiser["obsKey"]
            .as_str()
            .is_some_and(|k| k.contains("?key=")),
        "{organiser}"
    );
    assert!(
        organiser["obsServer"]
            .as_str()
            .is_some_and(|k| k.starts_with("rtmp://")),
        "{organiser}"
    );
    assert_eq!(
        organiser["keyAfterReload"], 0,
        "the key is shown once: {organiser}"
    );
    assert_eq!(organiser["rotatedKeyDiffers"], true, "{organiser}");
    assert_eq!(
        (&organiser["hevcBefore"], &organiser["hevcAfterReload"]),
        (&json!(false), &json!(true)),
        "HEVC passthrough is off by default and the page saves it: {organiser}"
    );
    assert!(
        organiser["hevcHint"]
            .as_str()
            .is_some_and(|h| h.contains("HEVC") && h.contains("H.264")),
        "the checkbox says what it does: {organiser}"
    );
    assert_eq!(organiser["audienceOffered"], true, "{organiser}");
    assert_eq!(organiser["ended"], true, "{organiser}");
    assert_eq!(
        report["evictedNotice"], "会话已结束，请重新登录",
        "a session ended by a sign-in elsewhere says so in the API's words: {report}"
    );

    checks::feedback_learning_and_security(&report);

    let admin = &report["admin"];
    for fact in [
        "created",
        "systemAdminRefusedAudit",
        "systemAdminRefusedSecurity",
        "roleGranted",
        "securityAdminRefusedUsers",
        "auditAdminRefusedRoles",
        "departmentAdminRefusedAudit",
        "signedOut",
    ] {
        assert_eq!(admin[fact], true, "{fact}: {admin}");
    }
    let seen: BTreeSet<&str> = admin["departmentAdminSees"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        seen.contains("producer")
            && !seen.contains("centre-reviewer")
            && !seen.contains("sys-admin"),
        "a department admin sees the accounts of their department only: {admin}"
    );
    assert_eq!(report["passwordChanged"], true, "{report}");
    checks::staff_sign_in_and_settings(&report);
    eprintln!(
        "journey: {} s in the browser; TOTP: {}",
        report["seconds"], report["totp"]
    );
    assert_pages_clean(&report);
}

/// A served data directory with `users` ((name, role, department)) beside the producer and
/// reviewers of [`prepare`], and the accounts file of the drivers (everyone's password is
/// [`PASSWORD`]).
fn serve_with_accounts(users: &[(&str, &str, &str, &str)]) -> (common::server::Server, PathBuf) {
    let (data, config) = prepare("");
    let mut accounts = serde_json::Map::new();
    accounts.insert(
        "producer".into(),
        json!({"username": "producer", "password": PASSWORD}),
    );
    for (key, user, role, dept) in users {
        create_user(data.path(), &config, user, role, Some(dept));
        accounts.insert(
            (*key).into(),
            json!({"username": user, "password": PASSWORD}),
        );
    }
    let accounts_file = data.path().join("accounts.json");
    std::fs::write(&accounts_file, Value::Object(accounts).to_string()).expect("accounts");
    (serve(data, config, 1), accounts_file)
}

fn shots_dir() -> PathBuf {
    let shots = repo().join("docs/web");
    std::fs::create_dir_all(&shots).expect("docs/web");
    shots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_goes_live_from_the_page_a_learner_plays_it_live_and_the_recording_becomes_a_draft()
 {
    require_tool(CHROMIUM);
    require_tool("node");
    let modules = browser_node_modules();
    let (s, accounts_file) = serve_with_accounts(&[
        ("learner", "learner", "learner", "物理教研室"),
        (
            "event_organiser",
            "organiser",
            "event_organiser",
            "物理教研室",
        ),
    ]);
    let shots = shots_dir();
    let args = [
        s.base.as_str(),
        accounts_file.to_str().expect("utf-8"),
        shots.to_str().expect("utf-8"),
    ];
    let report: Value = run_driver("web_live.cjs", &modules, &args, Duration::from_secs(420)).await;
    eprintln!("live report: {report}");
    assert_eq!(report["failure"], Value::Null, "{report}");
    assert_eq!(report["errors"], json!([]), "page errors: {report}");

    let rules = &report["rules"];
    assert_eq!(
        rules["order"],
        json!([
            "video/H264 1",
            "video/H264 0",
            "video/VP8",
            "video/VP9",
            "video/rtx"
        ]),
        "H.264 first (packetization mode 1 first), then VP8, VP9, repair; AV1 left out: {rules}"
    );
    assert_eq!(
        rules["browserFirst"], "video/H264",
        "Chromium offers H.264 first: {rules}"
    );
    assert_eq!(rules["delays"], json!([0, 1000, 2000, 4000, 5000, 5000]));
    assert_eq!(rules["afterWindow"], Value::Null, "gives up: {rules}");
    assert_eq!(rules["keys"], json!(["abc", "s3cr+t", "k1"]), "{rules}");
    assert_eq!(
        rules["retry"],
        json!([true, true, true, false, false, false]),
        "network, busy and 5xx are tried again; refusals are not: {rules}"
    );
    assert_eq!(rules["bitrate"], json!([800_000, 2_500_000, 5_000_000]));

    // The OBS route is still offered beside the page's own publishing.
    let obs = &report["obs"];
    assert!(
        obs["server"]
            .as_str()
            .is_some_and(|v| v.starts_with("rtmp://")),
        "{obs}"
    );
    assert!(
        obs["key"].as_str().is_some_and(|v| v.contains("?key=")),
        "{obs}"
    );
    assert!(
        obs["whipUrl"]
            .as_str()
            .is_some_and(|v| v.contains("/whip/")),
        "{obs}"
    );
    assert_eq!(
        report["keyInMemory"], true,
        "the key of a new channel is ready to publish with: {report}"
    );
    assert_eq!(
        report["wrongKey"],
        json!({"zh": "推流密钥错误", "en": "wrong stream key"}),
        "a refusal in the API's words, in the page's language: {report}"
    );
    let sent = report["sent"].as_str().unwrap_or_default();
    assert!(
        sent.eq_ignore_ascii_case("h264"),
        "the page sends H.264: {report}"
    );
    let input = report["input"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        input.contains("h264") && input.contains("fps"),
        "the dashboard reports the input: {report}"
    );
    let (w, h) = input
        .split_whitespace()
        .find_map(|t| t.split_once('×'))
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .unwrap_or_else(|| panic!("no size in the input: {report}"));
    assert!(
        w >= 320 && (180..=480).contains(&h),
        "the 360p picture asked for: {report}"
    );
    assert_eq!(
        report["stillLiveAfterLanguages"], true,
        "switching the language keeps the publish: {report}"
    );
    let reconnect = &report["reconnect"];
    assert_eq!(reconnect["deleteStatus"], 200, "{reconnect}");
    assert_eq!(reconnect["reconnects"], 1, "{reconnect}");
    assert!(
        reconnect["seconds"].as_f64().is_some_and(|t| t < 30.0),
        "back live within the server's reconnect window: {reconnect}"
    );
    assert!(
        reconnect["dashboard"].as_u64().is_some_and(|n| n >= 1),
        "the server continued the session: {reconnect}"
    );
    assert_eq!(report["livePlayed"], true, "{report}");
    checks::whep_on_the_live_page(&report);
    let stopped = &report["stopped"];
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    assert_eq!(
        stopped["deleteStatus"], 200,
        "stopped with DELETE: {stopped}"
    );
    assert_eq!(stopped["stream"], false, "camera released: {stopped}");
    assert_eq!(stopped["preview"], false, "{stopped}");
    let events: Vec<&str> = report["events"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        events.iter().filter(|e| e.contains("开始推流")).count(),
        1,
        "one session: {events:?}"
    );
    assert!(events.iter().any(|e| e.contains("重新连接")), "{events:?}");
    assert_eq!(
        report["recording"],
        json!({"status": 200, "state": "draft"}),
        "{report}"
    );
    assert_pages_clean(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_members_are_managed_by_name_by_the_department_admin_and_by_account_id_by_the_organiser()
 {
    require_tool(CHROMIUM);
    require_tool("node");
    let modules = browser_node_modules();
    let (s, accounts_file) = serve_with_accounts(&[
        ("learner", "learner", "learner", "物理教研室"),
        (
            "event_organiser",
            "organiser",
            "event_organiser",
            "物理教研室",
        ),
        (
            "department_admin",
            "dept-admin",
            "department_admin",
            "物理教研室",
        ),
    ]);
    let shots = shots_dir();
    let args = [
        s.base.as_str(),
        accounts_file.to_str().expect("utf-8"),
        shots.to_str().expect("utf-8"),
    ];
    let report: Value = run_driver(
        "web_audience.cjs",
        &modules,
        &args,
        Duration::from_secs(300),
    )
    .await;
    eprintln!("audience report: {report}");
    assert_eq!(report["failure"], Value::Null, "{report}");
    assert_eq!(report["errors"], json!([]), "page errors: {report}");
    assert!(
        report["learnerId"].as_str().is_some_and(|i| !i.is_empty()),
        "{report}"
    );
    let org = &report["organiser"];
    assert_eq!(
        org["lookupNote"], true,
        "the page says why an organiser adds by id: {org}"
    );
    assert_eq!(org["searchOffered"], false, "{org}");
    assert_eq!(org["members"], 1, "{org}");
    assert!(
        org["unknownAccount"]
            .as_str()
            .is_some_and(|m| m.contains("未找到")),
        "an unknown account id is refused in the API's words: {org}"
    );
    let admin = &report["admin"];
    assert_eq!(admin["sameAudience"], true, "{admin}");
    assert_eq!(
        admin["before"],
        json!(["learner"]),
        "members by name: {admin}"
    );
    assert_eq!(admin["after"], json!(["producer"]), "{admin}");
    assert_eq!(
        admin["memberNotOffered"], true,
        "a member is not offered again: {admin}"
    );
    assert_eq!(org["membersAfter"], 1, "{org}");
    assert_pages_clean(&report);
}
