//! Sans-IO cutting of one track into LL-HLS parts inside segments.
//!
//! Segment boundaries come from the crate's [`Segmenter`] (a cut before the
//! first sync sample at or after `first_pts + k * segment_target`), so live
//! segments line up exactly as VOD ones do. Within a segment a part closes
//! before the sample that would make it longer than the part target, so
//! every part lasts at most the part target (RFC 8216bis 4.4.4.9) unless a
//! single sample is longer; parts need not start on a keyframe, and the last
//! part of a segment may be short. Samples before the first sync sample
//! are dropped (no player could decode them), so every segment, the first
//! included, starts with a keyframe.

use std::time::Duration;

use crate::media::Sample;
use crate::segmenter::Segmenter;

/// One finished part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutPart {
    /// The samples, in decode order.
    pub samples: Vec<Sample>,
    /// Sum of the sample durations, in track ticks.
    pub duration_ticks: u64,
    /// The first sample is a sync sample (`INDEPENDENT=YES`).
    pub independent: bool,
    /// This is the last part of its segment: the segment is complete.
    pub ends_segment: bool,
    /// `pts` of the first sample of the part's segment.
    pub segment_start_pts: i64,
}

/// Cuts one track's samples into parts of at most `part_target` within
/// segments of about `segment_target`.
#[derive(Debug)]
pub struct PartCutter {
    segmenter: Segmenter,
    part_target_ticks: u64,
    pending: Vec<Sample>,
    pending_ticks: u64,
    segment_start_pts: Option<i64>,
    dropped_before_sync: u64,
}

impl PartCutter {
    /// A cutter for a track with `timescale` ticks per second.
    pub fn new(timescale: u32, segment_target: Duration, part_target: Duration) -> Self {
        let part_target_ticks =
            part_target.as_nanos() * u128::from(timescale.max(1)) / 1_000_000_000;
        Self {
            segmenter: Segmenter::new(timescale, segment_target),
            part_target_ticks: u64::try_from(part_target_ticks).unwrap_or(u64::MAX).max(1),
            pending: Vec::new(),
            pending_ticks: 0,
            segment_start_pts: None,
            dropped_before_sync: 0,
        }
    }

    /// Adds a sample; returns the part it closes, if any.
    pub fn push(&mut self, sample: Sample) -> Option<CutPart> {
        if self.pending.is_empty() && self.segment_start_pts.is_none() && !sample.is_sync {
            self.dropped_before_sync += 1;
            return None;
        }
        // The segmenter only decides where segments end; the samples it
        // returns are the ones already handed out as parts.
        let segment_ends = self.segmenter.push(sample.clone()).is_some();
        let part_full = self.pending_ticks + u64::from(sample.duration) > self.part_target_ticks;
        let finished = if segment_ends || part_full {
            self.take_part(segment_ends)
        } else {
            None
        };
        self.segment_start_pts.get_or_insert(sample.pts);
        self.pending_ticks += u64::from(sample.duration);
        self.pending.push(sample);
        finished
    }

    /// Samples dropped because they came before the first sync sample.
    pub fn dropped_before_sync(&self) -> u64 {
        self.dropped_before_sync
    }

    /// Flushes the last part; it ends its segment.
    pub fn finish(&mut self) -> Option<CutPart> {
        let _segment_samples = self.segmenter.finish();
        self.take_part(true)
    }

    fn take_part(&mut self, ends_segment: bool) -> Option<CutPart> {
        let first = self.pending.first()?;
        let independent = first.is_sync;
        let segment_start_pts = self.segment_start_pts.unwrap_or(first.pts);
        if ends_segment {
            self.segment_start_pts = None;
        }
        Some(CutPart {
            samples: std::mem::take(&mut self.pending),
            duration_ticks: std::mem::take(&mut self.pending_ticks),
            independent,
            ends_segment,
            segment_start_pts,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn frame(index: i64, ticks: u32, is_sync: bool) -> Sample {
        Sample {
            dts: index * i64::from(ticks),
            pts: index * i64::from(ticks),
            duration: ticks,
            is_sync,
            data: Bytes::new(),
        }
    }

    fn cut_all(cutter: &mut PartCutter, samples: Vec<Sample>) -> Vec<CutPart> {
        let mut parts: Vec<_> = samples.into_iter().filter_map(|s| cutter.push(s)).collect();
        parts.extend(cutter.finish());
        parts
    }

    #[test]
    fn parts_of_half_a_second_fill_two_second_segments_cut_on_keyframes() {
        // 30 fps at 90 kHz, keyframe every second, 2 s segments, 0.5 s parts, 6 s.
        let mut cutter =
            PartCutter::new(90_000, Duration::from_secs(2), Duration::from_millis(500));
        let parts = cut_all(
            &mut cutter,
            (0..180).map(|i| frame(i, 3000, i % 30 == 0)).collect(),
        );
        assert_eq!(parts.len(), 12);
        assert!(
            parts
                .iter()
                .all(|p| p.samples.len() == 15 && p.duration_ticks == 45_000)
        );
        let ends: Vec<_> = parts.iter().map(|p| p.ends_segment).collect();
        assert_eq!(ends, [false, false, false, true].repeat(3));
        let independent: Vec<_> = parts.iter().map(|p| p.independent).collect();
        assert_eq!(independent, [true, false, true, false].repeat(3));
        let starts: Vec<_> = parts.iter().map(|p| p.segment_start_pts / 90_000).collect();
        assert_eq!(starts, [[0; 4], [2; 4], [4; 4]].concat());
    }

    #[test]
    fn no_part_is_longer_than_the_part_target_and_segment_ends_may_be_short() {
        // 29.97 fps, keyframes every 50 frames (1.668 s), 2 s segments, 1 s parts.
        let mut cutter = PartCutter::new(90_000, Duration::from_secs(2), Duration::from_secs(1));
        let parts = cut_all(
            &mut cutter,
            (0..600).map(|i| frame(i, 3003, i % 50 == 0)).collect(),
        );
        assert!(parts.iter().all(|p| p.duration_ticks <= 90_000));
        // Full parts are at least 85 % of the target.
        assert!(
            parts
                .iter()
                .filter(|p| !p.ends_segment && !p.independent)
                .all(|p| p.duration_ticks * 100 >= 85 * 90_000)
        );
        // Every segment starts on a keyframe, at or after the 2 s grid.
        let mut segment_first = true;
        for part in &parts {
            if segment_first {
                assert!(part.independent, "a segment starts with a keyframe");
            }
            segment_first = part.ends_segment;
        }
        let total: u64 = parts.iter().map(|p| p.duration_ticks).sum();
        assert_eq!(total, 600 * 3003);
        assert!(parts.last().is_some_and(|p| p.ends_segment));
    }

    #[test]
    fn samples_before_the_first_keyframe_are_dropped() {
        // A publisher joining mid-GOP: the keyframe comes at frame 10.
        let mut cutter =
            PartCutter::new(90_000, Duration::from_secs(2), Duration::from_millis(500));
        let parts = cut_all(
            &mut cutter,
            (0..100).map(|i| frame(i, 3000, i % 30 == 10)).collect(),
        );
        assert_eq!(cutter.dropped_before_sync(), 10);
        assert!(parts[0].independent);
        assert_eq!(parts[0].samples[0].pts, 10 * 3000);
        assert_eq!(parts[0].segment_start_pts, 10 * 3000);
        let total: usize = parts.iter().map(|p| p.samples.len()).sum();
        assert_eq!(total, 90);
    }

    #[test]
    fn finish_flushes_once_and_an_empty_cutter_yields_nothing() {
        let mut cutter =
            PartCutter::new(48_000, Duration::from_secs(2), Duration::from_millis(500));
        assert!(cutter.finish().is_none());
        assert!(cutter.push(frame(0, 1024, true)).is_none());
        let last = cutter.finish().expect("one part");
        assert!(last.ends_segment && last.independent);
        assert!(cutter.finish().is_none());
    }
}
