//! An in-memory [`Storage`] for tests: same key rules and semantics as the
//! other backends, plus a log of puts in order so tests can assert, for
//! example, that `master.m3u8` was written last.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;

use super::{
    InvalidKeyReason, ObjectInfo, PutOptions, Storage, StorageError, clamp_range, validate_key,
    validate_prefix,
};

#[derive(Debug, Clone)]
struct StoredObject {
    body: Bytes,
    options: PutOptions,
    last_modified: SystemTime,
}

#[derive(Debug, Default)]
struct Inner {
    objects: BTreeMap<String, StoredObject>,
    put_log: Vec<String>,
}

/// Objects in a map behind a mutex.
#[derive(Default)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStorage")
            .field("objects", &inner.objects.len())
            .field("puts", &inner.put_log.len())
            .finish()
    }
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every successful put's key, in the order the puts happened.
    pub fn put_log(&self) -> Vec<String> {
        self.lock().put_log.clone()
    }

    /// The options the object was last put with.
    pub fn put_options(&self, key: &str) -> Option<PutOptions> {
        self.lock().objects.get(key).map(|o| o.options.clone())
    }

    /// The stored body of a key, without going through the async trait.
    pub fn body(&self, key: &str) -> Option<Bytes> {
        self.lock().objects.get(key).map(|o| o.body.clone())
    }

    /// All keys currently stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().objects.keys().cloned().collect()
    }
}

fn info(key: &str, object: &StoredObject) -> ObjectInfo {
    ObjectInfo {
        key: key.to_string(),
        size: object.body.len() as u64,
        content_type: object.options.content_type.clone(),
        last_modified: Some(object.last_modified),
    }
}

#[async_trait::async_trait]
impl Storage for MemoryStorage {
    async fn put(&self, key: &str, body: Bytes, opts: &PutOptions) -> Result<(), StorageError> {
        validate_key(key)?;
        let mut inner = self.lock();
        inner.objects.insert(
            key.to_string(),
            StoredObject {
                body,
                options: opts.clone(),
                last_modified: SystemTime::now(),
            },
        );
        inner.put_log.push(key.to_string());
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        validate_key(key)?;
        self.lock()
            .objects
            .get(key)
            .map(|o| o.body.clone())
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_string(),
            })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        let body = self.get(key).await?;
        let range = clamp_range(key, &range, body.len() as u64)?;
        // Clamped to the body length, so both ends fit in usize.
        Ok(body.slice(range.start as usize..range.end as usize))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        validate_key(key)?;
        Ok(self.lock().objects.get(key).map(|o| info(key, o)))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        validate_prefix(prefix)?;
        let inner = self.lock();
        Ok(inner
            .objects
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, object)| info(key, object))
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        self.lock().objects.remove(key);
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::InvalidKey {
                key: String::new(),
                reason: InvalidKeyReason::EmptyPrefix,
            });
        }
        validate_prefix(prefix)?;
        let mut inner = self.lock();
        let before = inner.objects.len();
        inner.objects.retain(|key, _| !key.starts_with(prefix));
        Ok((before - inner.objects.len()) as u64)
    }
}
