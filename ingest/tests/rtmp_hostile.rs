//! Hostile bytes against the RTMP server: the inputs that make the protocol
//! crate (`rml_rtmp` 0.8) panic, found by the fuzz targets and kept in
//! `fuzz/regressions/`, are sent over real TCP connections. Each must end
//! only its own connection (a publish it had opened ends with a protocol
//! error and frees its channel), and the server must go on serving: a real
//! ffmpeg publish on the same channel works afterwards.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use yanxiu_ingest::rtmp::{
    EndReason, LiveEvent, PublishGate, PublishRefusal, PublishTicket, RtmpConfig, RtmpNotice,
    RtmpServer,
};

/// Accepts every non-empty key, on one channel (so a later publish would
/// be refused as busy if a crashed connection kept its slot).
struct AnyKey;

#[async_trait]
impl PublishGate for AnyKey {
    async fn authorize(
        &self,
        _app: &str,
        key: &str,
        _peer: SocketAddr,
    ) -> Result<PublishTicket, PublishRefusal> {
        if key.is_empty() {
            return Err(PublishRefusal {
                code: "unknown_key".into(),
                message_zh: "推流密钥无效".into(),
                message_en: "Unknown stream key".into(),
            });
        }
        Ok(PublishTicket {
            channel_id: "the-channel".into(),
        })
    }
}

/// The reads of a regression input: 16-bit big-endian length, then bytes.
fn reads(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut rest = data.as_slice();
    let mut out = Vec::new();
    while let Some((length, tail)) = rest.split_first_chunk::<2>() {
        let length = usize::from(u16::from_be_bytes(*length)).min(tail.len());
        let (read, tail) = tail.split_at(length);
        if !read.is_empty() {
            out.push(read.to_vec());
        }
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {dir:?}");
    files
}

/// A client handshake over `stream`.
async fn client_handshake(stream: &mut TcpStream) {
    let mut client = Handshake::new(PeerType::Client);
    let c0_c1 = client.generate_outbound_p0_and_p1().expect("C0+C1");
    stream.write_all(&c0_c1).await.expect("send C0+C1");
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read S0+S1+S2");
        assert!(n > 0, "the server closed during the handshake");
        match client.process_bytes(&buf[..n]).expect("client handshake") {
            HandshakeProcessResult::InProgress { response_bytes } => {
                stream.write_all(&response_bytes).await.expect("send")
            }
            HandshakeProcessResult::Completed { response_bytes, .. } => {
                stream.write_all(&response_bytes).await.expect("send C2");
                return;
            }
        }
    }
}

/// Sends `input` and waits for the server to close the connection.
async fn send_and_expect_close(addr: SocketAddr, handshake_first: bool, input: &[Vec<u8>]) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    if handshake_first {
        client_handshake(&mut stream).await;
    }
    for read in input {
        if stream.write_all(read).await.is_err() {
            break; // already closed by the server
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut sink = vec![0u8; 65536];
    let closed = timeout(Duration::from_secs(15), async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server did not close the hostile connection"
    );
}

/// A publish opened by hostile input must end, with a protocol error.
async fn publishes_end_with_protocol_errors(notices: &mut mpsc::Receiver<RtmpNotice>) {
    while let Ok(notice) = notices.try_recv() {
        let RtmpNotice::Published(mut session) = notice else {
            continue;
        };
        let ended = timeout(Duration::from_secs(10), async {
            while let Some(event) = session.events.recv().await {
                if let LiveEvent::Ended { reason } = event {
                    return Some(reason);
                }
            }
            None
        })
        .await
        .expect("the hostile publish ends");
        assert!(
            matches!(ended, Some(EndReason::Protocol(_))),
            "hostile publish ended with {ended:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_that_panic_the_protocol_crate_end_only_their_connection() {
    let (tx, mut notices) = mpsc::channel(16);
    let config = RtmpConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_publishers: 1,
        idle_timeout: Duration::from_secs(3),
        ..RtmpConfig::default()
    };
    let (server, addr) = RtmpServer::bind(config, Arc::new(AnyKey), tx)
        .await
        .expect("binds");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(server.run(shutdown.clone()));

    for (target, handshake_first) in [
        ("rtmp_server_session", false),
        ("rtmp_server_session_after_handshake", true),
    ] {
        for file in regressions(target) {
            send_and_expect_close(addr, handshake_first, &reads(&file)).await;
            publishes_end_with_protocol_errors(&mut notices).await;
        }
    }

    // The server still serves, and the one channel slot is free again.
    let mut ffmpeg = tokio::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
        ])
        .args([
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
        ])
        .args(["-pix_fmt", "yuv420p", "-f", "flv"])
        .arg(format!("rtmp://{addr}/live/after-the-attack"))
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg must be installed (apt-get install ffmpeg)");
    let mut session = match timeout(Duration::from_secs(15), notices.recv()).await {
        Ok(Some(RtmpNotice::Published(session))) => session,
        Ok(Some(RtmpNotice::Refused(refused))) => panic!("refused: {refused:?}"),
        other => panic!("no publish after the hostile inputs: {other:?}"),
    };
    let mut frames = 0;
    while let Ok(Some(event)) = timeout(Duration::from_secs(10), session.events.recv()).await {
        match event {
            LiveEvent::Video { .. } => frames += 1,
            LiveEvent::Ended { .. } => break,
            _ => {}
        }
    }
    assert!(
        frames >= 30,
        "only {frames} frames after the hostile inputs"
    );
    let status = ffmpeg.wait().await.expect("ffmpeg exits");
    assert!(status.success(), "ffmpeg: {status}");
    shutdown.cancel();
    server.await.expect("server stops");
}
