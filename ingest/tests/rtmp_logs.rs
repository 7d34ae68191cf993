//! Stream keys never reach the logs: an accepted and a refused publish (real
//! ffmpeg pushes) are logged at every level with the key's fingerprint only.

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use yanxiu_ingest::rtmp::{
    LiveEvent, PublishGate, PublishRefusal, PublishTicket, RtmpConfig, RtmpNotice, RtmpServer,
    key_fingerprint,
};

const GOOD_KEY: &str = "live_9f3c2a7be1d04c55";
const BAD_KEY: &str = "live_0000deadbeef7777";

struct OneKey;

#[async_trait]
impl PublishGate for OneKey {
    async fn authorize(
        &self,
        _app: &str,
        key: &str,
        _peer: SocketAddr,
    ) -> Result<PublishTicket, PublishRefusal> {
        if key == GOOD_KEY {
            Ok(PublishTicket {
                channel_id: "channel-a".into(),
            })
        } else {
            Err(PublishRefusal {
                code: "unknown_key".into(),
                message_zh: "推流密钥无效".into(),
                message_en: "Unknown stream key".into(),
            })
        }
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn push(addr: SocketAddr, key: &str) -> std::process::ExitStatus {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
        ])
        .args([
            "-c:a",
            "aac",
            "-f",
            "flv",
            &format!("rtmp://{addr}/live/{key}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg must be installed (apt-get install ffmpeg)");
    timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("ffmpeg exits in time")
        .expect("ffmpeg status")
}

#[tokio::test]
async fn stream_keys_never_appear_in_logs_only_their_fingerprints() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let (tx, mut notices) = mpsc::channel(8);
    let config = RtmpConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..RtmpConfig::default()
    };
    let (server, addr) = RtmpServer::bind(config, Arc::new(OneKey), tx)
        .await
        .expect("binds");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(server.run(shutdown.clone()));

    let consumer = tokio::spawn(async move {
        let mut refused = 0;
        let mut ended = 0;
        while let Some(notice) = notices.recv().await {
            match notice {
                RtmpNotice::Refused(_) => refused += 1,
                RtmpNotice::Published(mut session) => {
                    while let Some(event) = session.events.recv().await {
                        if matches!(event, LiveEvent::Ended { .. }) {
                            ended += 1;
                        }
                    }
                }
            }
            if refused == 1 && ended == 1 {
                break;
            }
        }
        (refused, ended)
    });
    assert!(push(addr, GOOD_KEY).await.success());
    assert!(!push(addr, BAD_KEY).await.success());
    let (refused, ended) = timeout(Duration::from_secs(10), consumer)
        .await
        .expect("both publishes reported")
        .expect("consumer task");
    assert_eq!((refused, ended), (1, 1));
    shutdown.cancel();
    server.await.expect("server task");

    let text = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8 logs");
    assert!(
        text.contains("RTMP publish accepted"),
        "the accept is logged:\n{text}"
    );
    assert!(
        text.contains("RTMP publish refused"),
        "the refusal is logged:\n{text}"
    );
    assert!(text.contains(&key_fingerprint(GOOD_KEY)));
    assert!(text.contains(&key_fingerprint(BAD_KEY)));
    assert!(
        !text.contains(GOOD_KEY),
        "the accepted key leaked into the logs"
    );
    assert!(
        !text.contains(BAD_KEY),
        "the refused key leaked into the logs"
    );
}
