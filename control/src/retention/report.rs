//! The retention report as text for people (`yanxiu admin retention`), in zh-CN or English,
//! times in Beijing time. Pure.

use std::fmt::Write;

use time::{OffsetDateTime, UtcOffset};

use crate::http::error::Lang;
use crate::retention::ops::RetentionRun;
use crate::retention::plan::PlanItem;

fn beijing(ms: i64) -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn section(out: &mut String, title: &str, items: &[PlanItem], lang: Lang) {
    let _ = writeln!(out, "{title} ({}):", items.len());
    if items.is_empty() {
        let _ = writeln!(out, "  {}", if lang == Lang::Zh { "无" } else { "none" });
    }
    for i in items {
        let expiry = match (i.expires_at, lang) {
            (Some(at), Lang::Zh) => format!("到期 {}", beijing(at)),
            (Some(at), Lang::En) => format!("expires {}", beijing(at)),
            (None, _) => String::new(),
        };
        let why = match (i.kept_because, lang) {
            (Some(k), Lang::Zh) => k.zh(),
            (Some(k), Lang::En) => k.en(),
            (None, _) => "",
        };
        let _ = writeln!(out, "  - {}  [{}]  {expiry}  {why}", i.name, i.resource_id);
    }
}

/// The report of `run`.
pub fn render(run: &RetentionRun, lang: Lang) -> String {
    let mut out = String::new();
    let p = &run.plan;
    let (title, dry, sections) = match lang {
        Lang::Zh => (
            "资源保留期检查",
            "试运行：未做任何更改",
            [
                "已到期，将退役",
                "保留",
                "即将到期",
                "已退役，待删除存储对象",
            ],
        ),
        Lang::En => (
            "Resource retention",
            "dry run: nothing was changed",
            [
                "expired, to retire",
                "kept",
                "expiring soon",
                "retired, stored objects to remove",
            ],
        ),
    };
    let _ = writeln!(out, "{title} {} (UTC+8)", beijing(p.at));
    if run.dry_run {
        let _ = writeln!(out, "{dry}");
    }
    section(&mut out, sections[0], &p.retire, lang);
    section(&mut out, sections[1], &p.kept, lang);
    section(&mut out, sections[2], &p.expiring_soon, lang);
    section(&mut out, sections[3], &p.cleanup, lang);
    if !run.dry_run {
        let (retired, cleaned, failed) = match lang {
            Lang::Zh => ("已退役", "已删除存储对象", "未完成"),
            Lang::En => ("retired", "stored objects removed", "not done"),
        };
        let _ = writeln!(out, "{retired}: {}", run.retired.len());
        let _ = writeln!(out, "{cleaned}: {}", run.cleaned.len());
        let _ = writeln!(out, "{failed}: {}", run.failed.len());
        for f in &run.failed {
            let message = if lang == Lang::Zh {
                &f.message_zh
            } else {
                &f.message_en
            };
            let _ = writeln!(out, "  - [{}] {message}", f.resource_id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::ops::RunFailure;
    use crate::retention::plan::{KeepReason, RetentionPlan};

    fn item(id: &str, at: Option<i64>, kept: Option<KeepReason>) -> PlanItem {
        PlanItem {
            resource_id: id.into(),
            name: format!("课程{id}"),
            department_id: "d".into(),
            expires_at: at,
            kept_because: kept,
        }
    }

    #[test]
    fn the_report_lists_each_section_in_the_language_asked() {
        let run = RetentionRun {
            dry_run: true,
            plan: RetentionPlan {
                at: 1_782_864_000_000, // 2026-07-01T00:00Z
                retire: vec![item("a", Some(1_782_864_000_000), None)],
                kept: vec![item("b", None, Some(KeepReason::Premium))],
                expiring_soon: vec![],
                cleanup: vec![],
            },
            retired: vec![],
            cleaned: vec![],
            failed: vec![],
        };
        let zh = render(&run, Lang::Zh);
        assert!(zh.contains("资源保留期检查 2026-07-01 08:00"), "{zh}");
        assert!(zh.contains("试运行"));
        assert!(
            zh.contains("已到期，将退役 (1):\n  - 课程a  [a]  到期 2026-07-01 08:00"),
            "{zh}"
        );
        assert!(zh.contains("精品课程，长期保留"));
        assert!(zh.contains("即将到期 (0):\n  无"));
        let en = render(
            &RetentionRun {
                dry_run: false,
                failed: vec![RunFailure {
                    resource_id: "a".into(),
                    message_zh: "失败".into(),
                    message_en: "failed".into(),
                }],
                ..run
            },
            Lang::En,
        );
        assert!(en.contains("expired, to retire (1):"), "{en}");
        assert!(en.contains("not done: 1\n  - [a] failed"), "{en}");
        assert!(!en.contains("dry run"));
    }
}
