//! The whole QC of one source, pure: one picture analyser and one sound
//! analyser fed side by side (in any interleaving), then the report.

use super::picture::{Luma, PictureAnalyser};
use super::report::QcReport;
use super::sound::SoundAnalyser;
use super::thresholds::QcThresholds;

/// Picture and sound analysis of one source.
#[derive(Debug)]
pub struct QcAnalyser {
    thresholds: QcThresholds,
    picture: Option<PictureAnalyser>,
    frame_seconds: f64,
    sound: Option<SoundAnalyser>,
}

impl QcAnalyser {
    /// An analyser under `thresholds` for a picture stream of nominally
    /// `frame_rate` pictures a second.
    pub fn new(thresholds: QcThresholds, frame_rate: f64) -> Self {
        let frame_seconds = if frame_rate.is_finite() && frame_rate > 0.0 {
            1.0 / frame_rate
        } else {
            1.0 / 25.0
        };
        QcAnalyser {
            thresholds,
            picture: None,
            frame_seconds,
            sound: None,
        }
    }

    /// The picture shown from `t` seconds.
    pub fn push_picture(&mut self, t: f64, luma: &Luma<'_>) {
        let frame_seconds = self.frame_seconds;
        let thresholds = &self.thresholds;
        self.picture
            .get_or_insert_with(|| PictureAnalyser::new(thresholds, frame_seconds))
            .push(t, luma);
    }

    /// Samples (one slice per channel) at `rate` Hz from `start` seconds;
    /// the first call fixes the rate and the channel count.
    pub fn push_sound(&mut self, start: f64, rate: u32, planes: &[&[f32]]) {
        let thresholds = &self.thresholds;
        self.sound
            .get_or_insert_with(|| SoundAnalyser::new(thresholds, rate, planes.len()))
            .push(start, planes);
    }

    /// The report.
    pub fn finish(self) -> QcReport {
        QcReport::build(
            self.picture.map(PictureAnalyser::finish),
            self.sound.map(SoundAnalyser::finish),
            &self.thresholds,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qc::findings::Severity;

    #[test]
    fn a_frozen_silent_stretch_in_a_synthetic_source_is_one_error_at_the_truth() {
        // 30 s at 10 fps: a picture changing every frame except from 5 s to
        // 25 s; a 1 kHz tone except from 5 s to 25 s.
        let (w, h) = (160usize, 90usize);
        let mut qc = QcAnalyser::new(QcThresholds::default(), 10.0);
        for i in 0..300usize {
            let t = i as f64 / 10.0;
            let phase = if (50..250).contains(&i) { 50 } else { i };
            let plane: Vec<u8> = (0..w * h)
                .map(|k| (40 + (k % w + phase * 5 + k / w) % 160) as u8)
                .collect();
            qc.push_picture(
                t,
                &Luma {
                    width: w,
                    height: h,
                    stride: w,
                    data: &plane,
                },
            );
        }
        let rate = 48_000u32;
        for second in 0..30u32 {
            let loud = !(5..25).contains(&second);
            let tone: Vec<f32> = (0..rate)
                .map(|k| {
                    let t = f64::from(second) + f64::from(k) / f64::from(rate);
                    if loud {
                        (0.1 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            qc.push_sound(f64::from(second), rate, &[&tone, &tone]);
        }
        let report = qc.finish();
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{:?}", report.findings);
        assert_eq!(errors[0].code, "av.frozen_and_silent");
        assert!((errors[0].start - 5.0).abs() <= 0.2 && (errors[0].end - 25.0).abs() <= 0.2);
        assert_eq!(report.duration, 30.0);
        assert_eq!(report.loudness_series.short_term_lufs.len(), 30);
    }
}
