//! The QC rules, pure: from a report's measurements to findings, each with
//! a stable code, a severity, where it is, and a message in zh-CN and
//! English. Lecture-aware: a picture held over speech is at most a note;
//! a picture frozen or black while nothing is heard is an error.

use serde::{Deserialize, Serialize};

use super::report::QcReport;
use super::segments::{Segment, covered_share, overlaps};
use super::thresholds::QcThresholds;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; normal for a lecture.
    Info,
    /// A reviewer should look.
    Warning,
    /// A technical fault.
    Error,
}

impl Severity {
    /// The identifier (`info`, `warning`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One thing the QC found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, e.g. `av.frozen_and_silent`.
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// zh-CN message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
}

fn finding(code: &str, severity: Severity, at: Segment, zh: String, en: String) -> Finding {
    Finding {
        code: code.to_owned(),
        severity,
        start: at.start,
        end: at.end,
        message_zh: zh,
        message_en: en,
    }
}

fn secs(x: f64) -> String {
    format!("{x:.1}")
}

/// The findings of `report` under `t`, sorted by start, worst first.
pub fn judge(report: &QcReport, t: &QcThresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    let whole = Segment {
        start: 0.0,
        end: report.duration,
    };
    dead_air(report, t, &mut out);
    let dead: Vec<Segment> = out
        .iter()
        .map(|f| Segment {
            start: f.start,
            end: f.end,
        })
        .collect();
    picture(report, t, &mut out);
    sound(report, t, whole, &dead, &mut out);
    sync(report, t, &mut out);
    quality(report, t, whole, &mut out);
    out.sort_by(|a, b| {
        a.start
            .total_cmp(&b.start)
            .then(b.severity.cmp(&a.severity))
            .then(a.code.cmp(&b.code))
    });
    out
}

/// Frozen or black picture while silent: the lecture has stopped.
fn dead_air(r: &QcReport, t: &QcThresholds, out: &mut Vec<Finding>) {
    for s in overlaps(&r.freeze, &r.silence, t.dead_air_error_seconds) {
        let d = secs(s.duration());
        out.push(finding(
            "av.frozen_and_silent",
            Severity::Error,
            s,
            format!("画面静止且无声 {d} 秒"),
            format!("frozen picture with no sound for {d} s"),
        ));
    }
    for s in overlaps(&r.black, &r.silence, t.dead_air_error_seconds) {
        let d = secs(s.duration());
        out.push(finding(
            "av.black_and_silent",
            Severity::Error,
            s,
            format!("黑场且无声 {d} 秒"),
            format!("black picture with no sound for {d} s"),
        ));
    }
}

fn picture(r: &QcReport, t: &QcThresholds, out: &mut Vec<Finding>) {
    for s in r
        .black
        .iter()
        .filter(|s| s.duration() >= t.black_warning_seconds)
    {
        let d = secs(s.duration());
        out.push(finding(
            "video.black",
            Severity::Warning,
            *s,
            format!("黑场 {d} 秒"),
            format!("black picture for {d} s"),
        ));
    }
    for s in r
        .freeze
        .iter()
        .filter(|s| s.duration() >= t.static_info_seconds && covered_share(s, &r.silence) < 0.5)
    {
        let d = secs(s.duration());
        out.push(finding(
            "video.static_picture",
            Severity::Info,
            *s,
            format!("画面静止 {d} 秒，期间有声音（如讲解中停留的幻灯片，属正常）"),
            format!(
                "picture held for {d} s with sound over it (e.g. a slide during the talk; normal)"
            ),
        ));
    }
}

fn sound(r: &QcReport, t: &QcThresholds, whole: Segment, dead: &[Segment], out: &mut Vec<Finding>) {
    if r.audio.is_none() {
        return;
    }
    for s in &r.silence {
        if covered_share(s, dead) >= 0.5 {
            continue;
        }
        let severity = if s.duration() >= t.silence_error_seconds {
            Severity::Error
        } else if s.duration() >= t.silence_warning_seconds {
            Severity::Warning
        } else {
            continue;
        };
        let d = secs(s.duration());
        out.push(finding(
            "audio.silence",
            severity,
            *s,
            format!("无声 {d} 秒"),
            format!("no sound for {d} s"),
        ));
    }
    for c in &r.clipping {
        let at = Segment {
            start: c.start,
            end: c.end,
        };
        out.push(finding(
            "audio.clipping",
            Severity::Warning,
            at,
            format!(
                "声音削波失真 {} 秒（{} 个样本达到满幅）",
                secs(at.duration()),
                c.samples
            ),
            format!(
                "clipped sound for {} s ({} samples at full scale)",
                secs(at.duration()),
                c.samples
            ),
        ));
    }
    let l = &r.loudness;
    match l.integrated_lufs {
        None => out.push(finding(
            "audio.no_sound",
            Severity::Error,
            whole,
            "整段没有可听见的声音".to_owned(),
            "no audible sound anywhere".to_owned(),
        )),
        Some(i) if i < t.loudness_min_lufs => out.push(finding(
            "audio.too_quiet",
            Severity::Warning,
            whole,
            format!(
                "整体响度 {i:.1} LUFS，低于 {:.1} LUFS，声音偏小",
                t.loudness_min_lufs
            ),
            format!(
                "integrated loudness {i:.1} LUFS is below {:.1} LUFS: too quiet",
                t.loudness_min_lufs
            ),
        )),
        Some(i) if i > t.loudness_max_lufs => out.push(finding(
            "audio.too_loud",
            Severity::Warning,
            whole,
            format!(
                "整体响度 {i:.1} LUFS，高于 {:.1} LUFS，声音偏大",
                t.loudness_max_lufs
            ),
            format!(
                "integrated loudness {i:.1} LUFS is above {:.1} LUFS: too loud",
                t.loudness_max_lufs
            ),
        )),
        Some(_) => {}
    }
    if let Some(p) = l.true_peak_dbtp
        && p > t.true_peak_max_dbtp
    {
        out.push(finding(
            "audio.true_peak",
            Severity::Warning,
            whole,
            format!("真峰值 {p:.1} dBTP，高于 {:.1} dBTP", t.true_peak_max_dbtp),
            format!(
                "true peak {p:.1} dBTP is above {:.1} dBTP",
                t.true_peak_max_dbtp
            ),
        ));
    }
    if let Some(lra) = l.range_lu
        && lra > t.loudness_range_max_lu
    {
        out.push(finding(
            "audio.loudness_range",
            Severity::Info,
            whole,
            format!("响度范围 {lra:.1} LU，音量忽大忽小"),
            format!("loudness range {lra:.1} LU: the level varies a lot"),
        ));
    }
}

fn sync(r: &QcReport, t: &QcThresholds, out: &mut Vec<Finding>) {
    let (Some(v), Some(a)) = (&r.video, &r.audio) else {
        return;
    };
    let offset = a.start - v.start;
    if offset.abs() > t.start_offset_warning_seconds {
        let at = Segment {
            start: v.start.min(a.start),
            end: v.start.max(a.start),
        };
        let d = secs(offset.abs());
        let (zh, en) = if offset > 0.0 {
            (
                format!("声音比画面晚 {d} 秒开始"),
                format!("the sound starts {d} s after the picture"),
            )
        } else {
            (
                format!("声音比画面早 {d} 秒开始"),
                format!("the sound starts {d} s before the picture"),
            )
        };
        out.push(finding("av.start_offset", Severity::Warning, at, zh, en));
    }
    let difference = a.end - v.end;
    if difference.abs() > t.duration_mismatch_warning_seconds {
        let at = Segment {
            start: v.end.min(a.end),
            end: v.end.max(a.end),
        };
        let d = secs(difference.abs());
        let (zh, en) = if difference > 0.0 {
            (
                format!("声音比画面长 {d} 秒"),
                format!("the sound runs {d} s longer than the picture"),
            )
        } else {
            (
                format!("画面比声音长 {d} 秒"),
                format!("the picture runs {d} s longer than the sound"),
            )
        };
        out.push(finding(
            "av.duration_mismatch",
            Severity::Warning,
            at,
            zh,
            en,
        ));
    }
}

fn quality(r: &QcReport, t: &QcThresholds, whole: Segment, out: &mut Vec<Finding>) {
    let q = &r.picture;
    if let Some(b) = q.blockiness
        && b > t.blockiness_warning
    {
        out.push(finding(
            "video.blocky",
            Severity::Warning,
            whole,
            format!(
                "画面方块效应明显（块效应 {b:.2}，上限 {:.2}）",
                t.blockiness_warning
            ),
            format!(
                "visible compression blocks (blockiness {b:.2}, limit {:.2})",
                t.blockiness_warning
            ),
        ));
    }
    if let Some(s) = q.sharpness
        && s < t.sharpness_info_below
    {
        out.push(finding(
            "video.soft",
            Severity::Info,
            whole,
            format!(
                "画面偏模糊（清晰度 {s:.2}，低于 {:.2}）",
                t.sharpness_info_below
            ),
            format!(
                "soft picture (sharpness {s:.2}, below {:.2})",
                t.sharpness_info_below
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qc::picture::PictureFacts;
    use crate::qc::sound::SoundFacts;

    fn seg(start: f64, end: f64) -> Segment {
        Segment { start, end }
    }

    fn pictures(black: Vec<Segment>, freeze: Vec<Segment>, end: f64) -> PictureFacts {
        PictureFacts {
            frames: (end * 30.0) as u64,
            start: Some(0.0),
            end: Some(end),
            size: Some((1920, 1080)),
            black,
            freeze,
            dropped_segments: 0,
            quality_samples: 3,
            sharpness: Some(0.5),
            blockiness: Some(1.1),
        }
    }

    fn sounds(silence: Vec<Segment>, start: f64, end: f64) -> SoundFacts {
        SoundFacts {
            start: Some(start),
            end: Some(end),
            sample_rate: 48_000,
            channels: 2,
            integrated_lufs: Some(-20.0),
            range_lu: Some(5.0),
            true_peak_dbtp: Some(-6.0),
            silence,
            clipping: Vec::new(),
            dropped_segments: 0,
            short_term: Vec::new(),
        }
    }

    fn codes(r: &QcReport) -> Vec<(String, Severity)> {
        r.findings
            .iter()
            .map(|f| (f.code.clone(), f.severity))
            .collect()
    }

    fn expect(list: &[(&str, Severity)]) -> Vec<(String, Severity)> {
        list.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect()
    }

    fn build(p: PictureFacts, s: SoundFacts) -> QcReport {
        QcReport::build(Some(p), Some(s), &QcThresholds::default())
    }

    #[test]
    fn a_slide_held_for_minutes_over_speech_is_only_a_note() {
        let r = build(
            pictures(vec![], vec![seg(10.0, 400.0)], 600.0),
            sounds(vec![seg(100.0, 103.0)], 0.0, 600.0),
        );
        assert_eq!(
            codes(&r),
            expect(&[("video.static_picture", Severity::Info)])
        );
        assert!(!r.has_errors());
    }

    #[test]
    fn a_frozen_picture_with_silence_is_an_error_where_they_overlap() {
        let r = build(
            pictures(vec![], vec![seg(5.0, 25.0)], 30.0),
            sounds(vec![seg(5.02, 25.0)], 0.0, 30.0),
        );
        let errors: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{:?}", r.findings);
        assert_eq!(errors[0].code, "av.frozen_and_silent");
        assert_eq!((errors[0].start, errors[0].end), (5.02, 25.0));
        assert!(errors[0].message_zh.contains("无声") && errors[0].message_en.contains("no sound"));
        // The silence itself is not reported twice.
        assert!(!r.findings.iter().any(|f| f.code == "audio.silence"));
    }

    #[test]
    fn black_at_the_start_is_a_warning_and_with_silence_an_error() {
        let r = build(
            pictures(vec![seg(0.0, 3.0)], vec![], 30.0),
            sounds(vec![], 0.0, 30.0),
        );
        assert_eq!(codes(&r), expect(&[("video.black", Severity::Warning)]));
        let r = build(
            pictures(vec![seg(0.0, 12.0)], vec![], 30.0),
            sounds(vec![seg(0.0, 12.0)], 0.0, 30.0),
        );
        assert_eq!(
            codes(&r),
            expect(&[
                ("av.black_and_silent", Severity::Error),
                ("video.black", Severity::Warning)
            ])
        );
    }

    #[test]
    fn silence_grows_from_nothing_to_a_warning_to_an_error() {
        let for_silence = |d: f64| {
            let r = build(
                pictures(vec![], vec![], 200.0),
                sounds(vec![seg(50.0, 50.0 + d)], 0.0, 200.0),
            );
            codes(&r)
        };
        assert_eq!(for_silence(5.0), expect(&[]));
        assert_eq!(
            for_silence(15.0),
            expect(&[("audio.silence", Severity::Warning)])
        );
        assert_eq!(
            for_silence(75.0),
            expect(&[("audio.silence", Severity::Error)])
        );
    }

    #[test]
    fn late_audio_and_a_short_soundtrack_are_warnings() {
        let r = build(pictures(vec![], vec![], 10.0), sounds(vec![], 1.0, 10.0));
        assert_eq!(codes(&r), expect(&[("av.start_offset", Severity::Warning)]));
        assert_eq!((r.findings[0].start, r.findings[0].end), (0.0, 1.0));
        assert!(r.findings[0].message_en.contains("1.0 s after"));
        let r = build(pictures(vec![], vec![], 10.0), sounds(vec![], 0.0, 7.0));
        assert_eq!(
            codes(&r),
            expect(&[("av.duration_mismatch", Severity::Warning)])
        );
    }

    #[test]
    fn loudness_outside_the_window_and_hot_peaks_are_warnings() {
        let mut s = sounds(vec![], 0.0, 10.0);
        s.integrated_lufs = Some(-40.0);
        s.true_peak_dbtp = Some(0.3);
        s.range_lu = Some(25.0);
        let r = build(pictures(vec![], vec![], 10.0), s);
        assert_eq!(
            codes(&r),
            expect(&[
                ("audio.too_quiet", Severity::Warning),
                ("audio.true_peak", Severity::Warning),
                ("audio.loudness_range", Severity::Info)
            ])
        );
        let mut s = sounds(vec![seg(0.0, 10.0)], 0.0, 10.0);
        s.integrated_lufs = None;
        let r = build(pictures(vec![], vec![], 10.0), s);
        assert!(codes(&r).contains(&("audio.no_sound".to_owned(), Severity::Error)));
    }

    #[test]
    fn every_finding_speaks_both_languages() {
        let mut p = pictures(vec![seg(0.0, 12.0)], vec![seg(20.0, 200.0)], 300.0);
        p.blockiness = Some(2.5);
        p.sharpness = Some(0.05);
        let mut s = sounds(vec![seg(0.0, 12.0), seg(20.0, 35.0)], 2.0, 290.0);
        s.clipping = vec![crate::qc::sound::ClipPassage {
            start: 1.0,
            end: 2.0,
            samples: 900,
        }];
        let r = build(p, s);
        assert!(r.findings.len() >= 6, "{:?}", r.findings);
        for f in &r.findings {
            assert!(
                !f.message_zh.is_empty() && !f.message_en.is_empty(),
                "{f:?}"
            );
            assert!(!f.message_zh.is_ascii(), "{f:?}");
            assert!(f.end >= f.start, "{f:?}");
        }
    }
}
