//! Where the WHIP server listens and what it tolerates.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Settings of the WHIP (WebRTC) ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhipConfig {
    /// The one UDP address every publisher's media arrives on (ICE, DTLS,
    /// SRTP and RTCP multiplexed): one port to open in a firewall.
    pub udp_listen: SocketAddr,
    /// Addresses offered to publishers as host candidates, with the UDP
    /// port (behind NAT: the public address). Empty: the bound address,
    /// which then must not be unspecified.
    pub advertise: Vec<IpAddr>,
    /// Time from the answer until ICE and DTLS are up; a publisher that
    /// has not connected by then is dropped and nothing of it stored.
    pub connect_timeout: Duration,
    /// A connected publisher that sends no media for this long is cut off.
    pub idle_timeout: Duration,
    /// Largest SDP offer accepted, in bytes.
    pub max_offer_bytes: usize,
    /// WHIP publishers connecting or live at once.
    pub max_publishers: usize,
    /// WHIP publishers connecting or live at once from one address.
    pub max_per_address: usize,
    /// WHEP viewers of one channel at once (each gets its own copy of
    /// the source's packets: upload bandwidth is the bound).
    pub max_viewers_per_channel: usize,
    /// WHEP viewers from one address at once (a school behind one NAT
    /// address has many).
    pub max_viewers_per_address: usize,
    /// Events buffered per publish towards the live pipeline; when full,
    /// frames are dropped up to the next keyframe, which is asked for.
    pub event_capacity: usize,
    /// A keyframe is asked of an H.264 publisher this long after the last
    /// (browsers send them only when asked; the passthrough cuts segments
    /// at keyframes): the segment target.
    pub keyframe_every: Duration,
}

impl Default for WhipConfig {
    fn default() -> Self {
        Self {
            udp_listen: SocketAddr::from(([127, 0, 0, 1], 8189)),
            advertise: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_offer_bytes: 64 * 1024,
            max_publishers: 64,
            max_per_address: 4,
            max_viewers_per_channel: 50,
            max_viewers_per_address: 50,
            event_capacity: 512,
            keyframe_every: Duration::from_secs(2),
        }
    }
}
