//! The publish gate of the RTMP server on top of the control plane: splits
//! the publishing name into stream name and key, asks
//! [`PublishAuthorizer::authorize_publish`] (which also records refusals in
//! the channel's event history and the audit log) and turns a denial into
//! a bilingual refusal. Keys are never logged.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use yanxiu_control::ControlPlane;
use yanxiu_control::channels::PublishAuthorizer;
use yanxiu_ingest::rtmp::{PublishGate, PublishRefusal, PublishTicket};

/// Checks stream keys with the control plane.
#[derive(Debug, Clone)]
pub struct ControlGate {
    control: Arc<ControlPlane>,
}

impl ControlGate {
    /// A gate asking `control`.
    pub fn new(control: Arc<ControlPlane>) -> Self {
        Self { control }
    }
}

/// Splits what a publisher sends as the stream name into `(stream name,
/// key)`. OBS sends `name?key=KEY` (the channel's OBS stream-key field);
/// `name?k=KEY`, `name/KEY` and `name?KEY` are taken too.
pub fn split_stream_key(published: &str) -> (&str, &str) {
    if let Some((name, query)) = published.split_once('?') {
        for pair in query.split('&') {
            if let Some(key) = pair
                .strip_prefix("key=")
                .or_else(|| pair.strip_prefix("k="))
            {
                return (name, key);
            }
        }
        if !query.contains('=') {
            return (name, query);
        }
        return (name, "");
    }
    if let Some((name, key)) = published.split_once('/') {
        return (name, key);
    }
    (published, "")
}

#[async_trait]
impl PublishGate for ControlGate {
    async fn authorize(
        &self,
        _app: &str,
        stream_name_or_key: &str,
        peer: SocketAddr,
    ) -> Result<PublishTicket, PublishRefusal> {
        let (name, key) = split_stream_key(stream_name_or_key);
        match self
            .control
            .authorize_publish(name, key, &peer.to_string(), yanxiu_control::now_ms())
            .await
        {
            Ok(grant) => Ok(PublishTicket {
                channel_id: grant.channel_id,
            }),
            Err(denied) => Err(PublishRefusal {
                code: denied.code().to_owned(),
                message_zh: denied.message_zh().to_owned(),
                message_en: denied.message_en().to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_obs_stream_key_field_splits_into_name_and_key() {
        assert_eq!(
            split_stream_key("lecture-7?key=s3cr3t"),
            ("lecture-7", "s3cr3t")
        );
        assert_eq!(
            split_stream_key("lecture-7?foo=1&key=s3cr3t"),
            ("lecture-7", "s3cr3t")
        );
        assert_eq!(split_stream_key("lecture-7?k=abc"), ("lecture-7", "abc"));
        assert_eq!(split_stream_key("lecture-7/abc"), ("lecture-7", "abc"));
        assert_eq!(split_stream_key("lecture-7?abc"), ("lecture-7", "abc"));
        assert_eq!(split_stream_key("lecture-7"), ("lecture-7", ""));
        assert_eq!(split_stream_key("lecture-7?foo=1"), ("lecture-7", ""));
    }
}
