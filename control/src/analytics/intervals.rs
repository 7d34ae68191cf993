//! Sets of watched intervals of a video's timeline (milliseconds), kept sorted, disjoint and
//! merged, so that watched time is always the length of their union: watching a passage twice
//! counts once, and skipping ahead counts nothing of what was skipped. Pure: no IO, no clock.

use serde::{Deserialize, Serialize};

/// The most intervals one set keeps. Beyond it the shortest ones are dropped, which can only
/// under-count (a learner who seeks thousands of times loses a little, never gains).
pub const MAX_INTERVALS: usize = 512;

/// A sorted set of disjoint half-open intervals `[start, end)` in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntervalSet(Vec<(i64, i64)>);

impl IntervalSet {
    /// The empty set.
    pub fn new() -> IntervalSet {
        IntervalSet(Vec::new())
    }

    /// The set of `pairs` (in any order, overlapping or not; empty ones ignored).
    pub fn from_pairs(pairs: &[(i64, i64)]) -> IntervalSet {
        let mut set = IntervalSet::new();
        for &(start, end) in pairs {
            set.add(start, end);
        }
        set
    }

    /// Parses the stored JSON text (`[[start,end],…]`); anything unreadable is the empty set.
    pub fn from_json(text: &str) -> IntervalSet {
        serde_json::from_str::<Vec<(i64, i64)>>(text)
            .map(|pairs| IntervalSet::from_pairs(&pairs))
            .unwrap_or_default()
    }

    /// The JSON text stored in the database.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    /// The intervals, sorted and disjoint.
    pub fn pairs(&self) -> &[(i64, i64)] {
        &self.0
    }

    /// True when nothing was watched.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `[start, end)`, merging with every interval it overlaps or touches.
    pub fn add(&mut self, start: i64, end: i64) {
        if end <= start {
            return;
        }
        let (mut start, mut end) = (start, end);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(s, e) in &self.0 {
            if e < start {
                out.push((s, e));
            } else if s > end {
                if !placed {
                    out.push((start, end));
                    placed = true;
                }
                out.push((s, e));
            } else {
                start = start.min(s);
                end = end.max(e);
            }
        }
        if !placed {
            out.push((start, end));
        }
        self.0 = out;
        self.bound();
    }

    /// Adds every interval of `other`.
    pub fn union_with(&mut self, other: &IntervalSet) {
        for &(s, e) in &other.0 {
            self.add(s, e);
        }
    }

    /// The length of the union (ms).
    pub fn total(&self) -> i64 {
        self.0.iter().map(|(s, e)| e - s).sum()
    }

    /// The length of the union inside `[0, limit)` (ms): what counts of a video `limit` long.
    pub fn total_within(&self, limit: i64) -> i64 {
        self.0
            .iter()
            .map(|&(s, e)| (e.min(limit) - s.max(0)).max(0))
            .sum()
    }

    fn bound(&mut self) {
        while self.0.len() > MAX_INTERVALS {
            let shortest = self
                .0
                .iter()
                .enumerate()
                .min_by_key(|(_, (s, e))| e - s)
                .map(|(i, _)| i);
            match shortest {
                Some(i) => {
                    self.0.remove(i);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_touching_intervals_merge_into_their_union() {
        let set = IntervalSet::from_pairs(&[(10, 20), (0, 5), (15, 30), (5, 8), (40, 50)]);
        assert_eq!(set.pairs(), &[(0, 8), (10, 30), (40, 50)]);
        assert_eq!(set.total(), 8 + 20 + 10);
    }

    #[test]
    fn watching_a_passage_twice_counts_it_once() {
        let mut set = IntervalSet::new();
        set.add(0, 60_000);
        set.add(10_000, 30_000);
        assert_eq!(set.total(), 60_000);
    }

    #[test]
    fn empty_and_reversed_intervals_are_ignored() {
        let mut set = IntervalSet::new();
        set.add(5, 5);
        set.add(9, 3);
        assert!(set.is_empty());
    }

    #[test]
    fn the_total_within_a_duration_ignores_what_lies_outside_it() {
        let set = IntervalSet::from_pairs(&[(-500, 1_000), (9_000, 12_000)]);
        assert_eq!(set.total_within(10_000), 1_000 + 1_000);
    }

    #[test]
    fn the_stored_text_round_trips_and_bad_text_is_empty() {
        let set = IntervalSet::from_pairs(&[(0, 1), (3, 4)]);
        assert_eq!(IntervalSet::from_json(&set.to_json()), set);
        assert!(IntervalSet::from_json("not json").is_empty());
    }

    #[test]
    fn a_set_never_grows_beyond_its_bound_and_drops_the_shortest() {
        let mut set = IntervalSet::new();
        for i in 0..(MAX_INTERVALS as i64 + 10) {
            set.add(i * 100, i * 100 + 10 + (i % 7));
        }
        assert_eq!(set.pairs().len(), MAX_INTERVALS);
        assert!(set.pairs().iter().all(|(s, e)| e - s >= 10));
    }
}
