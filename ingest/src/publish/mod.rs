//! What every live ingest protocol shares: the publish gate (the caller's
//! stream-key check, asked before any media is accepted), the typed events
//! of an accepted publish on a bounded channel, and the registry that keeps
//! one publisher per channel with a cap on live channels.
//!
//! - [`gate`]: [`PublishGate`], [`PublishTicket`], [`PublishRefusal`], and
//!   the key fingerprint logs carry instead of keys.
//! - [`event`]: [`LiveSession`] and its [`LiveEvent`]s.
//! - `registry`: one live publisher per channel, pure bookkeeping.
//!
//! The RTMP server ([`crate::rtmp`]) and the WHIP server ([`crate::whip`])
//! both report accepted publishes as [`LiveSession`]s, so the live service
//! downstream treats them alike (takeover, reconnect window, one session).

pub mod event;
pub mod gate;
pub(crate) mod registry;

pub use event::{EndReason, LiveEvent, LiveSession, PublishRefused, VpxCodec};
pub use gate::{PublishGate, PublishRefusal, PublishTicket, key_fingerprint};
