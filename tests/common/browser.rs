//! What the browser tests share: the pinned hls.js and playwright-core from
//! npm (installed once per target directory under a file lock) and the
//! Chromium they drive.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::de::DeserializeOwned;

/// The Chromium the driver launches (Debian's package).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// This folder of the repository: pages, drivers, package.json and lock.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `node_modules` with the pinned hls.js and playwright-core, installed with
/// `npm ci` from the committed lock once per lock content, under a file lock.
pub fn browser_node_modules() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let tools = target.join("test-tools");
    std::fs::create_dir_all(&tools).expect("create target/test-tools");
    let prefix = tools.join("browser");
    let modules = prefix.join("node_modules");
    let marker = prefix.join(".installed-lock");
    let manifest = std::fs::read(browser_dir().join("package.json")).expect("package.json");
    let lockfile = std::fs::read(browser_dir().join("package-lock.json")).expect("package-lock");
    let wanted = [manifest.as_slice(), lockfile.as_slice()].concat();

    let lock = std::fs::File::create(tools.join("browser.lock")).expect("browser tools lock file");
    lock.lock().expect("lock the browser tools");
    if std::fs::read(&marker).ok().as_deref() != Some(wanted.as_slice()) {
        let _ = std::fs::remove_dir_all(&prefix);
        std::fs::create_dir_all(&prefix).expect("create target/test-tools/browser");
        std::fs::write(prefix.join("package.json"), &manifest).expect("copy package.json");
        std::fs::write(prefix.join("package-lock.json"), &lockfile).expect("copy package-lock");
        let out = Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&prefix)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .output()
            .expect("run npm");
        assert!(
            out.status.success(),
            "could not install hls.js and playwright-core from the npm registry (needed by this \
             test, never skipped): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, &wanted).expect("write the install marker");
    }
    modules
}

/// Runs the driver `script` (in [`browser_dir`]) with node: `modules`, then
/// `args`; killed after `timeout`. Returns the JSON report it prints last.
pub async fn run_driver<T: DeserializeOwned>(
    script: &str,
    modules: &Path,
    args: &[&str],
    timeout: Duration,
) -> T {
    let child = tokio::process::Command::new("node")
        .arg(browser_dir().join(script))
        .arg(modules)
        .args(args)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .env("YANXIU_TEST_CHROMIUM", CHROMIUM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the browser driver gave no result in {timeout:?}"))
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser driver failed ({}):\n{stderr}",
        out.status
    );
    let line = stdout.trim().lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("driver output {line:?} is not a report ({e}):\n{stderr}"))
}

/// The JSON line `tests/browser/live.cjs` prints: hls.js playing a live master.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LivePlayback {
    /// `video.currentTime` when playback started.
    pub start_time: Option<f64>,
    /// `video.currentTime` at the end.
    pub current_time: f64,
    /// Seconds watched once playback started.
    pub watched_seconds: f64,
    /// `hls.latency` at the end.
    pub latency: Option<f64>,
    /// `liveSyncPosition - currentTime` at the end.
    pub live_sync_latency: Option<f64>,
    /// `hls.targetLatency`.
    pub target_latency: Option<f64>,
    /// Whether hls.js ran in low-latency (LL-HLS) mode.
    pub low_latency_mode: Option<bool>,
    /// The levels hls.js kept (those the browser can play).
    pub levels: usize,
    /// Their heights.
    pub level_heights: Vec<u32>,
    /// Their video codecs.
    pub level_codecs: Vec<Option<String>>,
    /// The video codec of the level playing at the end.
    pub current_codec: Option<String>,
    /// Whether the browser's MediaSource takes HEVC.
    pub hevc_supported: bool,
    /// Fragments played.
    pub frags_played: usize,
    /// hls.js errors (`fatal` marks those that stop playback).
    pub errors: Vec<serde_json::Value>,
    /// The step that did not finish in time, if any.
    pub failure: Option<String>,
}

/// Asserts a driver's report has no fatal hls.js error (`errors[].fatal`) and no step left
/// unfinished (`failure`); `report` is shown when it does.
pub fn assert_no_fatal(
    errors: &[serde_json::Value],
    failure: Option<&str>,
    report: &impl std::fmt::Debug,
) {
    let fatal: Vec<_> = errors.iter().filter(|e| e["fatal"] == true).collect();
    assert!(fatal.is_empty(), "fatal playback errors: {fatal:?}");
    assert_eq!(failure, None, "{report:?}");
}

impl LivePlayback {
    /// Asserts hls.js played with no fatal error and no step left
    /// unfinished, watched `watched` seconds and its clock advanced by at
    /// least `advanced` seconds, over at least one fragment.
    pub fn assert_played(&self, watched: f64, advanced: f64) {
        assert_no_fatal(&self.errors, self.failure.as_deref(), self);
        let start = self.start_time.expect("playback started");
        assert!(
            self.watched_seconds >= watched,
            "watched {watched} s: {self:?}"
        );
        assert!(
            self.current_time - start >= advanced,
            "the clock advanced by at least {advanced} s: {self:?}"
        );
        assert!(self.frags_played >= 1, "{self:?}");
    }
}

/// Lets hls.js in Chromium watch the live `master` for `seconds` once it
/// plays (`tests/browser/live.cjs`), within two minutes.
pub async fn watch_live(modules: &Path, master: &str, seconds: f64) -> LivePlayback {
    run_driver(
        "live.cjs",
        modules,
        &[master, &seconds.to_string()],
        Duration::from_secs(120),
    )
    .await
}
