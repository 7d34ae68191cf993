//! When a learner earns a resource's credit hours (学时), without IO and without a clock: once
//! their watched time (the union of what they really watched, over all their playbacks) reaches
//! the configured share of the resource's duration. Earned once: a credit already recorded is
//! never earned again.

/// Whether `watched_ms` of a resource `duration_ms` long earns its credit at `share` (0–1).
/// An unknown or empty duration earns nothing (the share cannot be measured).
pub fn credit_due(watched_ms: i64, duration_ms: Option<i64>, share: f64) -> bool {
    match duration_ms {
        Some(d) if d > 0 => watched_ms as f64 >= share * d as f64,
        _ => false,
    }
}

/// The watched time needed (ms) for a resource `duration_ms` long at `share`.
pub fn required_ms(duration_ms: Option<i64>, share: f64) -> Option<i64> {
    duration_ms
        .filter(|d| *d > 0)
        .map(|d| (share * d as f64).ceil() as i64)
}

/// What happens to a learner's credit after their progress moved: `Some(now)` when it is
/// earned now, `None` when it was earned before or is not due.
pub fn credit_now(
    credited_at: Option<i64>,
    watched_ms: i64,
    duration_ms: Option<i64>,
    share: f64,
    now: i64,
) -> Option<i64> {
    (credited_at.is_none() && credit_due(watched_ms, duration_ms, share)).then_some(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credit_is_due_at_the_share_of_the_duration_and_not_before() {
        assert!(!credit_due(7_999, Some(10_000), 0.8));
        assert!(credit_due(8_000, Some(10_000), 0.8));
        assert_eq!(required_ms(Some(10_000), 0.8), Some(8_000));
    }

    #[test]
    fn an_unknown_duration_earns_nothing() {
        assert!(!credit_due(1_000_000, None, 0.8));
        assert!(!credit_due(1_000_000, Some(0), 0.8));
        assert_eq!(required_ms(None, 0.8), None);
    }

    #[test]
    fn a_credit_is_earned_once() {
        assert_eq!(credit_now(None, 9_000, Some(10_000), 0.8, 5), Some(5));
        assert_eq!(credit_now(Some(3), 10_000, Some(10_000), 0.8, 5), None);
        assert_eq!(credit_now(None, 1_000, Some(10_000), 0.8, 5), None);
    }
}
