//! Timestamp rules of the pipeline, pure and unit-tested: the forced keyframe
//! grid, making decoded frame times strictly increasing, and turning encoder
//! packets into packager samples (exact durations, non-negative decode times).

use bytes::Bytes;
use yanxiu_packager::media::Sample;

/// Video timescale of every rung (ticks per second).
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// Decides which frames must be keyframes: the first frame at or after each
/// multiple of the GOP length (half a frame early counts, so 29.97 fps
/// sources do not slip a frame). Every rung receives the same decision, so
/// keyframes line up across the ladder.
#[derive(Debug, Clone)]
pub struct KeyframeGrid {
    gop_ticks: i64,
    tolerance: i64,
    next: i64,
}

impl KeyframeGrid {
    /// A grid of `gop_seconds` in `timescale` ticks, for frames of about
    /// `frame_rate` per second; the grid starts at 0.
    pub fn new(gop_seconds: f64, frame_rate: f64, timescale: u32) -> Self {
        let ts = f64::from(timescale);
        Self {
            gop_ticks: ((gop_seconds * ts).round() as i64).max(1),
            tolerance: ((ts / frame_rate.max(1.0)) / 2.0).round() as i64,
            next: 0,
        }
    }

    /// Whether the frame at `pts` (ticks) must be a keyframe.
    pub fn is_keyframe(&mut self, pts: i64) -> bool {
        if pts + self.tolerance < self.next {
            return false;
        }
        while self.next <= pts + self.tolerance {
            self.next += self.gop_ticks;
        }
        true
    }
}

/// Turns decoded frame times into strictly increasing output times.
/// Missing times continue from the last one by the nominal frame duration;
/// times that go backwards or repeat are pushed forward by one tick.
#[derive(Debug, Clone)]
pub struct MonotonicClock {
    nominal: i64,
    last: Option<i64>,
}

impl MonotonicClock {
    /// A clock whose gaps are filled with `nominal` ticks.
    pub fn new(nominal: i64) -> Self {
        Self {
            nominal: nominal.max(1),
            last: None,
        }
    }

    /// The output time for a frame whose own time is `pts` (already in the
    /// output timescale and relative to the origin), if any.
    pub fn next(&mut self, pts: Option<i64>) -> i64 {
        let t = match (pts, self.last) {
            (Some(p), Some(last)) if p <= last => last + 1,
            (Some(p), _) => p,
            (None, Some(last)) => last + self.nominal,
            (None, None) => 0,
        };
        self.last = Some(t);
        t
    }
}

/// Shapes encoder packets into samples for the packager. Holds one packet
/// back so each sample's duration is the distance to the next decode time;
/// shifts decode times by a constant so the first is 0 when the encoder
/// starts below zero (B-frame delay), keeping presentation times unchanged
/// (the composition offset absorbs the shift).
#[derive(Debug)]
pub struct SampleShaper {
    last_duration: u32,
    shift: Option<i64>,
    pending: Option<Sample>,
}

impl SampleShaper {
    /// `nominal_duration` is used for the last sample and when an encoder
    /// repeats a decode time.
    pub fn new(nominal_duration: u32) -> Self {
        Self {
            last_duration: nominal_duration.max(1),
            shift: None,
            pending: None,
        }
    }

    /// Adds a packet (times in the track timescale); returns the previous
    /// one, now that its duration is known.
    pub fn push(&mut self, dts: i64, pts: i64, is_sync: bool, data: Bytes) -> Option<Sample> {
        let shift = *self.shift.get_or_insert((-dts).max(0));
        let mut dts = dts + shift;
        if let Some(prev) = &self.pending
            && dts <= prev.dts
        {
            dts = prev.dts + 1;
        }
        let out = self.pending.take().map(|mut prev| {
            let d = u32::try_from(dts - prev.dts).unwrap_or(u32::MAX);
            prev.duration = d.max(1);
            self.last_duration = prev.duration;
            prev
        });
        self.pending = Some(Sample {
            dts,
            pts: pts.max(0),
            duration: self.last_duration,
            is_sync,
            data,
        });
        out
    }

    /// The held-back last sample, with the last known duration.
    pub fn finish(&mut self) -> Option<Sample> {
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_fall_on_the_gop_grid_at_30_fps() {
        let mut grid = KeyframeGrid::new(2.0, 30.0, 90_000);
        let keys: Vec<i64> = (0..200)
            .map(|n| n * 3000)
            .filter(|&pts| grid.is_keyframe(pts))
            .map(|pts| pts / 3000)
            .collect();
        assert_eq!(keys, vec![0, 60, 120, 180]);
    }

    #[test]
    fn keyframes_do_not_slip_at_29_97_fps() {
        let mut grid = KeyframeGrid::new(2.0, 30000.0 / 1001.0, 90_000);
        let keys: Vec<i64> = (0..200)
            .filter(|&n| grid.is_keyframe(n * 3003))
            .collect();
        assert_eq!(keys, vec![0, 60, 120, 180]);
    }

    #[test]
    fn variable_frame_rate_gets_one_keyframe_per_grid_step() {
        let mut grid = KeyframeGrid::new(2.0, 30.0, 90_000);
        // 0.5 s gaps then a 3 s jump: every grid point crossed gives one key.
        let times = [0, 45_000, 90_000, 135_000, 180_000, 450_000, 495_000];
        let keys: Vec<i64> = times.into_iter().filter(|&t| grid.is_keyframe(t)).collect();
        assert_eq!(keys, vec![0, 180_000, 450_000]);
    }

    #[test]
    fn the_clock_repairs_missing_and_backward_times() {
        let mut clock = MonotonicClock::new(3000);
        assert_eq!(clock.next(Some(0)), 0);
        assert_eq!(clock.next(None), 3000);
        assert_eq!(clock.next(Some(1000)), 3001);
        assert_eq!(clock.next(Some(3001)), 3002);
        assert_eq!(clock.next(Some(9000)), 9000);
    }

    #[test]
    fn shaped_samples_start_at_zero_and_keep_presentation_times() {
        let mut s = SampleShaper::new(3000);
        // x264 with B-frames: I(pts 0, dts -6000) P(9000, -3000) B(3000, 0) B(6000, 3000)
        let input = [(-6000, 0, true), (-3000, 9000, false), (0, 3000, false), (3000, 6000, false)];
        let mut out: Vec<Sample> = input
            .into_iter()
            .filter_map(|(d, p, k)| s.push(d, p, k, Bytes::from_static(b"x")))
            .collect();
        out.extend(s.finish());
        let got: Vec<(i64, i64, u32)> = out.iter().map(|x| (x.dts, x.pts, x.duration)).collect();
        assert_eq!(
            got,
            vec![(0, 0, 3000), (3000, 9000, 3000), (6000, 3000, 3000), (9000, 6000, 3000)]
        );
        assert!(out[0].is_sync && !out[1].is_sync);
    }

    #[test]
    fn sample_durations_follow_decode_time_gaps() {
        let mut s = SampleShaper::new(1024);
        let mut out: Vec<Sample> = [0, 1024, 2048, 4096]
            .into_iter()
            .filter_map(|t| s.push(t, t, true, Bytes::new()))
            .collect();
        out.extend(s.finish());
        let d: Vec<u32> = out.iter().map(|x| x.duration).collect();
        assert_eq!(d, vec![1024, 1024, 2048, 2048]);
    }

    #[test]
    fn repeated_decode_times_are_pushed_forward() {
        let mut s = SampleShaper::new(1000);
        let mut out: Vec<Sample> = [0, 0, 1000]
            .into_iter()
            .filter_map(|t| s.push(t, t, true, Bytes::new()))
            .collect();
        out.extend(s.finish());
        let dts: Vec<i64> = out.iter().map(|x| x.dts).collect();
        assert_eq!(dts, vec![0, 1, 1000]);
    }
}
