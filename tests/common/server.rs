//! A `yanxiu serve` process for end-to-end tests: a temporary data
//! directory, bootstrapped accounts, a free port, and the client side of
//! uploads (tuspy), the API and processing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../../ingest/tests/tus_support/mod.rs"]
mod tus_support;

/// The password of every test account.
pub const PASSWORD: &str = "Lecture-2026-pass!";

/// A running `yanxiu serve`, killed on drop.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `rtmp://127.0.0.1:PORT/live`.
    pub rtmp: String,
    /// `https://127.0.0.1:PORT` when started with [`serve_tls`], else empty.
    pub https: String,
    /// `rtmps://127.0.0.1:PORT/live` when started with [`serve_tls`], else empty.
    pub rtmps: String,
    /// Its data directory.
    pub data: tempfile::TempDir,
    /// Its config file.
    pub config: PathBuf,
    /// Everything the server wrote to stderr (also echoed to the test's
    /// stderr), appended across relaunches.
    pub stderr_log: PathBuf,
    /// `RUST_LOG` of the server.
    pub rust_log: String,
    /// Whether the config turns TLS on (HTTPS and RTMPS lines expected).
    pub tls: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary under test (warnings and errors only in its logs).
pub fn yanxiu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_yanxiu"));
    c.env("RUST_LOG", "warn");
    c
}

/// Cheap password hashing keeps account set-up fast; short leases let a
/// dead worker's job move on quickly.
/// Live ingest listens on a free port (read back from the second line the
/// server prints). The `[live]` table comes last, so an `extra_config` given
/// to [`prepare`] that starts with bare keys (`reconnect_window_seconds = 3`)
/// sets live options.
pub const TEST_CONFIG: &str = "[control.hash_cost]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n\n[workers]\nlease_seconds = 5\nheartbeat_seconds = 1\npoll_ms = 200\n\n[live]\nrtmp_addr = \"127.0.0.1:0\"\nwebrtc_udp_addr = \"127.0.0.1:0\"\n";

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

/// A data directory with a config and the accounts `producer`,
/// `dept-reviewer` and `centre-reviewer`.
pub fn prepare(extra_config: &str) -> (tempfile::TempDir, PathBuf) {
    prepare_config(&format!("{TEST_CONFIG}{extra_config}"))
}

/// [`prepare`] on the database at `database_url` (PostgreSQL, shared by several nodes)
/// instead of the data directory's SQLite file.
pub fn prepare_on(database_url: Option<&str>, extra_config: &str) -> (tempfile::TempDir, PathBuf) {
    let top = database_url
        .map(|url| format!("database_url = \"{url}\"\n"))
        .unwrap_or_default();
    prepare_config(&format!("{top}{TEST_CONFIG}{extra_config}"))
}

/// [`prepare`] with `config_text` as the whole config file (for top-level keys such as
/// `database_url`, which must come before every table).
pub fn prepare_config(config_text: &str) -> (tempfile::TempDir, PathBuf) {
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("yanxiu.toml");
    std::fs::write(&config, config_text).expect("write config");
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
    (data, config)
}

/// Starts `yanxiu serve` on a free port over a prepared data directory.
pub fn serve(data: tempfile::TempDir, config: PathBuf, workers: usize) -> Server {
    serve_with_log(data, config, workers, "warn")
}

/// [`serve`] with the server's `RUST_LOG` set to `rust_log`.
pub fn serve_with_log(
    data: tempfile::TempDir,
    config: PathBuf,
    workers: usize,
    rust_log: &str,
) -> Server {
    start_server(data, config, workers, rust_log, false)
}

/// [`serve_with_log`] for a config with a `[tls]` table (see
/// `common::tls::tls_config`): HTTPS and RTMPS beside plain HTTP and RTMP.
pub fn serve_tls(
    data: tempfile::TempDir,
    config: PathBuf,
    workers: usize,
    rust_log: &str,
) -> Server {
    start_server(data, config, workers, rust_log, true)
}

fn start_server(
    data: tempfile::TempDir,
    config: PathBuf,
    workers: usize,
    rust_log: &str,
    tls: bool,
) -> Server {
    let l = launch(data.path(), &config, workers, rust_log, tls);
    Server {
        child: l.child,
        base: l.base,
        rtmp: l.rtmp,
        https: l.https,
        rtmps: l.rtmps,
        stderr_log: data.path().join(STDERR_LOG),
        data,
        config,
        rust_log: rust_log.to_owned(),
        tls,
    }
}

/// The file in the data directory that keeps the server's stderr.
const STDERR_LOG: &str = "serve-stderr.log";

/// Copies the server's stderr to the test's stderr and to `log`.
fn tee_stderr(stderr: std::process::ChildStderr, log: PathBuf) {
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the server's stderr log");
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            let _ = writeln!(file, "{line}");
        }
    });
}

/// A started process and the addresses it printed.
struct Launched {
    child: Child,
    base: String,
    rtmp: String,
    https: String,
    rtmps: String,
}

fn launch(data: &Path, config: &Path, workers: usize, rust_log: &str, tls: bool) -> Launched {
    let mut child = yanxiu()
        .env("RUST_LOG", rust_log)
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--workers",
            &workers.to_string(),
            "--data-dir",
        ])
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn yanxiu serve");
    tee_stderr(child.stderr.take().expect("stderr"), data.join(STDERR_LOG));
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("read the listening line");
    let base = line
        .trim()
        .strip_prefix("yanxiu: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    line.clear();
    reader.read_line(&mut line).expect("read the RTMP line");
    let rtmp = line
        .trim()
        .strip_prefix("yanxiu: RTMP ingest on ")
        .unwrap_or_else(|| panic!("unexpected second line {line:?}"))
        .to_owned();
    let mut next = |prefix: &str| {
        line.clear();
        reader.read_line(&mut line).expect("read a listening line");
        line.trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
            .to_owned()
    };
    let (https, rtmps) = match tls {
        true => (
            next("yanxiu: listening on "),
            next("yanxiu: RTMPS ingest on "),
        ),
        false => (String::new(), String::new()),
    };
    Launched {
        child,
        base,
        rtmp,
        https,
        rtmps,
    }
}

impl Server {
    /// Sends `signal` (`TERM`, `KILL`) and waits for the process to end.
    pub fn stop(&mut self, signal: &str) {
        signal_process(&mut self.child, signal);
    }

    /// Starts `yanxiu serve` again over the same data directory.
    pub fn relaunch(&mut self, workers: usize) {
        let l = launch(
            self.data.path(),
            &self.config,
            workers,
            &self.rust_log,
            self.tls,
        );
        self.child = l.child;
        self.base = l.base;
        self.rtmp = l.rtmp;
        self.https = l.https;
        self.rtmps = l.rtmps;
    }

    /// Starts a separate `yanxiu worker` process over the same database.
    pub fn worker(&self) -> Child {
        yanxiu()
            .args(["worker", "--data-dir"])
            .arg(self.data.path())
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn yanxiu worker")
    }
}

/// Another `serve` node beside `first`, on the same database (its config must name a shared
/// one: see [`prepare_on`]) with its own, empty data directory (no shared disk) and a copy of
/// `first`'s config and control keys file, as every node of a cluster has.
pub fn another_node(first: &Server, workers: usize) -> Server {
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("yanxiu.toml");
    std::fs::copy(&first.config, &config).expect("copy the config");
    let keys = "control-keys.toml";
    std::fs::copy(first.data.path().join(keys), data.path().join(keys))
        .expect("copy the control keys file (every node shares it)");
    start_server(data, config, workers, &first.rust_log, first.tls)
}

/// Sends `signal` to `child` with kill(1) and waits for it to end.
pub fn signal_process(child: &mut Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill(1) must be installed (util-linux)");
    assert!(status.success(), "kill -{signal} failed");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "the process did not end after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A prepared server with one in-process worker.
pub fn start() -> Server {
    let (data, config) = prepare("");
    serve(data, config, 1)
}

/// An HTTP client.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// One API call: status and JSON body (null when not JSON).
pub async fn api(
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

/// Logs `user` in; returns the bearer token. Reviewers and administrators need a second
/// factor: their first sign-in enrols TOTP through the API (the secret kept here), later ones
/// answer the challenge with a code computed by an independent TOTP library (totp-lite).
pub async fn login(s: &Server, user: &str) -> String {
    let (status, body) = api(
        s,
        reqwest::Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({ "username": user, "password": PASSWORD })),
    )
    .await;
    if status == 202 {
        let code = totp::next_code(&s.base, user).await;
        let (status, grant) = api(
            s,
            reqwest::Method::POST,
            "/api/v1/sessions/second-factor",
            None,
            Some(json!({ "challenge": body["challenge"], "code": code })),
        )
        .await;
        assert_eq!(status, 201, "second factor {user}: {grant}");
        return grant["token"].as_str().expect("token").to_owned();
    }
    assert_eq!(status, 201, "login {user}: {body}");
    let token = body["token"].as_str().expect("token").to_owned();
    if body["restriction"] == "mfa_enrolment" {
        totp::enrol(s, user, &token).await;
    }
    token
}

/// TOTP for the accounts [`login`] signs in: secrets and last used steps per server and user.
pub mod totp {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::json;

    use super::{Server, api};

    /// `(server base, username)` → `(secret, last used step)`.
    type Secrets = HashMap<(String, String), (Vec<u8>, u64)>;

    static SECRETS: Mutex<Option<Secrets>> = Mutex::new(None);

    fn now_step() -> u64 {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        secs / 30
    }

    fn code(secret: &[u8], step: u64) -> String {
        totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret, step * 30)
    }

    /// Enrols `user` (signed in with `token`, a session restricted to enrolment).
    pub async fn enrol(s: &Server, user: &str, token: &str) {
        let (status, enrolment) = api(
            s,
            reqwest::Method::POST,
            "/api/v1/me/mfa/totp",
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 201, "enrol {user}: {enrolment}");
        let uri = enrolment["otpauth_uri"].as_str().expect("uri");
        let b32 = uri
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("secret="))
            .expect("secret");
        let secret =
            base32::decode(base32::Alphabet::Rfc4648 { padding: false }, b32).expect("base32");
        let step = now_step();
        let (status, body) = api(
            s,
            reqwest::Method::POST,
            "/api/v1/me/mfa/totp/confirm",
            Some(token),
            Some(json!({ "code": code(&secret, step) })),
        )
        .await;
        assert_eq!(status, 200, "confirm {user}: {body}");
        SECRETS
            .lock()
            .expect("lock")
            .get_or_insert_with(HashMap::new)
            .insert((s.base.clone(), user.to_owned()), (secret, step));
    }

    /// A code the server has not seen for `user`: a step of the ±1 skew not yet used, or
    /// the next step once it comes.
    pub async fn next_code(base: &str, user: &str) -> String {
        loop {
            let key = (base.to_owned(), user.to_owned());
            let chosen = {
                let mut guard = SECRETS.lock().expect("lock");
                let map = guard.get_or_insert_with(HashMap::new);
                let (secret, last) = map
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| panic!("{user} has no authenticator here"));
                let step = (last + 1).max(now_step().saturating_sub(1));
                (step <= now_step() + 1).then(|| {
                    map.insert(key, (secret.clone(), step));
                    code(&secret, step)
                })
            };
            match chosen {
                Some(code) => return code,
                None => tokio::time::sleep(std::time::Duration::from_secs(2)).await,
            }
        }
    }
}

/// Uploads `file` with tuspy: with `stop_at`, the first run stops after
/// that many bytes (the client "loses its connection") and a second run
/// resumes from the stored URL. Returns the resource id the upload became.
pub async fn upload(s: &Server, token: &str, file: &Path, stop_at: Option<u64>) -> String {
    upload_with(s, token, file, stop_at, &json!({})).await
}

/// [`upload`] with more `Upload-Metadata` fields (`{"resource_type": "audio"}`, say) beside
/// the file name and title.
pub async fn upload_with(
    s: &Server,
    token: &str,
    file: &Path,
    stop_at: Option<u64>,
    metadata: &Value,
) -> String {
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
            .arg(metadata.to_string())
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
    newest_resource(s, token).await
}

/// The id of the caller's newest resource.
pub async fn newest_resource(s: &Server, token: &str) -> String {
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

/// The resource as the API shows it.
pub async fn resource(s: &Server, token: &str, id: &str) -> Value {
    let (status, body) = api(
        s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls until the resource's job is transcoding (progress above zero).
pub async fn transcoding(s: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let body = resource(s, token, id).await;
        let job = &body["processing"]["job"];
        if job["stage"] == "transcode" && job["percent"].as_f64().is_some_and(|p| p > 0.0) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "never started transcoding: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the resource until processing reaches a final status.
pub async fn processed(s: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let body = resource(s, token, id).await;
        let state = body["processing"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if ["ready", "rejected", "failed"].contains(&state.as_str()) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "still {state} after 240 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Takes a ready resource through the three review levels and publishes it.
pub async fn review_and_publish(s: &Server, producer: &str, id: &str) {
    let review = |level: &'static str| json!({ "level": level, "decision": "approve", "comment": "符合要求" });
    let reviews = format!("/api/v1/resources/{id}/reviews");
    let (st, b) = api(
        s,
        reqwest::Method::POST,
        &reviews,
        Some(producer),
        Some(review("self")),
    )
    .await;
    assert!(st < 300, "self review: {b}");
    let dept = login(s, "dept-reviewer").await;
    let (st, b) = api(
        s,
        reqwest::Method::POST,
        &reviews,
        Some(&dept),
        Some(review("department")),
    )
    .await;
    assert!(st < 300, "department review: {b}");
    let centre = login(s, "centre-reviewer").await;
    let (st, b) = api(
        s,
        reqwest::Method::POST,
        &reviews,
        Some(&centre),
        Some(review("technical")),
    )
    .await;
    assert!(st < 300, "technical review: {b}");
    let (st, b) = api(
        s,
        reqwest::Method::POST,
        &format!("/api/v1/resources/{id}/publish"),
        Some(&centre),
        Some(json!({})),
    )
    .await;
    assert!(st < 300, "publish: {b}");
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    tus_support::sha256_hex(&std::fs::read(path).expect("read"))
}

/// The source file kept for a resource.
pub fn stored_source(data: &Path, resource: &str) -> PathBuf {
    let dir = data.join("sources").join(resource);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a stored source")
}
