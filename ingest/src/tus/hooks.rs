//! What the caller plugs into the upload server: who may upload ([`UploadHooks::authorize`]) and
//! what happens to a finished upload ([`UploadHooks::completed`]). The ingest crate knows
//! nothing of users or resources; the `yanxiu serve` binary wires the control plane in here.

use std::collections::BTreeMap;

use axum::http::HeaderMap;

/// A refusal from the caller's hooks, sent to the client as
/// `{"error":{"code","message"}}` with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRejection {
    /// HTTP status code (e.g. 401, 403, 422).
    pub status: u16,
    /// Stable machine-readable code (e.g. `auth.unauthenticated`).
    pub code: String,
    /// Message in zh-CN.
    pub message_zh: String,
    /// Message in English.
    pub message_en: String,
}

/// A finished upload: every byte has arrived and is durable where `bytes` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedUpload {
    /// The upload id (the last segment of its URL).
    pub id: String,
    /// The owner returned by [`UploadHooks::authorize`] when the upload was created.
    pub owner: String,
    /// Where the uploaded bytes are (a file, or part objects to join).
    pub bytes: super::store::UploadBytes,
    /// Its size in bytes (= `Upload-Length`).
    pub size: u64,
    /// The decoded `Upload-Metadata` (e.g. `filename`, `title`).
    pub metadata: BTreeMap<String, String>,
}

/// The caller's part of the upload server.
#[async_trait::async_trait]
pub trait UploadHooks: Send + Sync + 'static {
    /// Authenticates and authorizes a request (e.g. from its Bearer token): `Ok(owner id)` or a
    /// rejection. Called for every request except `OPTIONS`; uploads are scoped to their owner.
    async fn authorize(&self, headers: &HeaderMap) -> Result<String, HookRejection>;

    /// Called once when the last byte has arrived and is durable, while the upload is locked
    /// (so never twice at the same time for one upload). The returned pairs are sent as extra
    /// response headers (e.g. `Yanxiu-Resource-Id`) and remembered: every later `HEAD` repeats
    /// them. An `Err` is sent to the client; the upload stays complete on disk and the hook is
    /// called again on the next `HEAD` (or zero-length `PATCH`) until it succeeds.
    async fn completed(
        &self,
        upload: CompletedUpload,
    ) -> Result<Vec<(String, String)>, HookRejection>;
}
