//! Where uploads are kept: the [`UploadStore`] trait the service drives (create, load, take
//! and give back the write lease, append a body at the durable offset, save, hand the bytes
//! to the completed hook, delete, list expired), and [`UploadInfo`], the description of one
//! upload. Two implementations: [`FileStore`](super::file_store::FileStore) (one node's disk,
//! the embedded default) and the shared store of `yanxiu serve` (state in the database, bytes
//! in object storage). The `offset` of an upload is always the number of bytes known to be
//! durable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};

use super::error::TusError;
use super::protocol::UploadState;

pub use super::file_store::FileStore;

/// The stored description of one upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    /// The upload id (32 lowercase hex digits).
    pub id: String,
    /// The owner id returned by the authorize hook at creation.
    pub owner: String,
    /// `Upload-Length`.
    pub length: u64,
    /// Bytes durably received.
    pub offset: u64,
    /// Decoded `Upload-Metadata`.
    pub metadata: BTreeMap<String, String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Expiry time of the unfinished upload, milliseconds since the Unix epoch.
    pub expires_ms: u64,
    /// Every byte has arrived and is durable.
    pub completed: bool,
    /// The headers returned by the completed hook once it succeeded (`None` until then).
    #[serde(default)]
    pub completion_headers: Option<Vec<(String, String)>>,
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

impl UploadInfo {
    /// The view the protocol decisions need.
    pub fn state(&self) -> UploadState {
        UploadState {
            length: self.length,
            offset: self.offset,
            expires: from_ms(self.expires_ms),
        }
    }
}

/// Whether `id` looks like an id this store made (so it can never name another path).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A request body as the service hands it to a store: chunks that fit in the upload, then
/// possibly the error that ended the body (broken off, past `Upload-Length`).
pub type ChunkStream<'a> = Pin<Box<dyn Stream<Item = Result<Bytes, TusError>> + Send + 'a>>;

/// The right to write one upload, held by one request at a time (across nodes for a shared
/// store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The upload.
    pub id: String,
    /// Names the holder (empty for a store whose in-process lock is enough).
    pub token: String,
}

/// Where the complete bytes of an upload are, for the completed hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadBytes {
    /// One file on this node's disk.
    File(PathBuf),
    /// Part objects in the media storage, in order (join them with `Storage::concat`).
    Parts(Vec<String>),
}

/// A place that keeps uploads: the service's only way to their state and bytes.
#[async_trait::async_trait]
pub trait UploadStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a new, empty upload.
    async fn create(&self, info: &UploadInfo) -> Result<(), TusError>;

    /// The description of `id` (`None` if there is no such upload).
    async fn load(&self, id: &str) -> Result<Option<UploadInfo>, TusError>;

    /// Takes the write lease of `id` at `now`; [`TusError::Busy`] when another request (on
    /// any node) holds it. The service holds its in-process lock around this.
    async fn acquire(&self, id: &str, now: SystemTime) -> Result<Lease, TusError>;

    /// Gives the lease back.
    async fn release(&self, lease: &Lease) -> Result<(), TusError>;

    /// Appends `body` at `info.offset`. `info.offset` follows the bytes made durable, also
    /// when the body ends with an error (which is returned after what arrived is kept).
    async fn append(
        &self,
        lease: &Lease,
        info: &mut UploadInfo,
        body: ChunkStream<'_>,
    ) -> Result<(), TusError>;

    /// Saves the description's expiry, completion flag and completion headers (and the
    /// offset, where the store does not save it while appending).
    async fn save(&self, lease: &Lease, info: &UploadInfo) -> Result<(), TusError>;

    /// Where the bytes of the complete upload are.
    async fn bytes(&self, info: &UploadInfo) -> Result<UploadBytes, TusError>;

    /// Called once the completed hook succeeded: frees what only the hook needed (the shared
    /// store's part objects). The description stays, so `HEAD` keeps answering.
    async fn settle(&self, lease: &Lease, info: &UploadInfo) -> Result<(), TusError>;

    /// Deletes every trace of the upload (the lease's holder only).
    async fn remove(&self, lease: &Lease) -> Result<(), TusError>;

    /// The ids of unfinished uploads expired at `now`.
    async fn expired(&self, now: SystemTime) -> Result<Vec<String>, TusError>;
}
