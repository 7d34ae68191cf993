//! A TURN server for the tests of clients whose network blocks UDP:
//! Debian's coturn (`turnserver`) on loopback, TCP only (`--no-udp`), with
//! the TURN REST API's shared secret (`use-auth-secret`), relaying to
//! loopback peers. Fails (never skips) when coturn is missing.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::live::require_tool;

/// The shared secret the tests configure on both sides.
pub const TURN_SECRET: &str = "yanxiu-test-turn-secret";

/// A running coturn, killed on drop.
pub struct TurnServer {
    child: Child,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl TurnServer {
    /// The `[live]` keys that hand this server to WebRTC clients.
    pub fn live_config(&self) -> String {
        format!(
            "webrtc_ice_urls = [\"turn:127.0.0.1:{}?transport=tcp\"]\nwebrtc_turn_secret = \"{TURN_SECRET}\"\n",
            self.port
        )
    }

    /// What coturn logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("turn.log")).unwrap_or_default()
    }
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts coturn on a free loopback TCP port and waits until it listens.
pub fn start_turn() -> TurnServer {
    require_tool("turnserver", "--version");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("turn.log");
    let child = Command::new("turnserver")
        .args(["-n", "--no-udp", "--no-tls", "--no-dtls", "--no-cli"])
        .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
        .arg(format!("--listening-port={port}"))
        .args(["--min-port=40000", "--max-port=45000"])
        .args([
            "--use-auth-secret",
            &format!("--static-auth-secret={TURN_SECRET}"),
        ])
        .args([
            "--realm=yanxiu.test",
            "--allow-loopback-peers",
            "--fingerprint",
        ])
        .arg(format!(
            "--pidfile={}",
            dir.path().join("turn.pid").display()
        ))
        .arg(format!("--log-file={}", log.display()))
        .args(["--simple-log", "--verbose"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start turnserver");
    let mut turn = TurnServer {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = turn.child.try_wait() {
            panic!("turnserver exited ({status}): {}", turn.log());
        }
        assert!(
            Instant::now() < deadline,
            "turnserver did not listen: {}",
            turn.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    turn
}
