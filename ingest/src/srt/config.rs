//! Limits and address of the SRT ingest listener.

use std::net::SocketAddr;
use std::time::Duration;

/// How the SRT server listens and what it tolerates from callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtConfig {
    /// UDP address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// A publish that delivers no data for this long is ended
    /// ([`EndReason::Idle`](crate::publish::EndReason::Idle)). Time spent
    /// waiting on a slow consumer does not count. It is also how long the
    /// [`PublishGate`](crate::publish::PublishGate) may take to answer.
    pub idle_timeout: Duration,
    /// SRT receive latency (the time SRT may spend repairing losses).
    pub latency: Duration,
    /// Largest PES packet (one video access unit) accepted; a bigger one
    /// ends the publish.
    pub max_pes_bytes: usize,
    /// How many channels may be live over SRT at once. Replacing the
    /// publisher of a live channel does not count as a new one.
    pub max_publishers: usize,
    /// Capacity of each session's event channel. When it is full the
    /// session stops reading its socket until the consumer catches up.
    pub event_buffer: usize,
}

impl Default for SrtConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            idle_timeout: Duration::from_secs(10),
            latency: Duration::from_millis(120),
            max_pes_bytes: 8 * 1024 * 1024,
            max_publishers: 64,
            event_buffer: 1024,
        }
    }
}
