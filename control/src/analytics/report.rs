//! Aggregating playbacks into viewing figures, without IO and without a clock: views, unique
//! viewers, watch time, completion, peak concurrent viewers, per target and per period bucket
//! (day or month in Beijing time, UTC+8, the platform's time zone).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

/// One playback as the reports see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackRow {
    /// The viewer (account id, or `anon:…` for a signed-out viewer of a public resource).
    pub viewer: String,
    /// First event received (server time, ms).
    pub started_at: i64,
    /// Last event received (server time, ms).
    pub last_seen_at: i64,
    /// Watched time (ms).
    pub watched_ms: i64,
    /// The video's duration (ms), when known.
    pub duration_ms: Option<i64>,
}

/// Viewing figures of a set of playbacks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Playbacks started.
    pub views: i64,
    /// Distinct viewers.
    pub unique_viewers: i64,
    /// Watched time, seconds (each playback's union of watched stretches, summed).
    pub watch_seconds: f64,
    /// Playbacks that watched at least the completion share of the duration.
    pub completions: i64,
    /// `completions / views` among playbacks of a known duration (0 when none).
    pub completion_rate: f64,
    /// Mean watched share of the duration over those playbacks (0–1).
    pub average_watched_share: f64,
    /// Most distinct viewers watching at the same time.
    pub peak_concurrent_viewers: i64,
    /// When that peak was first reached (ms), if anyone watched.
    pub peak_at: Option<i64>,
}

/// Whether a playback completed: watched at least `share` of a known duration.
pub fn completed(row: &PlaybackRow, share: f64) -> bool {
    match row.duration_ms {
        Some(d) if d > 0 => row.watched_ms as f64 >= share * d as f64,
        _ => false,
    }
}

/// The figures of `rows` (playbacks of one target or of many), `share` the completion share.
pub fn figures(rows: &[PlaybackRow], share: f64) -> Figures {
    let viewers: HashSet<&str> = rows.iter().map(|r| r.viewer.as_str()).collect();
    let timed: Vec<&PlaybackRow> = rows
        .iter()
        .filter(|r| r.duration_ms.is_some_and(|d| d > 0))
        .collect();
    let completions = rows.iter().filter(|r| completed(r, share)).count() as i64;
    let (peak, peak_at) = peak_concurrent(rows);
    let shares: f64 = timed
        .iter()
        .map(|r| (r.watched_ms as f64 / r.duration_ms.unwrap_or(1) as f64).min(1.0))
        .sum();
    Figures {
        views: rows.len() as i64,
        unique_viewers: viewers.len() as i64,
        watch_seconds: rows.iter().map(|r| r.watched_ms).sum::<i64>() as f64 / 1000.0,
        completions,
        completion_rate: ratio(completions as f64, timed.len() as f64),
        average_watched_share: ratio(shares, timed.len() as f64),
        peak_concurrent_viewers: peak,
        peak_at,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// The most distinct viewers present at once, and when that was first reached. A playback is
/// present from its first to its last event (a single event: for one millisecond); one viewer
/// in two tabs counts once.
pub fn peak_concurrent(rows: &[PlaybackRow]) -> (i64, Option<i64>) {
    let mut edges: Vec<(i64, i32, &str)> = Vec::with_capacity(rows.len() * 2);
    for r in rows {
        let end = r.last_seen_at.max(r.started_at + 1);
        edges.push((r.started_at, 1, &r.viewer));
        edges.push((end, -1, &r.viewer));
    }
    // Ends before starts at the same instant: back-to-back playbacks do not overlap.
    edges.sort_by_key(|(at, delta, _)| (*at, *delta));
    let mut open: HashMap<&str, i32> = HashMap::new();
    let (mut now, mut peak, mut peak_at) = (0i64, 0i64, None);
    for (at, delta, viewer) in edges {
        let count = open.entry(viewer).or_insert(0);
        let before = *count;
        *count += delta;
        if before == 0 && *count > 0 {
            now += 1;
            if now > peak {
                peak = now;
                peak_at = Some(at);
            }
        } else if before > 0 && *count == 0 {
            now -= 1;
        }
    }
    (peak, peak_at)
}

/// The period buckets of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Calendar days (Beijing time).
    #[default]
    Day,
    /// Calendar months (Beijing time).
    Month,
}

/// The label of the bucket holding `at` (ms): `2026-01-31` or `2026-01`, Beijing time.
pub fn bucket_label(at: i64, bucket: Bucket) -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    match bucket {
        Bucket::Day => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Bucket::Month => format!("{:04}-{:02}", t.year(), u8::from(t.month())),
    }
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// `2026-01-31` or `2026-01`.
    pub period: String,
    /// The figures of the playbacks started in it.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of `rows` per bucket of their start, oldest first.
pub fn series(rows: &[PlaybackRow], bucket: Bucket, share: f64) -> Vec<SeriesPoint> {
    let mut by: BTreeMap<String, Vec<PlaybackRow>> = BTreeMap::new();
    for r in rows {
        by.entry(bucket_label(r.started_at, bucket))
            .or_default()
            .push(r.clone());
    }
    by.into_iter()
        .map(|(period, rows)| SeriesPoint {
            period,
            figures: figures(&rows, share),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(viewer: &str, start: i64, end: i64, watched: i64) -> PlaybackRow {
        PlaybackRow {
            viewer: viewer.into(),
            started_at: start,
            last_seen_at: end,
            watched_ms: watched,
            duration_ms: Some(10_000),
        }
    }

    #[test]
    fn figures_count_views_viewers_watch_time_and_completion() {
        let rows = [
            row("a", 0, 10, 10_000),
            row("a", 20, 30, 2_000),
            row("b", 5, 15, 9_500),
            row("c", 40, 50, 6_000),
        ];
        let f = figures(&rows, 0.9);
        assert_eq!(f.views, 4);
        assert_eq!(f.unique_viewers, 3);
        assert_eq!(f.watch_seconds, 27.5);
        assert_eq!(f.completions, 2);
        assert_eq!(f.completion_rate, 0.5);
        assert!((f.average_watched_share - 0.6875).abs() < 1e-9);
    }

    #[test]
    fn the_peak_counts_distinct_viewers_present_at_once() {
        let rows = [
            row("a", 0, 100, 0),
            row("a", 10, 90, 0), // a second tab of a
            row("b", 50, 60, 0),
            row("c", 55, 200, 0),
            row("d", 100, 120, 0), // starts when a leaves
        ];
        assert_eq!(peak_concurrent(&rows), (3, Some(55)));
        assert_eq!(peak_concurrent(&[]), (0, None));
    }

    #[test]
    fn a_single_event_playback_is_present_for_an_instant() {
        assert_eq!(peak_concurrent(&[row("a", 7, 7, 0)]), (1, Some(7)));
    }

    #[test]
    fn buckets_are_calendar_days_and_months_in_beijing_time() {
        // 2026-01-31T16:30:00Z is 2026-02-01 00:30 in Beijing.
        let at = 1_769_877_000_000;
        assert_eq!(bucket_label(at, Bucket::Day), "2026-02-01");
        assert_eq!(bucket_label(at, Bucket::Month), "2026-02");
        let rows = [row("a", at, at, 1), row("b", at - 3_600_000, at, 1)];
        let s = series(&rows, Bucket::Day, 0.9);
        assert_eq!(
            s.iter().map(|p| p.period.as_str()).collect::<Vec<_>>(),
            ["2026-01-31", "2026-02-01"]
        );
    }
}
