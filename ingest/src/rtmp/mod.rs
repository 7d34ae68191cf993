//! RTMP ingest: a publish-only RTMP server (on the `rml_rtmp` sans-IO protocol
//! crate) that checks the stream key through a caller-supplied
//! [`PublishGate`] before any media is accepted, and hands each accepted
//! publish to the caller as a [`LiveSession`] with a bounded channel of
//! typed [`LiveEvent`]s (H.264 config and frames, HEVC config and frames from
//! Enhanced RTMP publishers such as OBS 30+, AAC config and frames, metadata,
//! start and end).
//!
//! - [`server`]: [`RtmpServer::bind`] / [`RtmpServer::run`], the listener
//!   ([`RtmpIngest::listen`] for several, e.g. RTMP and RTMPS, sharing one
//!   registry; [`StreamUpgrade`] puts TLS under a listener);
//!   `connection` drives one client (handshake, gate, events, limits).
//! - [`flv`]: pure parser of FLV tag bodies; [`metadata`]: `onMetaData`.
//! - [`crate::publish`]: the key check contract, the events of a publish
//!   and the one-publisher-per-channel registry, shared with WHIP.
//! - [`config`]: address and limits.
//!
//! Behaviour worth knowing:
//! - One live publisher per channel: a new publish on a live channel
//!   replaces the old one, whose session ends with [`EndReason::Replaced`].
//! - Backpressure: when a session's event channel is full the server stops
//!   reading that publisher's socket, so the encoder is slowed down by TCP;
//!   memory stays bounded and nothing is dropped. Time spent waiting on the
//!   consumer does not count as idle.
//! - A refused publish gets `NetStream.Publish.BadName` with the English
//!   reason, then the connection is closed; no media of it is ever read
//!   into an event (the protocol crate drops media of streams that are not
//!   publishing).
//! - Why `rml_rtmp` and not `scuffle-rtmp`: scuffle-rtmp 0.2 answers
//!   `publish` on message stream 0, which GStreamer's `rtmp2sink` ignores
//!   (it waits for the answer on the publishing stream and gives up).
//! - Stream keys are never logged; logs carry [`key_fingerprint`].

pub mod config;
mod connection;
pub mod flv;
pub mod metadata;
pub mod server;

pub use crate::publish::event::{
    EndReason, LiveEvent, LiveSession, PublishRefused, RtmpNotice, VpxCodec,
};
pub use crate::publish::gate::{PublishGate, PublishRefusal, PublishTicket, key_fingerprint};
pub use config::RtmpConfig;
pub use metadata::StreamMetadata;
pub use server::{Plain, RtmpIngest, RtmpServer, RtmpServerError, StreamUpgrade};
