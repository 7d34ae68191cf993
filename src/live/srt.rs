//! SRT ingest in `yanxiu serve`: the `[live] srt_addr` settings and the
//! start of the SRT listener (`yanxiu_ingest::srt`), whose publishes and
//! refusals go to the same router as RTMP's, with the same control-plane
//! gate (so channel stream names and keys work alike over both).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use yanxiu_ingest::publish::PublishGate;
use yanxiu_ingest::rtmp::RtmpNotice;
use yanxiu_ingest::srt::{SrtConfig, SrtServer};

use super::service::LiveService;
use super::settings::LiveSection;

/// The SRT listener settings of `section`; `None` when `srt_addr` is empty.
pub(super) fn srt_config(section: &LiveSection) -> anyhow::Result<Option<SrtConfig>> {
    let addr = section.srt_addr.trim();
    if addr.is_empty() {
        return Ok(None);
    }
    let listen: SocketAddr = addr
        .parse()
        .with_context(|| format!("live.srt_addr {addr:?} is not an address"))?;
    anyhow::ensure!(
        (20..=8000).contains(&section.srt_latency_ms),
        "live.srt_latency_ms must be between 20 and 8000"
    );
    Ok(Some(SrtConfig {
        listen,
        idle_timeout: Duration::from_secs(section.idle_timeout_seconds.max(1)),
        latency: Duration::from_millis(section.srt_latency_ms),
        max_pes_bytes: section.max_message_mib.max(1) << 20,
        max_publishers: section.max_publishers.max(1),
        ..SrtConfig::default()
    }))
}

impl LiveService {
    /// Binds the SRT listener when configured and serves it until the
    /// service stops; the address it listens on.
    pub(super) async fn start_srt(
        self: &Arc<Self>,
        gate: Arc<dyn PublishGate>,
        notices: mpsc::Sender<RtmpNotice>,
    ) -> anyhow::Result<Option<SocketAddr>> {
        let Some(config) = self.settings.srt.clone() else {
            return Ok(None);
        };
        let (server, addr) = SrtServer::bind(config, gate, notices).await?;
        tracing::info!(%addr, "SRT ingest listening (srt://{addr}?streamid=#!::r=<stream name>,k=<key>,m=publish)");
        self.spawn(server.run(self.shutdown.child_token()));
        Ok(Some(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_is_off_unless_an_address_is_set() {
        assert_eq!(srt_config(&LiveSection::default()).unwrap(), None);
        let section = LiveSection {
            srt_addr: "127.0.0.1:9000".into(),
            ..LiveSection::default()
        };
        let config = srt_config(&section).unwrap().expect("on");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.latency, Duration::from_millis(120));
    }

    #[test]
    fn an_unusable_srt_address_or_latency_is_refused_with_the_key_named() {
        for section in [
            LiveSection {
                srt_addr: "nowhere".into(),
                ..LiveSection::default()
            },
            LiveSection {
                srt_addr: "127.0.0.1:9000".into(),
                srt_latency_ms: 0,
                ..LiveSection::default()
            },
        ] {
            let error = format!("{:#}", srt_config(&section).unwrap_err());
            assert!(error.contains("live.srt_"), "{error}");
        }
    }
}
