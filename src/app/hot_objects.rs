//! A memory of recently served ladder objects (segments, init segments, posters, and the
//! version-stamped playlists of complete ladders), bounded by bytes, least recently used out
//! first. Only objects that never change are kept: everything under a complete ladder's
//! prefix, which is unique per processing job. A popular lecture or a live event's replay then
//! costs one storage read per object, not one per viewer.

use std::sync::Mutex;

use bytes::Bytes;
use lru::LruCache;

/// The cache (`[delivery] memory_cache_mb`, `[delivery] memory_cache_max_object_kb`).
#[derive(Debug)]
pub struct HotObjects {
    inner: Mutex<Inner>,
    budget: usize,
    max_object: usize,
}

#[derive(Debug)]
struct Inner {
    objects: LruCache<String, Bytes>,
    bytes: usize,
}

impl HotObjects {
    /// A cache of at most `budget` bytes holding objects of at most `max_object` bytes
    /// (a budget of 0 keeps nothing).
    pub fn new(budget: usize, max_object: usize) -> Self {
        HotObjects {
            inner: Mutex::new(Inner {
                objects: LruCache::unbounded(),
                bytes: 0,
            }),
            budget,
            max_object: max_object.min(budget),
        }
    }

    /// Whether an object of `size` bytes would be kept.
    pub fn admits(&self, size: u64) -> bool {
        usize::try_from(size).is_ok_and(|s| s <= self.max_object)
    }

    /// The object under `key`, marked as recently used.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        if self.budget == 0 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.objects.get(key).cloned()
    }

    /// Keeps `body` under `key` if it is small enough, dropping the least recently used
    /// objects until the total fits the budget.
    pub fn insert(&self, key: &str, body: Bytes) {
        if !self.admits(body.len() as u64) || self.budget == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let added = body.len();
        if let Some(old) = inner.objects.put(key.to_owned(), body) {
            inner.bytes -= old.len();
        }
        inner.bytes += added;
        while inner.bytes > self.budget {
            match inner.objects.pop_lru() {
                Some((_, old)) => inner.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn a_kept_object_is_served_from_memory() {
        let cache = HotObjects::new(100, 50);
        cache.insert("a", body(10));
        assert_eq!(cache.get("a").map(|b| b.len()), Some(10));
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.bytes(), 10);
    }

    #[test]
    fn the_least_recently_used_objects_leave_when_the_budget_is_reached() {
        let cache = HotObjects::new(100, 50);
        cache.insert("a", body(40));
        cache.insert("b", body(40));
        assert!(cache.get("a").is_some(), "a is now the most recently used");
        cache.insert("c", body(40));
        assert!(cache.get("b").is_none(), "b was the least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.bytes(), 80);
    }

    #[test]
    fn objects_larger_than_the_limit_are_not_kept() {
        let cache = HotObjects::new(100, 50);
        assert!(!cache.admits(51));
        cache.insert("big", body(51));
        assert!(cache.get("big").is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn replacing_an_object_counts_its_bytes_once() {
        let cache = HotObjects::new(100, 50);
        cache.insert("a", body(30));
        cache.insert("a", body(20));
        assert_eq!(cache.bytes(), 20);
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = HotObjects::new(0, 50);
        cache.insert("a", body(1));
        assert!(cache.get("a").is_none());
    }
}
