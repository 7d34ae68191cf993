//! WHEP playback (WebRTC-HTTP Egress Protocol): players that need
//! sub-second latency (interactive Q&A) get the channel's source rendition
//! over WebRTC, with no re-encode; HLS stays the default for everyone else.
//!
//! - [`feed`]: the channel's source as WebRTC frames (pure conversion),
//!   fanned out through a bounded broadcast channel per channel.
//! - [`viewer`]: one viewer, sans-IO, on str0m's `Rtc` (send-only).
//! - [`viewers`]: admission, per-channel subscriptions and the viewers'
//!   datagrams, for the WebRTC driver in [`crate::whip::server`], which
//!   serves publishers and viewers on one UDP socket.
//! - [`error`]: every failure with its status, code and messages.
//!
//! Authorization is the caller's: the HTTP side applies the same playback
//! authorization as `/live/…` before it asks for an answer.

pub mod error;
pub mod feed;
pub mod viewer;
pub mod viewers;

pub use error::WhepError;
pub use feed::{FeedConverter, FeedFrame, FeedMedia, FeedVideoCodec, LiveFeed, LiveFeeds};
pub use viewers::{ViewerLimits, Viewers};

/// An accepted WHEP offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhepAnswer {
    /// The playback session (the WHEP resource's id).
    pub session_id: uuid::Uuid,
    /// The SDP answer.
    pub sdp: String,
}
