//! Checks a [`MediaReport`] against a [`Policy`], pure: every broken rule is
//! reported (not only the first), each with a stable code, the measured
//! value, the limit and a zh-CN and an English message.

use serde::{Deserialize, Serialize};

use crate::messages::{Lang, ViolationCode};
use crate::policy::{Policy, codec_allowed};
use crate::report::{HdrKind, MediaReport, Scan};
use crate::units;

/// The outcome of validating one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// True when no rule is broken.
    pub accepted: bool,
    /// Every broken rule, in [`ViolationCode::ALL`] order.
    pub violations: Vec<Violation>,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Stable code, e.g. `"video.codec_not_allowed"` (see [`ViolationCode`]).
    pub code: String,
    /// What is wrong, in Simplified Chinese.
    pub message_zh: String,
    /// What is wrong, in English.
    pub message_en: String,
    /// The measured value, when the rule compares one (e.g. `"1920x1080"`).
    pub actual: Option<String>,
    /// The policy's limit (e.g. `"1280x720"`, `"10 fps – 60 fps"`).
    pub limit: Option<String>,
}

impl Violation {
    /// A violation of `code` with its values; the messages come from the catalogue.
    pub fn new(code: ViolationCode, actual: Option<String>, limit: Option<String>) -> Violation {
        let a = actual.as_deref().unwrap_or("?");
        let l = limit.as_deref().unwrap_or("?");
        Violation {
            code: code.as_str().to_owned(),
            message_zh: code.message(Lang::Zh, a, l),
            message_en: code.message(Lang::En, a, l),
            actual,
            limit,
        }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> &str {
        lang.pick(&self.message_zh, &self.message_en)
    }
}

impl Validation {
    /// The codes of the violations, in order.
    pub fn codes(&self) -> Vec<&str> {
        self.violations.iter().map(|v| v.code.as_str()).collect()
    }
}

/// Validates `report` against `policy`, reporting every broken rule.
pub fn validate(report: &MediaReport, policy: &Policy) -> Validation {
    let mut found: Vec<Violation> = Vec::new();
    let mut add = |code, actual: Option<String>, limit: Option<String>| {
        found.push(Violation::new(code, actual, limit));
    };

    let families = &policy.container.allowed_families;
    if !families.contains(&report.container_family) {
        add(
            ViolationCode::ContainerNotAllowed,
            Some(report.container_family.clone()),
            Some(families.join(", ")),
        );
    }

    if report.size_bytes > policy.file.max_size_bytes {
        add(
            ViolationCode::FileTooLarge,
            Some(units::bytes(report.size_bytes)),
            Some(units::bytes(policy.file.max_size_bytes)),
        );
    }

    let d = &policy.duration;
    let duration_range = format!(
        "{} – {}",
        units::duration(d.min_seconds),
        units::duration(d.max_seconds)
    );
    match report.duration_seconds {
        None => add(ViolationCode::DurationUnknown, None, Some(duration_range)),
        Some(seconds) if seconds < d.min_seconds => add(
            ViolationCode::DurationTooShort,
            Some(units::duration(seconds)),
            Some(units::duration(d.min_seconds)),
        ),
        Some(seconds) if seconds > d.max_seconds => add(
            ViolationCode::DurationTooLong,
            Some(units::duration(seconds)),
            Some(units::duration(d.max_seconds)),
        ),
        Some(_) => {}
    }

    if let Some(rate) = report.effective_bit_rate()
        && rate > policy.file.max_bit_rate
    {
        add(
            ViolationCode::BitrateTooHigh,
            Some(units::bit_rate(rate)),
            Some(units::bit_rate(policy.file.max_bit_rate)),
        );
    }

    let v = &policy.video;
    match report.primary_video() {
        None if v.required => add(ViolationCode::VideoMissing, None, None),
        None => {}
        Some(stream) => {
            if !codec_allowed(&stream.codec, &v.allowed_codecs) {
                add(
                    ViolationCode::VideoCodecNotAllowed,
                    Some(stream.codec.clone()),
                    Some(v.allowed_codecs.join(", ")),
                );
            }
            if let Some(info) = &stream.video {
                let long = info.display_width.max(info.display_height);
                let short = info.display_width.min(info.display_height);
                let actual = format!("{}x{}", info.display_width, info.display_height);
                if long < v.min_long_edge || short < v.min_short_edge {
                    add(
                        ViolationCode::VideoResolutionTooLow,
                        Some(actual.clone()),
                        Some(format!("{}x{}", v.min_long_edge, v.min_short_edge)),
                    );
                }
                if long > v.max_long_edge || short > v.max_short_edge {
                    add(
                        ViolationCode::VideoResolutionTooHigh,
                        Some(actual),
                        Some(format!("{}x{}", v.max_long_edge, v.max_short_edge)),
                    );
                }
                let rate = info
                    .avg_frame_rate
                    .or(info.real_frame_rate)
                    .filter(|r| r.is_finite() && *r > 0.0);
                if let Some(rate) = rate
                    && (rate < v.min_frame_rate || rate > v.max_frame_rate)
                {
                    add(
                        ViolationCode::VideoFrameRateOutOfRange,
                        Some(units::frame_rate(rate)),
                        Some(format!(
                            "{} – {}",
                            units::frame_rate(v.min_frame_rate),
                            units::frame_rate(v.max_frame_rate)
                        )),
                    );
                }
                let signal = &info.signal;
                if !v.hdr_allowed
                    && let Some(transfer) = signal.hdr.transfer_name()
                {
                    add(
                        ViolationCode::VideoHdrNotAllowed,
                        Some(format!("{} {transfer}", hdr_name(signal.hdr))),
                        Some("SDR".to_owned()),
                    );
                }
                if !v.interlaced_allowed && signal.interlaced {
                    add(
                        ViolationCode::VideoInterlacedNotAllowed,
                        Some(scan_name(signal.scan).to_owned()),
                        Some("progressive".to_owned()),
                    );
                }
            }
        }
    }

    let a = &policy.audio;
    match report.primary_audio() {
        None if a.required => add(ViolationCode::AudioMissing, None, None),
        Some(stream) if !codec_allowed(&stream.codec, &a.allowed_codecs) => add(
            ViolationCode::AudioCodecNotAllowed,
            Some(stream.codec.clone()),
            Some(a.allowed_codecs.join(", ")),
        ),
        None | Some(_) => {}
    }

    Validation {
        accepted: found.is_empty(),
        violations: found,
    }
}

/// The short name of an HDR kind, as reports print it.
fn hdr_name(hdr: HdrKind) -> &'static str {
    match hdr {
        HdrKind::None => "SDR",
        HdrKind::Pq => "PQ",
        HdrKind::Hlg => "HLG",
    }
}

/// The short name of a scan, as reports print it.
fn scan_name(scan: Scan) -> &'static str {
    match scan {
        Scan::Progressive => "progressive",
        Scan::TopFieldFirst => "tff",
        Scan::BottomFieldFirst => "bff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{AudioInfo, StreamKind, StreamReport, VideoInfo};

    fn video_stream(index: usize, codec: &str, display: (u32, u32), fps: f64) -> StreamReport {
        StreamReport {
            index,
            kind: StreamKind::Video,
            codec: codec.into(),
            codec_long: None,
            profile: None,
            level: None,
            bit_rate: None,
            duration_seconds: Some(10.0),
            video: Some(VideoInfo {
                width: display.0,
                height: display.1,
                pixel_format: Some("yuv420p".into()),
                rotation: 0,
                sample_aspect_ratio: (1, 1),
                display_width: display.0,
                display_height: display.1,
                avg_frame_rate: Some(fps),
                real_frame_rate: Some(fps),
                frame_rate_is_variable: false,
                closed_captions: false,
                signal: Default::default(),
            }),
            audio: None,
        }
    }

    fn audio_stream(index: usize, codec: &str) -> StreamReport {
        StreamReport {
            index,
            kind: StreamKind::Audio,
            codec: codec.into(),
            codec_long: None,
            profile: None,
            level: None,
            bit_rate: None,
            duration_seconds: Some(10.0),
            video: None,
            audio: Some(AudioInfo {
                channels: 2,
                sample_rate: 48000,
                sample_format: Some("fltp".into()),
                channel_layout: Some("stereo".into()),
            }),
        }
    }

    /// A report the default policy accepts: 1080p30 H.264 + AAC, 10 s, 2 MB MP4.
    fn good_report() -> MediaReport {
        MediaReport {
            file_name: "lecture.mp4".into(),
            size_bytes: 2_000_000,
            container: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            container_family: "mp4".into(),
            duration_seconds: Some(10.0),
            bit_rate: Some(1_600_000),
            streams: vec![
                video_stream(0, "h264", (1920, 1080), 30.0),
                audio_stream(1, "aac"),
            ],
        }
    }

    fn codes(report: &MediaReport, policy: &Policy) -> Vec<String> {
        validate(report, policy)
            .violations
            .into_iter()
            .map(|v| v.code)
            .collect()
    }

    fn policy() -> Policy {
        Policy::lecture_default()
    }

    #[test]
    fn a_typical_lecture_is_accepted_with_no_violations() {
        let validation = validate(&good_report(), &policy());
        assert!(validation.accepted);
        assert!(validation.violations.is_empty());
    }

    #[test]
    fn container_outside_the_allowed_families_is_rejected() {
        let mut r = good_report();
        r.container_family = "other:asf".into();
        let v = validate(&r, &policy());
        assert!(!v.accepted);
        assert_eq!(v.codes(), ["container.not_allowed"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("other:asf"));
        assert!(
            v.violations[0]
                .limit
                .as_deref()
                .is_some_and(|l| l.contains("mp4"))
        );
    }

    #[test]
    fn file_larger_than_the_limit_is_rejected() {
        let mut r = good_report();
        r.size_bytes = 4 * 1024 * 1024 * 1024 + 1;
        r.duration_seconds = Some(3600.0);
        r.bit_rate = Some(9_000_000);
        assert_eq!(codes(&r, &policy()), ["file.too_large"]);
    }

    #[test]
    fn file_exactly_at_the_size_limit_is_accepted() {
        let mut r = good_report();
        r.size_bytes = 4 * 1024 * 1024 * 1024;
        r.duration_seconds = Some(3600.0);
        r.bit_rate = Some(9_000_000);
        assert!(validate(&r, &policy()).accepted);
    }

    #[test]
    fn duration_below_the_minimum_is_too_short() {
        let mut r = good_report();
        r.duration_seconds = Some(0.5);
        assert_eq!(codes(&r, &policy()), ["duration.too_short"]);
    }

    #[test]
    fn duration_above_the_maximum_is_too_long() {
        let mut r = good_report();
        r.duration_seconds = Some(4.0 * 3600.0 + 1.0);
        assert_eq!(codes(&r, &policy()), ["duration.too_long"]);
    }

    #[test]
    fn unknown_duration_is_a_violation_because_the_rule_cannot_be_checked() {
        let mut r = good_report();
        r.duration_seconds = None;
        assert_eq!(codes(&r, &policy()), ["duration.unknown"]);
    }

    #[test]
    fn bit_rate_above_the_limit_is_rejected() {
        let mut r = good_report();
        r.bit_rate = Some(80_000_000);
        let v = validate(&r, &policy());
        assert_eq!(v.codes(), ["bitrate.too_high"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("80.00 Mbit/s"));
        assert_eq!(v.violations[0].limit.as_deref(), Some("60.00 Mbit/s"));
    }

    #[test]
    fn bit_rate_is_derived_from_size_and_duration_when_the_container_has_none() {
        let mut r = good_report();
        r.bit_rate = None;
        r.size_bytes = 100_000_000; // 80 Mbit/s over 10 s
        assert_eq!(codes(&r, &policy()), ["bitrate.too_high"]);
    }

    #[test]
    fn missing_video_is_rejected_when_video_is_required() {
        let mut r = good_report();
        r.streams.remove(0);
        assert_eq!(codes(&r, &policy()), ["video.missing"]);
        let mut relaxed = policy();
        relaxed.video.required = false;
        assert!(validate(&r, &relaxed).accepted);
    }

    #[test]
    fn cover_art_does_not_count_as_video() {
        let mut r = good_report();
        r.streams[0].kind = StreamKind::Attachment;
        assert_eq!(codes(&r, &policy()), ["video.missing"]);
    }

    #[test]
    fn missing_audio_is_rejected_when_audio_is_required() {
        let mut r = good_report();
        r.streams.remove(1);
        assert_eq!(codes(&r, &policy()), ["audio.missing"]);
        let mut relaxed = policy();
        relaxed.audio.required = false;
        assert!(validate(&r, &relaxed).accepted);
    }

    #[test]
    fn video_codec_outside_the_list_is_rejected() {
        let mut r = good_report();
        r.streams[0].codec = "wmv3".into();
        let v = validate(&r, &policy());
        assert_eq!(v.codes(), ["video.codec_not_allowed"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("wmv3"));
    }

    #[test]
    fn audio_codec_outside_the_list_is_rejected_and_pcm_variants_match_the_pattern() {
        let mut r = good_report();
        r.streams[1].codec = "wmav2".into();
        assert_eq!(codes(&r, &policy()), ["audio.codec_not_allowed"]);
        r.streams[1].codec = "pcm_s24le".into();
        assert!(validate(&r, &policy()).accepted);
    }

    #[test]
    fn picture_smaller_than_the_minimum_is_too_low() {
        let mut r = good_report();
        r.streams[0] = video_stream(0, "h264", (256, 144), 30.0);
        let v = validate(&r, &policy());
        assert_eq!(v.codes(), ["video.resolution_too_low"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("256x144"));
        assert_eq!(v.violations[0].limit.as_deref(), Some("320x180"));
    }

    #[test]
    fn picture_larger_than_the_maximum_is_too_high() {
        let mut r = good_report();
        r.streams[0] = video_stream(0, "h264", (7680, 4320), 30.0);
        let v = validate(&r, &policy());
        assert_eq!(v.codes(), ["video.resolution_too_high"]);
        assert_eq!(v.violations[0].limit.as_deref(), Some("4096x2304"));
    }

    #[test]
    fn portrait_video_is_judged_by_long_and_short_edge_like_its_landscape_twin() {
        let mut r = good_report();
        r.streams[0] = video_stream(0, "h264", (1080, 1920), 30.0);
        assert!(validate(&r, &policy()).accepted);
        // 2304 wide is fine as a short edge of a portrait 2304x4096 picture,
        // but a portrait 2400x4000 has a short edge above 2304.
        r.streams[0] = video_stream(0, "h264", (2304, 4096), 30.0);
        assert!(validate(&r, &policy()).accepted);
        r.streams[0] = video_stream(0, "h264", (2400, 4000), 30.0);
        assert_eq!(codes(&r, &policy()), ["video.resolution_too_high"]);
    }

    #[test]
    fn a_720p_policy_rejects_1080p() {
        let mut p = policy();
        p.video.max_long_edge = 1280;
        p.video.max_short_edge = 720;
        let v = validate(&good_report(), &p);
        assert_eq!(v.codes(), ["video.resolution_too_high"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("1920x1080"));
        assert_eq!(v.violations[0].limit.as_deref(), Some("1280x720"));
    }

    #[test]
    fn frame_rate_outside_the_range_is_rejected_on_both_sides() {
        let mut r = good_report();
        r.streams[0] = video_stream(0, "h264", (1920, 1080), 5.0);
        assert_eq!(codes(&r, &policy()), ["video.frame_rate_out_of_range"]);
        r.streams[0] = video_stream(0, "h264", (1920, 1080), 120.0);
        let v = validate(&r, &policy());
        assert_eq!(v.codes(), ["video.frame_rate_out_of_range"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("120 fps"));
        assert_eq!(v.violations[0].limit.as_deref(), Some("10 fps – 60 fps"));
    }

    #[test]
    fn ntsc_rates_at_the_edges_are_inside_the_range() {
        let mut r = good_report();
        r.streams[0] = video_stream(0, "h264", (1920, 1080), 60000.0 / 1001.0);
        assert!(validate(&r, &policy()).accepted);
    }

    #[test]
    fn unknown_frame_rate_is_not_checked() {
        let mut r = good_report();
        if let Some(info) = r.streams[0].video.as_mut() {
            info.avg_frame_rate = None;
            info.real_frame_rate = None;
        }
        assert!(validate(&r, &policy()).accepted);
    }

    #[test]
    fn average_frame_rate_is_preferred_over_the_base_rate() {
        let mut r = good_report();
        if let Some(info) = r.streams[0].video.as_mut() {
            info.avg_frame_rate = Some(8.0);
            info.real_frame_rate = Some(30.0);
        }
        assert_eq!(codes(&r, &policy()), ["video.frame_rate_out_of_range"]);
    }

    fn with_signal(hdr: HdrKind, scan: Scan) -> MediaReport {
        let mut r = good_report();
        if let Some(info) = r.streams[0].video.as_mut() {
            info.signal.hdr = hdr;
            info.signal.scan = scan;
            info.signal.interlaced = scan.is_interlaced();
        }
        r
    }

    #[test]
    fn hdr_and_interlaced_pictures_are_accepted_by_default() {
        let r = with_signal(HdrKind::Hlg, Scan::TopFieldFirst);
        assert!(validate(&r, &policy()).accepted);
    }

    #[test]
    fn hdr_is_rejected_with_its_transfer_when_the_policy_wants_sdr_only() {
        let mut p = policy();
        p.video.hdr_allowed = false;
        let v = validate(&with_signal(HdrKind::Pq, Scan::Progressive), &p);
        assert_eq!(v.codes(), ["video.hdr_not_allowed"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("PQ smpte2084"));
        assert!(v.violations[0].message_zh.contains("HDR"));
        assert!(v.violations[0].message_en.contains("PQ smpte2084"));
        assert!(validate(&with_signal(HdrKind::None, Scan::Progressive), &p).accepted);
    }

    #[test]
    fn interlaced_is_rejected_with_its_field_order_when_the_policy_wants_progressive_only() {
        let mut p = policy();
        p.video.interlaced_allowed = false;
        let v = validate(&with_signal(HdrKind::None, Scan::BottomFieldFirst), &p);
        assert_eq!(v.codes(), ["video.interlaced_not_allowed"]);
        assert_eq!(v.violations[0].actual.as_deref(), Some("bff"));
        assert!(v.violations[0].message_zh.contains("隔行扫描"));
        assert!(validate(&with_signal(HdrKind::None, Scan::Progressive), &p).accepted);
    }

    #[test]
    fn the_hdr_and_interlace_rules_are_set_in_the_policy_file() {
        let p = Policy::from_toml_str("[video]\nhdr_allowed = false\ninterlaced_allowed = false\n")
            .expect("parse");
        let v = validate(&with_signal(HdrKind::Hlg, Scan::TopFieldFirst), &p);
        assert_eq!(
            v.codes(),
            ["video.hdr_not_allowed", "video.interlaced_not_allowed"]
        );
    }

    #[test]
    fn every_broken_rule_is_reported_not_only_the_first() {
        let r = MediaReport {
            file_name: "bad.wmv".into(),
            size_bytes: 5 * 1024 * 1024 * 1024,
            container: "asf".into(),
            container_family: "other:asf".into(),
            duration_seconds: Some(0.2),
            bit_rate: Some(100_000_000),
            streams: vec![
                video_stream(0, "wmv3", (160, 120), 5.0),
                audio_stream(1, "wmav2"),
            ],
        };
        assert_eq!(
            codes(&r, &policy()),
            [
                "container.not_allowed",
                "file.too_large",
                "duration.too_short",
                "bitrate.too_high",
                "video.codec_not_allowed",
                "video.resolution_too_low",
                "video.frame_rate_out_of_range",
                "audio.codec_not_allowed",
            ]
        );
    }

    #[test]
    fn both_streams_missing_reports_both() {
        let mut r = good_report();
        r.streams.clear();
        assert_eq!(codes(&r, &policy()), ["video.missing", "audio.missing"]);
    }

    #[test]
    fn violations_carry_messages_in_both_languages() {
        let mut r = good_report();
        r.streams[0].codec = "wmv3".into();
        let v = &validate(&r, &policy()).violations[0];
        assert!(v.message_zh.contains("wmv3") && v.message_zh.contains("视频编码"));
        assert!(v.message_en.contains("wmv3") && v.message_en.contains("Video codec"));
        assert_eq!(v.message(Lang::En), v.message_en);
    }

    #[test]
    fn violation_order_follows_the_catalogue_order() {
        let r = MediaReport {
            file_name: "x".into(),
            size_bytes: 5 * 1024 * 1024 * 1024,
            container: "asf".into(),
            container_family: "other:asf".into(),
            duration_seconds: None,
            bit_rate: None,
            streams: vec![],
        };
        let found = codes(&r, &policy());
        let order: Vec<&str> = ViolationCode::ALL
            .iter()
            .map(|c| c.as_str())
            .filter(|c| found.iter().any(|f| f == c))
            .collect();
        assert_eq!(found, order);
    }
}
