//! The viewing figures as CSV (UTF-8 with a byte order mark, as spreadsheet programs in China
//! expect), headers in zh-CN or English. Pure.

use crate::analytics::queries::TargetFigures;
use crate::http::error::Lang;

const HEADERS_ZH: [&str; 11] = [
    "类型",
    "ID",
    "名称",
    "部门ID",
    "观看次数",
    "独立观众",
    "观看时长（小时）",
    "完播次数",
    "完播率",
    "平均观看比例",
    "最高同时在线",
];
const HEADERS_EN: [&str; 11] = [
    "kind",
    "id",
    "name",
    "department_id",
    "views",
    "unique_viewers",
    "watch_hours",
    "completions",
    "completion_rate",
    "average_watched_share",
    "peak_concurrent_viewers",
];

/// The rows as CSV.
pub fn targets_csv(rows: &[TargetFigures], lang: Lang) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(match lang {
        Lang::Zh => HEADERS_ZH,
        Lang::En => HEADERS_EN,
    })?;
    for r in rows {
        let f = &r.figures;
        writer.write_record([
            r.kind.clone(),
            r.id.clone(),
            r.name.clone(),
            r.department_id.clone(),
            f.views.to_string(),
            f.unique_viewers.to_string(),
            format!("{:.3}", f.watch_seconds / 3600.0),
            f.completions.to_string(),
            format!("{:.3}", f.completion_rate),
            format!("{:.3}", f.average_watched_share),
            f.peak_concurrent_viewers.to_string(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::report::Figures;

    #[test]
    fn the_csv_has_a_bom_headers_in_the_language_and_one_row_per_target() {
        let rows = [TargetFigures {
            kind: "resource".into(),
            id: "r1".into(),
            name: "课程, 一".into(),
            department_id: "d1".into(),
            figures: Figures {
                views: 3,
                watch_seconds: 5400.0,
                ..Default::default()
            },
        }];
        let zh = targets_csv(&rows, Lang::Zh).expect("csv");
        assert!(zh.starts_with("\u{feff}类型,ID,名称"));
        assert!(zh.contains("resource,r1,\"课程, 一\",d1,3,0,1.500,"));
        let en = targets_csv(&rows, Lang::En).expect("csv");
        assert!(en.starts_with("\u{feff}kind,id,name,department_id,views"));
    }
}
