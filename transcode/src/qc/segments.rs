//! Time segments: a [`Segment`] is `[start, end)` in seconds; a [`RunTracker`]
//! turns a stream of "this stretch is / is not in the state" observations
//! into the segments that last long enough; [`overlaps`] intersects two
//! lists. Pure.

use serde::{Deserialize, Serialize};

/// Most segments of one kind a report lists (a pathological file could
/// otherwise produce one per frame); the count of the rest is kept.
pub const MAX_SEGMENTS: usize = 500;

/// A stretch of time, in seconds from the start of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds (exclusive).
    pub end: f64,
}

impl Segment {
    /// Its length in seconds.
    pub fn duration(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }
}

/// Collects the runs of a state that last at least `min_seconds`.
#[derive(Debug, Clone)]
pub struct RunTracker {
    min_seconds: f64,
    open: Option<Segment>,
    done: Vec<Segment>,
    dropped: usize,
}

impl RunTracker {
    /// A tracker keeping runs of at least `min_seconds`.
    pub fn new(min_seconds: f64) -> Self {
        RunTracker {
            min_seconds,
            open: None,
            done: Vec::new(),
            dropped: 0,
        }
    }

    /// Records that `[start, end)` is (`on`) or is not in the state. Calls
    /// come in time order; a stretch that starts where the open run ends
    /// extends it.
    pub fn observe(&mut self, start: f64, end: f64, on: bool) {
        if on {
            match self.open.as_mut() {
                Some(run) => run.end = run.end.max(end),
                None => self.open = Some(Segment { start, end }),
            }
        } else {
            self.close();
        }
    }

    /// Ends the open run, if any.
    pub fn close(&mut self) {
        if let Some(run) = self.open.take()
            && run.duration() + 1e-9 >= self.min_seconds
        {
            if self.done.len() < MAX_SEGMENTS {
                self.done.push(run);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// The runs found, and how many more were left out past [`MAX_SEGMENTS`].
    pub fn finish(mut self) -> (Vec<Segment>, usize) {
        self.close();
        (self.done, self.dropped)
    }
}

/// The stretches where a segment of `a` and one of `b` overlap, each at
/// least `min_seconds` long. Both lists are sorted and non-overlapping.
pub fn overlaps(a: &[Segment], b: &[Segment], min_seconds: f64) -> Vec<Segment> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if end - start + 1e-9 >= min_seconds && end > start {
            out.push(Segment { start, end });
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The share of `segment` covered by the segments of `cover`.
pub fn covered_share(segment: &Segment, cover: &[Segment]) -> f64 {
    let length = segment.duration();
    if length <= 0.0 {
        return 0.0;
    }
    let inside: f64 = cover
        .iter()
        .map(|c| (c.end.min(segment.end) - c.start.max(segment.start)).max(0.0))
        .sum();
    (inside / length).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, end: f64) -> Segment {
        Segment { start, end }
    }

    #[test]
    fn runs_shorter_than_the_minimum_are_not_kept() {
        let mut t = RunTracker::new(1.0);
        for i in 0..10 {
            let s = f64::from(i) * 0.25;
            // On from 0.5 to 1.25 (0.75 s), then from 1.5 to the end (1 s).
            t.observe(s, s + 0.25, (2..5).contains(&i) || i >= 6);
        }
        assert_eq!(t.finish(), (vec![seg(1.5, 2.5)], 0));
    }

    #[test]
    fn a_run_open_at_the_end_is_kept() {
        let mut t = RunTracker::new(0.0);
        t.observe(0.0, 1.0, true);
        t.observe(1.0, 2.0, true);
        assert_eq!(t.finish().0, vec![seg(0.0, 2.0)]);
    }

    #[test]
    fn only_so_many_segments_are_listed_and_the_rest_counted() {
        let mut t = RunTracker::new(0.0);
        for i in 0..(MAX_SEGMENTS + 7) {
            let s = i as f64;
            t.observe(s, s + 0.5, true);
            t.observe(s + 0.5, s + 1.0, false);
        }
        let (kept, dropped) = t.finish();
        assert_eq!((kept.len(), dropped), (MAX_SEGMENTS, 7));
    }

    #[test]
    fn overlaps_are_the_intersections_long_enough() {
        let a = [seg(0.0, 10.0), seg(20.0, 40.0)];
        let b = [seg(5.0, 12.0), seg(15.0, 21.0), seg(30.0, 50.0)];
        assert_eq!(overlaps(&a, &b, 2.0), vec![seg(5.0, 10.0), seg(30.0, 40.0)]);
        assert_eq!(overlaps(&a, &b, 0.5).len(), 3);
    }

    #[test]
    fn covered_share_adds_the_covered_parts() {
        let s = seg(10.0, 20.0);
        assert_eq!(covered_share(&s, &[seg(0.0, 12.0), seg(15.0, 16.0)]), 0.3);
        assert_eq!(covered_share(&s, &[]), 0.0);
    }
}
