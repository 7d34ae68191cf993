//! Session lifetime rules: idle timeout, absolute lifetime, the concurrent-session limit.
//! Pure: the caller passes `now` (milliseconds since the Unix epoch).

use serde::{Deserialize, Serialize};

/// What to do when a login would exceed the concurrent-session limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverLimit {
    /// Admit the new login and end the oldest sessions.
    EvictOldest,
    /// Refuse the new login.
    Refuse,
}

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionPolicy {
    /// A session unused for this many minutes ends.
    pub idle_minutes: u32,
    /// A session ends this many minutes after login whatever its use.
    pub absolute_minutes: u32,
    /// Concurrent interactive sessions per account (one account, one person).
    pub max_concurrent: u32,
    /// What a login beyond the limit does.
    pub over_limit: OverLimit,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_minutes: 30,
            absolute_minutes: 12 * 60,
            max_concurrent: 1,
            over_limit: OverLimit::EvictOldest,
        }
    }
}

/// Why a session is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than the absolute lifetime (or past its explicit expiry).
    Expired,
}

/// The times that decide a session's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// Login time (ms).
    pub created_at: i64,
    /// Last authenticated use (ms).
    pub last_seen_at: i64,
    /// Explicit expiry (ms), if any.
    pub expires_at: Option<i64>,
}

impl SessionPolicy {
    /// The absolute expiry of a session created at `created_at`.
    pub fn absolute_expiry(&self, created_at: i64) -> i64 {
        created_at + i64::from(self.absolute_minutes) * 60_000
    }

    /// Whether an interactive session is still valid at `now`.
    pub fn check(&self, times: SessionTimes, now: i64) -> Result<(), SessionEnd> {
        let expiry = times
            .expires_at
            .unwrap_or_else(|| self.absolute_expiry(times.created_at));
        if now >= expiry {
            return Err(SessionEnd::Expired);
        }
        if now - times.last_seen_at >= i64::from(self.idle_minutes) * 60_000 {
            return Err(SessionEnd::Idle);
        }
        Ok(())
    }

    /// Decides a new login given the account's live sessions as `(id, created_at)`.
    pub fn admit<'a>(&self, live: &'a [(String, i64)]) -> Admission<'a> {
        let limit = self.max_concurrent.max(1) as usize;
        if live.len() < limit {
            return Admission::Admit { evict: Vec::new() };
        }
        match self.over_limit {
            OverLimit::Refuse => Admission::Refuse,
            OverLimit::EvictOldest => {
                let mut sorted: Vec<&(String, i64)> = live.iter().collect();
                sorted.sort_by_key(|(id, created)| (*created, id.clone()));
                let excess = live.len() + 1 - limit;
                Admission::Admit {
                    evict: sorted
                        .into_iter()
                        .take(excess)
                        .map(|(id, _)| id.as_str())
                        .collect(),
                }
            }
        }
    }
}

/// The decision on a new login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission<'a> {
    /// Admit it, ending these sessions first.
    Admit {
        /// Session ids to end.
        evict: Vec<&'a str>,
    },
    /// Refuse it: the limit is reached.
    Refuse,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_on_idle_or_absolute_lifetime() {
        let p = SessionPolicy {
            idle_minutes: 10,
            absolute_minutes: 60,
            ..Default::default()
        };
        let t = SessionTimes {
            created_at: 0,
            last_seen_at: 0,
            expires_at: None,
        };
        assert_eq!(p.check(t, 599_999), Ok(()));
        assert_eq!(p.check(t, 600_000), Err(SessionEnd::Idle));
        let busy = SessionTimes {
            last_seen_at: 3_590_000,
            ..t
        };
        assert_eq!(p.check(busy, 3_600_000), Err(SessionEnd::Expired));
    }

    #[test]
    fn over_the_limit_evicts_the_oldest_or_refuses() {
        let live = vec![("b".to_owned(), 20), ("a".to_owned(), 10)];
        let evict = SessionPolicy {
            max_concurrent: 2,
            ..Default::default()
        };
        assert_eq!(evict.admit(&live), Admission::Admit { evict: vec!["a"] });
        let refuse = SessionPolicy {
            over_limit: OverLimit::Refuse,
            ..evict
        };
        assert_eq!(refuse.admit(&live), Admission::Refuse);
        assert_eq!(refuse.admit(&live[..1]), Admission::Admit { evict: vec![] });
    }
}
