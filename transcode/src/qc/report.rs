//! The QC report: what `yanxiu qc --json` prints, what the worker stores
//! with the resource and what the API returns. Built from the picture and
//! sound figures (pure); times are seconds on the source's timeline (the
//! earlier of the first picture and the first sample is 0).

use serde::{Deserialize, Serialize};

use super::findings::{Finding, Severity, judge};
use super::picture::PictureFacts;
use super::segments::Segment;
use super::sound::{ClipPassage, SERIES_STEP_SECONDS, SoundFacts};
use super::thresholds::QcThresholds;

/// Version of the report's shape.
pub const REPORT_VERSION: u32 = 1;
/// Most points of the loudness series kept in a report (longer files get
/// a coarser step).
pub const MAX_SERIES_POINTS: usize = 1200;

/// The technical QC of one source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcReport {
    /// Shape version ([`REPORT_VERSION`]).
    pub version: u32,
    /// End of the later stream, seconds.
    pub duration: f64,
    /// The picture stream, if one was analysed.
    pub video: Option<VideoSummary>,
    /// The sound stream, if one was analysed.
    pub audio: Option<AudioSummary>,
    /// EBU R128 loudness of the whole programme.
    pub loudness: Loudness,
    /// Audio start and end against the video's.
    pub sync: AvSync,
    /// Black picture.
    pub black: Vec<Segment>,
    /// Silence.
    pub silence: Vec<Segment>,
    /// Frozen picture (not black).
    pub freeze: Vec<Segment>,
    /// Clipped sound.
    pub clipping: Vec<ClipPassage>,
    /// Sampled sharpness and blockiness.
    pub picture: PictureQuality,
    /// Segments left out of the lists above past their cap (500 each).
    pub segments_left_out: usize,
    /// Counts of findings by severity.
    pub summary: Summary,
    /// What a reviewer should look at, worst first within each time.
    pub findings: Vec<Finding>,
    /// Short-term loudness over time, for the plot.
    pub loudness_series: LoudnessSeries,
}

/// The picture stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSummary {
    /// First picture, seconds.
    pub start: f64,
    /// End of the last picture, seconds.
    pub end: f64,
    /// Pictures analysed.
    pub frames: u64,
}

/// The sound stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioSummary {
    /// First sample, seconds.
    pub start: f64,
    /// End of the last sample, seconds.
    pub end: f64,
    /// Sample rate analysed, Hz.
    pub sample_rate: u32,
    /// Channels analysed.
    pub channels: usize,
}

/// EBU R128 figures (`null` without audible sound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    /// Integrated loudness, LUFS.
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub range_lu: Option<f64>,
    /// Highest true peak, dBTP.
    pub true_peak_dbtp: Option<f64>,
}

/// Audio against video (positive: the audio starts or ends later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvSync {
    /// Audio start minus video start, seconds.
    pub start_offset: Option<f64>,
    /// Audio end minus video end, seconds.
    pub end_difference: Option<f64>,
}

/// Sampled picture quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PictureQuality {
    /// Width of the measured pictures.
    pub width: Option<usize>,
    /// Height of the measured pictures.
    pub height: Option<usize>,
    /// Pictures measured.
    pub samples: u32,
    /// Mean sharpness (about 1 / edge width in pixels; 1 is crisp).
    pub sharpness: Option<f64>,
    /// Mean blockiness (1: no visible blocks).
    pub blockiness: Option<f64>,
}

/// Counts of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Notes.
    pub infos: usize,
}

/// Short-term loudness readings at a fixed step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoudnessSeries {
    /// Time of the first reading's window end minus one step, seconds.
    pub start: f64,
    /// Seconds between readings.
    pub step_seconds: f64,
    /// LUFS per step; `null` below the meter's floor.
    pub short_term_lufs: Vec<Option<f32>>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn rounded(segments: Vec<Segment>) -> Vec<Segment> {
    segments
        .into_iter()
        .map(|s| Segment {
            start: round3(s.start),
            end: round3(s.end),
        })
        .collect()
}

/// Averages `values` (LUFS) in groups so at most [`MAX_SERIES_POINTS`]
/// remain, in the power domain; returns the group size.
fn thin(values: &[Option<f32>]) -> (usize, Vec<Option<f32>>) {
    let group = values.len().div_ceil(MAX_SERIES_POINTS).max(1);
    let out = values
        .chunks(group)
        .map(|chunk| {
            let powers: Vec<f64> = chunk
                .iter()
                .flatten()
                .map(|l| 10f64.powf(f64::from(*l) / 10.0))
                .collect();
            (!powers.is_empty()).then(|| {
                let mean = powers.iter().sum::<f64>() / powers.len() as f64;
                ((10.0 * mean.log10()) * 10.0).round() as f32 / 10.0
            })
        })
        .collect();
    (group, out)
}

impl QcReport {
    /// The report of a finished analysis under `thresholds`.
    pub fn build(
        picture: Option<PictureFacts>,
        sound: Option<SoundFacts>,
        thresholds: &QcThresholds,
    ) -> QcReport {
        let video = picture.as_ref().and_then(|p| {
            Some(VideoSummary {
                start: round3(p.start?),
                end: round3(p.end?),
                frames: p.frames,
            })
        });
        let audio = sound.as_ref().and_then(|s| {
            Some(AudioSummary {
                start: round3(s.start?),
                end: round3(s.end?),
                sample_rate: s.sample_rate,
                channels: s.channels,
            })
        });
        let sync = match (&video, &audio) {
            (Some(v), Some(a)) => AvSync {
                start_offset: Some(round3(a.start - v.start)),
                end_difference: Some(round3(a.end - v.end)),
            },
            _ => AvSync {
                start_offset: None,
                end_difference: None,
            },
        };
        let duration = [video.as_ref().map(|v| v.end), audio.as_ref().map(|a| a.end)]
            .into_iter()
            .flatten()
            .fold(0.0, f64::max);
        let round2 = |x: Option<f64>| x.map(|v| (v * 100.0).round() / 100.0);
        let (series_step, series) = sound
            .as_ref()
            .map_or((1, Vec::new()), |s| thin(&s.short_term));
        let mut report = QcReport {
            version: REPORT_VERSION,
            duration: round3(duration),
            loudness: Loudness {
                integrated_lufs: round2(sound.as_ref().and_then(|s| s.integrated_lufs)),
                range_lu: round2(sound.as_ref().and_then(|s| s.range_lu)),
                true_peak_dbtp: round2(sound.as_ref().and_then(|s| s.true_peak_dbtp)),
            },
            sync,
            black: rounded(
                picture
                    .as_ref()
                    .map(|p| p.black.clone())
                    .unwrap_or_default(),
            ),
            freeze: rounded(
                picture
                    .as_ref()
                    .map(|p| p.freeze.clone())
                    .unwrap_or_default(),
            ),
            silence: rounded(
                sound
                    .as_ref()
                    .map(|s| s.silence.clone())
                    .unwrap_or_default(),
            ),
            clipping: sound
                .as_ref()
                .map(|s| s.clipping.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|c| ClipPassage {
                    start: round3(c.start),
                    end: round3(c.end),
                    samples: c.samples,
                })
                .collect(),
            picture: PictureQuality {
                width: picture.as_ref().and_then(|p| p.size).map(|s| s.0),
                height: picture.as_ref().and_then(|p| p.size).map(|s| s.1),
                samples: picture.as_ref().map_or(0, |p| p.quality_samples),
                sharpness: round2(picture.as_ref().and_then(|p| p.sharpness)),
                blockiness: round2(picture.as_ref().and_then(|p| p.blockiness)),
            },
            segments_left_out: picture.as_ref().map_or(0, |p| p.dropped_segments)
                + sound.as_ref().map_or(0, |s| s.dropped_segments),
            summary: Summary::default(),
            findings: Vec::new(),
            loudness_series: LoudnessSeries {
                start: audio.as_ref().map_or(0.0, |a| a.start),
                step_seconds: series_step as f64 * SERIES_STEP_SECONDS,
                short_term_lufs: series,
            },
            video,
            audio,
        };
        report.findings = judge(&report, thresholds);
        report.summary = Summary {
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
            infos: report.count(Severity::Info),
        };
        report
    }

    /// Findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// True when a finding is an error.
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// The report without its loudness series (what a review record keeps).
    pub fn summary_only(&self) -> QcReport {
        QcReport {
            loudness_series: LoudnessSeries {
                short_term_lufs: Vec::new(),
                ..self.loudness_series.clone()
            },
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_series_are_thinned_in_the_power_domain() {
        let values: Vec<Option<f32>> = (0..2500)
            .map(|i| match i % 2 {
                0 => Some(-20.0),
                _ => None,
            })
            .collect();
        let (group, out) = thin(&values);
        assert_eq!(group, 3);
        assert_eq!(out.len(), 834);
        assert_eq!(out[0], Some(-20.0));
        let (_, mixed) = thin(&[Some(-20.0), Some(-30.0)]);
        assert_eq!(mixed, vec![Some(-20.0), Some(-30.0)]);
        let (_, short) = thin(&[Some(-10.0); 3]);
        assert_eq!(short.len(), 3);
    }

    #[test]
    fn a_report_without_streams_is_empty_and_clean() {
        let r = QcReport::build(None, None, &QcThresholds::default());
        assert_eq!(r.duration, 0.0);
        assert!(r.findings.is_empty());
        assert_eq!(r.sync.start_offset, None);
    }
}
