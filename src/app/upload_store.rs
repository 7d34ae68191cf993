//! The shared upload store (`[uploads] store = "storage"`): every `serve` node can take any
//! request of any upload. The state of an upload is a row in the database
//! ([`yanxiu_control::upload_rows`]); its bytes are part objects in the media storage,
//! `uploads/{id}/parts/{index:06}`, each `part_size` bytes but the last (see
//! [`yanxiu_ingest::tus::parts`]). A `PATCH` reads the trailing partial part back, extends it
//! with the body, writes every part once it is full (and the trailing one at the end), and
//! advances the row's offset only after a part object is durably written: the offset is
//! always the number of durable bytes. The write lease is the row's `lease_token`, compared
//! and set, renewed while a body streams; a node that lost it changes nothing more. On
//! completion the upload hook joins the parts into the source object
//! (`Storage::concat`), and [`UploadStore::settle`] removes them.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use yanxiu_control::upload_rows::{UploadRow, UploadRowError, UploadRows};
use yanxiu_ingest::tus::parts::{PartCursor, part_key, part_keys, parts_prefix, upload_prefix};
use yanxiu_ingest::tus::store::{is_valid_id, to_ms};
use yanxiu_ingest::tus::{ChunkStream, Lease, TusError, UploadBytes, UploadInfo, UploadStore};
use yanxiu_packager::storage::{PutOptions, Storage, StorageError};

/// How long a write lease lasts without renewal. A node that dies while writing blocks the
/// upload for at most this long; a live node renews it while the body streams.
pub const LEASE: Duration = Duration::from_secs(120);
/// How many expired uploads one sweep removes at most.
const SWEEP_BATCH: i64 = 500;

/// Upload state in the database, bytes in object storage.
#[derive(Debug, Clone)]
pub struct SharedUploadStore {
    rows: UploadRows,
    storage: Arc<dyn Storage>,
    part_size: u64,
    lease: Duration,
}

fn row_failed(e: UploadRowError) -> TusError {
    TusError::Storage(std::io::Error::other(e.to_string()))
}

fn storage_failed(e: StorageError) -> TusError {
    TusError::Storage(std::io::Error::other(e.to_string()))
}

fn ms(time: SystemTime) -> i64 {
    i64::try_from(to_ms(time)).unwrap_or(i64::MAX)
}

fn info_of(row: UploadRow) -> UploadInfo {
    UploadInfo {
        id: row.id,
        owner: row.owner,
        length: row.length,
        offset: row.offset,
        metadata: row.metadata,
        created_ms: u64::try_from(row.created_ms).unwrap_or(0),
        expires_ms: u64::try_from(row.expires_ms).unwrap_or(0),
        completed: row.completed,
        completion_headers: row.completion_headers,
    }
}

impl SharedUploadStore {
    /// A store writing new uploads in parts of `part_size` bytes (uploads keep the part size
    /// they were created with).
    pub fn new(rows: UploadRows, storage: Arc<dyn Storage>, part_size: u64) -> SharedUploadStore {
        SharedUploadStore {
            rows,
            storage,
            part_size: part_size.max(1),
            lease: LEASE,
        }
    }

    /// Changes the lease duration (tests).
    #[cfg(test)]
    pub fn with_lease(mut self, lease: Duration) -> SharedUploadStore {
        self.lease = lease;
        self
    }

    fn lease_until(&self) -> i64 {
        ms(SystemTime::now() + self.lease)
    }

    async fn row(&self, id: &str) -> Result<UploadRow, TusError> {
        self.rows
            .get(id)
            .await
            .map_err(row_failed)?
            .ok_or(TusError::NotFound)
    }

    /// Writes one part and moves the offset to its end; [`TusError::Busy`] when the lease was
    /// lost meanwhile.
    async fn write_part(
        &self,
        lease: &Lease,
        info: &mut UploadInfo,
        cursor: &PartCursor,
        body: Bytes,
    ) -> Result<(), TusError> {
        let key = part_key(&info.id, cursor.index);
        let to = cursor.offset_after(body.len() as u64);
        self.storage
            .put(&key, body, &PutOptions::for_key(&key))
            .await
            .map_err(storage_failed)?;
        let advanced = self
            .rows
            .advance(&info.id, &lease.token, info.offset, to, self.lease_until())
            .await
            .map_err(row_failed)?;
        if !advanced {
            tracing::warn!(upload = %info.id, "upload lease lost while writing");
            return Err(TusError::Busy);
        }
        info.offset = to;
        Ok(())
    }

    /// The bytes of the trailing partial part that are durable (none at a part boundary).
    async fn trailing(&self, id: &str, cursor: &PartCursor) -> Result<BytesMut, TusError> {
        let mut buffer = BytesMut::with_capacity(usize::try_from(cursor.part_size).unwrap_or(0));
        if cursor.durable == 0 {
            return Ok(buffer);
        }
        let stored = self
            .storage
            .get(&part_key(id, cursor.index))
            .await
            .map_err(storage_failed)?;
        let durable = usize::try_from(cursor.durable).unwrap_or(usize::MAX);
        let Some(bytes) = stored.get(..durable) else {
            return Err(TusError::CorruptInfo(format!(
                "part {} of upload {id} is shorter than its durable bytes",
                cursor.index
            )));
        };
        buffer.extend_from_slice(bytes);
        Ok(buffer)
    }
}

#[async_trait::async_trait]
impl UploadStore for SharedUploadStore {
    async fn create(&self, info: &UploadInfo) -> Result<(), TusError> {
        let row = UploadRow {
            id: info.id.clone(),
            owner: info.owner.clone(),
            length: info.length,
            offset: info.offset,
            part_size: self.part_size,
            metadata: info.metadata.clone(),
            created_ms: i64::try_from(info.created_ms).unwrap_or(i64::MAX),
            expires_ms: i64::try_from(info.expires_ms).unwrap_or(i64::MAX),
            completed: false,
            completion_headers: None,
            resource_id: None,
        };
        self.rows.insert(&row).await.map_err(row_failed)
    }

    async fn load(&self, id: &str) -> Result<Option<UploadInfo>, TusError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let row = self.rows.get(id).await.map_err(row_failed)?;
        Ok(row.map(info_of))
    }

    async fn acquire(&self, id: &str, now: SystemTime) -> Result<Lease, TusError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let until = ms(now + self.lease);
        let taken = self
            .rows
            .acquire(id, &token, until, ms(now))
            .await
            .map_err(row_failed)?;
        if taken {
            return Ok(Lease {
                id: id.to_owned(),
                token,
            });
        }
        match self.rows.get(id).await.map_err(row_failed)? {
            Some(_) => Err(TusError::Busy),
            None => Err(TusError::NotFound),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), TusError> {
        self.rows
            .release(&lease.id, &lease.token)
            .await
            .map_err(row_failed)
    }

    async fn append(
        &self,
        lease: &Lease,
        info: &mut UploadInfo,
        mut body: ChunkStream<'_>,
    ) -> Result<(), TusError> {
        let row = self.row(&info.id).await?;
        let mut cursor = PartCursor::at(info.offset, row.part_size);
        let mut buffer = self.trailing(&info.id, &cursor).await?;
        let mut renewed = Instant::now();
        let mut outcome = Ok(());
        while let Some(item) = body.next().await {
            let mut chunk = match item {
                Ok(chunk) => chunk,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            while !chunk.is_empty() {
                let room = cursor.room(buffer.len() as u64);
                let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
                buffer.extend_from_slice(&chunk.split_to(take));
                if buffer.len() as u64 == cursor.part_size {
                    self.write_part(lease, info, &cursor, buffer.split().freeze())
                        .await?;
                    cursor = cursor.next();
                    renewed = Instant::now();
                }
            }
            // A slow body keeps its lease between parts.
            if renewed.elapsed() > self.lease / 4 {
                let kept = self
                    .rows
                    .renew(&info.id, &lease.token, self.lease_until())
                    .await
                    .map_err(row_failed)?;
                if !kept {
                    return Err(TusError::Busy);
                }
                renewed = Instant::now();
            }
        }
        if buffer.len() as u64 > cursor.durable {
            self.write_part(lease, info, &cursor, buffer.freeze())
                .await?;
        }
        outcome
    }

    async fn save(&self, lease: &Lease, info: &UploadInfo) -> Result<(), TusError> {
        let saved = self
            .rows
            .save_state(
                &info.id,
                &lease.token,
                i64::try_from(info.expires_ms).unwrap_or(i64::MAX),
                info.completed,
                info.completion_headers.as_deref(),
            )
            .await
            .map_err(row_failed)?;
        if saved { Ok(()) } else { Err(TusError::Busy) }
    }

    async fn bytes(&self, info: &UploadInfo) -> Result<UploadBytes, TusError> {
        let row = self.row(&info.id).await?;
        Ok(UploadBytes::Parts(part_keys(
            &info.id,
            row.offset,
            row.part_size,
        )))
    }

    async fn settle(&self, _lease: &Lease, info: &UploadInfo) -> Result<(), TusError> {
        self.storage
            .delete_prefix(&parts_prefix(&info.id))
            .await
            .map(|_| ())
            .map_err(storage_failed)
    }

    async fn remove(&self, lease: &Lease) -> Result<(), TusError> {
        self.storage
            .delete_prefix(&upload_prefix(&lease.id))
            .await
            .map_err(storage_failed)?;
        let deleted = self
            .rows
            .delete(&lease.id, &lease.token)
            .await
            .map_err(row_failed)?;
        if deleted { Ok(()) } else { Err(TusError::Busy) }
    }

    async fn expired(&self, now: SystemTime) -> Result<Vec<String>, TusError> {
        self.rows
            .expired(ms(now), SWEEP_BATCH)
            .await
            .map_err(row_failed)
    }
}

#[cfg(test)]
#[path = "upload_store_tests.rs"]
mod tests;
