//! Where packaged objects go: the S3-shaped [`Storage`] trait, its key rules,
//! content types, and three backends — [`LocalDirStorage`] (a directory tree,
//! atomic writes), [`S3Storage`] (a bucket through aws-sdk-s3) and
//! [`MemoryStorage`] (tests; records the order of puts).

mod key;
mod local;
mod memory;
pub mod s3;

use std::ops::Range;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use key::{InvalidKeyReason, MAX_KEY_BYTES, validate_key, validate_prefix};
pub use local::LocalDirStorage;
pub use memory::MemoryStorage;
pub use s3::{S3Config, S3ConfigError, S3Storage};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key or prefix breaks the key rules.
    #[error("invalid storage key {key:?}: {reason} (存储键无效)")]
    InvalidKey {
        /// The rejected key or prefix.
        key: String,
        /// Which rule it broke.
        reason: InvalidKeyReason,
    },
    /// No object under this key.
    #[error("object not found: {key} (对象不存在)")]
    NotFound {
        /// The missing key.
        key: String,
    },
    /// The requested byte range does not overlap the object.
    #[error(
        "byte range {start}..{end} is not satisfiable for {key} of {size} bytes (请求的字节范围无效)"
    )]
    InvalidRange {
        /// The object.
        key: String,
        /// Requested start.
        start: u64,
        /// Requested end (exclusive).
        end: u64,
        /// Object size.
        size: u64,
    },
    /// The backend failed.
    #[error("storage I/O failed for {key}: {source} (存储读写失败)")]
    Io {
        /// The key (or prefix) being worked on.
        key: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Metadata sent with a put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOptions {
    /// MIME type served with the object (see [`content_type_for`]).
    pub content_type: String,
    /// `Cache-Control` served with the object, if any.
    pub cache_control: Option<String>,
}

impl PutOptions {
    /// The content type [`content_type_for`] gives the key, no cache control.
    pub fn for_key(key: &str) -> Self {
        Self {
            content_type: content_type_for(key).to_string(),
            cache_control: None,
        }
    }

    /// Sets `cache_control`.
    pub fn with_cache_control(mut self, cache_control: Option<String>) -> Self {
        self.cache_control = cache_control;
        self
    }
}

/// What `head` and `list` report about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Content type (stored, or derived from the key where the backend cannot store it).
    pub content_type: String,
    /// Last write time, if the backend knows it.
    pub last_modified: Option<SystemTime>,
}

/// A read of an object as a stream of chunks (see [`Storage::get_stream`]), so that a large
/// object is never held whole in memory.
pub struct ObjectStream {
    /// The size of the whole object.
    pub size: u64,
    /// The bytes the stream carries (the requested range, clamped; or the whole object).
    pub range: Range<u64>,
    /// The bytes, in order; an error ends it.
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("size", &self.size)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl ObjectStream {
    /// A stream of one chunk already in memory.
    pub fn from_bytes(size: u64, range: Range<u64>, body: Bytes) -> Self {
        ObjectStream {
            size,
            range,
            body: Box::pin(futures::stream::once(async move { Ok(body) })),
        }
    }
}

/// How many bytes each chunk of a streamed local read holds at most.
pub const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// An object store with S3 semantics: flat `/`-separated keys, whole-object
/// atomic puts, ranged reads, prefix listing.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    /// Stores `body` under `key`, replacing any previous object. Atomic:
    /// readers see the old or the new object, never a partial one.
    async fn put(&self, key: &str, body: Bytes, opts: &PutOptions) -> Result<(), StorageError>;

    /// The whole object; [`StorageError::NotFound`] if absent.
    async fn get(&self, key: &str) -> Result<Bytes, StorageError>;

    /// Bytes `range.start..range.end` of the object. The end is clamped to
    /// the object size; a start beyond the end of the object (or an inverted
    /// range) is [`StorageError::InvalidRange`]; an empty range at or before
    /// the end returns no bytes.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError>;

    /// The object (or bytes `range` of it, clamped as [`Storage::get_range`] does) as a
    /// stream of chunks, for objects too large to read whole (the local backend reads
    /// [`STREAM_CHUNK_BYTES`] at a time, S3 passes on the response body as it arrives). This
    /// default reads the bytes whole.
    async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ObjectStream, StorageError> {
        let size = self
            .head(key)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_string(),
            })?
            .size;
        let range = clamp_range(key, &range.unwrap_or(0..size), size)?;
        let body = self.get_range(key, range.clone()).await?;
        Ok(ObjectStream::from_bytes(size, range, body))
    }

    /// Metadata, or `None` if absent.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError>;

    /// Every object whose key starts with `prefix` (plain string prefix,
    /// recursive), sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;

    /// Removes the object; removing a missing key is `Ok`.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Removes every object whose key starts with `prefix`; returns how many.
    /// An empty prefix is refused ([`InvalidKeyReason::EmptyPrefix`]).
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError>;

    /// Stores the objects `parts`, in order, end to end as one object under `key` (replacing
    /// any previous object; the parts stay). Used to join the parts of an upload into its
    /// source object. Every part but the last should be at least [`MIN_CONCAT_PART`] bytes:
    /// S3 joins them server side (multipart upload with `UploadPartCopy`, no bytes through
    /// this process) and refuses smaller ones. This default reads the parts into memory;
    /// backends holding large objects override it.
    async fn concat(
        &self,
        key: &str,
        parts: &[String],
        opts: &PutOptions,
    ) -> Result<(), StorageError> {
        validate_key(key)?;
        let mut body = bytes::BytesMut::new();
        for part in parts {
            body.extend_from_slice(&self.get(part).await?);
        }
        self.put(key, body.freeze(), opts).await
    }
}

/// The smallest part (but the last) [`Storage::concat`] accepts on every backend: S3's
/// minimum multipart part size, 5 MiB.
pub const MIN_CONCAT_PART: u64 = 5 * 1024 * 1024;

/// The MIME type to serve a key with, from its extension (case-insensitive).
pub fn content_type_for(key: &str) -> &'static str {
    let file_name = key.rsplit('/').next().unwrap_or(key);
    let extension = match file_name.rsplit_once('.') {
        Some((_, extension)) => extension.to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match extension.as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "m4s" => "video/iso.segment",
        "mp4" | "m4v" => "video/mp4",
        "m4a" => "audio/mp4",
        "ts" => "video/mp2t",
        "aac" => "audio/aac",
        "mpd" => "application/dash+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "vtt" => "text/vtt; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Validates a range against an object size and returns the clamped range.
pub(crate) fn clamp_range(
    key: &str,
    range: &Range<u64>,
    size: u64,
) -> Result<Range<u64>, StorageError> {
    let unsatisfiable = range.start > range.end
        || range.start > size
        || (range.start == size && range.end > range.start);
    if unsatisfiable {
        return Err(StorageError::InvalidRange {
            key: key.to_string(),
            start: range.start,
            end: range.end,
            size,
        });
    }
    Ok(range.start..range.end.min(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type_for("a/index.m3u8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(content_type_for("a/seg-00001.m4s"), "video/iso.segment");
        assert_eq!(content_type_for("a/init.mp4"), "video/mp4");
        assert_eq!(content_type_for("thumbs/1.JPG"), "image/jpeg");
        assert_eq!(content_type_for("subs/zh.vtt"), "text/vtt; charset=utf-8");
        assert_eq!(content_type_for("summary.json"), "application/json");
        assert_eq!(content_type_for("v1.0/README"), "application/octet-stream");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }

    #[test]
    fn put_options_for_key_uses_the_content_type_table() {
        let options =
            PutOptions::for_key("x/index.m3u8").with_cache_control(Some("no-cache".into()));
        assert_eq!(options.content_type, "application/vnd.apple.mpegurl");
        assert_eq!(options.cache_control.as_deref(), Some("no-cache"));
    }

    #[test]
    fn ranges_are_clamped_or_rejected() {
        assert_eq!(clamp_range("k", &(2..5), 10).unwrap(), 2..5);
        assert_eq!(clamp_range("k", &(8..50), 10).unwrap(), 8..10);
        assert_eq!(clamp_range("k", &(10..10), 10).unwrap(), 10..10);
        assert!(clamp_range("k", &(10..11), 10).is_err());
        assert!(clamp_range("k", &(11..12), 10).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let inverted = 5..2;
        assert!(clamp_range("k", &inverted, 10).is_err());
    }
}
