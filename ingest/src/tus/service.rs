//! The upload service: the thin async driver around the protocol core and an
//! [`UploadStore`] (the file store by default, or a shared store). It passes request bodies to
//! the store in constant memory, keeps one writer per upload, calls the caller's hooks and
//! purges expired uploads.
//!
//! Concurrency: one request at a time writes to an upload. A second `PATCH` (or a `DELETE`)
//! waits up to [`LOCK_WAIT`] (see [`TusService::with_lock_wait`]) for the first to finish (a
//! client resuming after a dropped connection usually arrives while the server still drains
//! the old one) and then gets 409 `tus.upload_busy`. Within a node an in-process lock orders
//! the requests; across nodes the store's lease does (taken after the in-process lock).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedMutexGuard;

use super::checksum::ChunkHasher;
use super::error::TusError;
use super::hooks::{CompletedUpload, UploadHooks};
use super::protocol::{
    CreationRequest, PatchRequest, UploadChecksum, decide_head, decide_patch, expires_after,
};
use super::store::{ChunkStream, FileStore, Lease, UploadInfo, UploadStore, to_ms};

/// How long a request waits for another request on the same upload to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);
/// A request body that sends nothing for this long is treated as broken off.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub use super::file_store::CHECKPOINT_BYTES;
/// How often a request waiting for another node's lease asks again.
const LEASE_POLL: Duration = Duration::from_millis(200);

/// Configuration of the upload server.
#[derive(Debug, Clone)]
pub struct TusConfig {
    /// Directory holding the uploads of the file store, and the checksummed chunks being
    /// verified (with any store).
    pub dir: PathBuf,
    /// The URL path the routes live at, e.g. `/api/v1/uploads` (no trailing slash).
    pub base_path: String,
    /// The largest accepted `Upload-Length` (`Tus-Max-Size`).
    pub max_size: u64,
    /// How long an unfinished upload lives after its last activity.
    pub expiration: Duration,
}

/// An upload as a response describes it.
#[derive(Debug, Clone)]
pub struct UploadView {
    /// The stored description.
    pub info: UploadInfo,
    /// Extra response headers from the completed hook.
    pub extra_headers: Vec<(String, String)>,
}

/// The tus upload service behind [`router`](super::router()).
pub struct TusService {
    config: TusConfig,
    hooks: Arc<dyn UploadHooks>,
    store: Arc<dyn UploadStore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    lock_wait: Duration,
}

impl std::fmt::Debug for TusService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TusService {
    /// A service storing uploads in `config.dir` (created if missing). Uploads already there
    /// (from before a restart) continue where they stopped.
    pub fn new(config: TusConfig, hooks: Arc<dyn UploadHooks>) -> Result<TusService, TusError> {
        let store = Arc::new(FileStore::open(&config.dir)?);
        Ok(TusService::with_store(config, hooks, store))
    }

    /// A service keeping uploads in `store`; `config.dir` (created if missing) only holds
    /// checksummed chunks while they are verified.
    pub fn with_store(
        config: TusConfig,
        hooks: Arc<dyn UploadHooks>,
        store: Arc<dyn UploadStore>,
    ) -> TusService {
        if let Err(e) = std::fs::create_dir_all(&config.dir) {
            tracing::warn!(error = %e, "cannot create the upload scratch directory");
        }
        TusService {
            config,
            hooks,
            store,
            locks: Mutex::new(HashMap::new()),
            lock_wait: LOCK_WAIT,
        }
    }

    /// Changes how long a request waits for another request on the same upload before it
    /// gets 409 `tus.upload_busy` (default [`LOCK_WAIT`]).
    pub fn with_lock_wait(mut self, wait: Duration) -> TusService {
        self.lock_wait = wait;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TusConfig {
        &self.config
    }

    /// The caller's hooks.
    pub fn hooks(&self) -> &Arc<dyn UploadHooks> {
        &self.hooks
    }

    /// Deletes every unfinished upload whose expiry time is at or before `now` (uploads being
    /// written to are skipped). Returns how many were deleted.
    pub async fn purge_expired(&self, now: SystemTime) -> Result<u64, TusError> {
        let mut purged = 0;
        for id in self.store.expired(now).await? {
            let lock = self.lock_of(&id);
            let Ok(_guard) = lock.try_lock_owned() else {
                continue;
            };
            // Another node writing (or purging) it keeps its lease: skip it this time.
            let Ok(lease) = self.store.acquire(&id, now).await else {
                continue;
            };
            match self.store.load(&id).await? {
                Some(info) if info.state().is_expired(now) => {
                    self.store.remove(&lease).await?;
                    purged += 1;
                }
                _ => self.store.release(&lease).await?,
            }
            self.forget_lock(&id);
        }
        Ok(purged)
    }

    fn lock_of(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Drop locks nobody holds any more, so the map stays as small as the active uploads.
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(id.to_owned()).or_default().clone()
    }

    fn forget_lock(&self, id: &str) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.remove(id);
    }

    /// Takes the in-process lock of `id`, then the store's lease, waiting up to the lock
    /// wait in all.
    async fn lock(&self, id: &str) -> Result<Held, TusError> {
        let deadline = Instant::now() + self.lock_wait;
        let guard = tokio::time::timeout(self.lock_wait, self.lock_of(id).lock_owned())
            .await
            .map_err(|_| TusError::Busy)?;
        loop {
            match self.store.acquire(id, SystemTime::now()).await {
                Ok(lease) => {
                    return Ok(Held {
                        lease,
                        _guard: guard,
                    });
                }
                Err(TusError::Busy) if Instant::now() + LEASE_POLL < deadline => {
                    tokio::time::sleep(LEASE_POLL).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives the store's lease back (the in-process lock goes with `held`).
    async fn unlock(&self, held: Held) {
        if let Err(e) = self.store.release(&held.lease).await {
            tracing::warn!(upload = %held.lease.id, error = %e, "cannot give an upload lease back");
        }
    }

    /// The upload `id` if it exists and belongs to `owner` (404 otherwise).
    async fn owned(&self, owner: &str, id: &str) -> Result<UploadInfo, TusError> {
        match self.store.load(id).await? {
            Some(info) if info.owner == owner => Ok(info),
            _ => Err(TusError::NotFound),
        }
    }

    /// Creates an upload for `owner`; with creation-with-upload, also stores `body`. A body
    /// error does not undo the creation: it is returned beside the view, and the client
    /// resumes from the stored offset.
    pub(crate) async fn create(
        &self,
        owner: String,
        request: CreationRequest,
        body: Body,
    ) -> Result<(UploadView, Option<TusError>), TusError> {
        let now = SystemTime::now();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let info = UploadInfo {
            id: id.clone(),
            owner,
            length: request.length,
            offset: 0,
            metadata: request.metadata,
            created_ms: to_ms(now),
            expires_ms: to_ms(expires_after(now, self.config.expiration)),
            completed: false,
            completion_headers: None,
        };
        self.store.create(&info).await?;
        tracing::info!(upload = %id, length = info.length, "tus upload created");
        let held = self.lock(&id).await?;
        let mut info = info;
        let body_error = if request.with_data {
            self.receive(&held.lease, &mut info, body, request.checksum)
                .await
                .err()
        } else {
            None
        };
        let finished = self.finish(&held.lease, info).await;
        self.unlock(held).await;
        let (view, hook_error) = finished?;
        Ok((view, body_error.or(hook_error)))
    }

    /// The state of an upload for `HEAD`; retries a failed completed hook.
    pub(crate) async fn head(&self, owner: &str, id: &str) -> Result<UploadView, TusError> {
        let info = self.owned(owner, id).await?;
        decide_head(&info.state(), SystemTime::now())?;
        if let (true, Some(headers)) = (info.completed, &info.completion_headers) {
            let extra_headers = headers.clone();
            return Ok(UploadView {
                info,
                extra_headers,
            });
        }
        if !info.state().is_complete() {
            return Ok(UploadView {
                info,
                extra_headers: Vec::new(),
            });
        }
        let held = self.lock(id).await?;
        let finished = match self.owned(owner, id).await {
            Ok(info) => self.finish(&held.lease, info).await,
            Err(e) => Err(e),
        };
        self.unlock(held).await;
        match finished? {
            (view, None) => Ok(view),
            (_, Some(err)) => Err(err),
        }
    }

    /// Appends a `PATCH` body to an upload.
    pub(crate) async fn patch(
        &self,
        owner: &str,
        id: &str,
        request: PatchRequest,
        body: Body,
    ) -> Result<UploadView, TusError> {
        self.owned(owner, id).await?;
        let held = self.lock(id).await?;
        let outcome = self.patch_locked(&held.lease, owner, request, body).await;
        self.unlock(held).await;
        outcome
    }

    async fn patch_locked(
        &self,
        lease: &Lease,
        owner: &str,
        request: PatchRequest,
        body: Body,
    ) -> Result<UploadView, TusError> {
        let mut info = self.owned(owner, &lease.id).await?;
        decide_patch(&info.state(), &request, SystemTime::now())?;
        let received = self.receive(lease, &mut info, body, request.checksum).await;
        let (view, hook_error) = self.finish(lease, info).await?;
        received?;
        match hook_error {
            Some(err) => Err(err),
            None => Ok(view),
        }
    }

    /// Deletes an upload (termination).
    pub(crate) async fn terminate(&self, owner: &str, id: &str) -> Result<(), TusError> {
        self.owned(owner, id).await?;
        let held = self.lock(id).await?;
        if let Err(e) = self.owned(owner, id).await {
            self.unlock(held).await;
            return Err(e);
        }
        // Removing the upload removes its lease with it.
        self.store.remove(&held.lease).await?;
        drop(held);
        self.forget_lock(id);
        tracing::info!(upload = %id, "tus upload terminated");
        Ok(())
    }

    /// Marks a fully received upload complete and runs the completed hook until it succeeds
    /// once. Returns the view and the hook's rejection, if any.
    async fn finish(
        &self,
        lease: &Lease,
        mut info: UploadInfo,
    ) -> Result<(UploadView, Option<TusError>), TusError> {
        if !info.state().is_complete() {
            return Ok((
                UploadView {
                    info,
                    extra_headers: Vec::new(),
                },
                None,
            ));
        }
        if !info.completed {
            info.completed = true;
            self.store.save(lease, &info).await?;
            tracing::info!(upload = %info.id, size = info.length, "tus upload complete");
        }
        if let Some(headers) = &info.completion_headers {
            let extra_headers = headers.clone();
            return Ok((
                UploadView {
                    info,
                    extra_headers,
                },
                None,
            ));
        }
        let completed = CompletedUpload {
            id: info.id.clone(),
            owner: info.owner.clone(),
            bytes: self.store.bytes(&info).await?,
            size: info.length,
            metadata: info.metadata.clone(),
        };
        match self.hooks.completed(completed).await {
            Ok(headers) => {
                // Parts first, then the headers: if this node dies in between, the retried
                // hook finds the resource it made without needing the parts again.
                self.store.settle(lease, &info).await?;
                info.completion_headers = Some(headers.clone());
                self.store.save(lease, &info).await?;
                Ok((
                    UploadView {
                        info,
                        extra_headers: headers,
                    },
                    None,
                ))
            }
            Err(rejection) => {
                tracing::warn!(upload = %info.id, code = %rejection.code, "tus completed hook failed");
                Ok((
                    UploadView {
                        info,
                        extra_headers: Vec::new(),
                    },
                    Some(TusError::Rejected(rejection)),
                ))
            }
        }
    }

    /// Stores a request body at the upload's offset, keeping whatever durably arrived even
    /// when the body breaks off. Refreshes the expiry time when bytes were stored.
    async fn receive(
        &self,
        lease: &Lease,
        info: &mut UploadInfo,
        body: Body,
        checksum: Option<UploadChecksum>,
    ) -> Result<(), TusError> {
        let before = info.offset;
        let result = match checksum {
            None => {
                let room = info.length - info.offset;
                self.store.append(lease, info, limited(body, room)).await
            }
            Some(checksum) => self.receive_checksummed(lease, info, body, checksum).await,
        };
        if info.offset > before {
            info.expires_ms = to_ms(expires_after(SystemTime::now(), self.config.expiration));
            self.store.save(lease, info).await?;
        }
        result
    }

    fn chunk_path(&self, id: &str) -> PathBuf {
        self.config.dir.join(format!("{id}.chunk"))
    }

    async fn receive_checksummed(
        &self,
        lease: &Lease,
        info: &mut UploadInfo,
        body: Body,
        checksum: UploadChecksum,
    ) -> Result<(), TusError> {
        let chunk_path = self.chunk_path(&info.id);
        let result = self
            .receive_verified_chunk(info, body, &checksum, &chunk_path)
            .await;
        let appended = match result {
            Ok(()) => match tokio::fs::File::open(&chunk_path).await {
                Ok(file) => {
                    let chunks = tokio_util::io::ReaderStream::new(file)
                        .map(|r: std::io::Result<Bytes>| r.map_err(TusError::from));
                    self.store.append(lease, info, Box::pin(chunks)).await
                }
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        match tokio::fs::remove_file(&chunk_path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove a checksum chunk"),
        }
        appended
    }

    async fn receive_verified_chunk(
        &self,
        info: &UploadInfo,
        body: Body,
        checksum: &UploadChecksum,
        chunk_path: &std::path::Path,
    ) -> Result<(), TusError> {
        let mut file = tokio::fs::File::create(chunk_path).await?;
        let mut hasher = ChunkHasher::new(checksum.algorithm);
        let mut stream = body.into_data_stream();
        let room = info.length - info.offset;
        let mut received: u64 = 0;
        loop {
            let chunk = match tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(chunk))) => chunk,
                Ok(Some(Err(_))) | Err(_) => return Err(TusError::IncompleteChecksummedBody),
            };
            received += chunk.len() as u64;
            if received > room {
                return Err(TusError::ExceedsLength);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        if hasher.finish() != checksum.digest {
            return Err(TusError::ChecksumMismatch);
        }
        file.sync_data().await?;
        Ok(())
    }
}

/// The in-process lock and the store's lease of one upload.
struct Held {
    lease: Lease,
    _guard: OwnedMutexGuard<()>,
}

/// The state of [`limited`]'s stream.
struct Limited {
    body: axum::body::BodyDataStream,
    room: u64,
    ended: bool,
    pending: Option<TusError>,
}

/// A request body as chunks that fit in `room` bytes: a chunk that goes past it is cut and
/// followed by [`TusError::ExceedsLength`]; a body that breaks off or sends nothing for
/// [`BODY_IDLE_TIMEOUT`] ends with [`TusError::BodyInterrupted`].
fn limited(body: Body, room: u64) -> ChunkStream<'static> {
    let state = Limited {
        body: body.into_data_stream(),
        room,
        ended: false,
        pending: None,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        if let Some(e) = s.pending.take() {
            s.ended = true;
            return Some((Err(e), s));
        }
        if s.ended {
            return None;
        }
        match tokio::time::timeout(BODY_IDLE_TIMEOUT, s.body.next()).await {
            Ok(None) => None,
            Ok(Some(Ok(chunk))) => {
                let len = chunk.len() as u64;
                if len <= s.room {
                    s.room -= len;
                    return Some((Ok(chunk), s));
                }
                let fits = chunk.slice(..usize::try_from(s.room).unwrap_or(usize::MAX));
                s.room = 0;
                s.pending = Some(TusError::ExceedsLength);
                Some((Ok(fits), s))
            }
            Ok(Some(Err(_))) | Err(_) => {
                s.ended = true;
                Some((Err(TusError::BodyInterrupted), s))
            }
        }
    }))
}
