//! Shared helpers of the tus tests: recording hooks, a server on 127.0.0.1, raw HTTP, and the
//! real tus client (`tuspy` from PyPI in a venv under `target/test-tools/tus-venv`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use yanxiu_ingest::tus::{
    CompletedUpload, HookRejection, TusConfig, TusService, UploadHooks, router,
};

pub const BASE_PATH: &str = "/api/v1/uploads";
pub const ALICE: &str = "Bearer alice-token";
pub const BOB: &str = "Bearer bob-token";

/// Hooks that know two users and record every completed upload.
#[derive(Debug, Default)]
pub struct RecordingHooks {
    pub completed: Mutex<Vec<CompletedUpload>>,
}

impl RecordingHooks {
    pub fn completed(&self) -> Vec<CompletedUpload> {
        self.completed.lock().expect("hooks lock").clone()
    }
}

#[async_trait::async_trait]
impl UploadHooks for RecordingHooks {
    async fn authorize(&self, headers: &HeaderMap) -> Result<String, HookRejection> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(ALICE) => Ok("alice".into()),
            Some(BOB) => Ok("bob".into()),
            _ => Err(HookRejection {
                status: 401,
                code: "auth.unauthenticated".into(),
                message_zh: "请先登录".into(),
                message_en: "Please sign in".into(),
            }),
        }
    }

    async fn completed(
        &self,
        upload: CompletedUpload,
    ) -> Result<Vec<(String, String)>, HookRejection> {
        let id = format!("res-{}", upload.id);
        self.completed.lock().expect("hooks lock").push(upload);
        Ok(vec![("Yanxiu-Resource-Id".into(), id)])
    }
}

/// A running upload server.
pub struct Server {
    pub addr: SocketAddr,
    pub service: Arc<TusService>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The creation URL.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, BASE_PATH)
    }

    /// Stops accepting, ends the server task and drops the service.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.abort();
        let _ = self.task.await;
    }
}

pub fn config(dir: &Path, max_size: u64, expiration: Duration) -> TusConfig {
    TusConfig {
        dir: dir.to_path_buf(),
        base_path: BASE_PATH.into(),
        max_size,
        expiration,
    }
}

/// Starts a server for `config` on `addr` (port 0 for a free one).
pub async fn start(config: TusConfig, hooks: Arc<RecordingHooks>, addr: SocketAddr) -> Server {
    start_service(TusService::new(config, hooks).expect("tus service"), addr).await
}

/// Starts a server for a prepared service on `addr`.
pub async fn start_service(service: TusService, addr: SocketAddr) -> Server {
    let service = Arc::new(service);
    let app = router(service.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Server {
        addr,
        service,
        shutdown,
        task,
    }
}

pub fn local() -> SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

/// `n` pseudo-random bytes (deterministic per seed).
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Creates an upload of `length` bytes as `token`; returns the upload URL.
pub async fn create(server: &Server, token: &str, length: u64) -> String {
    let response = http()
        .post(server.url())
        .header("tus-resumable", "1.0.0")
        .header("authorization", token)
        .header("upload-length", length.to_string())
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201, "create");
    let location = response.headers()["location"].to_str().expect("location");
    format!("http://{}{}", server.addr, location)
}

pub async fn head(url: &str, token: &str) -> reqwest::Response {
    http()
        .head(url)
        .header("tus-resumable", "1.0.0")
        .header("authorization", token)
        .send()
        .await
        .expect("head")
}

pub async fn json_of(response: reqwest::Response) -> serde_json::Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}

pub fn offset_of(response: &reqwest::Response) -> u64 {
    response.headers()["upload-offset"]
        .to_str()
        .expect("offset header")
        .parse()
        .expect("offset number")
}

pub async fn patch(
    url: &str,
    token: &str,
    offset: u64,
    body: Vec<u8>,
    checksum: Option<&str>,
) -> reqwest::Response {
    let mut request = http()
        .patch(url)
        .header("tus-resumable", "1.0.0")
        .header("authorization", token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string());
    if let Some(c) = checksum {
        request = request.header("upload-checksum", c);
    }
    request.body(body).send().await.expect("patch")
}

/// The venv with `tuspy`, created once under a file lock. Panics with a clear message when it
/// cannot be installed: these tests need a real tus client and never skip.
pub fn tuspy_python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let tools = target.join("test-tools");
    std::fs::create_dir_all(&tools).expect("create target/test-tools");
    let venv = tools.join("tus-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".tuspy-installed");
    let lock = std::fs::File::create(tools.join("tus-venv.lock")).expect("venv lock file");
    lock.lock().expect("lock the venv");
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap_or_else(|e| {
                panic!("the tus tests need python3 (with venv) to install tuspy: {e}")
            });
        assert!(
            status.success(),
            "python3 -m venv {} failed",
            venv.display()
        );
        let output = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "tuspy==1.1.0",
            ])
            .output()
            .expect("run pip");
        assert!(
            output.status.success(),
            "could not install the tus client tuspy from PyPI (needed by these tests, never skipped): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(&marker, b"tuspy==1.1.0\n").expect("write venv marker");
    }
    python
}

/// The tuspy driver: uploads `file` to `url` in `chunk` byte requests with metadata filename
/// and title (and the fields of an optional eighth argument, a JSON object), remembering the
/// upload URL in `store`; stops after `stop_at` bytes when given.
/// Prints `{"url", "start_offset", "offset"}`.
pub const TUSPY_SCRIPT: &str = r#"
import json, sys
from tusclient import client
from tusclient.storage import filestorage
url, path, store, chunk, stop_at, token, checksum = sys.argv[1:8]
metadata = {"filename": "第一讲 lecture.mp4", "title": "Lecture 1 第一讲"}
metadata.update(json.loads(sys.argv[8]) if len(sys.argv) > 8 else {})
c = client.TusClient(url, headers={"Authorization": token})
storage = filestorage.FileStorage(store)
up = c.uploader(path, chunk_size=int(chunk), store_url=True, url_storage=storage,
                metadata=metadata,
                upload_checksum=(checksum == "1"), retries=0)
start = up.offset
stop = int(stop_at)
up.upload(stop_at=stop if stop > 0 else None)
storage.close()
print(json.dumps({"url": up.url, "start_offset": start, "offset": up.offset}))
"#;

/// What one tuspy run reported.
#[derive(Debug, serde::Deserialize)]
pub struct TuspyRun {
    pub url: String,
    pub start_offset: u64,
    pub offset: u64,
}

/// Runs the tuspy driver as a separate process.
pub async fn run_tuspy(
    python: &Path,
    work: &Path,
    url: &str,
    file: &Path,
    chunk: usize,
    stop_at: Option<u64>,
    checksum: bool,
) -> TuspyRun {
    let script = work.join("tus_upload.py");
    std::fs::write(&script, TUSPY_SCRIPT).expect("write script");
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(url)
        .arg(file)
        .arg(work.join("urls.json"))
        .arg(chunk.to_string())
        .arg(stop_at.unwrap_or(0).to_string())
        .arg(ALICE)
        .arg(if checksum { "1" } else { "0" })
        .output()
        .await
        .expect("run tuspy");
    assert!(
        output.status.success(),
        "tuspy failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).expect("tuspy output")
}
