//! The upload file store: `{dir}/{id}.bin` holds the bytes, `{id}.json` the description
//! ([`UploadInfo`]: length, offset, metadata, owner, times, completion). The description is
//! replaced atomically (write a temporary file, fsync, rename, fsync the directory), and its
//! `offset` is the number of bytes known to be durable: bytes in `.bin` past it (from a crash
//! mid-write) are cut off before the next append.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::error::TusError;
use super::protocol::UploadState;

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

    /// Creates the empty data file and the description of a new upload.
    pub async fn create(&self, info: &UploadInfo) -> Result<(), TusError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.bin_path(&info.id))
            .await?;
        file.sync_all().await?;
        self.save(info).await
    }

    /// Reads the description of `id` (`None` if there is no such upload).
    pub async fn load(&self, id: &str) -> Result<Option<UploadInfo>, TusError> {
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
    pub async fn save(&self, info: &UploadInfo) -> Result<(), TusError> {
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
    pub async fn remove(&self, id: &str) -> Result<(), TusError> {
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
