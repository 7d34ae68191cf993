//! `yanxiu admin retention` against a real `yanxiu serve` data directory: a lecture uploaded,
//! transcoded into local storage, reviewed and published; evaluated seven months later
//! (`--at`), the dry run reports it as expired (zh-CN by default, English with `--lang en`)
//! and changes nothing; the real run retires it: offline, its ladder and source file really
//! gone from storage, its metadata still readable.

mod common;

use std::path::Path;
use std::process::Output;

use reqwest::Method;

use common::server::{api, login, processed, review_and_publish, start, upload, yanxiu};

fn retention(data: &Path, config: &Path, args: &[&str]) -> Output {
    yanxiu()
        .args(["admin", "retention", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("run yanxiu admin retention")
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { files_under(&p) } else { 1 }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_command_reports_then_retires_an_expired_resource_and_removes_its_files() {
    let s = start();
    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let id = upload(&s, &producer, &source, None).await;
    let resource = processed(&s, &producer, &id).await;
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");
    review_and_publish(&s, &producer, &id).await;
    let ladder = s.data.path().join("media").join("ladders").join(&id);
    let sources = s.data.path().join("sources").join(&id);
    let (ladder_files, source_files) = (files_under(&ladder), files_under(&sources));
    assert!(
        ladder_files > 5 && source_files == 1,
        "{ladder_files} {source_files}"
    );
    let play = format!("{}/play/{id}/master.m3u8", s.base);
    assert_eq!(reqwest::get(&play).await.expect("play").status(), 200);

    let later = (yanxiu_now() + 7 * 31 * 86_400_000).to_string();
    let dry = retention(s.data.path(), &s.config, &["--dry-run", "--at", &later]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(text.contains("试运行"), "{text}");
    assert!(text.contains("已到期，将退役 (1):"), "{text}");
    assert!(text.contains(&format!("[{id}]")), "{text}");
    let en = retention(
        s.data.path(),
        &s.config,
        &["--dry-run", "--at", &later, "--lang", "en"],
    );
    let en = String::from_utf8_lossy(&en.stdout);
    assert!(
        en.contains("dry run: nothing was changed") && en.contains("expired, to retire (1):"),
        "{en}"
    );
    assert_eq!(
        files_under(&ladder),
        ladder_files,
        "a dry run removes nothing"
    );
    assert_eq!(reqwest::get(&play).await.expect("play").status(), 200);
    // Now: nothing is due yet.
    let today = retention(s.data.path(), &s.config, &["--dry-run", "--lang", "en"]);
    let today = String::from_utf8_lossy(&today.stdout);
    assert!(today.contains("expired, to retire (0):"), "{today}");

    let real = retention(s.data.path(), &s.config, &["--at", &later, "--lang", "en"]);
    let text = String::from_utf8_lossy(&real.stdout);
    assert!(
        real.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert!(
        text.contains("retired: 1") && text.contains("not done: 0"),
        "{text}"
    );
    assert_eq!(files_under(&ladder), 0, "the ladder is gone");
    assert_eq!(files_under(&sources), 0, "the source file is gone");
    // The retirement was made by another process: the server sees it once its cached
    // playback facts expire (`[control.playback] cache_ms`, 5 s at most; docs/delivery.md).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
    loop {
        let status = reqwest::get(&play).await.expect("play").status();
        if status == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status} 6 s after the retirement"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = api(
        &s,
        Method::GET,
        &format!("/api/v1/resources/{id}"),
        Some(&producer),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["published"].is_null(), "{body}");
    let centre = login(&s, "centre-reviewer").await;
    let (_, settings) = api(
        &s,
        Method::GET,
        &format!("/api/v1/resources/{id}/retention"),
        Some(&centre),
        None,
    )
    .await;
    assert_eq!(settings["retire_reason"], "expired", "{settings}");
    assert!(settings["objects_removed_at"].is_i64(), "{settings}");
    // Run again: nothing left to do.
    let again = retention(s.data.path(), &s.config, &["--at", &later, "--json"]);
    let run: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(run["retired"], serde_json::json!([]), "{run}");
    assert_eq!(run["plan"]["cleanup"], serde_json::json!([]), "{run}");
}

fn yanxiu_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}
