//! A small time-limited cache (key → value for `ttl_ms`), bounded in size, without IO and
//! without a clock: the event intake remembers for a few seconds whether a session is alive and
//! what a target is, so that ten thousand events a second do not mean ten thousand lookups.

use std::collections::HashMap;

/// Values remembered for `ttl_ms`, at most `capacity` of them.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl_ms: i64,
    capacity: usize,
    entries: HashMap<String, (V, i64)>,
}

impl<V: Clone> TtlCache<V> {
    /// An empty cache.
    pub fn new(ttl_ms: i64, capacity: usize) -> TtlCache<V> {
        TtlCache {
            ttl_ms,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The value of `key` if it was stored less than `ttl_ms` before `now`.
    pub fn get(&self, key: &str, now: i64) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(_, at)| now - at < self.ttl_ms && now >= *at)
            .map(|(v, _)| v.clone())
    }

    /// Stores `value` for `key` at `now`. When full, expired entries go first, then everything
    /// (a cache may always forget).
    pub fn put(&mut self, key: &str, value: V, now: i64) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(key) {
            let ttl = self.ttl_ms;
            self.entries.retain(|_, (_, at)| now - *at < ttl);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key.to_owned(), (value, now));
    }

    /// Forgets `key` (its facts changed).
    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_live_for_their_time_to_live() {
        let mut c = TtlCache::new(5_000, 10);
        c.put("a", 1, 1_000);
        assert_eq!(c.get("a", 5_999), Some(1));
        assert_eq!(c.get("a", 6_000), None);
        c.forget("a");
        assert_eq!(c.get("a", 1_000), None);
    }

    #[test]
    fn a_full_cache_forgets_rather_than_grows() {
        let mut c = TtlCache::new(5_000, 2);
        c.put("a", 1, 0);
        c.put("b", 2, 0);
        c.put("c", 3, 10_000); // a and b expired: dropped
        assert_eq!(c.get("c", 10_000), Some(3));
        c.put("d", 4, 10_000);
        c.put("e", 5, 10_000); // nothing expired: everything goes
        assert_eq!(c.get("e", 10_000), Some(5));
        assert_eq!(c.get("c", 10_000), None);
    }
}
