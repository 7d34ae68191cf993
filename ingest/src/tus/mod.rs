//! A tus 1.0.0 resumable upload server (core, creation, creation-with-upload, termination,
//! checksum, expiration) as an axum router.
//!
//! - [`protocol`]: the pure core — header parsing and the decision for each request.
//! - [`store`]: the [`UploadStore`] trait (state and bytes of uploads, durable offsets);
//!   [`file_store`]: `{dir}/{id}.bin` + `{id}.json` on one node's disk; [`parts`]: the pure
//!   part arithmetic of a store keeping the bytes as fixed-size objects.
//! - [`service`]: [`TusService`], the async driver (streaming, locking, hooks, expiry).
//! - [`router()`]: the HTTP routes with CORS; [`hooks`]: what the caller plugs in
//!   ([`UploadHooks`]: authorization and completion).
//! - [`error`]: [`TusError`] with status, stable code and zh-CN / English messages.

pub mod checksum;
pub mod error;
pub mod file_store;
pub mod hooks;
pub mod parts;
pub mod protocol;
pub mod router;
pub mod service;
pub mod store;

pub use error::TusError;
pub use hooks::{CompletedUpload, HookRejection, UploadHooks};
pub use router::router;
pub use service::{TusConfig, TusService};
pub use store::{ChunkStream, Lease, UploadBytes, UploadInfo, UploadStore};
