//! SRT ingest: a publish-only SRT listener (on the pure Rust `srt-tokio`)
//! for classroom recording systems, OBS and ffmpeg. The caller's `streamid`
//! carries channel and key; the [`PublishGate`](crate::publish::PublishGate)
//! is asked on the connection request, before the connection is up, so a
//! refused publish is an SRT rejection and no media of it is ever read.
//! An accepted publish is an MPEG-TS stream (H.264 or HEVC, and AAC in ADTS),
//! reported as a [`LiveSession`](crate::publish::LiveSession) of the same
//! [`LiveEvent`](crate::publish::LiveEvent)s RTMP sends.
//!
//! - [`stream_id`]: which channel and key a `streamid` names (pure).
//! - [`ts`]: MPEG-TS to PES packets (`mpeg2ts-reader`, pure).
//! - [`media`]: PES packets to live events, H.264 avcC, HEVC hvcC and AAC
//!   config (pure); [`hevc`]: HEVC NAL types and the hvcC of a stream's
//!   parameter sets.
//! - [`server`]: the listener, gate, registry and per-publish driver.
//! - [`config`]: address and limits.
//!
//! Behaviour worth knowing:
//! - Same session rules as RTMP: one live publisher per channel (a new one
//!   replaces the old, which ends with `Replaced`), a cap on live channels
//!   (`server_busy`), an idle timeout, `ClientClosed` when the caller
//!   disconnects. Refusals are reported as
//!   [`RtmpNotice::Refused`](crate::publish::event::RtmpNotice) with the
//!   gate's code, the SRT rejection code telling the caller the kind.
//! - HEVC is laddered to H.264 downstream, as from Enhanced RTMP; other
//!   codecs (MPEG-2, AC-3, …) end the publish with `UnsupportedMedia`.
//! - Backpressure: while a session's event channel is full its socket is
//!   not read; SRT drops what its receive buffer cannot hold.
//! - Stream keys are never logged; logs carry the key fingerprint.

pub mod config;
pub mod hevc;
pub mod media;
pub mod server;
pub mod stream_id;
pub mod ts;

pub use config::SrtConfig;
pub use server::{SrtServer, SrtServerError};
pub use stream_id::{PublishRequest, StreamIdError, parse_stream_id};
