//! The sound analyser, pure: fed planar float samples with the time of the
//! first one, it measures EBU R128 loudness (integrated, range, true peak,
//! and the short-term loudness every second, with the `ebur128` crate),
//! finds silences (every channel's RMS level below a threshold in 50 ms
//! blocks) and clipped passages (blocks with many samples at full scale).

use ebur128::{Channel, EbuR128, Mode};
use serde::{Deserialize, Serialize};

use super::segments::{MAX_SEGMENTS, RunTracker, Segment};
use super::thresholds::QcThresholds;

/// Length of the silence and clipping blocks, seconds.
pub const BLOCK_SECONDS: f64 = 0.05;
/// Clipped blocks at most this far apart belong to one passage.
const CLIP_MERGE_SECONDS: f64 = 0.5;
/// Short-term readings below this (EBU R128's absolute gate) are silence.
const METER_FLOOR_LUFS: f64 = -70.0;
/// The short-term loudness is read every this many seconds.
pub const SERIES_STEP_SECONDS: f64 = 1.0;

/// A passage where the sound hits full scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClipPassage {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Samples at the clipping level in it (all channels).
    pub samples: u64,
}

/// The sound figures of a finished analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundFacts {
    /// Time of the first sample, seconds.
    pub start: Option<f64>,
    /// End of the last sample, seconds.
    pub end: Option<f64>,
    /// Sample rate.
    pub sample_rate: u32,
    /// Channels.
    pub channels: usize,
    /// Integrated loudness, LUFS (`None`: nothing above the gate).
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub range_lu: Option<f64>,
    /// Highest true peak over the channels, dBTP (`None`: digital silence).
    pub true_peak_dbtp: Option<f64>,
    /// Silent segments.
    pub silence: Vec<Segment>,
    /// Clipped passages.
    pub clipping: Vec<ClipPassage>,
    /// Segments left out of the lists past their cap.
    pub dropped_segments: usize,
    /// Short-term loudness (LUFS) every [`SERIES_STEP_SECONDS`] from
    /// `start`; `None` where it is below the meter's floor.
    pub short_term: Vec<Option<f32>>,
}

/// Loudness, silence and clipping analysis of one audio stream.
#[derive(Debug)]
pub struct SoundAnalyser {
    rate: u32,
    channels: usize,
    meter: Option<EbuR128>,
    start: Option<f64>,
    samples: u64,
    block_len: usize,
    block_fill: usize,
    block_index: u64,
    block_energy: Vec<f64>,
    block_clipped: u32,
    silence_ms: f64,
    clip_level: f32,
    clip_block_samples: u32,
    silence: RunTracker,
    clip_open: Option<ClipPassage>,
    clipping: Vec<ClipPassage>,
    clip_dropped: usize,
    next_reading: u64,
    short_term: Vec<Option<f32>>,
}

impl SoundAnalyser {
    /// An analyser for `channels` channels at `rate` Hz (one channel is
    /// measured as dual mono, as a mono lecture microphone is heard).
    pub fn new(thresholds: &QcThresholds, rate: u32, channels: usize) -> Self {
        let rate = rate.max(1);
        let channels = channels.max(1);
        let meter = u32::try_from(channels).ok().and_then(|n| {
            let mut m =
                EbuR128::new(n, rate, Mode::I | Mode::LRA | Mode::S | Mode::TRUE_PEAK).ok()?;
            if n == 1 {
                m.set_channel(0, Channel::DualMono).ok()?;
            }
            Some(m)
        });
        let rms_floor = 10f64.powf(thresholds.silence_max_dbfs / 20.0);
        SoundAnalyser {
            rate,
            channels,
            meter,
            start: None,
            samples: 0,
            block_len: ((f64::from(rate) * BLOCK_SECONDS).round() as usize).max(1),
            block_fill: 0,
            block_index: 0,
            block_energy: vec![0.0; channels],
            block_clipped: 0,
            silence_ms: rms_floor * rms_floor,
            clip_level: thresholds.clip_level as f32,
            clip_block_samples: thresholds.clip_block_samples.max(1),
            silence: RunTracker::new(thresholds.silence_min_seconds),
            clip_open: None,
            clipping: Vec::new(),
            clip_dropped: 0,
            next_reading: u64::from(rate),
            short_term: Vec::new(),
        }
    }

    /// Takes the next samples (one slice per channel, equal lengths); the
    /// first call's `start` (seconds) anchors the stream, later samples
    /// follow on without gaps. Slices of the wrong count are ignored.
    pub fn push(&mut self, start: f64, planes: &[&[f32]]) {
        if planes.len() != self.channels {
            return;
        }
        let n = planes.iter().map(|p| p.len()).min().unwrap_or(0);
        if n == 0 {
            return;
        }
        self.start
            .get_or_insert(if start.is_finite() { start } else { 0.0 });
        let mut done = 0;
        while done < n {
            // Feed the meter up to the next one-second reading.
            let until_reading = (self.next_reading - self.samples) as usize;
            let take = until_reading.min(n - done);
            let piece: Vec<&[f32]> = planes.iter().map(|p| &p[done..done + take]).collect();
            self.blocks(&piece);
            if let Some(m) = self.meter.as_mut()
                && m.add_frames_planar_f32(&piece).is_err()
            {
                self.meter = None;
            }
            self.samples += take as u64;
            done += take;
            if self.samples == self.next_reading {
                self.next_reading += u64::from(self.rate);
                let reading = self
                    .meter
                    .as_ref()
                    .and_then(|m| m.loudness_shortterm().ok())
                    .filter(|l| l.is_finite() && *l >= METER_FLOOR_LUFS)
                    .map(|l| l as f32);
                self.short_term.push(reading);
            }
        }
    }

    fn blocks(&mut self, planes: &[&[f32]]) {
        let n = planes.first().map_or(0, |p| p.len());
        let mut i = 0;
        while i < n {
            let take = (self.block_len - self.block_fill).min(n - i);
            for (c, plane) in planes.iter().enumerate() {
                let mut energy = 0.0f64;
                for &x in &plane[i..i + take] {
                    energy += f64::from(x) * f64::from(x);
                    if x.abs() >= self.clip_level {
                        self.block_clipped += 1;
                    }
                }
                self.block_energy[c] += energy;
            }
            self.block_fill += take;
            i += take;
            if self.block_fill == self.block_len {
                self.close_block();
            }
        }
    }

    fn block_span(&self, samples: usize) -> (f64, f64) {
        let origin = self.start.unwrap_or(0.0);
        let rate = f64::from(self.rate);
        let first = self.block_index * self.block_len as u64;
        (
            origin + first as f64 / rate,
            origin + (first + samples as u64) as f64 / rate,
        )
    }

    fn close_block(&mut self) {
        let fill = self.block_fill;
        if fill == 0 {
            return;
        }
        let (start, end) = self.block_span(fill);
        let silent = self
            .block_energy
            .iter()
            .all(|e| e / fill as f64 <= self.silence_ms);
        self.silence.observe(start, end, silent);
        if self.block_clipped >= self.clip_block_samples {
            let clipped = u64::from(self.block_clipped);
            match self.clip_open.as_mut() {
                Some(open) if start - open.end <= CLIP_MERGE_SECONDS => {
                    open.end = end;
                    open.samples += clipped;
                }
                _ => {
                    self.flush_clip();
                    self.clip_open = Some(ClipPassage {
                        start,
                        end,
                        samples: clipped,
                    });
                }
            }
        }
        self.block_index += 1;
        self.block_fill = 0;
        self.block_clipped = 0;
        self.block_energy.iter_mut().for_each(|e| *e = 0.0);
    }

    fn flush_clip(&mut self) {
        if let Some(passage) = self.clip_open.take() {
            if self.clipping.len() < MAX_SEGMENTS {
                self.clipping.push(passage);
            } else {
                self.clip_dropped += 1;
            }
        }
    }

    /// Ends the analysis.
    pub fn finish(mut self) -> SoundFacts {
        self.close_block();
        self.flush_clip();
        let (silence, dropped) = self.silence.finish();
        let meter = self.meter.as_ref();
        let integrated_lufs = meter
            .and_then(|m| m.loudness_global().ok())
            .filter(|l| l.is_finite());
        let range_lu = meter
            .and_then(|m| m.loudness_range().ok())
            .filter(|l| l.is_finite());
        let peak = meter.map_or(0.0, |m| {
            (0..self.channels as u32)
                .filter_map(|c| m.true_peak(c).ok())
                .fold(0.0f64, f64::max)
        });
        let start = self.start;
        SoundFacts {
            start,
            end: start.map(|s| s + self.samples as f64 / f64::from(self.rate)),
            sample_rate: self.rate,
            channels: self.channels,
            integrated_lufs,
            range_lu: integrated_lufs.and(range_lu),
            true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()),
            silence,
            clipping: self.clipping,
            dropped_segments: dropped + self.clip_dropped,
            short_term: self.short_term,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    /// `seconds` of a 1 kHz sine of `amplitude` on both channels, fed in
    /// 1024-sample chunks from `start`.
    fn feed(a: &mut SoundAnalyser, start: f64, seconds: f64, amplitude: impl Fn(f64) -> f32) {
        let total = (seconds * f64::from(RATE)) as usize;
        let mut i = 0;
        while i < total {
            let n = 1024.min(total - i);
            let chunk: Vec<f32> = (i..i + n)
                .map(|k| {
                    let t = k as f64 / f64::from(RATE);
                    amplitude(t) * (2.0 * std::f64::consts::PI * 1000.0 * t).sin() as f32
                })
                .collect();
            a.push(start + i as f64 / f64::from(RATE), &[&chunk, &chunk]);
            i += n;
        }
    }

    fn analyser() -> SoundAnalyser {
        SoundAnalyser::new(&QcThresholds::default(), RATE, 2)
    }

    #[test]
    fn a_stereo_sine_at_minus_20_dbfs_measures_minus_20_lufs() {
        let mut a = analyser();
        feed(&mut a, 0.0, 10.0, |_| 0.1);
        let f = a.finish();
        let lufs = f.integrated_lufs.expect("loud enough");
        assert!((lufs + 20.0).abs() < 0.1, "{lufs}");
        let peak = f.true_peak_dbtp.expect("peak");
        assert!((peak + 20.0).abs() < 0.2, "{peak}");
        assert!(f.range_lu.expect("range") < 0.5);
        assert_eq!(f.short_term.len(), 10);
        assert!(f.silence.is_empty() && f.clipping.is_empty());
    }

    #[test]
    fn silence_is_found_to_the_block() {
        let mut a = analyser();
        // Tone, 5 s of silence from 3 s, tone.
        feed(&mut a, 0.0, 12.0, |t| {
            if (3.0..8.0).contains(&t) { 0.0 } else { 0.1 }
        });
        let f = a.finish();
        assert_eq!(f.silence.len(), 1, "{:?}", f.silence);
        assert!((f.silence[0].start - 3.0).abs() <= BLOCK_SECONDS);
        assert!((f.silence[0].end - 8.0).abs() <= BLOCK_SECONDS);
        assert_eq!(f.short_term.len(), 12);
        assert!(f.short_term[6].is_none(), "{:?}", f.short_term);
    }

    #[test]
    fn a_late_start_moves_every_time() {
        let mut a = analyser();
        feed(&mut a, 1.0, 4.0, |t| if t < 2.0 { 0.0 } else { 0.1 });
        let f = a.finish();
        assert_eq!(f.start, Some(1.0));
        assert_eq!(f.end, Some(5.0));
        assert!((f.silence[0].start - 1.0).abs() < 1e-9);
        assert!((f.silence[0].end - 3.0).abs() <= BLOCK_SECONDS);
    }

    #[test]
    fn a_hard_clipped_passage_is_found() {
        let mut a = analyser();
        // 4 s clean, 2 s driven far past full scale and clipped, 4 s clean.
        let total = 10 * RATE as usize;
        let samples: Vec<f32> = (0..total)
            .map(|k| {
                let t = k as f64 / f64::from(RATE);
                let gain = if (4.0..6.0).contains(&t) { 4.0 } else { 0.3 };
                ((gain * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32).clamp(-1.0, 1.0)
            })
            .collect();
        for chunk in samples.chunks(1000) {
            let offset = (chunk.as_ptr() as usize - samples.as_ptr() as usize) / 4;
            a.push(offset as f64 / f64::from(RATE), &[chunk, chunk]);
        }
        let f = a.finish();
        assert_eq!(f.clipping.len(), 1, "{:?}", f.clipping);
        assert!((f.clipping[0].start - 4.0).abs() <= BLOCK_SECONDS);
        assert!((f.clipping[0].end - 6.0).abs() <= BLOCK_SECONDS);
        assert!(f.true_peak_dbtp.expect("peak") >= -0.1);
    }

    #[test]
    fn digital_silence_has_no_loudness_and_no_peak() {
        let mut a = analyser();
        feed(&mut a, 0.0, 3.0, |_| 0.0);
        let f = a.finish();
        assert_eq!(
            (f.integrated_lufs, f.true_peak_dbtp, f.range_lu),
            (None, None, None)
        );
        assert_eq!(f.silence.len(), 1);
    }

    #[test]
    fn mono_is_measured_as_dual_mono() {
        let mut a = SoundAnalyser::new(&QcThresholds::default(), RATE, 1);
        let tone: Vec<f32> = (0..RATE as usize * 5)
            .map(|k| 0.1 * (2.0 * std::f32::consts::PI * 1000.0 * k as f32 / RATE as f32).sin())
            .collect();
        a.push(0.0, &[&tone]);
        let lufs = a.finish().integrated_lufs.expect("loudness");
        assert!((lufs + 20.0).abs() < 0.1, "{lufs}");
    }
}
