//! The picture analyser, pure: fed the luma plane of every decoded picture
//! with its time, it finds black segments (almost every pixel dark) and
//! frozen segments (no 32x32 block changes against the first picture of the
//! run; black pictures are reported as black, not frozen), and measures
//! sharpness and blockiness on one picture every few seconds.

use super::quality;
use super::segments::{RunTracker, Segment};
use super::thresholds::QcThresholds;

/// A read-only 8-bit luma plane.
#[derive(Debug, Clone, Copy)]
pub struct Luma<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes from one line to the next (at least `width`).
    pub stride: usize,
    /// The plane: `height` lines of `stride` bytes (the last may be just `width`).
    pub data: &'a [u8],
}

impl Luma<'_> {
    /// Line `y` (`width` bytes).
    pub fn row(&self, y: usize) -> &[u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }

    /// Whether the plane holds `height` lines of `width` pixels at `stride`.
    pub fn is_consistent(&self) -> bool {
        self.width > 0
            && self.height > 0
            && self.stride >= self.width
            && self.data.len() >= (self.height - 1) * self.stride + self.width
    }
}

/// Pixels of the analysis grid along the long edge (pictures are sampled
/// on a grid at most this fine for black and freeze detection).
const GRID_LONG_EDGE: usize = 480;
/// Edge of a freeze block, in source pixels.
const BLOCK_PIXELS: usize = 32;

/// The picture figures of a finished analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureFacts {
    /// Pictures seen.
    pub frames: u64,
    /// Time of the first picture, seconds.
    pub start: Option<f64>,
    /// End of the last picture, seconds.
    pub end: Option<f64>,
    /// Size of the analysed pictures.
    pub size: Option<(usize, usize)>,
    /// Black segments.
    pub black: Vec<Segment>,
    /// Frozen segments.
    pub freeze: Vec<Segment>,
    /// Segments left out of the lists past their cap.
    pub dropped_segments: usize,
    /// Pictures measured for quality.
    pub quality_samples: u32,
    /// Mean sharpness of the measured pictures that have edges.
    pub sharpness: Option<f64>,
    /// Mean blockiness of the measured pictures.
    pub blockiness: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    t: f64,
    black: bool,
    same: bool,
    run_start: f64,
}

/// Black, freeze and quality analysis of a picture sequence.
#[derive(Debug)]
pub struct PictureAnalyser {
    black_luma: u8,
    black_share: f64,
    freeze_difference: f64,
    sample_every: f64,
    frame_seconds: f64,
    frames: u64,
    first: Option<f64>,
    size: Option<(usize, usize)>,
    pending: Option<Pending>,
    black: RunTracker,
    freeze: RunTracker,
    grid: Vec<u8>,
    reference: Option<(Vec<u8>, f64)>,
    grid_shape: (usize, usize, usize),
    next_sample: f64,
    samples: u32,
    sharpness: (f64, u32),
    blockiness: f64,
}

impl PictureAnalyser {
    /// An analyser for pictures nominally `frame_seconds` long.
    pub fn new(thresholds: &QcThresholds, frame_seconds: f64) -> Self {
        PictureAnalyser {
            black_luma: thresholds.black_pixel_luma,
            black_share: thresholds.black_min_share,
            freeze_difference: thresholds.freeze_block_difference,
            sample_every: thresholds.quality_sample_seconds,
            frame_seconds: if frame_seconds.is_finite() && frame_seconds > 0.0 {
                frame_seconds
            } else {
                1.0 / 25.0
            },
            frames: 0,
            first: None,
            size: None,
            pending: None,
            black: RunTracker::new(thresholds.black_min_seconds),
            freeze: RunTracker::new(thresholds.freeze_min_seconds),
            grid: Vec::new(),
            reference: None,
            grid_shape: (0, 0, 1),
            next_sample: 0.0,
            samples: 0,
            sharpness: (0.0, 0),
            blockiness: 0.0,
        }
    }

    /// Takes the picture shown from `t` seconds (times strictly increase).
    /// A plane that does not hold what it claims is ignored.
    pub fn push(&mut self, t: f64, luma: &Luma<'_>) {
        if !luma.is_consistent() || !t.is_finite() {
            return;
        }
        self.frames += 1;
        self.first.get_or_insert(t);
        self.size = Some((luma.width, luma.height));
        self.sample_grid(luma);
        let dark = self.grid.iter().filter(|&&p| p <= self.black_luma).count();
        let black = dark as f64 >= self.black_share * self.grid.len() as f64;
        let same = !black
            && self
                .reference
                .as_ref()
                .is_some_and(|(r, _)| r.len() == self.grid.len() && self.unchanged(r));
        if black {
            self.reference = None;
        } else if !same {
            self.reference = Some((self.grid.clone(), t));
        }
        let run_start = self.reference.as_ref().map_or(t, |(_, s)| *s);
        if let Some(prev) = self.pending.take() {
            self.settle(prev, t);
        }
        self.pending = Some(Pending {
            t,
            black,
            same,
            run_start,
        });
        if !black && t >= self.next_sample {
            self.next_sample = t + self.sample_every;
            self.samples += 1;
            if let Some(s) = quality::sharpness(luma) {
                self.sharpness.0 += s;
                self.sharpness.1 += 1;
            }
            self.blockiness += quality::blockiness(luma);
        }
    }

    /// Ends the analysis: the last picture lasts one nominal frame.
    pub fn finish(mut self) -> PictureFacts {
        let mut end = None;
        if let Some(last) = self.pending.take() {
            let e = last.t + self.frame_seconds;
            self.settle(last, e);
            end = Some(e);
        }
        let (black, d1) = self.black.finish();
        let (freeze, d2) = self.freeze.finish();
        let samples = self.samples;
        PictureFacts {
            frames: self.frames,
            start: self.first,
            end,
            size: self.size,
            black,
            freeze,
            dropped_segments: d1 + d2,
            quality_samples: samples,
            sharpness: (self.sharpness.1 > 0)
                .then(|| self.sharpness.0 / f64::from(self.sharpness.1)),
            blockiness: (samples > 0).then(|| self.blockiness / f64::from(samples)),
        }
    }

    fn settle(&mut self, frame: Pending, end: f64) {
        self.black.observe(frame.t, end, frame.black);
        let start = if frame.same { frame.run_start } else { frame.t };
        self.freeze.observe(start, end, frame.same);
    }

    /// Copies the analysis grid of `luma` into `self.grid`.
    fn sample_grid(&mut self, luma: &Luma<'_>) {
        let long = luma.width.max(luma.height);
        let step = long.div_ceil(GRID_LONG_EDGE).max(1);
        let (gw, gh) = (luma.width / step, luma.height / step);
        let (gw, gh) = (gw.max(1), gh.max(1));
        if self.grid_shape != (gw, gh, step) {
            self.grid_shape = (gw, gh, step);
            self.reference = None;
        }
        self.grid.clear();
        self.grid.reserve(gw * gh);
        for gy in 0..gh {
            let row = luma.row(gy * step);
            self.grid
                .extend((0..gw).map(|gx| row[(gx * step).min(luma.width - 1)]));
        }
    }

    /// Whether no block of the current grid differs from `reference` by
    /// more than the freeze threshold (mean absolute difference).
    fn unchanged(&self, reference: &[u8]) -> bool {
        let (gw, gh, step) = self.grid_shape;
        let cell = (BLOCK_PIXELS / step).max(1);
        let limit = self.freeze_difference * 255.0;
        for by in (0..gh).step_by(cell) {
            for bx in (0..gw).step_by(cell) {
                let (mut sum, mut n) = (0u32, 0u32);
                for y in by..(by + cell).min(gh) {
                    let i = y * gw;
                    for x in bx..(bx + cell).min(gw) {
                        sum += u32::from(self.grid[i + x].abs_diff(reference[i + x]));
                        n += 1;
                    }
                }
                if n > 0 && f64::from(sum) / f64::from(n) > limit {
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 320;
    const H: usize = 180;

    /// A textured picture; `phase` moves its content.
    fn textured(phase: usize) -> Vec<u8> {
        (0..H)
            .flat_map(|y| (0..W).map(move |x| (x, y)))
            .map(|(x, y)| (60 + ((x + phase) * 7 + y * 3) % 150) as u8)
            .collect()
    }

    fn luma(data: &[u8]) -> Luma<'_> {
        Luma {
            width: W,
            height: H,
            stride: W,
            data,
        }
    }

    fn run(frames: impl Fn(usize) -> Vec<u8>, count: usize, fps: f64) -> PictureFacts {
        let mut a = PictureAnalyser::new(&QcThresholds::default(), 1.0 / fps);
        for i in 0..count {
            a.push(i as f64 / fps, &luma(&frames(i)));
        }
        a.finish()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn black_pictures_make_a_black_segment_not_a_freeze() {
        // 3 s black, then 7 s of moving picture at 10 fps.
        let facts = run(
            |i| if i < 30 { vec![16; W * H] } else { textured(i) },
            100,
            10.0,
        );
        assert_eq!(facts.black.len(), 1);
        assert!(close(facts.black[0].start, 0.0) && close(facts.black[0].end, 3.0));
        assert!(facts.freeze.is_empty(), "{:?}", facts.freeze);
        assert_eq!(facts.end, Some(10.0));
    }

    #[test]
    fn a_held_picture_freezes_from_its_first_frame_to_the_end_of_its_last() {
        // Moving until frame 20, the same picture for frames 20..70, moving after.
        let facts = run(
            |i| textured(if (20..70).contains(&i) { 20 } else { i }),
            100,
            10.0,
        );
        assert_eq!(facts.freeze.len(), 1, "{:?}", facts.freeze);
        assert!(close(facts.freeze[0].start, 2.0), "{:?}", facts.freeze);
        assert!(close(facts.freeze[0].end, 7.0), "{:?}", facts.freeze);
    }

    #[test]
    fn noise_below_the_threshold_still_counts_as_frozen() {
        // The same picture with +-2 levels of changing noise (a re-encoded still).
        let facts = run(
            |i| {
                textured(0)
                    .into_iter()
                    .enumerate()
                    .map(|(k, p)| {
                        p.wrapping_add(((k * 31 + i * 17) % 5) as u8)
                            .wrapping_sub(2)
                    })
                    .collect()
            },
            50,
            10.0,
        );
        assert_eq!(facts.freeze.len(), 1);
        assert!(close(facts.freeze[0].start, 0.0) && close(facts.freeze[0].end, 5.0));
    }

    #[test]
    fn a_small_moving_inset_keeps_the_picture_alive() {
        // A still slide with a 40x40 box moving across it.
        let facts = run(
            |i| {
                let mut p = vec![200u8; W * H];
                for y in 60..100 {
                    for x in 0..40 {
                        p[y * W + (x + i * 3) % W] = 40;
                    }
                }
                p
            },
            60,
            10.0,
        );
        assert!(facts.freeze.is_empty(), "{:?}", facts.freeze);
    }

    #[test]
    fn quality_is_sampled_every_few_seconds_on_pictures_that_are_not_black() {
        let facts = run(
            |i| if i < 5 { vec![16; W * H] } else { textured(i) },
            250,
            10.0,
        );
        // Samples at 0.5 s (first non-black), 10.5 s, 20.5 s.
        assert_eq!(facts.quality_samples, 3);
        assert!(facts.sharpness.is_some() && facts.blockiness.is_some());
    }

    #[test]
    fn an_inconsistent_plane_is_ignored() {
        let mut a = PictureAnalyser::new(&QcThresholds::default(), 0.04);
        let short = vec![0u8; 10];
        a.push(0.0, &luma(&short));
        assert_eq!(a.finish().frames, 0);
    }
}
