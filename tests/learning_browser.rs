//! Viewing analytics and credit hours (学时) end to end, in a real browser: a producer uploads
//! the 10 s lecture fixture to `yanxiu serve`, the worker builds the ladder, the resource (2
//! credit hours) goes through review and is published; then learners watch it in the web app's
//! own player (hls.js and the playback reporting of `web/assets/views/player.js`) in Debian's
//! headless Chromium (driver `tests/browser/learning_watch.cjs`):
//! - one watches to 5 s and skips ahead to 9 s: about 6 s of 10 count, no credit hours;
//! - one watches all of it and earns the credit hours, then watches it again and earns nothing
//!   more (one credit, the same time);
//! - one leaves the page after 3.5 s with no heartbeat in between: the end the player sends on
//!   `pagehide` (fetch keepalive) still tells the server how far they got.
//!
//! The server's figures (views, unique viewers, watch time, completions), transcripts and the
//! credit export must match what the browsers did. Chromium, Node.js and npm come from
//! `scripts/install-deps.sh`; the test fails, never skips, without them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use common::browser::{CHROMIUM, browser_node_modules, run_driver};
use common::server::{
    PASSWORD, api, login, prepare, processed, review_and_publish, serve, upload, yanxiu,
};

fn require_tool(program: &str) {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the learning browser test needs `{program}` ({e}); run scripts/install-deps.sh \
                 (Debian packages chromium, nodejs, npm)"
            )
        });
    assert!(out.status.success(), "`{program} --version` failed");
}

/// Creates a learner of the physics department with the CLI before the server starts.
fn create_learner(data: &Path, config: &Path, user: &str) {
    let out = yanxiu()
        .args([
            "admin",
            "create-user",
            "--username",
            user,
            "--password",
            PASSWORD,
        ])
        .args([
            "--role",
            "learner",
            "--department",
            "物理教研室",
            "--data-dir",
        ])
        .arg(data)
        .arg("--config")
        .arg(config)
        .output()
        .expect("yanxiu admin");
    assert!(
        out.status.success(),
        "create {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn seconds(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("a number of seconds: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learners_watching_in_the_browser_get_the_watch_time_and_credit_hours_they_earned() {
    require_tool(CHROMIUM);
    require_tool("node");
    let modules = browser_node_modules();
    let (data, config) = prepare("");
    for user in ["learner1", "learner2", "learner3"] {
        create_learner(data.path(), &config, user);
    }
    let accounts = json!({
        "learner1": {"username": "learner1", "password": PASSWORD},
        "learner2": {"username": "learner2", "password": PASSWORD},
        "learner3": {"username": "learner3", "password": PASSWORD},
    });
    let accounts_file = data.path().join("accounts.json");
    std::fs::write(&accounts_file, accounts.to_string()).expect("accounts");
    let s = serve(data, config, 1);

    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let id = upload(&s, &producer, &source, None).await;
    let resource = processed(&s, &producer, &id).await;
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");
    let duration = seconds(&resource["processing"]["probe"]["duration_seconds"]);
    assert!((duration - 10.0).abs() < 0.2, "a 10 s lecture: {duration}");
    let (status, body) = api(
        &s,
        Method::PATCH,
        &format!("/api/v1/resources/{id}"),
        Some(&producer),
        Some(json!({"metadata": {"credit_hours": 2}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    review_and_publish(&s, &producer, &id).await;

    let report: Value = run_driver(
        "learning_watch.cjs",
        &modules,
        &[&s.base, &id, accounts_file.to_str().expect("utf-8")],
        Duration::from_secs(420),
    )
    .await;
    eprintln!("learning report: {report}");
    assert_eq!(report["failure"], Value::Null, "{report}");
    assert_eq!(report["errors"], json!([]), "page errors: {report}");

    // About 60 %: what was watched counts, what was skipped does not; no credit hours.
    let skip_from = seconds(&report["skipFrom"]);
    let skipper = &report["skipper"]["last"]["learning"];
    let watched = seconds(&skipper["watched_seconds"]);
    let expected = skip_from + (duration - 9.0);
    assert!(
        (watched - expected).abs() < 0.8,
        "watched {watched} s, expected about {expected} s (to {skip_from} s, then 9 s to the end): {report}"
    );
    assert!(watched < 8.0, "{report}");
    assert_eq!(skipper["earned"], false, "{report}");
    assert_eq!(
        seconds(&skipper["required_seconds"]),
        (duration * 0.8 * 1000.0).ceil() / 1000.0
    );
    assert_eq!(report["skipper"]["failed"], 0, "{report}");

    // All of it: the credit hours, once.
    let full = &report["full"]["last"]["learning"];
    assert_eq!(full["earned"], true, "{report}");
    assert!(
        seconds(&full["watched_seconds"]) > duration - 0.6,
        "{report}"
    );
    let again = &report["again"]["last"]["learning"];
    assert_eq!(
        again["earned_at"], full["earned_at"],
        "earned once: {report}"
    );

    // The API agrees with the browsers.
    let centre = login(&s, "centre-reviewer").await;
    let (status, figures) = api(
        &s,
        Method::GET,
        &format!("/api/v1/analytics/resources/{id}"),
        Some(&centre),
        None,
    )
    .await;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["views"], 4, "{figures}");
    assert_eq!(figures["unique_viewers"], 3, "{figures}");
    assert_eq!(figures["completions"], 2, "{figures}");
    let left_at = seconds(&report["leftAt"]);
    let total = seconds(&figures["watch_seconds"]);
    let expected_total = expected + 2.0 * duration + left_at;
    assert!(
        (total - expected_total).abs() < 2.5,
        "watch time {total} s, expected about {expected_total} s: {figures}"
    );

    let learner3 = login(&s, "learner3").await;
    let (_, transcript) = api(
        &s,
        Method::GET,
        "/api/v1/me/learning",
        Some(&learner3),
        None,
    )
    .await;
    let left = seconds(&transcript["items"][0]["watched_seconds"]);
    assert!(
        left > 3.0 && left < left_at + 1.0,
        "the end sent on pagehide counts the 3.5 s watched ({left} s): {transcript}"
    );
    assert_eq!(transcript["items"][0]["earned"], false);

    let learner2 = login(&s, "learner2").await;
    let (_, transcript) = api(
        &s,
        Method::GET,
        "/api/v1/me/learning",
        Some(&learner2),
        None,
    )
    .await;
    assert_eq!(transcript["total_credit_hours"], 2.0, "{transcript}");
    let (status, credits) = api(
        &s,
        Method::GET,
        "/api/v1/learning/credits",
        Some(&centre),
        None,
    )
    .await;
    assert_eq!(status, 200, "{credits}");
    let items = credits["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one credit, for learner2: {credits}");
    assert_eq!(items[0]["username"], "learner2");
    assert_eq!(items[0]["credit_hours"], 2.0);
}
