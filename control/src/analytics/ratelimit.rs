//! Token buckets per key (a playback, a viewer), without IO and without a clock: each request
//! takes one token; tokens come back at a steady rate up to a burst. The table of buckets is
//! bounded: when full, buckets that have refilled completely (idle keys) are dropped first, and
//! a key that still finds no room is refused, so a flood of fresh keys cannot grow memory.
//!
//! Hand-written rather than a crate (`governor` would bring its own clock and a concurrent map
//! the single mutex around this table does not need): the rule is a few lines and tested here.

use std::collections::HashMap;

/// The rate of one kind of key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests allowed per minute, sustained.
    pub per_minute: u32,
}

/// Buckets of one rate, at most `capacity` keys. Each key keeps only its "theoretical arrival
/// time" (the generic cell rate algorithm), in microseconds, so the arithmetic is exact.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    capacity: usize,
    /// Key → the instant (µs) at which its bucket is full again.
    full_at: HashMap<String, i64>,
}

impl RateLimiter {
    /// An empty table.
    pub fn new(rate: Rate, capacity: usize) -> RateLimiter {
        RateLimiter {
            rate,
            capacity: capacity.max(1),
            full_at: HashMap::new(),
        }
    }

    /// Microseconds for one token to come back.
    fn interval_us(&self) -> i64 {
        60_000_000 / i64::from(self.rate.per_minute.max(1))
    }

    /// Takes one token for `key` at `now` (ms): `Ok` or `Err(ms until one is back)`.
    pub fn check(&mut self, key: &str, now: i64) -> Result<(), i64> {
        let now_us = now.saturating_mul(1000);
        let interval = self.interval_us();
        let tolerance = interval * i64::from(self.rate.burst.max(1) - 1);
        let full_at = match self.full_at.get(key) {
            Some(t) => (*t).max(now_us),
            None => {
                if self.full_at.len() >= self.capacity {
                    self.prune(now);
                }
                if self.full_at.len() >= self.capacity {
                    return Err((interval + 999) / 1000);
                }
                now_us
            }
        };
        if full_at - now_us > tolerance {
            let wait_us = full_at - now_us - tolerance;
            return Err(((wait_us + 999) / 1000).max(1));
        }
        self.full_at.insert(key.to_owned(), full_at + interval);
        Ok(())
    }

    /// Drops the buckets that are full again (their keys are idle).
    pub fn prune(&mut self, now: i64) {
        let now_us = now.saturating_mul(1000);
        self.full_at.retain(|_, t| *t > now_us);
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.full_at.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.full_at.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3,
        per_minute: 60,
    };

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_refill() {
        let mut l = RateLimiter::new(RATE, 10);
        for _ in 0..3 {
            assert_eq!(l.check("a", 0), Ok(()));
        }
        assert_eq!(l.check("a", 0), Err(1000));
        assert_eq!(l.check("a", 999), Err(1));
        assert_eq!(l.check("a", 1000), Ok(()));
    }

    #[test]
    fn keys_do_not_share_their_buckets() {
        let mut l = RateLimiter::new(RATE, 10);
        for _ in 0..3 {
            l.check("a", 0).expect("a");
        }
        assert_eq!(l.check("b", 0), Ok(()));
    }

    #[test]
    fn a_full_table_drops_idle_keys_and_refuses_when_every_key_is_busy() {
        let mut l = RateLimiter::new(RATE, 2);
        l.check("a", 0).expect("a");
        l.check("b", 0).expect("b");
        assert!(l.check("c", 0).is_err(), "no room while a and b are busy");
        // After 3 s both buckets are full again: idle, dropped to make room.
        assert_eq!(l.check("c", 3_000), Ok(()));
        assert!(l.len() <= 2);
    }
}
