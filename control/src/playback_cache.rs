//! A short, bounded memory of the facts playback authorization reads from the database
//! (a target's openness, audience, publication and ladder; a credential's revocation and
//! expiry), so that a player fetching a segment every few seconds costs no database read.
//!
//! Pure: no clock (times are arguments), no IO. Each entry lives at most `ttl_ms`
//! (`[control.playback] cache_ms`, a few seconds at most) and at most `capacity` entries are
//! held. Every change this process commits through the audit (publish, take-down, sign-out,
//! account disablement, audience edits …) moves a generation counter that makes every older
//! entry stale at once, so on the node where a change is made it applies to the next request;
//! other nodes see it within `ttl_ms`. Expiry times are kept as facts and compared with the
//! request's own `now`, so a token or session never outlives its expiry because of the cache.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A map whose entries expire after a fixed time or when the generation moves.
#[derive(Debug)]
pub(crate) struct FactCache<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    ttl_ms: i64,
    capacity: usize,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    stored_at: i64,
    generation: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> FactCache<K, V> {
    /// A cache keeping entries `ttl_ms` milliseconds, at most `capacity` of them
    /// (`ttl_ms == 0` or `capacity == 0`: nothing is kept).
    pub(crate) fn new(ttl_ms: u64, capacity: usize) -> Self {
        FactCache {
            entries: Mutex::new(HashMap::new()),
            ttl_ms: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
            capacity,
        }
    }

    fn enabled(&self) -> bool {
        self.ttl_ms > 0 && self.capacity > 0
    }

    fn fresh(&self, entry: &Entry<V>, now: i64, generation: u64) -> bool {
        entry.generation == generation
            && now >= entry.stored_at
            && now - entry.stored_at < self.ttl_ms
    }

    /// The value stored for `key`, if it is still fresh at `now` under `generation`.
    pub(crate) fn get(&self, key: &K, now: i64, generation: u64) -> Option<V> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|e| self.fresh(e, now, generation))
            .map(|e| e.value.clone())
    }

    /// Stores `value` for `key`, read at `now` under `generation`. When full, stale entries
    /// go first; if none is stale, everything goes (the cache only saves reads).
    pub(crate) fn insert(&self, key: K, value: V, now: i64, generation: u64) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| self.fresh(e, now, generation));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                stored_at: now,
                generation,
            },
        );
    }

    /// How many entries are held (fresh or not).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The counter of changes committed by this process: a cached fact read before the latest
/// change is stale.
#[derive(Debug, Default)]
pub(crate) struct Generation(AtomicU64);

impl Generation {
    /// The current generation.
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Marks every fact read so far as stale.
    pub(crate) fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_its_time_is_up() {
        let cache = FactCache::new(2_000, 10);
        cache.insert("r1", true, 1_000, 0);
        assert_eq!(cache.get(&"r1", 1_000, 0), Some(true));
        assert_eq!(cache.get(&"r1", 2_999, 0), Some(true));
        assert_eq!(cache.get(&"r1", 3_000, 0), None);
        assert_eq!(cache.get(&"r2", 1_500, 0), None);
    }

    #[test]
    fn a_change_committed_here_makes_every_older_entry_stale_at_once() {
        let cache = FactCache::new(2_000, 10);
        let generation = Generation::default();
        cache.insert("r1", 1, 1_000, generation.current());
        generation.advance();
        assert_eq!(cache.get(&"r1", 1_001, generation.current()), None);
        cache.insert("r1", 2, 1_002, generation.current());
        assert_eq!(cache.get(&"r1", 1_003, generation.current()), Some(2));
    }

    #[test]
    fn a_clock_that_went_back_does_not_stretch_an_entry() {
        let cache = FactCache::new(2_000, 10);
        cache.insert("r1", 1, 10_000, 0);
        assert_eq!(cache.get(&"r1", 9_000, 0), None);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = FactCache::new(2_000, 3);
        for i in 0..3 {
            cache.insert(i, i, 1_000, 0);
        }
        // Full of fresh entries: the next insert starts over rather than grow.
        cache.insert(3, 3, 1_100, 0);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&3, 1_100, 0), Some(3));
        // Stale entries are dropped first.
        cache.insert(4, 4, 1_200, 0);
        cache.insert(5, 5, 1_200, 0);
        cache.insert(6, 6, 3_150, 0);
        assert_eq!(
            cache.len(),
            3,
            "the stale entry went, the fresh ones stayed"
        );
        assert_eq!(cache.get(&3, 3_150, 0), None);
        assert_eq!(cache.get(&4, 3_150, 0), Some(4));
        assert_eq!(cache.get(&6, 3_150, 0), Some(6));
    }

    #[test]
    fn a_zero_time_to_live_turns_the_cache_off() {
        let cache = FactCache::new(0, 10);
        cache.insert("r1", 1, 1_000, 0);
        assert_eq!(cache.get(&"r1", 1_000, 0), None);
    }
}
