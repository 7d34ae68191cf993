//! Table 1 (内容审查表): the review form of one resource revision, built from its metadata and
//! review records, as JSON and as printable HTML. Pure: no IO, no clock.

use serde::Serialize;

use crate::resources::{Openness, ResourceType, Revision};
use crate::reviews::ReviewRecord;

/// One signed opinion on the form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormOpinion {
    /// `self`, `department` or `technical`.
    pub level: String,
    /// The level's title in Chinese.
    pub title: &'static str,
    /// Reviewer's name.
    pub reviewer: String,
    /// Reviewer's role.
    pub role: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Opinion.
    pub comment: String,
    /// Date (UTC, `YYYY-MM-DD`).
    pub date: String,
    /// The QC report the technical reviewer saw.
    pub qc_report: Option<serde_json::Value>,
}

/// The form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewForm {
    /// Resource id.
    pub resource_id: String,
    /// Revision number.
    pub revision: i64,
    /// Revision state.
    pub state: String,
    /// 项目名称.
    pub project_name: String,
    /// 承办单位.
    pub undertaking_unit: String,
    /// 资源名称.
    pub resource_name: String,
    /// 主讲人.
    pub lecturer_name: String,
    /// 主讲人单位.
    pub lecturer_unit: String,
    /// 内容简介.
    pub summary: String,
    /// 学时.
    pub credit_hours: f64,
    /// 开放范围 (text).
    pub openness: String,
    /// 资源类型 (text).
    pub resource_type: String,
    /// The latest signature of each level, in level order.
    pub opinions: Vec<FormOpinion>,
    /// Every review record of this revision, oldest first (rejections and rework included).
    pub history: Vec<FormOpinion>,
}

fn date_of(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

fn title_of(level: &str) -> &'static str {
    match level {
        "self" => "资源生产者自审意见",
        "department" => "资源提供部门复审意见",
        "technical" => "教师网络研修中心技术审核意见",
        _ => "审核意见",
    }
}

fn opinion(r: &ReviewRecord) -> FormOpinion {
    FormOpinion {
        level: r.level.clone(),
        title: title_of(&r.level),
        reviewer: r.reviewer_name.clone(),
        role: r.reviewer_role.clone(),
        decision: r.decision.clone(),
        comment: r.comment.clone(),
        date: date_of(r.decided_at),
        qc_report: r
            .qc_report
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok()),
    }
}

/// Builds the form of `revision` from all of the resource's records.
pub fn build(
    resource_id: &str,
    revision: &Revision,
    audience_name: Option<&str>,
    records: &[ReviewRecord],
) -> ReviewForm {
    let mine: Vec<&ReviewRecord> = records
        .iter()
        .filter(|r| r.revision_id == revision.id)
        .collect();
    let opinions = ["self", "department", "technical"]
        .iter()
        .filter_map(|level| {
            mine.iter()
                .rev()
                .find(|r| r.level == *level)
                .map(|r| opinion(r))
        })
        .collect();
    let m = &revision.metadata;
    ReviewForm {
        resource_id: resource_id.to_owned(),
        revision: revision.number,
        state: revision.state.as_str().to_owned(),
        project_name: m.project_name.clone(),
        undertaking_unit: m.undertaking_unit.clone(),
        resource_name: m.name.clone(),
        lecturer_name: m.lecturer_name.clone(),
        lecturer_unit: m.lecturer_unit.clone(),
        summary: m.summary.clone(),
        credit_hours: m.credit_hours,
        openness: match m.openness {
            Openness::Public => "全网公开".to_owned(),
            Openness::NonPublic => {
                format!("非公开（面向：{}）", audience_name.unwrap_or("指定受众"))
            }
        },
        resource_type: match m.resource_type {
            ResourceType::Video => "视频",
            ResourceType::Audio => "音频",
            ResourceType::Image => "图片",
            ResourceType::Document => "文档",
            ResourceType::Other => "其他",
        }
        .to_owned(),
        opinions,
        history: mine.into_iter().map(opinion).collect(),
    }
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the form as a printable HTML page.
pub fn render_html(form: &ReviewForm) -> String {
    let row = |k: &str, v: &str| {
        format!(
            "<tr><th>{}</th><td colspan=\"3\">{}</td></tr>\n",
            escape(k),
            escape(v)
        )
    };
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>内容审查表</title>\n\
         <style>body{font-family:serif;margin:2cm}table{border-collapse:collapse;width:100%}\
         th,td{border:1px solid #000;padding:6px;vertical-align:top}th{width:22%;text-align:left}\
         h1{text-align:center}@media print{body{margin:1cm}}</style></head><body>\n<h1>内容审查表</h1>\n<table>\n",
    );
    html.push_str(&row("项目名称", &form.project_name));
    html.push_str(&row("承办单位", &form.undertaking_unit));
    html.push_str(&row("资源名称", &form.resource_name));
    html.push_str(&format!(
        "<tr><th>主讲人</th><td>{}</td><th>单位</th><td>{}</td></tr>\n",
        escape(&form.lecturer_name),
        escape(&form.lecturer_unit)
    ));
    html.push_str(&row("内容简介", &form.summary));
    html.push_str(&row("学时", &format!("{}", form.credit_hours)));
    html.push_str(&row("开放范围", &form.openness));
    html.push_str(&row("资源类型", &form.resource_type));
    for level in ["self", "department", "technical"] {
        let cell = match form.opinions.iter().find(|o| o.level == level) {
            Some(o) => format!(
                "{}：{}<br>签字：{}（{}）　日期：{}",
                if o.decision == "approve" {
                    "同意"
                } else {
                    "退回"
                },
                escape(&o.comment),
                escape(&o.reviewer),
                escape(&o.role),
                escape(&o.date)
            ),
            None => "（未签署）".to_owned(),
        };
        html.push_str(&format!(
            "<tr><th>{}</th><td colspan=\"3\">{cell}</td></tr>\n",
            title_of(level)
        ));
    }
    html.push_str(&format!(
        "</table>\n<p>资源编号：{}　修订：{}　状态：{}</p>\n</body></html>\n",
        escape(&form.resource_id),
        form.revision,
        escape(&form.state)
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{MediaState, ResourceMetadata};
    use crate::review_flow::RevisionState;

    #[test]
    fn the_form_shows_the_latest_signature_per_level_and_escapes_html() {
        let revision = Revision {
            id: "rev1".into(),
            number: 1,
            state: RevisionState::SelfReviewed,
            metadata: ResourceMetadata {
                name: "<script>".into(),
                ..Default::default()
            },
            media: MediaState::default(),
            captions: Vec::new(),
            created_at: 0,
            updated_at: 0,
        };
        let record = |decision: &str, at: i64| ReviewRecord {
            id: format!("r{at}"),
            resource_id: "res".into(),
            revision_id: "rev1".into(),
            level: "self".into(),
            decision: decision.into(),
            reviewer_id: "u".into(),
            reviewer_name: "宋薇".into(),
            reviewer_role: "producer".into(),
            comment: "ok".into(),
            qc_report: None,
            decided_at: at,
        };
        let form = build(
            "res",
            &revision,
            None,
            &[record("approve", 0), record("approve", 86_400_000)],
        );
        assert_eq!(form.opinions.len(), 1);
        assert_eq!(form.opinions[0].date, "1970-01-02");
        assert_eq!(form.history.len(), 2);
        let html = render_html(&form);
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("（未签署）"));
    }
}
