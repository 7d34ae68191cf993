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
