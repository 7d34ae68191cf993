//! The catalogue (Table 2, 上线数字教育资源目录): published resources visible to a viewer,
//! ordered by display order and filterable by category; CSV export and import of Table 2.
//! The CSV parsing and writing are pure functions ([`parse_csv`], [`write_csv`]).

use serde::{Deserialize, Serialize};

use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest};
use crate::policy::Action;
use crate::resources::{ResourceMetadata, RevisionRow};

/// Table 2 column headers (zh-CN), in order.
pub const CSV_HEADERS: [&str; 9] = [
    "序号",
    "一级分类",
    "二级分类",
    "资源名称",
    "主讲人",
    "工作单位",
    "职称",
    "学时",
    "资源来源地址",
];
/// Accepted English headers, same order.
pub const CSV_HEADERS_EN: [&str; 9] = [
    "display_order",
    "category1",
    "category2",
    "name",
    "lecturer_name",
    "lecturer_unit",
    "lecturer_title",
    "credit_hours",
    "source_url",
];

/// One catalogue entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogueEntry {
    /// Resource id.
    pub resource_id: String,
    /// Published revision number.
    pub revision: i64,
    /// Published metadata.
    #[serde(flatten)]
    pub metadata: ResourceMetadata,
}

/// Category filter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CatalogueFilter {
    /// Level 1.
    pub category1: Option<String>,
    /// Level 2.
    pub category2: Option<String>,
}

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// Reason in zh-CN.
    pub message_zh: String,
    /// Reason in English.
    pub message_en: String,
}

/// The result of an import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// Ids of the draft resources created.
    pub created: Vec<String>,
    /// Rows refused.
    pub problems: Vec<ImportProblem>,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// One parsed data row: its 1-based line and the metadata or the problem.
pub type ParsedRow = (u64, Result<ResourceMetadata, ImportProblem>);

/// Parses Table 2 CSV (zh or en headers, any column order). Each data row gives metadata or a
/// problem. Pure.
pub fn parse_csv(text: &str) -> Result<Vec<ParsedRow>, ImportProblem> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| problem(1, "表头无法解析", &e.to_string()))?
        .clone();
    let mut columns = [usize::MAX; 9];
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        if let Some(pos) = CSV_HEADERS
            .iter()
            .position(|x| *x == h)
            .or_else(|| CSV_HEADERS_EN.iter().position(|x| *x == h))
        {
            columns[pos] = i;
        }
    }
    for (pos, required) in [
        (0, "序号"),
        (3, "资源名称"),
        (4, "主讲人"),
        (5, "工作单位"),
        (7, "学时"),
    ] {
        if columns[pos] == usize::MAX {
            return Err(problem(
                1,
                &format!("缺少必填列：{required}"),
                &format!("missing column {}", CSV_HEADERS_EN[pos]),
            ));
        }
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rows.push((line, Err(problem(line, "该行无法解析", &e.to_string()))));
                continue;
            }
        };
        let get = |pos: usize| record.get(columns[pos]).unwrap_or("").trim().to_owned();
        let order = get(0).parse::<i64>();
        let hours = get(7).parse::<f64>();
        let result = match (order, hours) {
            (Err(_), _) => Err(problem(
                line,
                "序号须为整数",
                "display_order must be an integer",
            )),
            (_, Err(_)) => Err(problem(
                line,
                "学时须为数字",
                "credit_hours must be a number",
            )),
            (Ok(display_order), Ok(credit_hours)) => {
                let m = ResourceMetadata {
                    display_order,
                    category1: opt(&get(1)),
                    category2: opt(&get(2)),
                    name: get(3),
                    lecturer_name: get(4),
                    lecturer_unit: get(5),
                    lecturer_title: get(6),
                    credit_hours,
                    source_url: opt(&get(8)),
                    ..Default::default()
                };
                m.validate().map(|_| m).map_err(|e| ImportProblem {
                    line,
                    message_zh: e.message_zh(),
                    message_en: e.message_en(),
                })
            }
        };
        rows.push((line, result));
    }
    Ok(rows)
}

fn problem(line: u64, zh: &str, en: &str) -> ImportProblem {
    ImportProblem {
        line,
        message_zh: zh.to_owned(),
        message_en: en.to_owned(),
    }
}

/// Writes Table 2 CSV (zh headers, UTF-8 with BOM for spreadsheet programs). Pure.
pub fn write_csv(entries: &[CatalogueEntry]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADERS)?;
    for e in entries {
        let m = &e.metadata;
        writer.write_record([
            m.display_order.to_string(),
            m.category1.clone().unwrap_or_default(),
            m.category2.clone().unwrap_or_default(),
            m.name.clone(),
            m.lecturer_name.clone(),
            m.lecturer_unit.clone(),
            m.lecturer_title.clone(),
            format!("{}", m.credit_hours),
            m.source_url.clone().unwrap_or_default(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

const CATALOGUE_FILTER: &str = "r.deleted_at IS NULL AND v.state = 'published' \
    AND (v.openness = 'public' OR v.audience_id IN (SELECT audience_id FROM audience_members WHERE user_id = $1)) \
    AND ($2 IS NULL OR v.category1 = $2) AND ($3 IS NULL OR v.category2 = $3)";

impl ControlPlane {
    /// Published resources `viewer` may watch (public ones for anonymous viewers), by display
    /// order then name.
    pub async fn catalogue(
        &self,
        viewer: Option<&Actor>,
        filter: &CatalogueFilter,
        page: PageRequest,
    ) -> ControlResult<Page<CatalogueEntry>> {
        let viewer_id = viewer.map(|a| a.user_id.clone()).unwrap_or_default();
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM resources r JOIN resource_revisions v ON v.id = r.published_revision_id \
             WHERE {CATALOGUE_FILTER}"
        )))
        .bind(viewer_id.clone())
        .bind(filter.category1.clone())
        .bind(filter.category2.clone())
        .fetch_one(self.db.pool())
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT r.id AS resource_id, v.* FROM resources r \
             JOIN resource_revisions v ON v.id = r.published_revision_id WHERE {CATALOGUE_FILTER} \
             ORDER BY v.display_order, v.name, r.id LIMIT $4 OFFSET $5"
        )))
        .bind(viewer_id)
        .bind(filter.category1.clone())
        .bind(filter.category2.clone())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            use sqlx::{FromRow, Row};
            let revision = RevisionRow::from_row(row)?.into_revision();
            items.push(CatalogueEntry {
                resource_id: row.try_get("resource_id")?,
                revision: revision.number,
                metadata: revision.metadata,
            });
        }
        Ok(Page::new(page, items, total))
    }

    /// The whole catalogue visible to `viewer` as Table 2 CSV.
    pub async fn export_catalogue_csv(
        &self,
        viewer: Option<&Actor>,
        filter: &CatalogueFilter,
    ) -> ControlResult<String> {
        let mut all = Vec::new();
        let mut page = PageRequest {
            page: 1,
            per_page: 200,
        };
        loop {
            let batch = self.catalogue(viewer, filter, page).await?;
            let n = batch.items.len();
            all.extend(batch.items);
            if n < 200 {
                break;
            }
            page.page += 1;
        }
        write_csv(&all).map_err(|e| ControlError::Internal(e.to_string()))
    }

    /// Imports Table 2 CSV rows as draft resources in `department_id`, owned by `owner_id`
    /// (default: the importer). Needs `ImportCatalogue` in that department.
    pub async fn import_catalogue_csv(
        &self,
        actor: &Actor,
        department_id: &str,
        owner_id: Option<&str>,
        csv_text: &str,
        now: i64,
    ) -> ControlResult<ImportReport> {
        self.department(department_id).await?;
        actor.require(
            Action::ImportCatalogue,
            &actor.scope_of(Some(department_id), None),
        )?;
        let owner = match owner_id {
            Some(id) => {
                let user = self.user(id).await?;
                if user.department_id.as_deref() != Some(department_id) {
                    return Err(ControlError::invalid(
                        "资源所有者须属于该部门",
                        "the owner must belong to the department",
                    ));
                }
                user.id
            }
            None => actor.user_id.clone(),
        };
        let rows =
            parse_csv(csv_text).map_err(|p| ControlError::invalid(p.message_zh, p.message_en))?;
        let mut report = ImportReport {
            created: Vec::new(),
            problems: Vec::new(),
        };
        for (line, row) in rows {
            match row {
                Ok(metadata) => {
                    let view = self
                        .insert_resource(&actor.audit_ctx(), &owner, department_id, metadata, now)
                        .await?;
                    report.created.push(view.id);
                }
                Err(mut p) => {
                    p.line = line;
                    report.problems.push(p);
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_two_rows_parse_with_required_fields_checked() {
        let text = "序号,一级分类,二级分类,资源名称,主讲人,工作单位,职称,学时,资源来源地址\n\
            1,名师课改示范课,政治与历史,全景式认识中国式现代化,宋薇,北京市清华大学附属中学,高级教师,4,https://pan.example/1\n\
            x,,,缺序号,李,某校,,1,\n\
            3,,,,王,某校,,1,\n";
        let rows = parse_csv(text).expect("parse");
        assert_eq!(rows.len(), 3);
        let first = rows[0].1.as_ref().expect("row 1");
        assert_eq!(first.name, "全景式认识中国式现代化");
        assert_eq!(first.category2.as_deref(), Some("政治与历史"));
        assert_eq!(first.credit_hours, 4.0);
        assert_eq!(rows[1].1.as_ref().expect_err("row 2").line, 3);
        assert!(rows[2].1.is_err(), "name is required");
    }

    #[test]
    fn a_missing_required_column_refuses_the_file() {
        assert!(parse_csv("序号,资源名称\n1,a\n").is_err());
    }

    #[test]
    fn export_then_import_round_trips() {
        let entry = CatalogueEntry {
            resource_id: "r".into(),
            revision: 1,
            metadata: ResourceMetadata {
                display_order: 7,
                name: "课, \"引号\"".into(),
                lecturer_name: "宋薇".into(),
                lecturer_unit: "某校".into(),
                credit_hours: 1.5,
                ..Default::default()
            },
        };
        let text = write_csv(std::slice::from_ref(&entry)).expect("write");
        let rows = parse_csv(&text).expect("parse");
        assert_eq!(rows[0].1.as_ref().expect("row"), &entry.metadata);
    }
}
