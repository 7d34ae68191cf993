//! yanxiu-ingest: reads uploaded media and checks it against the
//! platform's technical rules before anything is transcoded or reviewed.
//!
//! - [`probe`] reads a file with libavformat, bounded in bytes, media time
//!   and wall-clock time, into a [`MediaReport`] (or a [`ProbeError`]).
//! - [`policy`] holds the rules as data ([`Policy`], TOML), with the
//!   default for lecture video.
//! - [`validate`](mod@validate) checks a report against a policy, pure, reporting every
//!   broken rule with a stable code and zh-CN / English messages.
//! - [`output`] and [`render`] turn the result into JSON or text for
//!   `yanxiu probe`; [`messages`] is the bilingual message catalogue.
//! - [`geometry`], [`classify`] and [`units`] are the pure helpers behind
//!   the report (display size, rotation, container family, frame-rate
//!   variability, human-readable quantities).
//! - [`captions`] reads caption files (WebVTT, SubRip), checks them against
//!   the media and normalises them to WebVTT, pure.
//! - [`tus`] is the tus 1.0.0 resumable upload server (axum router, file
//!   store, caller-supplied hooks for authorization and completion).
//! - [`fetch`] imports a file by link (http(s) only, size cap, timeouts,
//!   non-public addresses refused unless allowed).
//! - [`publish`] is what live ingest protocols share: the publish gate,
//!   the typed events of a publish, one publisher per channel.
//! - [`rtmp`] is the RTMP publish server for live channels (stream key
//!   checked by a caller-supplied gate before media flows, typed H.264/AAC
//!   events on bounded channels, reconnect replaces the old publisher).
//! - [`srt`] is the SRT publish listener (streamid names channel and key,
//!   the same gate, MPEG-TS H.264/AAC demuxed into the same events).
//! - [`whip`] is the WebRTC-HTTP ingest (RFC 9725) for browsers: the same
//!   gate and events, H.264 / VP8 / VP9 and Opus over one UDP port.

pub mod captions;
pub mod classify;
pub mod fetch;
pub mod geometry;
pub mod messages;
pub mod output;
pub mod policy;
pub mod probe;
pub mod publish;
pub mod render;
pub mod report;
pub mod rtmp;
pub mod srt;
pub mod tus;
pub mod units;
pub mod validate;
pub mod whep;
pub mod whip;

pub use messages::{Lang, ViolationCode};
pub use output::{EXIT_ACCEPTED, EXIT_REJECTED, EXIT_UNREADABLE, ErrorReport, ProbeOutput};
pub use policy::{Policy, PolicyError};
pub use probe::{ProbeError, ProbeLimits, UnreadableReason, probe_file};
pub use report::{
    AudioInfo, FieldOrder, HdrKind, IdetCounts, MediaReport, Scan, StreamKind, StreamReport,
    VideoInfo, VideoSignal,
};
pub use validate::{Validation, Violation, validate};
