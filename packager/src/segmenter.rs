//! Sans-IO segmentation of one track's samples into media segments.
//!
//! Segment boundaries sit at `first_pts + k * target` (k = 1, 2, ...), computed
//! exactly from the nanosecond target, so rounding never accumulates into
//! drift. A segment is cut before the first sync sample whose `pts` reaches
//! the next boundary; a long GOP therefore extends a segment past boundaries,
//! and the next boundary is then the first one after the cut.

use std::time::Duration;

use crate::media::Sample;

/// The samples of one finished segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSamples {
    /// The samples in decode order; the first one is a sync sample unless the track started without one.
    pub samples: Vec<Sample>,
    /// `dts` of the first sample.
    pub start_dts: i64,
    /// Sum of the sample durations, in track ticks.
    pub duration: u64,
}

/// Cuts one track's samples into segments of about `target` duration.
#[derive(Debug)]
pub struct Segmenter {
    timescale: u32,
    target_nanos: u128,
    first_pts: Option<i64>,
    /// Index `k` of the next boundary `first_pts + k * target`.
    next_boundary_index: u64,
    pending: Vec<Sample>,
    pending_duration: u64,
}

impl Segmenter {
    /// A segmenter for a track with `timescale` ticks per second. A zero
    /// target is treated as one tick (a cut at every sync sample).
    pub fn new(timescale: u32, target: Duration) -> Self {
        Self {
            timescale: timescale.max(1),
            target_nanos: target.as_nanos().max(1),
            first_pts: None,
            next_boundary_index: 1,
            pending: Vec::new(),
            pending_duration: 0,
        }
    }

    /// Adds a sample; returns the previous segment when this sample starts a new one.
    pub fn push(&mut self, sample: Sample) -> Option<SegmentSamples> {
        let first_pts = *self.first_pts.get_or_insert(sample.pts);
        let mut finished = None;
        if sample.is_sync
            && !self.pending.is_empty()
            && sample.pts >= self.boundary(first_pts, self.next_boundary_index)
        {
            finished = self.take_segment();
            // The first boundary strictly after this cut.
            while self.boundary(first_pts, self.next_boundary_index) <= sample.pts {
                self.next_boundary_index += 1;
            }
        }
        self.pending_duration += u64::from(sample.duration);
        self.pending.push(sample);
        finished
    }

    /// Flushes the last, possibly short, segment.
    pub fn finish(&mut self) -> Option<SegmentSamples> {
        self.take_segment()
    }

    /// The target duration in this track's ticks (rounded down).
    pub fn target_ticks(&self) -> u64 {
        u64::try_from(self.target_nanos * u128::from(self.timescale) / 1_000_000_000)
            .unwrap_or(u64::MAX)
    }

    /// `first_pts + k * target` in ticks, exact up to one tick (no accumulation).
    fn boundary(&self, first_pts: i64, k: u64) -> i64 {
        let offset = u128::from(k) * self.target_nanos * u128::from(self.timescale) / 1_000_000_000;
        first_pts.saturating_add(i64::try_from(offset).unwrap_or(i64::MAX))
    }

    fn take_segment(&mut self) -> Option<SegmentSamples> {
        let first = self.pending.first()?;
        let start_dts = first.dts;
        let samples = std::mem::take(&mut self.pending);
        let duration = std::mem::take(&mut self.pending_duration);
        Some(SegmentSamples {
            samples,
            start_dts,
            duration,
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

    /// Feeds samples, returns each segment's (start index, sample count).
    fn cut(segmenter: &mut Segmenter, samples: Vec<Sample>) -> Vec<SegmentSamples> {
        let mut out: Vec<_> = samples
            .into_iter()
            .filter_map(|s| segmenter.push(s))
            .collect();
        out.extend(segmenter.finish());
        out
    }

    #[test]
    fn cuts_at_every_boundary_when_keyframes_line_up() {
        // 30 fps at 90 kHz, keyframe every second, 4 s target, 10 s of video.
        let mut segmenter = Segmenter::new(90000, Duration::from_secs(4));
        let samples = (0..300).map(|i| frame(i, 3000, i % 30 == 0)).collect();
        let segments = cut(&mut segmenter, samples);
        let counts: Vec<_> = segments.iter().map(|s| s.samples.len()).collect();
        assert_eq!(counts, vec![120, 120, 60]);
        assert_eq!(segments[1].start_dts, 360_000);
        assert_eq!(segments[0].duration, 360_000);
        assert_eq!(segments[2].duration, 180_000);
        assert!(segments.iter().all(|s| s.samples[0].is_sync));
    }

    #[test]
    fn cuts_only_before_sync_samples() {
        // Keyframes every 1.5 s: boundaries at 4 s and 8 s are reached by
        // non-sync frames; cuts wait for the keyframes at 4.5 s and 9 s.
        let mut segmenter = Segmenter::new(90000, Duration::from_secs(4));
        let samples = (0..360).map(|i| frame(i, 3000, i % 45 == 0)).collect();
        let segments = cut(&mut segmenter, samples);
        let starts: Vec<_> = segments.iter().map(|s| s.start_dts / 90).collect();
        assert_eq!(starts, vec![0, 4500, 9000]);
        assert!(segments.iter().all(|s| s.samples[0].is_sync));
    }

    #[test]
    fn a_long_gop_extends_a_segment_and_the_next_boundary_follows_the_grid() {
        // Keyframes at 0, 9 s, 10 s, 12 s: 9 s passes boundaries 4 and 8,
        // the next boundary is 12 s, so 10 s does not cut but 12 s does.
        let keyframes = [0, 270, 300, 360];
        let mut segmenter = Segmenter::new(90000, Duration::from_secs(4));
        let samples = (0..420)
            .map(|i| frame(i, 3000, keyframes.contains(&i)))
            .collect();
        let segments = cut(&mut segmenter, samples);
        let starts: Vec<_> = segments.iter().map(|s| s.start_dts / 90_000).collect();
        assert_eq!(starts, vec![0, 9, 12]);
        assert_eq!(segments[0].duration, 9 * 90_000);
    }

    #[test]
    fn boundaries_do_not_drift_with_fractional_frame_rates() {
        // 29.97 fps (3003 ticks), keyframe every frame, 6 s target, one hour:
        // every cut is within one frame of k * 6 s.
        let mut segmenter = Segmenter::new(90000, Duration::from_secs(6));
        let samples = (0..107_892).map(|i| frame(i, 3003, true)).collect();
        let segments = cut(&mut segmenter, samples);
        assert_eq!(segments.len(), 600);
        for (k, segment) in segments.iter().enumerate() {
            let boundary = k as i64 * 6 * 90_000;
            assert!(
                segment.start_dts >= boundary && segment.start_dts < boundary + 3003,
                "segment {k} starts at {} (boundary {boundary})",
                segment.start_dts
            );
        }
    }

    #[test]
    fn audio_segments_track_the_grid_from_the_first_pts() {
        // AAC at 48 kHz: 1024-sample frames, every frame sync, first pts 1024.
        let mut segmenter = Segmenter::new(48000, Duration::from_secs(4));
        let samples = (1..1000)
            .map(|i| Sample {
                dts: i * 1024,
                pts: i * 1024,
                duration: 1024,
                is_sync: true,
                data: Bytes::new(),
            })
            .collect();
        let segments = cut(&mut segmenter, samples);
        for (k, segment) in segments.iter().enumerate() {
            let boundary = 1024 + k as i64 * 4 * 48_000;
            assert!(segment.start_dts >= boundary && segment.start_dts < boundary + 1024);
        }
        let total: u64 = segments.iter().map(|s| s.duration).sum();
        assert_eq!(total, 999 * 1024);
    }

    #[test]
    fn boundaries_use_pts_not_dts() {
        // B-frame stream: keyframe pts is two frames after its dts.
        let mut segmenter = Segmenter::new(90000, Duration::from_secs(1));
        let sample = |index: i64, is_sync: bool| Sample {
            dts: index * 3000,
            pts: index * 3000 + 6000,
            duration: 3000,
            is_sync,
            data: Bytes::new(),
        };
        assert!(segmenter.push(sample(0, true)).is_none());
        for i in 1..30 {
            assert!(segmenter.push(sample(i, false)).is_none());
        }
        let finished = segmenter.push(sample(30, true)).unwrap();
        assert_eq!(finished.samples.len(), 30);
    }

    #[test]
    fn finish_flushes_once_and_an_empty_segmenter_yields_nothing() {
        let mut segmenter = Segmenter::new(90000, Duration::from_secs(4));
        assert!(segmenter.finish().is_none());
        assert!(segmenter.push(frame(0, 3000, true)).is_none());
        let last = segmenter.finish().unwrap();
        assert_eq!(last.samples.len(), 1);
        assert!(segmenter.finish().is_none());
        assert_eq!(segmenter.target_ticks(), 360_000);
    }
}
