//! The publish gate: the caller's check of a stream key, asked before any
//! media of a publish is accepted. The ingest crate knows nothing of users or
//! channels; the control plane implements [`PublishGate`].

use std::net::SocketAddr;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// What an accepted publish is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishTicket {
    /// The channel the stream key belongs to.
    pub channel_id: String,
}

/// Why a publish was refused; the messages are for people (logs, the
/// channel's event history) in zh-CN and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRefusal {
    /// Stable machine code, e.g. `unknown_key`, `key_rotated`, `out_of_schedule`.
    pub code: String,
    /// Reason in Simplified Chinese.
    pub message_zh: String,
    /// Reason in English.
    pub message_en: String,
}

impl PublishRefusal {
    /// Code used by the server itself when too many channels are live.
    pub const SERVER_BUSY: &'static str = "server_busy";
    /// Code used by the server itself when the gate does not answer in time.
    pub const GATE_TIMEOUT: &'static str = "gate_timeout";

    /// The refusal the server gives when the gate does not answer within
    /// the idle timeout (e.g. the control plane is unreachable).
    pub fn gate_timeout() -> Self {
        Self {
            code: Self::GATE_TIMEOUT.into(),
            message_zh: "暂时无法验证推流密钥，请稍后重试".into(),
            message_en: "The stream key could not be checked in time; try again shortly".into(),
        }
    }

    /// The refusal the server gives when `max_publishers` channels are live.
    pub fn server_busy() -> Self {
        Self {
            code: Self::SERVER_BUSY.into(),
            message_zh: "直播服务器已达到同时推流的上限，请稍后再试".into(),
            message_en:
                "The live server has reached its limit of simultaneous streams; try again later"
                    .into(),
        }
    }
}

/// Decides whether a publish may go ahead. Called once per `publish`
/// command, before the server answers it; nothing of the stream is
/// accepted until it returns a ticket.
#[async_trait]
pub trait PublishGate: Send + Sync {
    /// `app` is the application part of the RTMP URL (`live` in
    /// `rtmp://host/live/KEY`), `stream_name_or_key` the publishing name as
    /// sent (query string included), `peer` the client's address.
    async fn authorize(
        &self,
        app: &str,
        stream_name_or_key: &str,
        peer: SocketAddr,
    ) -> Result<PublishTicket, PublishRefusal>;
}

/// A short, non-reversible tag of a stream key for logs: the first 8 hex
/// digits of its SHA-256. Never log the key itself.
pub fn key_fingerprint(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_fingerprint_is_short_stable_and_does_not_contain_the_key() {
        let tag = key_fingerprint("live_secret_key_123");
        assert_eq!(tag.len(), 8);
        assert_eq!(tag, key_fingerprint("live_secret_key_123"));
        assert_ne!(tag, key_fingerprint("live_secret_key_124"));
        assert!(!tag.contains("secret"));
    }

    #[test]
    fn server_refusals_are_bilingual() {
        for (refusal, code) in [
            (PublishRefusal::server_busy(), "server_busy"),
            (PublishRefusal::gate_timeout(), "gate_timeout"),
        ] {
            assert_eq!(refusal.code, code);
            assert!(!refusal.message_zh.is_empty() && !refusal.message_en.is_empty());
        }
    }
}
