//! Login-failure lockout maths: after `max_failures` consecutive failures the account is locked
//! for `lock_minutes`. Pure: the caller passes `now` (milliseconds since the Unix epoch).

use serde::{Deserialize, Serialize};

/// Lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// How long the lock lasts, in minutes.
    pub lock_minutes: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_minutes: 15,
        }
    }
}

/// The lockout-relevant state of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockState {
    /// Consecutive failures since the last success or lock.
    pub failed_attempts: u32,
    /// Locked until this instant (ms), if locked.
    pub locked_until: Option<i64>,
}

/// What a failed attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted; the account stays open.
    Counted,
    /// This failure locked the account until the given instant.
    LockedNow {
        /// End of the lock (ms).
        until: i64,
    },
}

impl LockState {
    /// The end of an active lock at `now`, if any.
    pub fn locked_at(&self, now: i64) -> Option<i64> {
        self.locked_until.filter(|until| *until > now)
    }

    /// The state after a failed login at `now`.
    pub fn after_failure(self, policy: &LockoutPolicy, now: i64) -> (LockState, FailureOutcome) {
        let failed = if self.locked_until.is_some_and(|u| u <= now) {
            1
        } else {
            self.failed_attempts.saturating_add(1)
        };
        if policy.max_failures > 0 && failed >= policy.max_failures {
            let until = now + i64::from(policy.lock_minutes) * 60_000;
            (
                LockState {
                    failed_attempts: 0,
                    locked_until: Some(until),
                },
                FailureOutcome::LockedNow { until },
            )
        } else {
            (
                LockState {
                    failed_attempts: failed,
                    locked_until: None,
                },
                FailureOutcome::Counted,
            )
        }
    }

    /// The state after a successful login.
    pub fn after_success(self) -> LockState {
        LockState::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_failure_locks_for_m_minutes() {
        let policy = LockoutPolicy {
            max_failures: 3,
            lock_minutes: 10,
        };
        let s = LockState::default();
        let (s, o) = s.after_failure(&policy, 1_000);
        assert_eq!(o, FailureOutcome::Counted);
        let (s, _) = s.after_failure(&policy, 2_000);
        let (s, o) = s.after_failure(&policy, 3_000);
        assert_eq!(o, FailureOutcome::LockedNow { until: 603_000 });
        assert_eq!(s.locked_at(602_999), Some(603_000));
        assert_eq!(s.locked_at(603_000), None);
    }

    #[test]
    fn counting_restarts_after_a_lock_expires_or_a_success() {
        let policy = LockoutPolicy {
            max_failures: 2,
            lock_minutes: 1,
        };
        let (s, _) = LockState::default().after_failure(&policy, 0);
        assert_eq!(s.after_success(), LockState::default());
        let (s, _) = s.after_failure(&policy, 0);
        assert!(s.locked_until.is_some());
        let (s, o) = s.after_failure(&policy, 120_000);
        assert_eq!(o, FailureOutcome::Counted);
        assert_eq!(s.failed_attempts, 1);
    }
}
