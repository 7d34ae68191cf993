//! Technical QC reports stored with a revision's media: the processing worker records the
//! report and its plots for the job that processed the file ([`ControlPlane::record_qc_report`],
//! refused once a newer file replaced it); readers get the report of the latest revision's
//! current job with the same authorization as the resource itself
//! ([`ControlPlane::qc_report_for`], [`ControlPlane::qc_plot_for`]).

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::audit::AuditAppend;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, AuditCtx, ControlPlane};

/// What the worker records: the report (JSON) and its plots (SVG documents).
#[derive(Debug, Clone, PartialEq)]
pub struct QcRecord {
    /// The report, as `yanxiu qc --json` prints it.
    pub report: Value,
    /// Short-term loudness over time.
    pub loudness_svg: String,
    /// Black / frozen / silent / clipped stretches and findings on a timeline.
    pub timeline_svg: String,
}

/// One of the stored plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QcPlot {
    /// `loudness.svg`.
    Loudness,
    /// `timeline.svg`.
    Timeline,
}

impl QcPlot {
    /// The plot served under `name` (`loudness.svg`, `timeline.svg`).
    pub fn from_name(name: &str) -> Option<QcPlot> {
        match name {
            "loudness.svg" => Some(QcPlot::Loudness),
            "timeline.svg" => Some(QcPlot::Timeline),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            QcPlot::Loudness => "loudness_svg",
            QcPlot::Timeline => "timeline_svg",
        }
    }
}

/// Where a report's plots are served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QcPlotUrls {
    /// `/api/v1/resources/{id}/qc/loudness.svg`.
    pub loudness: String,
    /// `/api/v1/resources/{id}/qc/timeline.svg`.
    pub timeline: String,
}

/// The API's view of a stored report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QcReportView {
    /// The resource.
    pub resource_id: String,
    /// The revision whose media was checked.
    pub revision_id: String,
    /// Its number.
    pub revision: i64,
    /// The processing job that made the report.
    pub job_id: String,
    /// When it was recorded (ms).
    pub created_at: i64,
    /// The report.
    pub report: Value,
    /// The plots.
    pub plots: QcPlotUrls,
}

fn not_yet() -> ControlError {
    ControlError::NotFound("qc report")
}

fn summary_counts(report: &Value) -> Value {
    json!({
        "errors": report["summary"]["errors"],
        "warnings": report["summary"]["warnings"],
        "infos": report["summary"]["infos"],
    })
}

impl ControlPlane {
    /// Records the QC report the job `job_id` made for the revision it processes (a retry of
    /// the same job replaces it). A conflict when the revision no longer waits for this job.
    pub async fn record_qc_report(
        &self,
        resource_id: &str,
        job_id: &str,
        record: QcRecord,
        now: i64,
    ) -> ControlResult<()> {
        self.resource_row(resource_id).await?;
        let revision = self
            .revision_for_job(resource_id, job_id)
            .await?
            .ok_or_else(crate::resources::media::obsolete)?;
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO qc_reports (job_id, resource_id, revision_id, report, loudness_svg, \
             timeline_svg, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (job_id) DO UPDATE SET report = excluded.report, \
             loudness_svg = excluded.loudness_svg, timeline_svg = excluded.timeline_svg, \
             created_at = excluded.created_at",
        )
        .bind(job_id.to_owned())
        .bind(resource_id.to_owned())
        .bind(revision.id.clone())
        .bind(record.report.to_string())
        .bind(record.loudness_svg)
        .bind(record.timeline_svg)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let record = AuditAppend::success(
            "resource.qc",
            format!("resource:{resource_id}"),
            json!({"revision": revision.number, "job_id": job_id,
                   "findings": summary_counts(&record.report)}),
        );
        self.commit_audited(tx, &AuditCtx::service("pipeline", "local"), &[record], now)
            .await
    }

    /// The QC report of the resource's latest revision, for a caller allowed to read the
    /// resource. Not found while its current job has not made one.
    pub async fn qc_report_for(&self, actor: &Actor, id: &str) -> ControlResult<QcReportView> {
        let view = self.resource_for(actor, id).await?;
        let revision = view.latest;
        let job_id = revision
            .media
            .processing_job_id
            .clone()
            .ok_or_else(not_yet)?;
        let row = sqlx::query(
            "SELECT report, created_at FROM qc_reports WHERE job_id = $1 AND revision_id = $2",
        )
        .bind(job_id.clone())
        .bind(revision.id.clone())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(not_yet)?;
        let text: String = row.try_get("report")?;
        let report = serde_json::from_str(&text)
            .map_err(|e| ControlError::Internal(format!("stored QC report: {e}")))?;
        Ok(QcReportView {
            resource_id: id.to_owned(),
            revision_id: revision.id,
            revision: revision.number,
            job_id,
            created_at: row.try_get("created_at")?,
            report,
            plots: QcPlotUrls {
                loudness: format!("/api/v1/resources/{id}/qc/loudness.svg"),
                timeline: format!("/api/v1/resources/{id}/qc/timeline.svg"),
            },
        })
    }

    /// One plot of the report [`ControlPlane::qc_report_for`] returns, as an SVG document.
    pub async fn qc_plot_for(
        &self,
        actor: &Actor,
        id: &str,
        plot: QcPlot,
    ) -> ControlResult<String> {
        let view = self.resource_for(actor, id).await?;
        let revision = view.latest;
        let job_id = revision.media.processing_job_id.ok_or_else(not_yet)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} AS svg FROM qc_reports WHERE job_id = $1 AND revision_id = $2",
            plot.column()
        )))
        .bind(job_id)
        .bind(revision.id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(not_yet)?;
        Ok(row.try_get("svg")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_plots_have_names() {
        assert_eq!(QcPlot::from_name("loudness.svg"), Some(QcPlot::Loudness));
        assert_eq!(QcPlot::from_name("timeline.svg"), Some(QcPlot::Timeline));
        assert_eq!(QcPlot::from_name("../report.json"), None);
        assert_eq!(QcPlot::from_name("loudness_svg"), None);
    }
}
