//! Loudness normalisation of the audio rendition, the pure part: the
//! target a ladder asks for, and the one static gain that brings a measured
//! source to it without pushing its true peak over a ceiling.
//!
//! The transcode is a single pass, so there is no first pass whose
//! measurement a second pass could apply. Instead the audio alone is
//! pre-scanned (demux without decoding video, decode the sound, convert it
//! as the rendition will be, measure EBU R128 integrated loudness and true
//! peak), and the gain computed here is applied to every sample of the
//! rendition. One static gain keeps the lecture's dynamics as recorded; see
//! `docs/qc.md` for why this and not libavfilter's single-pass `loudnorm`.

use serde::{Deserialize, Serialize};

/// A loudness target for the audio rendition (`[audio]` in the ladder).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoudnessTarget {
    /// Integrated loudness to reach, LUFS (EBU R128).
    pub target_lufs: f64,
    /// The true peak after the gain stays at or below this, dBTP.
    pub true_peak_ceiling_dbtp: f64,
    /// The most the rendition is made louder, dB (a quiet room recording
    /// is not boosted into a wall of noise); making it quieter is not
    /// limited.
    pub max_gain_db: f64,
}

/// Reasons a target is refused, named after its ladder key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoudnessError {
    /// The target is outside what a programme target can be.
    #[error("loudness_target_lufs must be -40 to -5 LUFS")]
    Target,
    /// The ceiling is outside what true-peak ceilings are.
    #[error("true_peak_ceiling_dbtp must be -12 to 0 dBTP")]
    Ceiling,
    /// The boost limit is negative or absurd.
    #[error("loudness_max_gain_db must be 0 to 40 dB")]
    MaxGain,
}

impl LoudnessTarget {
    /// Checks the ranges: target -40 to -5 LUFS, ceiling -12 to 0 dBTP,
    /// boost limit 0 to 40 dB.
    pub fn check(&self) -> Result<(), LoudnessError> {
        if !(-40.0..=-5.0).contains(&self.target_lufs) {
            return Err(LoudnessError::Target);
        }
        if !(-12.0..=0.0).contains(&self.true_peak_ceiling_dbtp) {
            return Err(LoudnessError::Ceiling);
        }
        if !(0.0..=40.0).contains(&self.max_gain_db) {
            return Err(LoudnessError::MaxGain);
        }
        Ok(())
    }
}

/// What the pre-scan measured of the audio as the rendition gets it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoudnessMeasurement {
    /// Integrated loudness, LUFS; `None` when nothing is above the
    /// absolute gate (silence).
    pub integrated_lufs: Option<f64>,
    /// Highest true peak over the channels, dBTP; `None` for digital
    /// silence.
    pub true_peak_dbtp: Option<f64>,
}

/// What held the gain back from reaching the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GainLimit {
    /// Nothing: the target is reached.
    None,
    /// The true-peak ceiling: the rendition is quieter than the target.
    TruePeak,
    /// The boost limit: the rendition is quieter than the target.
    MaxGain,
    /// The source is silent: no gain.
    Silent,
}

/// The gain decided for a rendition, with the figures behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    /// The target asked for, LUFS.
    pub target_lufs: f64,
    /// The source as measured.
    pub measured: LoudnessMeasurement,
    /// The gain applied to every sample, dB.
    pub gain_db: f64,
    /// What, if anything, held the gain back.
    pub limited_by: GainLimit,
    /// Integrated loudness expected after the gain, LUFS.
    pub expected_lufs: Option<f64>,
}

impl Normalisation {
    /// The gain as a factor on sample values.
    pub fn factor(&self) -> f32 {
        10f64.powf(self.gain_db / 20.0) as f32
    }
}

/// The static gain that brings `measured` to `target`: the difference
/// between the two, no more boost than the limit, and no more than keeps
/// the true peak at or below the ceiling (a peak already over the ceiling
/// makes the gain a cut even when the loudness is under the target).
pub fn normalisation(target: &LoudnessTarget, measured: LoudnessMeasurement) -> Normalisation {
    let silent = |measured| Normalisation {
        target_lufs: target.target_lufs,
        measured,
        gain_db: 0.0,
        limited_by: GainLimit::Silent,
        expected_lufs: None,
    };
    let Some(integrated) = measured.integrated_lufs.filter(|l| l.is_finite()) else {
        return silent(measured);
    };
    let mut gain = target.target_lufs - integrated;
    let mut limited_by = GainLimit::None;
    if gain > target.max_gain_db {
        gain = target.max_gain_db;
        limited_by = GainLimit::MaxGain;
    }
    if let Some(peak) = measured.true_peak_dbtp.filter(|p| p.is_finite())
        && peak + gain > target.true_peak_ceiling_dbtp
    {
        gain = target.true_peak_ceiling_dbtp - peak;
        limited_by = GainLimit::TruePeak;
    }
    Normalisation {
        target_lufs: target.target_lufs,
        measured,
        gain_db: gain,
        limited_by,
        expected_lufs: Some(integrated + gain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEECH: LoudnessTarget = LoudnessTarget {
        target_lufs: -16.0,
        true_peak_ceiling_dbtp: -1.0,
        max_gain_db: 20.0,
    };

    fn measured(lufs: f64, peak: f64) -> LoudnessMeasurement {
        LoudnessMeasurement {
            integrated_lufs: Some(lufs),
            true_peak_dbtp: Some(peak),
        }
    }

    #[test]
    fn a_quiet_source_is_raised_to_the_target() {
        let n = normalisation(&SPEECH, measured(-20.0, -20.0));
        assert!((n.gain_db - 4.0).abs() < 1e-9);
        assert_eq!(n.limited_by, GainLimit::None);
        assert_eq!(n.expected_lufs, Some(-16.0));
        assert!((n.factor() - 1.584_893).abs() < 1e-5);
    }

    #[test]
    fn a_loud_source_is_lowered_to_the_target() {
        let n = normalisation(&SPEECH, measured(-9.0, -0.5));
        assert!((n.gain_db + 7.0).abs() < 1e-9);
        assert_eq!(n.limited_by, GainLimit::None);
    }

    #[test]
    fn the_true_peak_ceiling_caps_the_gain() {
        // Peaky speech: 18 LU between loudness and peak; reaching -16 LUFS
        // would put the peak at +2 dBTP.
        let n = normalisation(&SPEECH, measured(-24.0, -6.0));
        assert!((n.gain_db - 5.0).abs() < 1e-9);
        assert_eq!(n.limited_by, GainLimit::TruePeak);
        assert_eq!(n.expected_lufs, Some(-19.0));
    }

    #[test]
    fn a_peak_over_the_ceiling_makes_the_gain_a_cut() {
        let n = normalisation(&SPEECH, measured(-18.0, 0.5));
        assert!((n.gain_db + 1.5).abs() < 1e-9);
        assert_eq!(n.limited_by, GainLimit::TruePeak);
    }

    #[test]
    fn the_boost_is_limited() {
        let n = normalisation(&SPEECH, measured(-50.0, -40.0));
        assert!((n.gain_db - 20.0).abs() < 1e-9);
        assert_eq!(n.limited_by, GainLimit::MaxGain);
        assert_eq!(n.expected_lufs, Some(-30.0));
    }

    #[test]
    fn silence_gets_no_gain() {
        let silent = LoudnessMeasurement {
            integrated_lufs: None,
            true_peak_dbtp: None,
        };
        let n = normalisation(&SPEECH, silent);
        assert_eq!(n.gain_db, 0.0);
        assert_eq!(n.factor(), 1.0);
        assert_eq!(n.limited_by, GainLimit::Silent);
        let gated = LoudnessMeasurement {
            integrated_lufs: Some(f64::NEG_INFINITY),
            true_peak_dbtp: Some(-80.0),
        };
        assert_eq!(normalisation(&SPEECH, gated).limited_by, GainLimit::Silent);
    }

    #[test]
    fn targets_out_of_range_are_refused() {
        assert!(SPEECH.check().is_ok());
        let bad = |f: fn(&mut LoudnessTarget)| {
            let mut t = SPEECH;
            f(&mut t);
            t.check()
        };
        assert_eq!(bad(|t| t.target_lufs = 0.0), Err(LoudnessError::Target));
        assert_eq!(
            bad(|t| t.target_lufs = f64::NAN),
            Err(LoudnessError::Target)
        );
        assert_eq!(
            bad(|t| t.true_peak_ceiling_dbtp = 1.0),
            Err(LoudnessError::Ceiling)
        );
        assert_eq!(bad(|t| t.max_gain_db = -1.0), Err(LoudnessError::MaxGain));
    }
}
