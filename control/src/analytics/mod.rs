//! Viewing analytics: the playback events players report (`POST /api/v1/playback/events`,
//! authorized by the playback token), folded into playbacks and learners' progress, and the
//! viewing figures built from them (views, unique viewers, watch time, completion, peak
//! concurrent viewers) per resource, channel, department and period, as JSON and CSV.
//!
//! Pure parts (no IO, no clock): [`events`] (the request and its checks), [`intervals`]
//! (watched stretches as a union), [`session`] (folding events into a playback),
//! [`ratelimit`], [`cache`], [`report`] (aggregation), [`csv`] and the selection of the
//! [`lowuse`] report. The async parts: the intake
//! and its group-commit writer (`ingest`), the rows (`store`) and the scoped reports
//! ([`queries`]).

pub mod cache;
pub mod config;
pub mod csv;
pub mod events;
mod ingest;
pub mod intervals;
pub mod lowuse;
pub mod queries;
pub mod ratelimit;
pub mod report;
pub mod session;
pub(crate) mod store;

pub use config::LearningConfig;
pub use ingest::{Analytics, LearningReceipt, Receipt};
