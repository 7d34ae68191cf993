//! End-to-end in a real browser: a producer uploads the 10 s lecture
//! fixture to `yanxiu serve`, the in-process worker builds the ladder, the
//! resource goes through the three review levels and is published, and
//! hls.js (pinned, from npm) in Debian's headless Chromium plays the public
//! master playlist cross-origin: the clock passes 3 s, the ladder offers every
//! rung, forcing the lowest and then the highest level keeps playback going,
//! and it plays to the end without a fatal error.
//!
//! The browser is driven by `tests/browser/play.cjs` through playwright-core,
//! which launches `/usr/bin/chromium` and never downloads a browser. The npm
//! packages are installed once per target directory under a file lock
//! (`target/test-tools/browser`). Chromium, Node.js and npm come from
//! `scripts/install-deps.sh`; the test fails, never skips, without them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use common::browser::{CHROMIUM, assert_no_fatal, browser_node_modules, run_driver};
use common::server::{login, processed, review_and_publish, start, upload};

/// How long the driver may take once the resource is published.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `program --version`, failing with what to install when it is missing.
fn require_tool(program: &str) -> String {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the browser playback test needs `{program}` ({e}); run scripts/install-deps.sh \
                 (Debian packages chromium, nodejs, npm)"
            )
        });
    assert!(
        out.status.success(),
        "`{program} --version` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// One step of the driver's forced level switches.
#[derive(Debug, Deserialize)]
struct ForcedLevel {
    level: usize,
    from: f64,
    to: f64,
}

/// The JSON line `tests/browser/play.cjs` prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaybackReport {
    current_time: f64,
    duration: Option<f64>,
    levels: usize,
    level_heights: Vec<u32>,
    switched_levels: Vec<usize>,
    played_levels: Vec<usize>,
    forced: Vec<ForcedLevel>,
    ended: bool,
    errors: Vec<serde_json::Value>,
    failure: Option<String>,
}

/// Runs the driver on `master`, killing it after [`DRIVER_TIMEOUT`].
async fn play_in_chromium(modules: &Path, master: &str) -> PlaybackReport {
    run_driver("play.cjs", modules, &[master], DRIVER_TIMEOUT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_in_headless_chromium_plays_a_published_resource_and_switches_levels() {
    let chromium = require_tool(CHROMIUM);
    let node = require_tool("node");
    require_tool("npm");
    let modules = browser_node_modules();

    let s = start();
    let producer = login(&s, "producer").await;
    let source = common::fixtures::fixtures_dir().join("lecture_1080p30.mp4");
    let id = upload(&s, &producer, &source, None).await;
    let resource = processed(&s, &producer, &id).await;
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");
    review_and_publish(&s, &producer, &id).await;

    let master = format!("{}/play/{id}/master.m3u8", s.base);
    let started = Instant::now();
    let report = play_in_chromium(&modules, &master).await;
    eprintln!(
        "{chromium}, node {node}: played {master} in {:.1} s: {report:?}",
        started.elapsed().as_secs_f64()
    );

    assert_no_fatal(&report.errors, report.failure.as_deref(), &report);
    assert_eq!(report.levels, 4, "hls.js sees every video rung: {report:?}");
    let mut heights = report.level_heights.clone();
    heights.sort_unstable();
    heights.dedup();
    assert_eq!(heights.len(), 4, "four distinct heights: {report:?}");
    let top = report.levels - 1;
    // Both forced levels were switched to, fragments of each played, and the
    // clock went on for at least a second after each.
    assert_eq!(
        report.forced.iter().map(|f| f.level).collect::<Vec<_>>(),
        vec![0, top],
        "{report:?}"
    );
    for forced in &report.forced {
        assert!(
            forced.to > forced.from + 1.0,
            "playback went on after forcing level {}: {report:?}",
            forced.level
        );
    }
    for level in [0, top] {
        assert!(
            report.switched_levels.contains(&level),
            "LEVEL_SWITCHED to {level}: {report:?}"
        );
        assert!(
            report.played_levels.contains(&level),
            "a fragment of level {level} played: {report:?}"
        );
    }
    // It played the whole 10 s lecture.
    assert!(report.ended, "playback reached the end: {report:?}");
    let duration = report.duration.unwrap_or_default();
    assert!(
        (duration - 10.0).abs() < 0.5,
        "duration about 10 s: {report:?}"
    );
    assert!(
        report.current_time > duration - 0.5,
        "the clock reached the end: {report:?}"
    );
}
