//! Reading learning records: a learner's own transcript (`GET /api/v1/me/learning`) and the
//! credit hours earned by a department's learners (`ReadLearningRecords`), as JSON and CSV.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::{OffsetDateTime, UtcOffset};

use crate::error::{ControlError, ControlResult};
use crate::http::error::Lang;
use crate::learning::rules::required_ms;
use crate::plane::{Actor, ControlPlane};
use crate::policy::{Action, Scope};

/// One resource in a learner's transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptItem {
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub name: String,
    /// Its credit hours (学时) now.
    pub credit_hours: f64,
    /// Its duration, seconds, when known.
    pub duration_seconds: Option<f64>,
    /// What the learner really watched (union over their playbacks), seconds.
    pub watched_seconds: f64,
    /// Watched time that earns the credit hours, seconds.
    pub required_seconds: Option<f64>,
    /// Whether the credit hours are earned.
    pub earned: bool,
    /// When (ms).
    pub earned_at: Option<i64>,
    /// The credit hours earned (those of the resource when they were earned).
    pub credit_hours_earned: f64,
    /// Last progress (ms).
    pub last_watched_at: i64,
}

/// A learner's transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// The learner.
    pub user_id: String,
    /// The share of a duration that earns credit hours.
    pub credit_share: f64,
    /// Every resource they watched, most recent first.
    pub items: Vec<TranscriptItem>,
    /// Credit hours earned in total.
    pub total_credit_hours: f64,
}

/// One earned credit in a department's export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditRecord {
    /// The learner's account.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// The learner's department when they earned it.
    pub department_id: Option<String>,
    /// Its name.
    pub department_name: Option<String>,
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub resource_name: String,
    /// Credit hours earned.
    pub credit_hours: f64,
    /// When (ms).
    pub earned_at: i64,
    /// Watched time when earned, seconds.
    pub watched_seconds: f64,
}

/// A credits export's period and department.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CreditQuery {
    /// The learners' department (a department admin is held to their own).
    pub department_id: Option<String>,
    /// Earned at or after (ms).
    pub from: Option<i64>,
    /// Earned before (ms).
    pub to: Option<i64>,
}

impl ControlPlane {
    /// The caller's own transcript.
    pub async fn my_learning(&self, actor: &Actor) -> ControlResult<Transcript> {
        let share = self.config.learning.credit_share();
        let rows = sqlx::query(
            "SELECT p.resource_id, p.watched_ms, p.duration_ms, p.updated_at, \
             a.credit_hours AS earned_hours, a.earned_at, v.name, v.credit_hours \
             FROM learning_progress p \
             LEFT JOIN credit_awards a ON a.user_id = p.user_id AND a.resource_id = p.resource_id \
             LEFT JOIN resources r ON r.id = p.resource_id \
             LEFT JOIN resource_revisions v \
               ON v.id = COALESCE(r.published_revision_id, r.latest_revision_id) \
             WHERE p.user_id = $1 ORDER BY p.updated_at DESC, p.resource_id",
        )
        .bind(actor.user_id.clone())
        .fetch_all(self.db.pool())
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let duration: Option<i64> = r.try_get("duration_ms")?;
            let earned_at: Option<i64> = r.try_get("earned_at")?;
            let earned_hours: Option<f64> = r.try_get("earned_hours")?;
            items.push(TranscriptItem {
                resource_id: r.try_get("resource_id")?,
                name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
                credit_hours: r.try_get::<Option<f64>, _>("credit_hours")?.unwrap_or(0.0),
                duration_seconds: duration.map(|d| d as f64 / 1000.0),
                watched_seconds: r.try_get::<i64, _>("watched_ms")? as f64 / 1000.0,
                required_seconds: required_ms(duration, share).map(|d| d as f64 / 1000.0),
                earned: earned_at.is_some(),
                earned_at,
                credit_hours_earned: earned_hours.unwrap_or(0.0),
                last_watched_at: r.try_get("updated_at")?,
            });
        }
        let total_credit_hours = items.iter().map(|i| i.credit_hours_earned).sum();
        Ok(Transcript {
            user_id: actor.user_id.clone(),
            credit_share: share,
            items,
            total_credit_hours,
        })
    }

    /// Credit hours earned by the learners of a department (all departments for the centre),
    /// oldest first.
    pub async fn credit_records(
        &self,
        actor: &Actor,
        query: &CreditQuery,
        now: i64,
    ) -> ControlResult<Vec<CreditRecord>> {
        let department = if actor
            .decide(Action::ReadLearningRecords, &Scope::out_of_scope())
            .allowed
        {
            query.department_id.clone()
        } else {
            let wanted = query
                .department_id
                .clone()
                .or_else(|| actor.department_id.clone());
            actor.require(
                Action::ReadLearningRecords,
                &actor.scope_of(wanted.as_deref(), None),
            )?;
            wanted
        };
        let to = query.to.unwrap_or(now + 1);
        let from = query.from.unwrap_or(0);
        if from >= to {
            return Err(ControlError::invalid(
                "统计区间无效：from 须早于 to",
                "invalid period: from must be before to",
            ));
        }
        let rows = sqlx::query(
            "SELECT a.user_id, u.username, u.display_name, a.department_id, d.name AS dname, \
             a.resource_id, v.name AS rname, a.credit_hours, a.earned_at, a.watched_ms \
             FROM credit_awards a JOIN users u ON u.id = a.user_id \
             LEFT JOIN departments d ON d.id = a.department_id \
             LEFT JOIN resources r ON r.id = a.resource_id \
             LEFT JOIN resource_revisions v \
               ON v.id = COALESCE(r.published_revision_id, r.latest_revision_id) \
             WHERE ($1 IS NULL OR a.department_id = $1) AND a.earned_at >= $2 \
             AND a.earned_at < $3 ORDER BY a.earned_at, a.user_id, a.resource_id",
        )
        .bind(department)
        .bind(from)
        .bind(to)
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(CreditRecord {
                    user_id: r.try_get("user_id")?,
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    department_id: r.try_get("department_id")?,
                    department_name: r.try_get("dname")?,
                    resource_id: r.try_get("resource_id")?,
                    resource_name: r.try_get::<Option<String>, _>("rname")?.unwrap_or_default(),
                    credit_hours: r.try_get("credit_hours")?,
                    earned_at: r.try_get("earned_at")?,
                    watched_seconds: r.try_get::<i64, _>("watched_ms")? as f64 / 1000.0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ControlError::from)
    }
}

/// `2026-01-31 08:30`, Beijing time.
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

/// The credits as CSV (UTF-8 with a byte order mark), headers in zh-CN or English, times in
/// Beijing time. Pure.
pub fn credits_csv(rows: &[CreditRecord], lang: Lang) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(match lang {
        Lang::Zh => [
            "学员账号",
            "姓名",
            "学员部门",
            "资源ID",
            "资源名称",
            "学时",
            "获得时间（北京时间）",
            "观看时长（分钟）",
        ],
        Lang::En => [
            "username",
            "display_name",
            "department",
            "resource_id",
            "resource_name",
            "credit_hours",
            "earned_at (Beijing time)",
            "watched_minutes",
        ],
    })?;
    for r in rows {
        writer.write_record([
            r.username.clone(),
            r.display_name.clone(),
            r.department_name.clone().unwrap_or_default(),
            r.resource_id.clone(),
            r.resource_name.clone(),
            format!("{}", r.credit_hours),
            beijing(r.earned_at),
            format!("{:.1}", r.watched_seconds / 60.0),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credits_csv_names_learner_resource_hours_and_beijing_time() {
        let rows = [CreditRecord {
            user_id: "u".into(),
            username: "learner1".into(),
            display_name: "张三".into(),
            department_id: Some("d".into()),
            department_name: Some("物理教研室".into()),
            resource_id: "r".into(),
            resource_name: "全景式认识中国式现代化".into(),
            credit_hours: 4.0,
            earned_at: 1_767_225_600_000, // 2026-01-01T00:00Z
            watched_seconds: 600.0,
        }];
        let zh = credits_csv(&rows, Lang::Zh).expect("csv");
        assert!(zh.starts_with("\u{feff}学员账号,姓名"));
        assert!(
            zh.contains(
                "learner1,张三,物理教研室,r,全景式认识中国式现代化,4,2026-01-01 08:00,10.0"
            )
        );
        assert!(
            credits_csv(&rows, Lang::En)
                .expect("csv")
                .contains("username,display_name")
        );
    }
}
