//! yanxiu-control: the control plane of the yanxiu video back end — accounts, roles and
//! separated admin duties, organisation (departments, projects, audiences), live channels,
//! resources and their three-level review, the processing state of their media, the durable
//! job queue of the media workers ([`jobs`]), the hash-chained audit log, playback
//! authorization, and the REST API (`/api/v1`) over all of it.
//!
//! Pure decisions live in modules without IO or clock: [`policy`], [`password`], [`lockout`],
//! [`session_rules`], [`mfa`], [`keyring`] (rotation), [`review_flow`], [`audit_chain`], [`secrets`], [`jobs::rules`],
//! [`resources::processing`], and the pure parts of the live modules ([`publish`],
//! [`channel_events`], [`live_status`], [`recordings`]). The [`ControlPlane`] wraps
//! them with sqlx (SQLite or PostgreSQL through one `Any` pool) and [`http`] exposes it with axum.
//! Times are `i64` milliseconds since the Unix epoch (UTC) everywhere.

pub mod accounts;
pub mod analytics;
pub mod api_tokens;
pub mod audit;
pub mod audit_chain;
pub mod audit_checkpoint;
pub mod audit_guard;
pub mod catalogue;
pub mod channel_events;
pub mod channels;
pub mod complaints;
pub mod config;
pub mod db;
pub mod error;
pub mod feedback;
pub mod first_run;
pub mod http;
pub mod jobs;
pub mod keyring;
pub mod learning;
pub mod live_leases;
pub mod live_status;
pub mod lockout;
pub mod mfa;
pub mod mfa_store;
pub mod org;
pub mod password;
pub mod plane;
pub mod playback;
mod playback_cache;
pub mod policy;
pub mod publish;
pub mod qc_reports;
pub mod recordings;
pub mod resources;
pub mod retention;
pub mod review_flow;
pub mod review_form;
pub mod reviews;
pub mod secrets;
pub mod security;
pub mod session_rules;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod sign_ins;
pub mod upload_rows;

pub use channel_events::{ChannelEvent, ChannelEventKind};
pub use channels::{KeyCheck, PublishAuthorizer, PublishDenied, PublishFacts, PublishGrant};
pub use config::{ControlConfig, Keys, LiveConfig};
pub use error::{ControlError, ControlResult};
pub use http::{AppState, router};
pub use live_status::{ChannelStatusView, LiveInputInfo, LiveStatus, LiveStatusSource};
pub use plane::{Actor, AuditCtx, ControlPlane, Page, PageRequest, Restriction};
pub use policy::{Action, Role, Scope};
pub use recordings::RecordingFacts;

/// The current time in milliseconds since the Unix epoch (UTC). Only the thin layers (HTTP,
/// CLI) read the clock; everything else takes `now` as a parameter.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
