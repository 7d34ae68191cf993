//! Human-readable text of a QC report for `yanxiu qc`, pure: labels in the
//! chosen language, every finding's message in both (the chosen one
//! first), the way `yanxiu probe` prints.

use std::fmt::Write;

use yanxiu_ingest::Lang;
use yanxiu_transcode::qc::{QcReport, Segment, Severity};

/// `m:ss.s` (or `h:mm:ss.s`).
fn at(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    let (s, t) = (tenths / 10, tenths % 10);
    if s >= 3600 {
        format!("{}:{:02}:{:02}.{t}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}.{t}", s / 60, s % 60)
    }
}

fn span(start: f64, end: f64) -> String {
    format!("{}–{}", at(start), at(end))
}

fn number(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{v:.1} {unit}"))
}

fn severity(lang: Lang, s: Severity) -> &'static str {
    match s {
        Severity::Error => lang.pick("错误", "error"),
        Severity::Warning => lang.pick("警告", "warning"),
        Severity::Info => lang.pick("提示", "note"),
    }
}

fn segments(text: &mut String, lang: Lang, label: (&str, &str), list: &[Segment]) {
    let colon = lang.pick("：", ": ");
    let _ = write!(
        text,
        "{}{colon}{}",
        lang.pick(label.0, label.1),
        match lang {
            Lang::Zh => format!("{} 段", list.len()),
            Lang::En => format!("{}", list.len()),
        }
    );
    for s in list.iter().take(20) {
        let _ = write!(text, "  {}", span(s.start, s.end));
    }
    if list.len() > 20 {
        let _ = write!(text, "  …");
    }
    text.push('\n');
}

/// The result line, then every finding in `lang` and below it in the other language.
fn write_findings(text: &mut String, report: &QcReport, lang: Lang, colon: &str) {
    let other = match lang {
        Lang::Zh => Lang::En,
        Lang::En => Lang::Zh,
    };
    let s = report.summary;
    let _ = writeln!(
        text,
        "{}{colon}{}",
        lang.pick("结论", "Result"),
        match lang {
            Lang::Zh => format!(
                "{} 个错误，{} 个警告，{} 个提示",
                s.errors, s.warnings, s.infos
            ),
            Lang::En => format!(
                "{} errors, {} warnings, {} notes",
                s.errors, s.warnings, s.infos
            ),
        }
    );
    for f in &report.findings {
        let _ = writeln!(
            text,
            "  - {} [{}] {}  {}",
            severity(lang, f.severity),
            f.code,
            span(f.start, f.end),
            lang.pick(&f.message_zh, &f.message_en)
        );
        let _ = writeln!(text, "    {}", other.pick(&f.message_zh, &f.message_en));
    }
}

/// Renders `report` for `file` in `lang`, one fact per line.
pub fn render_text(file: &str, report: &QcReport, lang: Lang) -> String {
    let colon = lang.pick("：", ": ");
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(format!("{}{colon}{file}", lang.pick("文件", "File")));
    line(format!(
        "{}{colon}{}",
        lang.pick("时长", "Duration"),
        lang.pick(
            &format!("{:.1} 秒", report.duration),
            &format!("{:.1} s", report.duration)
        )
    ));
    let l = &report.loudness;
    line(format!(
        "{}{colon}{} {}, {} {}, {} {}",
        lang.pick("响度（EBU R128）", "Loudness (EBU R128)"),
        lang.pick("整体", "integrated"),
        number(l.integrated_lufs, "LUFS"),
        lang.pick("范围", "range"),
        number(l.range_lu, "LU"),
        lang.pick("真峰值", "true peak"),
        number(l.true_peak_dbtp, "dBTP"),
    ));
    if let (Some(offset), Some(end)) = (report.sync.start_offset, report.sync.end_difference) {
        line(format!(
            "{}{colon}{} {offset:+.3} s, {} {end:+.3} s",
            lang.pick("音画", "Audio vs video"),
            lang.pick("声音起点差", "audio start offset"),
            lang.pick("结尾差", "end difference"),
        ));
    }
    let p = &report.picture;
    if let (Some(w), Some(h)) = (p.width, p.height) {
        line(format!(
            "{}{colon}{} {}, {} {} ({} {}, {w}x{h})",
            lang.pick("画质抽样", "Picture samples"),
            lang.pick("清晰度", "sharpness"),
            p.sharpness
                .map_or_else(|| "—".to_owned(), |s| format!("{s:.2}")),
            lang.pick("块效应", "blockiness"),
            p.blockiness
                .map_or_else(|| "—".to_owned(), |b| format!("{b:.2}")),
            p.samples,
            lang.pick("幅", "pictures"),
        ));
    }
    if report.video.is_some() {
        segments(&mut text, lang, ("黑场", "Black"), &report.black);
        segments(&mut text, lang, ("画面静止", "Frozen"), &report.freeze);
    } else {
        line(
            lang.pick(
                "画面：无（纯音频，只检查声音）",
                "Picture: none (sound only: the sound is checked)",
            )
            .to_owned(),
        );
    }
    segments(&mut text, lang, ("无声", "Silent"), &report.silence);
    let clipped: Vec<Segment> = report
        .clipping
        .iter()
        .map(|c| Segment {
            start: c.start,
            end: c.end,
        })
        .collect();
    segments(&mut text, lang, ("削波", "Clipped"), &clipped);
    write_findings(&mut text, report, lang, colon);
    text
}

#[cfg(test)]
mod tests {
    use yanxiu_transcode::qc::{QcAnalyser, QcThresholds};

    use super::*;

    fn late_audio() -> QcReport {
        let mut qc = QcAnalyser::new(QcThresholds::default(), 10.0);
        let plane: Vec<u8> = (0..64 * 36).map(|i| (i % 200) as u8 + 30).collect();
        for i in 0..100 {
            let moved: Vec<u8> = plane
                .iter()
                .map(|p| p.wrapping_add((i as u8).wrapping_mul(9)))
                .collect();
            qc.push_picture(
                f64::from(i) / 10.0,
                &yanxiu_transcode::qc::picture::Luma {
                    width: 64,
                    height: 36,
                    stride: 64,
                    data: &moved,
                },
            );
        }
        let tone: Vec<f32> = (0..48_000 * 9)
            .map(|k| 0.1 * (k as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 48_000.0).sin())
            .collect();
        qc.push_sound(1.0, 48_000, &[&tone, &tone]);
        qc.finish()
    }

    #[test]
    fn chinese_text_has_chinese_labels_and_both_messages() {
        let text = render_text("a.mp4", &late_audio(), Lang::Zh);
        assert!(text.starts_with("文件：a.mp4\n"), "{text}");
        assert!(text.contains("响度（EBU R128）：整体 -20.0 LUFS"), "{text}");
        assert!(text.contains("声音起点差 +1.000 s"), "{text}");
        assert!(
            text.contains("警告 [av.start_offset] 0:00.0–0:01.0  声音比画面晚 1.0 秒开始"),
            "{text}"
        );
        assert!(
            text.contains("    the sound starts 1.0 s after the picture"),
            "{text}"
        );
        assert!(text.contains("结论：0 个错误，1 个警告"), "{text}");
    }

    #[test]
    fn english_text_puts_english_first() {
        let text = render_text("a.mp4", &late_audio(), Lang::En);
        assert!(
            text.contains("Result: 0 errors, 1 warnings, 0 notes"),
            "{text}"
        );
        assert!(
            text.contains("warning [av.start_offset] 0:00.0–0:01.0  the sound starts"),
            "{text}"
        );
        assert!(text.contains("    声音比画面晚 1.0 秒开始"), "{text}");
        assert!(text.contains("Black: 0\n"), "{text}");
    }

    #[test]
    fn times_read_as_clock_positions() {
        assert_eq!(at(65.25), "1:05.3");
        assert_eq!(at(3725.0), "1:02:05.0");
        assert_eq!(span(0.0, 3.0), "0:00.0–0:03.0");
    }
}
