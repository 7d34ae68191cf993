//! The upload file store, one node's disk: `{dir}/{id}.bin` holds the bytes, `{id}.json` the
//! description ([`UploadInfo`]). The description is replaced atomically (write a temporary
//! file, fsync, rename, fsync the directory), and its `offset` is the number of bytes known to
//! be durable: bytes in `.bin` past it (from a crash mid-write) are cut off before the next
//! append. The service's in-process lock is the write lease.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures::StreamExt;
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::error::TusError;
use super::store::{ChunkStream, Lease, UploadBytes, UploadInfo, UploadStore, is_valid_id};

/// While a long `PATCH` streams, the offset is made durable every this many bytes, so a
/// server crash loses at most this much.
pub const CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;

/// The directory of uploads.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<FileStore, TusError> {
        std::fs::create_dir_all(dir)?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The data file of `id`.
    pub fn bin_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.bin"))
    }

    /// The temporary file a checksummed chunk is received into before it is verified.
    pub fn chunk_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.chunk"))
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Reads the description of `id` (`None` if there is no such upload).
    pub async fn read(&self, id: &str) -> Result<Option<UploadInfo>, TusError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        match fs::read(self.info_path(id)).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| TusError::CorruptInfo(e.to_string())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the description atomically and durably.
    pub async fn write(&self, info: &UploadInfo) -> Result<(), TusError> {
        let tmp = self.dir.join(format!("{}.json.tmp", info.id));
        let bytes =
            serde_json::to_vec_pretty(info).map_err(|e| TusError::CorruptInfo(e.to_string()))?;
        let mut file = File::create(&tmp).await?;
        file.write_all(&bytes).await?;
        file.sync_all().await?;
        drop(file);
        fs::rename(&tmp, self.info_path(&info.id)).await?;
        self.sync_dir().await
    }

    async fn sync_dir(&self) -> Result<(), TusError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
            .await
            .map_err(|e| TusError::Storage(std::io::Error::other(e)))??;
        Ok(())
    }

    /// Opens the data file for appending at `offset`, cutting off any bytes past it.
    pub async fn open_for_append(&self, id: &str, offset: u64) -> Result<File, TusError> {
        let mut file = OpenOptions::new()
            .write(true)
            .open(self.bin_path(id))
            .await?;
        if file.metadata().await?.len() != offset {
            file.set_len(offset).await?;
        }
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok(file)
    }

    /// Deletes every file of `id` (missing files are fine).
    pub async fn remove_files(&self, id: &str) -> Result<(), TusError> {
        for path in [
            self.bin_path(id),
            self.chunk_path(id),
            self.info_path(id),
            self.dir.join(format!("{id}.json.tmp")),
        ] {
            match fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The ids of every stored upload.
    pub async fn ids(&self) -> Result<Vec<String>, TusError> {
        let mut ids = Vec::new();
        let mut entries = fs::read_dir(&self.dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json"))
                && is_valid_id(id)
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }
}

#[async_trait::async_trait]
impl UploadStore for FileStore {
    async fn create(&self, info: &UploadInfo) -> Result<(), TusError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.bin_path(&info.id))
            .await?;
        file.sync_all().await?;
        self.write(info).await
    }

    async fn load(&self, id: &str) -> Result<Option<UploadInfo>, TusError> {
        self.read(id).await
    }

    async fn acquire(&self, id: &str, _now: SystemTime) -> Result<Lease, TusError> {
        Ok(Lease {
            id: id.to_owned(),
            token: String::new(),
        })
    }

    async fn release(&self, _lease: &Lease) -> Result<(), TusError> {
        Ok(())
    }

    async fn append(
        &self,
        _lease: &Lease,
        info: &mut UploadInfo,
        mut body: ChunkStream<'_>,
    ) -> Result<(), TusError> {
        let mut file = self.open_for_append(&info.id, info.offset).await?;
        let mut pending: u64 = 0;
        let outcome = loop {
            let chunk = match body.next().await {
                None => break Ok(()),
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => break Err(e),
            };
            if let Err(e) = file.write_all(&chunk).await {
                break Err(e.into());
            }
            pending += chunk.len() as u64;
            if pending >= CHECKPOINT_BYTES {
                file.flush().await?;
                file.sync_data().await?;
                info.offset += pending;
                pending = 0;
                self.write(info).await?;
            }
        };
        file.flush().await?;
        file.sync_data().await?;
        info.offset += pending;
        outcome
    }

    async fn save(&self, _lease: &Lease, info: &UploadInfo) -> Result<(), TusError> {
        self.write(info).await
    }

    async fn bytes(&self, info: &UploadInfo) -> Result<UploadBytes, TusError> {
        Ok(UploadBytes::File(self.bin_path(&info.id)))
    }

    async fn settle(&self, _lease: &Lease, _info: &UploadInfo) -> Result<(), TusError> {
        // The completed hook hard-links the file; the upload keeps its own name.
        Ok(())
    }

    async fn remove(&self, lease: &Lease) -> Result<(), TusError> {
        self.remove_files(&lease.id).await
    }

    async fn expired(&self, now: SystemTime) -> Result<Vec<String>, TusError> {
        let mut expired = Vec::new();
        for id in self.ids().await? {
            if let Some(info) = self.read(&id).await?
                && info.state().is_expired(now)
            {
                expired.push(id);
            }
        }
        Ok(expired)
    }
}
