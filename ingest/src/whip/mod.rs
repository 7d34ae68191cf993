//! WHIP ingest (WebRTC-HTTP Ingestion Protocol, RFC 9725): browsers and
//! other WebRTC encoders publish a live channel with one HTTP `POST` of an
//! SDP offer; media then flows over one UDP port.
//!
//! - [`offer`]: pure checks of the offer (shape, media, codecs), with
//!   coded zh-CN / English reasons.
//! - [`video`]: pure assembly of depacketized H.264 / VP8 / VP9 frames
//!   into live events, held back until a keyframe.
//! - [`clock`]: pure mapping of RTP media times onto one millisecond
//!   timeline, audio aligned to video by the sender reports.
//! - [`peer`]: one publisher, sans-IO, on str0m's `Rtc`.
//! - [`server`]: the driver: one UDP socket, the publishers, commands from
//!   the HTTP side; a publish reaches the live service as a
//!   [`LiveSession`](crate::publish::LiveSession) once it is connected.
//! - [`ice_servers`]: STUN/TURN servers for clients, with TURN credentials
//!   minted per request (TURN REST API), for networks that block UDP.
//! - [`error`]: every failure with its status, code and messages.
//!
//! The WebRTC stack is str0m (sans-IO, ICE-lite, DTLS, SRTP, NACK, TWCC,
//! frame depacketizers). The HTTP side checks the stream key with the same
//! [`PublishGate`](crate::publish::PublishGate) as RTMP, so refusals carry
//! the same codes.

pub mod clock;
pub mod config;
pub mod error;
pub(crate) mod guarded;
pub mod ice_servers;
pub mod offer;
pub mod peer;
pub mod server;
pub mod video;

pub use config::WhipConfig;
pub use error::WhipError;
pub use offer::{OfferError, OfferSummary, check_offer};
pub use server::{WhipAnswer, WhipDriver, WhipServer};
