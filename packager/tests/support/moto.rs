//! A real S3-compatible server for the tests: moto, installed once into a
//! virtualenv under `target/test-tools/moto-venv` (under a file lock, so
//! concurrent test binaries install it once), started on a free loopback
//! port once per test binary and stopped when the binary exits (a watchdog
//! shell kills it when the test process closes its stdin pipe). Fails with a
//! clear message, never skips, when python3, pip or the server cannot start.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use yanxiu_packager::storage::{S3Config, S3Storage};

/// The moto release the tests are written against.
const MOTO_VERSION: &str = "5.2.5";
/// Credentials moto accepts (it accepts any).
pub const ACCESS_KEY_ID: &str = "yanxiu-test-key";
/// The matching secret.
pub const SECRET_ACCESS_KEY: &str = "yanxiu-test-secret";
/// Region the test buckets live in.
pub const REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _watchdog: Mutex<(Child, ChildStdin)>,
}

fn tools_dir() -> PathBuf {
    // `target/tmp` for integration tests; the tools live beside it.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("test-tools")
}

fn run_or_fail(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|error| {
        panic!("S3 tests need {what}, which could not be started ({command:?}): {error}")
    });
    assert!(
        output.status.success(),
        "S3 tests need {what}, which failed ({command:?}):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `moto_server` executable, installing it first if needed.
fn moto_server_executable() -> PathBuf {
    let tools = tools_dir();
    fs::create_dir_all(&tools).unwrap_or_else(|e| panic!("cannot create {tools:?}: {e}"));
    let venv = tools.join("moto-venv");
    let executable = venv.join("bin").join("moto_server");
    let marker = venv.join(format!(".yanxiu-installed-moto-{MOTO_VERSION}"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(tools.join("moto-venv.lock"))
        .unwrap_or_else(|e| panic!("cannot open the moto install lock: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot take the moto install lock: {e}"));
    if !marker.exists() {
        let started = Instant::now();
        if venv.exists() {
            fs::remove_dir_all(&venv).unwrap_or_else(|e| panic!("cannot remove {venv:?}: {e}"));
        }
        run_or_fail(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 with the venv module (apt-get install python3 python3-venv)",
        );
        run_or_fail(
            Command::new(venv.join("bin").join("pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                // Byte-compiling all of botocore doubles the install time;
                // the modules moto imports are compiled on first start.
                "--no-compile",
                &format!("moto[server]=={MOTO_VERSION}"),
            ]),
            "pip to install moto[server] from PyPI",
        );
        File::create(&marker).unwrap_or_else(|e| panic!("cannot write {marker:?}: {e}"));
        eprintln!("installed moto {MOTO_VERSION} in {:?}", started.elapsed());
    }
    drop(lock);
    assert!(executable.exists(), "{executable:?} missing after install");
    executable
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

fn start() -> MotoServer {
    let executable = moto_server_executable();
    let port = free_port();
    // One log per test binary, overwritten by its next run.
    let log_path = tools_dir().join(format!("moto-{}.log", env!("CARGO_CRATE_NAME")));
    let log = File::create(&log_path).unwrap_or_else(|e| panic!("cannot create {log_path:?}: {e}"));
    let log_err = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
    // The shell starts moto, then waits for EOF on stdin: the test process
    // holds the pipe's write end, so moto is killed when the process exits,
    // however it exits.
    let mut watchdog = Command::new("sh")
        .args([
            "-c",
            r#""$0" -H 127.0.0.1 -p "$1" & server=$!; cat >/dev/null; kill $server; wait $server"#,
        ])
        .arg(&executable)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {executable:?}: {e}"));
    let stdin = watchdog
        .stdin
        .take()
        .unwrap_or_else(|| panic!("watchdog stdin not piped"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        let exited = watchdog.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            panic!(
                "moto_server did not start on port {port} ({}): {}",
                exited.map_or_else(|| "timed out after 30 s".to_string(), |s| s.to_string()),
                fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    MotoServer {
        endpoint: format!("http://127.0.0.1:{port}"),
        _watchdog: Mutex::new((watchdog, stdin)),
    }
}

/// The server of this test binary, started on first use.
pub fn server() -> &'static MotoServer {
    static SERVER: OnceLock<MotoServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// A config for `bucket` on the test server (path style, static credentials).
pub fn config(bucket: &str, prefix: &str) -> S3Config {
    S3Config {
        endpoint: Some(server().endpoint.clone()),
        path_style: true,
        prefix: prefix.to_string(),
        access_key_id: Some(ACCESS_KEY_ID.to_string()),
        secret_access_key: Some(SECRET_ACCESS_KEY.to_string()),
        ..S3Config::new(REGION, bucket)
    }
}

/// A fresh, empty bucket with a name unique in this process.
pub async fn new_bucket(label: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let bucket = format!(
        "t{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        label.trim_matches('-')
    );
    let storage = S3Storage::new(config(&bucket, ""))
        .await
        .unwrap_or_else(|e| panic!("config for {bucket}: {e}"));
    storage
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create bucket {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        });
    bucket
}

/// A storage on a fresh bucket under `prefix`.
pub async fn storage(label: &str, prefix: &str) -> S3Storage {
    storage_with(label, |config| config.prefix = prefix.to_string()).await
}

/// A storage on a fresh bucket, with `change` applied to the config.
pub async fn storage_with(label: &str, change: impl FnOnce(&mut S3Config)) -> S3Storage {
    let bucket = new_bucket(label).await;
    let mut config = config(&bucket, "");
    change(&mut config);
    S3Storage::new(config)
        .await
        .unwrap_or_else(|e| panic!("S3 storage: {e}"))
}
