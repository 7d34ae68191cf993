//! The QC thresholds, as data: the `[qc]` table of the validation policy
//! (`ingest/policies/lecture-default.toml`). Lecture-aware defaults: a slide
//! held for minutes while the lecturer speaks is normal; a picture that is
//! frozen or black while nothing is heard is not.

use serde::{Deserialize, Serialize};

/// Every threshold of the technical QC. Times in seconds, levels as stated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QcThresholds {
    /// A pixel is black at or below this luma (0-255; video-range black is 16).
    pub black_pixel_luma: u8,
    /// A picture is black when at least this share of its pixels is black (0-1).
    pub black_min_share: f64,
    /// Shortest black segment listed.
    pub black_min_seconds: f64,
    /// A black segment at least this long is a warning (`video.black`).
    pub black_warning_seconds: f64,
    /// Two pictures are the same when no 32x32 block differs by more than
    /// this mean absolute luma difference (share of full scale, 0-1):
    /// compression noise stays below it, a moving speaker inset does not.
    pub freeze_block_difference: f64,
    /// Shortest frozen (unchanging, not black) segment listed.
    pub freeze_min_seconds: f64,
    /// A picture held this long while sound goes on is noted (info
    /// `video.static_picture`): a slide held over speech is normal.
    pub static_info_seconds: f64,
    /// Audio is silent while the RMS level of every channel (50 ms blocks)
    /// stays below this, in dBFS.
    pub silence_max_dbfs: f64,
    /// Shortest silence listed (pauses between sentences are shorter).
    pub silence_min_seconds: f64,
    /// A silence at least this long is a warning (`audio.silence`).
    pub silence_warning_seconds: f64,
    /// A silence at least this long is an error (`audio.silence`).
    pub silence_error_seconds: f64,
    /// A picture frozen or black while the sound is silent for at least this
    /// long is an error (`av.frozen_and_silent`, `av.black_and_silent`).
    pub dead_air_error_seconds: f64,
    /// A sample is at the clipping level at or above this magnitude (share of
    /// full scale, 0-1).
    pub clip_level: f64,
    /// A 50 ms block is clipped when at least this many samples (over all
    /// channels) are at the clipping level.
    pub clip_block_samples: u32,
    /// Lowest integrated loudness without a warning, LUFS (`audio.too_quiet`).
    pub loudness_min_lufs: f64,
    /// Highest integrated loudness without a warning, LUFS (`audio.too_loud`).
    pub loudness_max_lufs: f64,
    /// Highest true peak without a warning, dBTP (`audio.true_peak`).
    pub true_peak_max_dbtp: f64,
    /// Largest loudness range without a note, LU (info `audio.loudness_range`).
    pub loudness_range_max_lu: f64,
    /// Largest difference between the audio's and the video's start without
    /// a warning (`av.start_offset`).
    pub start_offset_warning_seconds: f64,
    /// Largest difference between the audio's and the video's end without a
    /// warning (`av.duration_mismatch`).
    pub duration_mismatch_warning_seconds: f64,
    /// One picture every this many seconds is measured for sharpness and
    /// blockiness.
    pub quality_sample_seconds: f64,
    /// Highest blockiness (edge contrast on the 8-pixel block grid over edge
    /// contrast elsewhere; 1 = no visible blocks) without a warning
    /// (`video.blocky`).
    pub blockiness_warning: f64,
    /// Lowest sharpness (about 1 / edge width in pixels) without a note
    /// (info `video.soft`).
    pub sharpness_info_below: f64,
}

impl Default for QcThresholds {
    fn default() -> Self {
        QcThresholds {
            black_pixel_luma: 32,
            black_min_share: 0.98,
            black_min_seconds: 0.5,
            black_warning_seconds: 2.0,
            freeze_block_difference: 0.06,
            freeze_min_seconds: 2.0,
            static_info_seconds: 120.0,
            silence_max_dbfs: -50.0,
            silence_min_seconds: 2.0,
            silence_warning_seconds: 10.0,
            silence_error_seconds: 60.0,
            dead_air_error_seconds: 10.0,
            clip_level: 0.99,
            clip_block_samples: 8,
            loudness_min_lufs: -32.0,
            loudness_max_lufs: -12.0,
            true_peak_max_dbtp: -1.0,
            loudness_range_max_lu: 20.0,
            start_offset_warning_seconds: 0.5,
            duration_mismatch_warning_seconds: 1.0,
            quality_sample_seconds: 10.0,
            blockiness_warning: 1.6,
            sharpness_info_below: 0.15,
        }
    }
}

impl QcThresholds {
    /// Checks that the values make sense: every time finite and not
    /// negative, shares and levels within 0-1, warnings below errors. The
    /// error names the key (as `qc.<key>`).
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("black_min_seconds", self.black_min_seconds),
            ("black_warning_seconds", self.black_warning_seconds),
            ("freeze_min_seconds", self.freeze_min_seconds),
            ("static_info_seconds", self.static_info_seconds),
            ("silence_min_seconds", self.silence_min_seconds),
            ("silence_warning_seconds", self.silence_warning_seconds),
            ("silence_error_seconds", self.silence_error_seconds),
            ("dead_air_error_seconds", self.dead_air_error_seconds),
            (
                "start_offset_warning_seconds",
                self.start_offset_warning_seconds,
            ),
            (
                "duration_mismatch_warning_seconds",
                self.duration_mismatch_warning_seconds,
            ),
            ("blockiness_warning", self.blockiness_warning),
            ("sharpness_info_below", self.sharpness_info_below),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(format!(
                    "qc.{name} must be a finite number >= 0, not {value}"
                ));
            }
        }
        for (name, value) in [
            ("black_min_share", self.black_min_share),
            ("freeze_block_difference", self.freeze_block_difference),
            ("clip_level", self.clip_level),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(format!(
                    "qc.{name} must be above 0 and at most 1, not {value}"
                ));
            }
        }
        for (name, value) in [
            ("silence_max_dbfs", self.silence_max_dbfs),
            ("loudness_min_lufs", self.loudness_min_lufs),
            ("loudness_max_lufs", self.loudness_max_lufs),
            ("true_peak_max_dbtp", self.true_peak_max_dbtp),
            ("loudness_range_max_lu", self.loudness_range_max_lu),
        ] {
            if !value.is_finite() {
                return Err(format!("qc.{name} must be a finite number, not {value}"));
            }
        }
        if !(self.quality_sample_seconds.is_finite() && self.quality_sample_seconds >= 1.0) {
            return Err(format!(
                "qc.quality_sample_seconds must be at least 1, not {}",
                self.quality_sample_seconds
            ));
        }
        if self.silence_warning_seconds > self.silence_error_seconds {
            return Err(format!(
                "qc.silence_warning_seconds ({}) is above qc.silence_error_seconds ({})",
                self.silence_warning_seconds, self.silence_error_seconds
            ));
        }
        if self.loudness_min_lufs > self.loudness_max_lufs {
            return Err(format!(
                "qc.loudness_min_lufs ({}) is above qc.loudness_max_lufs ({})",
                self.loudness_min_lufs, self.loudness_max_lufs
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_consistent() {
        assert_eq!(QcThresholds::default().check(), Ok(()));
    }

    #[test]
    fn contradictory_or_absurd_values_are_refused_naming_the_key() {
        let bad = [
            QcThresholds {
                silence_warning_seconds: 90.0,
                ..Default::default()
            },
            QcThresholds {
                loudness_min_lufs: -10.0,
                ..Default::default()
            },
            QcThresholds {
                clip_level: 1.5,
                ..Default::default()
            },
            QcThresholds {
                freeze_min_seconds: f64::NAN,
                ..Default::default()
            },
            QcThresholds {
                quality_sample_seconds: 0.0,
                ..Default::default()
            },
        ];
        for t in bad {
            let err = t.check().expect_err("refused");
            assert!(err.starts_with("qc."), "{err}");
        }
    }

    #[test]
    fn omitted_keys_keep_their_defaults() {
        let t: QcThresholds = toml::from_str("silence_min_seconds = 3.0\n").expect("parse");
        assert_eq!(t.silence_min_seconds, 3.0);
        assert_eq!(t.black_pixel_luma, QcThresholds::default().black_pixel_luma);
        assert!(toml::from_str::<QcThresholds>("silence_min_secs = 3.0\n").is_err());
    }
}
