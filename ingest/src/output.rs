//! The result of probing and validating one file, as one serialisable
//! value: what `yanxiu probe --json` prints and what its exit code says.

use serde::{Deserialize, Serialize};

use crate::messages::{self, Lang};
use crate::policy::{Policy, PolicyError};
use crate::probe::ProbeError;
use crate::render;
use crate::report::MediaReport;
use crate::validate::{Validation, validate};

/// Exit code: the file is readable media and meets the policy.
pub const EXIT_ACCEPTED: u8 = 0;
/// Exit code: the file is readable media but breaks the policy.
pub const EXIT_REJECTED: u8 = 1;
/// Exit code: the file cannot be read as media, or the policy file is bad.
pub const EXIT_UNREADABLE: u8 = 2;

/// Why no report could be made, for people and machines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// Stable code: `probe.not_found`, `probe.empty`, `probe.not_media`,
    /// `probe.unreadable`, `probe.timeout`, `probe.io` or `policy.invalid`.
    pub code: String,
    /// The message in Simplified Chinese.
    pub message_zh: String,
    /// The message in English.
    pub message_en: String,
}

impl ErrorReport {
    /// The report of a probe failure.
    pub fn from_probe_error(error: &ProbeError) -> ErrorReport {
        ErrorReport {
            code: error.code().to_owned(),
            message_zh: error.message(Lang::Zh),
            message_en: error.message(Lang::En),
        }
    }

    /// The report of a policy that cannot be used.
    pub fn from_policy_error(error: &PolicyError) -> ErrorReport {
        let detail = error.to_string();
        ErrorReport {
            code: "policy.invalid".to_owned(),
            message_zh: messages::policy_error_message(&detail, Lang::Zh),
            message_en: messages::policy_error_message(&detail, Lang::En),
        }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> &str {
        lang.pick(&self.message_zh, &self.message_en)
    }
}

/// Everything `yanxiu probe` says about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeOutput {
    /// The file as given on the command line.
    pub file: String,
    /// Name of the policy the file was validated against (absent when the
    /// policy itself could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// [`EXIT_ACCEPTED`], [`EXIT_REJECTED`] or [`EXIT_UNREADABLE`].
    pub exit_code: u8,
    /// The probe report, when the file could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<MediaReport>,
    /// The validation, when the file could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// Why there is no report (exit code 2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

impl ProbeOutput {
    /// The output for a probe result validated against `policy`.
    pub fn from_probe(
        file: &str,
        probed: Result<MediaReport, ProbeError>,
        policy: &Policy,
    ) -> ProbeOutput {
        match probed {
            Ok(report) => {
                let validation = validate(&report, policy);
                ProbeOutput {
                    file: file.to_owned(),
                    policy: Some(policy.name.clone()),
                    exit_code: if validation.accepted {
                        EXIT_ACCEPTED
                    } else {
                        EXIT_REJECTED
                    },
                    report: Some(report),
                    validation: Some(validation),
                    error: None,
                }
            }
            Err(error) => ProbeOutput {
                file: file.to_owned(),
                policy: Some(policy.name.clone()),
                exit_code: EXIT_UNREADABLE,
                report: None,
                validation: None,
                error: Some(ErrorReport::from_probe_error(&error)),
            },
        }
    }

    /// The output when the policy file cannot be used (nothing is probed).
    pub fn from_policy_error(file: &str, error: &PolicyError) -> ProbeOutput {
        ProbeOutput {
            file: file.to_owned(),
            policy: None,
            exit_code: EXIT_UNREADABLE,
            report: None,
            validation: None,
            error: Some(ErrorReport::from_policy_error(error)),
        }
    }

    /// The human-readable rendering in `lang` (see [`render::render_text`]).
    pub fn render_text(&self, lang: Lang) -> String {
        render::render_text(self, lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::UnreadableReason;

    fn report(streams: usize) -> MediaReport {
        MediaReport {
            file_name: "a.mp4".into(),
            size_bytes: 1000,
            container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            container_family: "mp4".into(),
            duration_seconds: Some(10.0),
            bit_rate: Some(800),
            streams: Vec::with_capacity(streams),
        }
    }

    #[test]
    fn a_rejected_file_exits_1_with_report_and_validation() {
        let out = ProbeOutput::from_probe("a.mp4", Ok(report(0)), &Policy::lecture_default());
        assert_eq!(out.exit_code, EXIT_REJECTED);
        assert!(out.report.is_some() && out.error.is_none());
        assert_eq!(
            out.validation.as_ref().map(|v| v.codes()),
            Some(vec!["video.missing", "audio.missing"])
        );
    }

    #[test]
    fn an_unreadable_file_exits_2_with_an_error_in_both_languages() {
        let error = ProbeError::Unreadable {
            reason: UnreadableReason::NoStreams,
        };
        let out = ProbeOutput::from_probe("a.mp4", Err(error), &Policy::lecture_default());
        assert_eq!(out.exit_code, EXIT_UNREADABLE);
        let e = out.error.as_ref().expect("error");
        assert_eq!(e.code, "probe.unreadable");
        assert!(
            e.message_zh.contains("没有任何音视频流"),
            "{}",
            e.message_zh
        );
        assert!(e.message_en.contains("no streams"));
        let json = serde_json::to_value(&out).expect("json");
        assert!(json.get("report").is_none() && json.get("validation").is_none());
        assert_eq!(json["error"]["code"], "probe.unreadable");
    }

    #[test]
    fn a_bad_policy_exits_2_with_code_policy_invalid() {
        let error = Policy::from_toml_str("[video]\nnope = 1\n").expect_err("bad");
        let out = ProbeOutput::from_policy_error("a.mp4", &error);
        assert_eq!(out.exit_code, EXIT_UNREADABLE);
        assert_eq!(
            out.error.as_ref().map(|e| e.code.as_str()),
            Some("policy.invalid")
        );
        assert!(
            out.error
                .as_ref()
                .is_some_and(|e| e.message_zh.starts_with("策略文件无效"))
        );
    }

    #[test]
    fn output_round_trips_through_json() {
        let out = ProbeOutput::from_probe("a.mp4", Ok(report(0)), &Policy::lecture_default());
        let text = serde_json::to_string(&out).expect("json");
        let back: ProbeOutput = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, out);
    }
}
