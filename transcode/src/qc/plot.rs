//! The report as pictures a reviewer reads at a glance, pure: SVG of the
//! short-term loudness over time (with the integrated loudness and the
//! policy's window), and a timeline of black, frozen, silent and clipped
//! stretches and of the findings. Labels in Chinese and English.

use std::fmt::Write;

use super::findings::Severity;
use super::report::QcReport;
use super::segments::Segment;
use super::thresholds::QcThresholds;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 20.0;
const FLOOR_LUFS: f64 = -60.0;
const FONT: &str = "font-family=\"Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif\"";

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `m:ss` or `h:mm:ss`.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A tick step giving at most ten ticks over `duration` seconds.
fn tick_step(duration: f64) -> f64 {
    const STEPS: [f64; 14] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    STEPS
        .into_iter()
        .find(|s| duration / s <= 10.0)
        .unwrap_or(14400.0)
}

struct Frame {
    duration: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        let span = WIDTH - LEFT - RIGHT;
        LEFT + span * (t / self.duration).clamp(0.0, 1.0)
    }

    fn time_axis(&self, svg: &mut String) {
        let step = tick_step(self.duration);
        let mut t = 0.0;
        while t <= self.duration + 1e-9 {
            let x = self.x(t);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                self.top,
                self.bottom,
                self.bottom + 14.0,
                clock(t)
            );
            t += step;
        }
    }
}

fn open(svg: &mut String, height: f64, title: &str) {
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" {FONT} role=\"img\" aria-label=\"{t}\">\
         <title>{t}</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"14\" font-weight=\"bold\" fill=\"#222\">{t}</text>",
        t = esc(title)
    );
}

/// Short-term loudness over time with the integrated loudness (dashed) and
/// the policy's loudness window (shaded).
pub fn loudness_svg(report: &QcReport, thresholds: &QcThresholds) -> String {
    let height = 280.0;
    let f = Frame {
        duration: report.duration.max(1.0),
        top: 34.0,
        bottom: height - 30.0,
    };
    let y = |lufs: f64| {
        let v = lufs.clamp(FLOOR_LUFS, 0.0);
        f.top + (f.bottom - f.top) * (v / FLOOR_LUFS)
    };
    let mut svg = String::new();
    let integrated = report
        .loudness
        .integrated_lufs
        .map_or_else(|| "—".to_owned(), |i| format!("{i:.1} LUFS"));
    open(
        &mut svg,
        height,
        &format!("响度 Loudness（短期 short-term 3 s）· 整体 integrated {integrated}"),
    );
    let (lo, hi) = (
        y(thresholds.loudness_max_lufs),
        y(thresholds.loudness_min_lufs),
    );
    let _ = write!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{lo:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e6f4ea\"/>",
        WIDTH - LEFT - RIGHT,
        (hi - lo).max(0.0)
    );
    for lufs in [0.0, -10.0, -20.0, -30.0, -40.0, -50.0, -60.0] {
        let yy = y(lufs);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">{lufs:.0}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"14\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">LUFS</text>",
        f.top + 12.0
    );
    f.time_axis(&mut svg);
    let s = &report.loudness_series;
    let mut path = String::new();
    let mut pen_down = false;
    for (i, value) in s.short_term_lufs.iter().enumerate() {
        let t = s.start + (i as f64 + 1.0) * s.step_seconds;
        match value {
            Some(v) => {
                let cmd = if pen_down { 'L' } else { 'M' };
                let _ = write!(path, "{cmd}{:.1} {:.1} ", f.x(t), y(f64::from(*v)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if !path.is_empty() {
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\"/>",
            path.trim_end()
        );
    }
    if let Some(i) = report.loudness.integrated_lufs {
        let yy = y(i);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#d9822b\" stroke-dasharray=\"6 4\"/>",
            WIDTH - RIGHT
        );
    }
    svg.push_str("</svg>");
    svg
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Error => "#c62828",
        Severity::Warning => "#ef8f00",
        Severity::Info => "#5b8def",
    }
}

/// One lane per kind of stretch (black, frozen, silent, clipped) and one of
/// the findings coloured by severity, on a common time axis.
pub fn timeline_svg(report: &QcReport) -> String {
    let lanes: [(&str, &str, Vec<Segment>); 4] = [
        ("黑场 Black", "#222", report.black.clone()),
        ("静止 Frozen", "#7b5ea7", report.freeze.clone()),
        ("无声 Silent", "#2e7d32", report.silence.clone()),
        (
            "削波 Clipped",
            "#c62828",
            report
                .clipping
                .iter()
                .map(|c| Segment {
                    start: c.start,
                    end: c.end,
                })
                .collect(),
        ),
    ];
    let lane_h = 26.0;
    let top = 34.0;
    let rows = lanes.len() as f64 + 1.0;
    let height = top + rows * lane_h + 30.0;
    let f = Frame {
        duration: report.duration.max(1.0),
        top,
        bottom: top + rows * lane_h,
    };
    let mut svg = String::new();
    let s = report.summary;
    open(
        &mut svg,
        height,
        &format!(
            "时间线 Timeline · 错误 errors {} · 警告 warnings {} · 提示 notes {}",
            s.errors, s.warnings, s.infos
        ),
    );
    f.time_axis(&mut svg);
    let bar = |svg: &mut String, row: f64, seg: &Segment, colour: &str, tip: &str| {
        let x0 = f.x(seg.start);
        let w = (f.x(seg.end) - x0).max(1.5);
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{}</title></rect>",
            top + row * lane_h + 5.0,
            lane_h - 10.0,
            esc(tip)
        );
    };
    let label = |svg: &mut String, row: f64, text: &str| {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#333\">{}</text>",
            LEFT - 8.0,
            top + row * lane_h + lane_h / 2.0 + 4.0,
            esc(text)
        );
    };
    for (row, (name, colour, segments)) in lanes.iter().enumerate() {
        let row = row as f64;
        label(&mut svg, row, name);
        for seg in segments {
            let tip = format!("{name}: {}–{}", clock(seg.start), clock(seg.end));
            bar(&mut svg, row, seg, colour, &tip);
        }
    }
    let row = lanes.len() as f64;
    label(&mut svg, row, "发现 Findings");
    for finding in &report.findings {
        let seg = Segment {
            start: finding.start,
            end: finding.end,
        };
        let tip = format!(
            "{} · {} · {}",
            finding.code, finding.message_zh, finding.message_en
        );
        bar(&mut svg, row, &seg, severity_colour(finding.severity), &tip);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qc::picture::PictureFacts;
    use crate::qc::sound::SoundFacts;

    fn report() -> QcReport {
        let t = QcThresholds::default();
        let picture = PictureFacts {
            frames: 900,
            start: Some(0.0),
            end: Some(30.0),
            size: Some((640, 360)),
            black: vec![Segment {
                start: 0.0,
                end: 3.0,
            }],
            freeze: vec![Segment {
                start: 5.0,
                end: 25.0,
            }],
            dropped_segments: 0,
            quality_samples: 3,
            sharpness: Some(0.5),
            blockiness: Some(1.1),
        };
        let sound = SoundFacts {
            start: Some(0.0),
            end: Some(30.0),
            sample_rate: 48_000,
            channels: 2,
            integrated_lufs: Some(-23.0),
            range_lu: Some(4.0),
            true_peak_dbtp: Some(-3.0),
            silence: vec![Segment {
                start: 5.0,
                end: 25.0,
            }],
            clipping: Vec::new(),
            dropped_segments: 0,
            short_term: (0..30).map(|i| (i % 7 != 3).then_some(-23.0)).collect(),
        };
        QcReport::build(Some(picture), Some(sound), &t)
    }

    #[test]
    fn the_loudness_plot_is_one_svg_with_a_line_broken_at_silence() {
        let svg = loudness_svg(&report(), &QcThresholds::default());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("-23.0 LUFS"));
        // Breaks where the meter reads nothing: several "M" moves.
        let path = svg.split("<path d=\"").nth(1).expect("a path");
        assert!(path.matches('M').count() >= 4, "{path}");
        assert!(svg.contains("stroke-dasharray"), "integrated line");
    }

    #[test]
    fn the_timeline_has_a_bar_per_stretch_and_finding_with_both_languages() {
        let r = report();
        let svg = timeline_svg(&r);
        let bars = svg.matches("<rect x=").count();
        assert_eq!(bars, 3 + r.findings.len(), "{svg}");
        assert!(svg.contains("黑场 Black") && svg.contains("发现 Findings"));
        assert!(svg.contains("av.frozen_and_silent"));
    }

    #[test]
    fn text_is_escaped_and_ticks_stay_few() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(tick_step(30.0), 5.0);
        assert_eq!(tick_step(4.0 * 3600.0), 1800.0);
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(clock(65.0), "1:05");
    }
}
