//! Limits and address of the RTMP ingest listener.

use std::net::SocketAddr;
use std::time::Duration;

/// How the RTMP server listens and what it tolerates from clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// A connection that sends no bytes for this long is cut off, and so
    /// is one that does not take our responses for this long. Time spent
    /// waiting on a slow consumer of the events does not count. It is also
    /// how long the [`PublishGate`](super::PublishGate) may take to answer.
    pub idle_timeout: Duration,
    /// A connection must have its publish accepted within this time of
    /// connecting (handshake, connect, publish); otherwise it is cut off,
    /// so trickling clients cannot hold connection slots.
    pub publish_deadline: Duration,
    /// Largest audio or video message accepted; a bigger one cuts the
    /// client off. (RTMP message lengths are 24-bit, so the protocol crate
    /// never assembles more than 16 MiB for one message.)
    pub max_message_bytes: usize,
    /// How many channels may be live at once. Replacing the publisher of a
    /// live channel does not count as a new one.
    pub max_publishers: usize,
    /// How many TCP connections may be open at once (publishers, encoders
    /// reconnecting, clients still in handshake); more are closed at once.
    pub max_connections: usize,
    /// Capacity of each session's event channel. When it is full the
    /// session stops reading its socket until the consumer catches up, so
    /// the publisher is slowed by TCP backpressure; memory stays bounded.
    pub event_buffer: usize,
}

impl Default for RtmpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 1935)),
            idle_timeout: Duration::from_secs(10),
            publish_deadline: Duration::from_secs(15),
            max_message_bytes: 8 * 1024 * 1024,
            max_publishers: 64,
            max_connections: 256,
            event_buffer: 1024,
        }
    }
}
