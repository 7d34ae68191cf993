//! Limits and address of the RTMP ingest listener.

use std::net::SocketAddr;
use std::time::Duration;

/// How the RTMP server listens and what it tolerates from clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// A connection that sends no bytes for this long is cut off. The
    /// protocol crate also gives up on a read that waits longer than 2.5 s,
    /// so values above that have no further effect.
    pub idle_timeout: Duration,
    /// Largest audio, video or data message accepted; a bigger one cuts
    /// the client off. (The protocol crate itself never buffers more than
    /// 10 MB for one message.)
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
            max_message_bytes: 8 * 1024 * 1024,
            max_publishers: 64,
            max_connections: 256,
            event_buffer: 1024,
        }
    }
}
