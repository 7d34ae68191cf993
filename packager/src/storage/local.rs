//! A [`Storage`] backed by a directory tree: key `a/b/c.m4s` is the file
//! `<root>/a/b/c.m4s`. Puts write a uniquely named temporary file in the
//! target directory, fsync it, rename it over the real name and fsync the
//! directory, so a reader never sees a partial file under the real name.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::key::TEMP_FILE_PREFIX;
use super::{
    InvalidKeyReason, ObjectInfo, ObjectStream, PutOptions, STREAM_CHUNK_BYTES, Storage,
    StorageError, clamp_range, content_type_for, validate_key, validate_prefix,
};

/// Objects as files under a root directory (created on first write).
///
/// Content type and cache control are not stored: reads derive the content
/// type from the key, and a web server in front sets headers by extension.
#[derive(Debug, Clone)]
pub struct LocalDirStorage {
    root: PathBuf,
}

impl LocalDirStorage {
    /// Storage rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file a key maps to (after validating the key).
    pub fn path_for(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(key
            .split('/')
            .fold(self.root.clone(), |path, segment| path.join(segment)))
    }

    /// Runs blocking filesystem work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        key: &str,
        work: impl FnOnce(&Path) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || work(&root))
            .await
            .map_err(|join_error| StorageError::Io {
                key: key.to_string(),
                source: io::Error::other(join_error),
            })?
    }
}

fn io_error(key: &str) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        key: key.to_string(),
        source,
    }
}

fn key_path(root: &Path, key: &str) -> PathBuf {
    key.split('/')
        .fold(root.to_path_buf(), |path, segment| path.join(segment))
}

fn write_atomically(path: &Path, body: &[u8]) -> io::Result<()> {
    let parent = path.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "key has no parent directory")
    })?;
    let mut attempts = 0;
    let mut temp = loop {
        fs::create_dir_all(parent)?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_FILE_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Readable by a web server serving the tree, like a normally created file.
            builder.permissions(fs::Permissions::from_mode(0o644));
        }
        match builder.tempfile_in(parent) {
            Ok(temp) => break temp,
            // A concurrent delete may prune the directory between the two calls.
            Err(error) if error.kind() == io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
            Err(error) => return Err(error),
        }
    };
    temp.write_all(body)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    // Make the rename itself durable.
    File::open(parent)?.sync_all()
}

fn object_info(key: String, metadata: &fs::Metadata) -> ObjectInfo {
    ObjectInfo {
        content_type: content_type_for(&key).to_string(),
        size: metadata.len(),
        last_modified: metadata.modified().ok(),
        key,
    }
}

/// Metadata of a regular file, `None` if absent or not a file.
fn file_metadata(path: &Path) -> io::Result<Option<fs::Metadata>> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(Some(metadata)),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Collects files under `dir` whose key starts with `prefix`.
fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<ObjectInfo>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue; // not a valid key
        };
        if name.starts_with(TEMP_FILE_PREFIX) {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            walk(root, &path, prefix, out)?;
        } else if file_type.is_file() {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let key = relative
                .components()
                .filter_map(|c| c.as_os_str().to_str())
                .collect::<Vec<_>>()
                .join("/");
            if key.starts_with(prefix) {
                let metadata = entry.metadata()?;
                out.push(object_info(key, &metadata));
            }
        }
    }
    Ok(())
}

fn list_blocking(root: &Path, prefix: &str) -> io::Result<Vec<ObjectInfo>> {
    // Start from the deepest directory the prefix fully names.
    let directory_part = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
    let start = if directory_part.is_empty() {
        root.to_path_buf()
    } else {
        key_path(root, directory_part)
    };
    let mut out = Vec::new();
    walk(root, &start, prefix, &mut out)?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Removes a file (missing is fine), then empty parent directories up to the root.
fn delete_blocking(root: &Path, path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    }
    let mut dir = path.parent();
    while let Some(current) = dir {
        if current == root || !current.starts_with(root) || fs::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
    Ok(())
}

#[async_trait::async_trait]
impl Storage for LocalDirStorage {
    async fn put(&self, key: &str, body: Bytes, _opts: &PutOptions) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let owned_key = key.to_string();
        self.blocking(key, move |_| {
            write_atomically(&path, &body).map_err(io_error(&owned_key))
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = self.path_for(key)?;
        let owned_key = key.to_string();
        self.blocking(key, move |_| {
            if file_metadata(&path)
                .map_err(io_error(&owned_key))?
                .is_none()
            {
                return Err(StorageError::NotFound { key: owned_key });
            }
            match fs::read(&path) {
                Ok(body) => Ok(Bytes::from(body)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    Err(StorageError::NotFound { key: owned_key })
                }
                Err(error) => Err(io_error(&owned_key)(error)),
            }
        })
        .await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        let path = self.path_for(key)?;
        let owned_key = key.to_string();
        self.blocking(key, move |_| {
            let not_found = || StorageError::NotFound {
                key: owned_key.clone(),
            };
            let mut file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(not_found()),
                Err(error) => return Err(io_error(&owned_key)(error)),
            };
            let metadata = file.metadata().map_err(io_error(&owned_key))?;
            if !metadata.is_file() {
                return Err(not_found());
            }
            let range = clamp_range(&owned_key, &range, metadata.len())?;
            file.seek(SeekFrom::Start(range.start))
                .map_err(io_error(&owned_key))?;
            let length = usize::try_from(range.end - range.start)
                .map_err(|_| io_error(&owned_key)(io::Error::other("range larger than memory")))?;
            let mut body = Vec::with_capacity(length);
            file.take(range.end - range.start)
                .read_to_end(&mut body)
                .map_err(io_error(&owned_key))?;
            Ok(Bytes::from(body))
        })
        .await
    }

    async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ObjectStream, StorageError> {
        use futures::StreamExt;
        use tokio::io::{AsyncReadExt, AsyncSeekExt};

        let path = self.path_for(key)?;
        let owned_key = key.to_string();
        let not_found = || StorageError::NotFound {
            key: owned_key.clone(),
        };
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(not_found()),
            Err(error) => return Err(io_error(key)(error)),
        };
        let metadata = file.metadata().await.map_err(io_error(key))?;
        if !metadata.is_file() {
            return Err(not_found());
        }
        let size = metadata.len();
        let range = clamp_range(key, &range.unwrap_or(0..size), size)?;
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(io_error(key))?;
        let reader = file.take(range.end - range.start);
        let body = tokio_util::io::ReaderStream::with_capacity(reader, STREAM_CHUNK_BYTES)
            .map(move |chunk| chunk.map_err(io_error(&owned_key)));
        Ok(ObjectStream {
            size,
            range,
            body: Box::pin(body),
        })
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let path = self.path_for(key)?;
        let owned_key = key.to_string();
        self.blocking(key, move |_| {
            let metadata = file_metadata(&path).map_err(io_error(&owned_key))?;
            Ok(metadata.map(|metadata| object_info(owned_key, &metadata)))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        validate_prefix(prefix)?;
        let owned_prefix = prefix.to_string();
        self.blocking(prefix, move |root| {
            list_blocking(root, &owned_prefix).map_err(io_error(&owned_prefix))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let owned_key = key.to_string();
        self.blocking(key, move |root| {
            delete_blocking(root, &path).map_err(io_error(&owned_key))
        })
        .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::InvalidKey {
                key: String::new(),
                reason: InvalidKeyReason::EmptyPrefix,
            });
        }
        validate_prefix(prefix)?;
        let owned_prefix = prefix.to_string();
        self.blocking(prefix, move |root| {
            let objects = list_blocking(root, &owned_prefix).map_err(io_error(&owned_prefix))?;
            let mut deleted = 0;
            for object in objects {
                delete_blocking(root, &key_path(root, &object.key))
                    .map_err(io_error(&object.key))?;
                deleted += 1;
            }
            Ok(deleted)
        })
        .await
    }

    async fn concat(
        &self,
        key: &str,
        parts: &[String],
        _opts: &PutOptions,
    ) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let sources = parts
            .iter()
            .map(|part| Ok((part.clone(), self.path_for(part)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        let owned_key = key.to_string();
        self.blocking(key, move |_| concat_blocking(&owned_key, &path, &sources))
            .await
    }
}

/// Copies the part files end to end into a temporary file beside `path`, then renames it over
/// `path` (atomic and durable, as [`write_atomically`]). A missing part is
/// [`StorageError::NotFound`].
fn concat_blocking(
    key: &str,
    path: &Path,
    parts: &[(String, PathBuf)],
) -> Result<(), StorageError> {
    let parent = path
        .parent()
        .ok_or_else(|| io_error(key)(io::Error::other("key has no parent directory")))?;
    fs::create_dir_all(parent).map_err(io_error(key))?;
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_FILE_PREFIX)
        .tempfile_in(parent)
        .map_err(io_error(key))?;
    for (part_key, part_path) in parts {
        let mut part = match File::open(part_path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound {
                    key: part_key.clone(),
                });
            }
            Err(error) => return Err(io_error(part_key)(error)),
        };
        io::copy(&mut part, temp.as_file_mut()).map_err(io_error(key))?;
    }
    temp.as_file().sync_all().map_err(io_error(key))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))
            .map_err(io_error(key))?;
    }
    temp.persist(path)
        .map_err(|error| io_error(key)(error.error))?;
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(key))
}
