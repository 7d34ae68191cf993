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

/// The presentation delay of the whole ladder, in seconds: every track's
/// times are shifted by it, so decode times never go below zero (x264's
/// B-frame reorder delay is at most two frames) and the AAC encoder's
/// priming samples land before the first real sample instead of delaying
/// the audio. Video and audio share it, so they stay in sync, and no
/// composition offset is ever negative.
pub fn presentation_delay(frame_rate: f64) -> f64 {
    let two_frames = 2.0 / frame_rate.max(1.0);
    two_frames.max(AUDIO_PRIMING_SECONDS)
}

/// The least presentation delay of an audio track, and the whole delay of
/// an audio-only ladder: 1024 AAC priming samples at 44.1 kHz are 23.2 ms.
pub const AUDIO_PRIMING_SECONDS: f64 = 0.025;

/// Shapes encoder packets into samples for the packager. Adds the ladder's
/// presentation delay (in track ticks) to decode and presentation times,
/// and holds one packet back so each sample's duration is the distance to
/// the next decode time.
#[derive(Debug)]
pub struct SampleShaper {
    last_duration: u32,
    shift: i64,
    pending: Option<Sample>,
}

impl SampleShaper {
    /// `nominal_duration` is used for the last sample; `shift` is the
    /// presentation delay in ticks.
    pub fn new(nominal_duration: u32, shift: i64) -> Self {
        Self {
            last_duration: nominal_duration.max(1),
            shift,
            pending: None,
        }
    }

    /// Adds a packet (times in the track timescale); returns the previous
    /// one, now that its duration is known. Decode times are kept
    /// non-negative and strictly increasing whatever the encoder says.
    pub fn push(&mut self, dts: i64, pts: i64, is_sync: bool, data: Bytes) -> Option<Sample> {
        let floor = self.pending.as_ref().map_or(0, |p| p.dts + 1);
        let dts = (dts + self.shift).max(floor);
        let pts = (pts + self.shift).max(dts);
        let out = self.pending.take().map(|mut prev| {
            let d = u32::try_from(dts - prev.dts).unwrap_or(u32::MAX);
            prev.duration = d.max(1);
            self.last_duration = prev.duration;
            prev
        });
        self.pending = Some(Sample {
            dts,
            pts,
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
        let keys: Vec<i64> = (0..200).filter(|&n| grid.is_keyframe(n * 3003)).collect();
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
    fn the_presentation_delay_covers_b_frames_and_aac_priming() {
        assert!((presentation_delay(30.0) - 2.0 / 30.0).abs() < 1e-9);
        assert!((presentation_delay(25.0) - 0.08).abs() < 1e-9);
        // At high frame rates the AAC priming (1024 samples) decides.
        assert!(presentation_delay(120.0) * 44_100.0 >= 1024.0);
    }

    #[test]
    fn shaped_samples_are_delayed_and_keep_non_negative_offsets() {
        let mut s = SampleShaper::new(3000, 6000);
        // x264 with B-frames: I(pts 0, dts -6000) P(9000, -3000) B(3000, 0) B(6000, 3000)
        let input = [
            (-6000, 0, true),
            (-3000, 9000, false),
            (0, 3000, false),
            (3000, 6000, false),
        ];
        let mut out: Vec<Sample> = input
            .into_iter()
            .filter_map(|(d, p, k)| s.push(d, p, k, Bytes::from_static(b"x")))
            .collect();
        out.extend(s.finish());
        let got: Vec<(i64, i64, u32)> = out.iter().map(|x| (x.dts, x.pts, x.duration)).collect();
        assert_eq!(
            got,
            vec![
                (0, 6000, 3000),
                (3000, 15000, 3000),
                (6000, 9000, 3000),
                (9000, 12000, 3000)
            ]
        );
        assert!(out.iter().all(|x| x.pts >= x.dts));
        assert!(out[0].is_sync && !out[1].is_sync);
    }

    #[test]
    fn aac_priming_lands_before_the_delayed_start() {
        // The AAC encoder's first packet is 1024 samples early.
        let mut s = SampleShaper::new(1024, 3200);
        let first = s.push(-1024, -1024, true, Bytes::new());
        assert!(first.is_none());
        let first = s.push(0, 0, true, Bytes::new()).unwrap();
        assert_eq!((first.dts, first.pts, first.duration), (2176, 2176, 1024));
    }

    #[test]
    fn sample_durations_follow_decode_time_gaps() {
        let mut s = SampleShaper::new(1024, 0);
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
        let mut s = SampleShaper::new(1000, 0);
        let mut out: Vec<Sample> = [0, 0, 1000]
            .into_iter()
            .filter_map(|t| s.push(t, t, true, Bytes::new()))
            .collect();
        out.extend(s.finish());
        let dts: Vec<i64> = out.iter().map(|x| x.dts).collect();
        assert_eq!(dts, vec![0, 1, 1000]);
    }
}
