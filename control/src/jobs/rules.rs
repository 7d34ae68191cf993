//! The job queue's rules, without IO and without a clock: the states of a job and which moves
//! between them are legal, lease expiry, and what happens after a failed attempt (retry at
//! `now + backoff` with jitter, or give up). The database driver ([`super::queue`]) applies
//! these decisions with conditional updates.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (new, or back after a retryable failure or a release).
    Queued,
    /// Held by a worker under a lease.
    Running,
    /// Done.
    Succeeded,
    /// Given up: not retryable, or out of attempts.
    Failed,
    /// Stopped on purpose (e.g. its resource was deleted).
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// Identifier (as stored and in the API).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True when nothing more will happen to the job.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Whether a job may move from `self` to `next`:
    /// - queued → running (claimed) or cancelled;
    /// - running → succeeded, failed, queued (retry or release), running (re-claimed after
    ///   its lease expired) or cancelled;
    /// - nothing leaves a terminal state.
    pub fn can_become(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Queued, Running)
                | (Queued, Cancelled)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Queued)
                | (Running, Running)
                | (Running, Cancelled)
        )
    }
}

impl FromStr for JobState {
    type Err = UnknownJobState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownJobState(s.to_owned()))
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state that is not one of [`JobState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state {0:?}")]
pub struct UnknownJobState(pub String);

/// Delays before the 1st, 2nd, 3rd, 4th… retry; later retries use the last one.
pub const BACKOFF_STEPS_MS: [i64; 4] = [5_000, 30_000, 120_000, 600_000];

/// Jitter spreads a delay by up to ± this fraction, so that jobs failing together (a storage
/// outage) do not all come back in the same instant.
pub const JITTER_FRACTION: f64 = 0.2;

/// The most attempts a job may be given.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// The delay before the next try after `failed_attempts` failed attempts (1-based), spread by
/// `jitter` in `[0, 1]` (0.5 is the nominal delay; out-of-range values are clamped).
pub fn backoff_ms(failed_attempts: u32, jitter: f64) -> i64 {
    let index = (failed_attempts.max(1) - 1) as usize;
    let base = BACKOFF_STEPS_MS[index.min(BACKOFF_STEPS_MS.len() - 1)];
    let jitter = if jitter.is_nan() {
        0.5
    } else {
        jitter.clamp(0.0, 1.0)
    };
    let factor = 1.0 + JITTER_FRACTION * (2.0 * jitter - 1.0);
    (base as f64 * factor).round() as i64
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Queue the job again, runnable from this time (ms).
    RetryAt(i64),
    /// Mark the job failed for good.
    GiveUp,
}

/// Decides what follows a failed attempt: a retryable failure with attempts left is retried
/// after [`backoff_ms`]; anything else gives up. `attempts` counts the attempt that failed.
pub fn after_failure(
    attempts: u32,
    max_attempts: u32,
    retryable: bool,
    now: i64,
    jitter: f64,
) -> AfterFailure {
    if retryable && attempts < max_attempts {
        AfterFailure::RetryAt(now.saturating_add(backoff_ms(attempts, jitter)))
    } else {
        AfterFailure::GiveUp
    }
}

/// True when a lease ending at `lease_until` no longer protects its holder at `now` (a running
/// job without a lease counts as expired).
pub fn lease_expired(lease_until: Option<i64>, now: i64) -> bool {
    lease_until.is_none_or(|until| until <= now)
}

/// Whether a running job whose lease expired (its worker died or hung) may be claimed again:
/// the lost attempt counts as failed, so only while attempts are left; otherwise it fails.
pub fn expired_lease_may_be_reclaimed(attempts: u32, max_attempts: u32) -> bool {
    attempts < max_attempts
}

/// The end of a lease of length `lease` taken at `now` (ms).
pub fn lease_end(now: i64, lease: Duration) -> i64 {
    let ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    now.saturating_add(ms)
}

/// Checks a requested number of attempts: 1 to [`MAX_ATTEMPTS_LIMIT`].
pub fn valid_max_attempts(max_attempts: u32) -> bool {
    (1..=MAX_ATTEMPTS_LIMIT).contains(&max_attempts)
}

/// Checks a progress percentage: a number from 0 to 100.
pub fn valid_percent(percent: f64) -> bool {
    percent.is_finite() && (0.0..=100.0).contains(&percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_schedule_and_is_capped() {
        assert_eq!(backoff_ms(1, 0.5), 5_000);
        assert_eq!(backoff_ms(2, 0.5), 30_000);
        assert_eq!(backoff_ms(3, 0.5), 120_000);
        assert_eq!(backoff_ms(4, 0.5), 600_000);
        assert_eq!(backoff_ms(9, 0.5), 600_000, "capped at the last step");
        assert_eq!(
            backoff_ms(0, 0.5),
            5_000,
            "zero counts as the first failure"
        );
    }

    #[test]
    fn jitter_spreads_the_delay_by_twenty_percent_either_way() {
        assert_eq!(backoff_ms(2, 0.0), 24_000);
        assert_eq!(backoff_ms(2, 1.0), 36_000);
        assert_eq!(backoff_ms(2, 7.0), 36_000, "clamped");
        assert_eq!(backoff_ms(2, -1.0), 24_000, "clamped");
        assert_eq!(backoff_ms(2, f64::NAN), 30_000);
    }

    #[test]
    fn a_retryable_failure_with_attempts_left_is_retried_later() {
        assert_eq!(
            after_failure(1, 3, true, 1_000, 0.5),
            AfterFailure::RetryAt(6_000)
        );
        assert_eq!(
            after_failure(2, 3, true, 1_000, 0.5),
            AfterFailure::RetryAt(31_000)
        );
    }

    #[test]
    fn the_last_attempt_or_a_permanent_failure_gives_up() {
        assert_eq!(after_failure(3, 3, true, 0, 0.5), AfterFailure::GiveUp);
        assert_eq!(after_failure(1, 3, false, 0, 0.5), AfterFailure::GiveUp);
    }

    #[test]
    fn an_expired_lease_costs_an_attempt() {
        assert!(expired_lease_may_be_reclaimed(1, 2));
        assert!(!expired_lease_may_be_reclaimed(2, 2));
    }

    #[test]
    fn a_lease_expires_at_its_end() {
        assert!(!lease_expired(Some(1_000), 999));
        assert!(lease_expired(Some(1_000), 1_000));
        assert!(lease_expired(None, 0));
        assert_eq!(lease_end(1_000, Duration::from_secs(30)), 31_000);
        assert_eq!(lease_end(i64::MAX - 1, Duration::from_secs(30)), i64::MAX);
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in JobState::ALL {
                assert!(!from.can_become(to), "{from} → {to}");
            }
        }
    }

    #[test]
    fn legal_transitions_are_exactly_the_documented_ones() {
        use JobState::*;
        let legal: Vec<(JobState, JobState)> = JobState::ALL
            .into_iter()
            .flat_map(|a| JobState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Queued, Running),
                (Queued, Cancelled),
                (Running, Queued),
                (Running, Running),
                (Running, Succeeded),
                (Running, Failed),
                (Running, Cancelled),
            ]
        );
    }

    #[test]
    fn states_round_trip_through_their_identifiers() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
        }
        assert!("done".parse::<JobState>().is_err());
    }

    #[test]
    fn attempts_and_percentages_are_bounded() {
        assert!(!valid_max_attempts(0));
        assert!(valid_max_attempts(1));
        assert!(valid_max_attempts(100));
        assert!(!valid_max_attempts(101));
        assert!(valid_percent(0.0) && valid_percent(100.0));
        assert!(!valid_percent(-0.1) && !valid_percent(100.5) && !valid_percent(f64::NAN));
    }
}
