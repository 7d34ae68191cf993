//! Per-client-address token buckets: pure, synchronous logic with the
//! clock as an argument (milliseconds), so tests drive time by hand.
//!
//! Each address has a bucket of `burst` tokens that refills at
//! `per_minute` tokens a minute; a request takes one token or is refused
//! with the time until one is back. Tokens are counted in sixty-thousandths
//! so refilling is exact integer arithmetic (one millisecond adds
//! `per_minute` units).
//!
//! Memory is bounded: at most `capacity` addresses are remembered. When a
//! new address would go past that, buckets that have refilled completely
//! are forgotten first (they carry no information), then the least
//! recently used half. IPv6 clients are keyed by their /64 (one host
//! usually owns the whole prefix), IPv4-mapped IPv6 as IPv4.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// Units of one token.
const UNIT: u64 = 60_000;

/// Burst and sustained rate of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens a full bucket holds (at least 1).
    pub burst: u32,
    /// Tokens added per minute (at least 1).
    pub per_minute: u32,
}

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allowed,
    /// Refused; a token is back in this many milliseconds.
    Limited {
        /// Milliseconds until the next token.
        retry_after_ms: i64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: u64,
    at_ms: i64,
}

/// Token buckets keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    burst_units: u64,
    per_ms: u64,
    capacity: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// A limiter at `rate` remembering at most `capacity` addresses.
    pub fn new(rate: Rate, capacity: usize) -> RateLimiter {
        RateLimiter {
            burst_units: u64::from(rate.burst.max(1)) * UNIT,
            per_ms: u64::from(rate.per_minute.max(1)),
            capacity: capacity.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token from `addr`'s bucket at `now_ms`.
    pub fn take(&mut self, addr: IpAddr, now_ms: i64) -> Decision {
        self.apply(addr, now_ms, true)
    }

    /// Whether `addr` has a token at `now_ms`, without taking it.
    pub fn peek(&mut self, addr: IpAddr, now_ms: i64) -> Decision {
        self.apply(addr, now_ms, false)
    }

    /// Addresses remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.len()
    }

    fn apply(&mut self, addr: IpAddr, now_ms: i64, take: bool) -> Decision {
        let key = key_of(addr);
        let units = match self.buckets.get(&key) {
            Some(b) => self.refilled(b, now_ms),
            None => {
                if !take {
                    return Decision::Allowed;
                }
                self.make_room(now_ms);
                self.burst_units
            }
        };
        let decision = if units >= UNIT {
            Decision::Allowed
        } else {
            let missing = UNIT - units;
            let ms = missing.div_ceil(self.per_ms);
            Decision::Limited {
                retry_after_ms: i64::try_from(ms).unwrap_or(i64::MAX).max(1),
            }
        };
        let left = match (take, decision) {
            (true, Decision::Allowed) => units - UNIT,
            _ => units,
        };
        self.buckets.insert(
            key,
            Bucket {
                units: left,
                at_ms: now_ms,
            },
        );
        decision
    }

    fn refilled(&self, bucket: &Bucket, now_ms: i64) -> u64 {
        // A clock that went backwards refills nothing.
        let elapsed = u64::try_from(now_ms.saturating_sub(bucket.at_ms)).unwrap_or(0);
        bucket
            .units
            .saturating_add(elapsed.saturating_mul(self.per_ms))
            .min(self.burst_units)
    }

    /// Frees a slot for a new address when the table is full.
    fn make_room(&mut self, now_ms: i64) {
        if self.buckets.len() < self.capacity {
            return;
        }
        let (burst, per_ms) = (self.burst_units, self.per_ms);
        self.buckets.retain(|_, b| {
            let elapsed = u64::try_from(now_ms.saturating_sub(b.at_ms)).unwrap_or(0);
            b.units.saturating_add(elapsed.saturating_mul(per_ms)) < burst
        });
        if self.buckets.len() < self.capacity {
            return;
        }
        let mut ages: Vec<i64> = self.buckets.values().map(|b| b.at_ms).collect();
        let middle = (ages.len() / 2).saturating_sub(1);
        let (_, cut, _) = ages.select_nth_unstable(middle);
        let cut = *cut;
        self.buckets.retain(|_, b| b.at_ms > cut);
    }
}

/// The bucket key of an address: IPv4 as is, IPv6 by its /64.
fn key_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn limiter(burst: u32, per_minute: u32) -> RateLimiter {
        RateLimiter::new(Rate { burst, per_minute }, 1000)
    }

    #[test]
    fn a_full_bucket_allows_the_burst_then_refuses() {
        let mut l = limiter(3, 60);
        for _ in 0..3 {
            assert_eq!(l.take(ip("10.0.0.1"), 0), Decision::Allowed);
        }
        assert_eq!(
            l.take(ip("10.0.0.1"), 0),
            Decision::Limited {
                retry_after_ms: 1000
            }
        );
    }

    #[test]
    fn tokens_come_back_at_the_sustained_rate() {
        let mut l = limiter(1, 60);
        assert_eq!(l.take(ip("10.0.0.1"), 0), Decision::Allowed);
        assert_eq!(
            l.take(ip("10.0.0.1"), 400),
            Decision::Limited {
                retry_after_ms: 600
            }
        );
        assert_eq!(l.take(ip("10.0.0.1"), 1000), Decision::Allowed);
    }

    #[test]
    fn a_refused_request_does_not_cost_a_token() {
        let mut l = limiter(1, 60);
        assert_eq!(l.take(ip("10.0.0.1"), 0), Decision::Allowed);
        for t in [100, 200, 300] {
            assert!(matches!(
                l.take(ip("10.0.0.1"), t),
                Decision::Limited { .. }
            ));
        }
        assert_eq!(l.take(ip("10.0.0.1"), 1000), Decision::Allowed);
    }

    #[test]
    fn a_long_pause_refills_no_more_than_the_burst() {
        let mut l = limiter(2, 60);
        assert_eq!(l.take(ip("10.0.0.1"), 0), Decision::Allowed);
        let later = 10 * 60_000;
        assert_eq!(l.take(ip("10.0.0.1"), later), Decision::Allowed);
        assert_eq!(l.take(ip("10.0.0.1"), later), Decision::Allowed);
        assert!(matches!(
            l.take(ip("10.0.0.1"), later),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn addresses_have_their_own_buckets() {
        let mut l = limiter(1, 1);
        assert_eq!(l.take(ip("10.0.0.1"), 0), Decision::Allowed);
        assert_eq!(l.take(ip("10.0.0.2"), 0), Decision::Allowed);
        assert!(matches!(
            l.take(ip("10.0.0.1"), 0),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn one_ipv6_prefix_shares_a_bucket_and_mapped_ipv4_is_ipv4() {
        let mut l = limiter(1, 1);
        assert_eq!(l.take(ip("2001:db8:1:2::1"), 0), Decision::Allowed);
        assert!(matches!(
            l.take(ip("2001:db8:1:2:ffff::9"), 0),
            Decision::Limited { .. }
        ));
        assert_eq!(l.take(ip("2001:db8:1:3::1"), 0), Decision::Allowed);
        assert_eq!(l.take(ip("192.0.2.7"), 0), Decision::Allowed);
        assert!(matches!(
            l.take(ip("::ffff:192.0.2.7"), 0),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn peek_takes_nothing_and_remembers_nobody_new() {
        let mut l = limiter(1, 60);
        assert_eq!(l.peek(ip("10.0.0.1"), 0), Decision::Allowed);
        assert_eq!(l.len(), 0);
        assert_eq!(l.take(ip("10.0.0.1"), 0), Decision::Allowed);
        assert!(matches!(
            l.peek(ip("10.0.0.1"), 10),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let mut l = limiter(1, 60);
        assert_eq!(l.take(ip("10.0.0.1"), 5000), Decision::Allowed);
        assert!(matches!(
            l.take(ip("10.0.0.1"), 0),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn memory_stays_within_capacity_forgetting_refilled_then_oldest() {
        let mut l = RateLimiter::new(
            Rate {
                burst: 1,
                per_minute: 1,
            },
            4,
        );
        for (i, t) in [(1, 0), (2, 10), (3, 20), (4, 30)] {
            assert_eq!(l.take(ip(&format!("10.0.0.{i}")), t), Decision::Allowed);
        }
        assert_eq!(l.len(), 4);
        // None has refilled: the older half (10.0.0.1, 10.0.0.2) goes.
        assert_eq!(l.take(ip("10.0.0.5"), 40), Decision::Allowed);
        assert!(l.len() <= 4);
        assert_eq!(l.take(ip("10.0.0.1"), 41), Decision::Allowed, "forgotten");
        assert!(matches!(
            l.take(ip("10.0.0.4"), 42),
            Decision::Limited { .. }
        ));
        // A minute on everything has refilled and is forgotten first.
        for i in 6..20 {
            l.take(ip(&format!("10.0.1.{i}")), 120_000 + i);
            assert!(l.len() <= 4);
        }
    }
}
