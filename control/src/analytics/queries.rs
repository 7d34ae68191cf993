//! Viewing reports over the stored playbacks, scoped by the policy (`ReadAnalytics`): the
//! centre sees everything, a department's reviewers and admin their department, a producer or
//! organiser what they own. Figures come from [`crate::analytics::report`] over the playbacks
//! started in the period.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::analytics::report::{self, Bucket, Figures, PlaybackRow, SeriesPoint};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest};
use crate::policy::{Action, Scope};

/// The default period: the 30 days before now.
const DEFAULT_PERIOD_MS: i64 = 30 * 86_400_000;

/// A report's period and narrowing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    /// Playbacks started at or after (ms); default 30 days before `to`.
    pub from: Option<i64>,
    /// Playbacks started before (ms); default: up to now, included.
    pub to: Option<i64>,
    /// One department (platform-wide readers; others are held to their own).
    pub department_id: Option<String>,
    /// Series buckets of a single target's report.
    pub bucket: Option<Bucket>,
}

impl ReportQuery {
    /// `(from, to)` with defaults; refuses an empty or reversed period.
    pub fn period(&self, now: i64) -> ControlResult<(i64, i64)> {
        let to = self.to.unwrap_or(now + 1);
        let from = self.from.unwrap_or(to - DEFAULT_PERIOD_MS);
        if from >= to {
            return Err(ControlError::invalid(
                "统计区间无效：from 须早于 to",
                "invalid period: from must be before to",
            ));
        }
        Ok((from, to))
    }
}

/// Where a caller's reports reach.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reach {
    department_id: Option<String>,
    owner_id: Option<String>,
}

/// The figures of one resource or channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetFigures {
    /// `resource` or `channel`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its department.
    pub department_id: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One target's report with its series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetReport {
    /// Period start (ms).
    pub from: i64,
    /// Period end (ms).
    pub to: i64,
    /// The target and its totals.
    #[serde(flatten)]
    pub totals: TargetFigures,
    /// Per day or month (Beijing time).
    pub series: Vec<SeriesPoint>,
}

/// One department's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentFigures {
    /// The department.
    pub department_id: String,
    /// Its name.
    pub department_name: String,
    /// The figures of its resources and channels.
    #[serde(flatten)]
    pub figures: Figures,
}

struct Scoped {
    target_id: String,
    department_id: String,
    row: PlaybackRow,
}

impl ControlPlane {
    fn analytics_reach(&self, actor: &Actor, wanted: Option<&str>) -> ControlResult<Reach> {
        if actor
            .decide(Action::ReadAnalytics, &Scope::out_of_scope())
            .allowed
        {
            return Ok(Reach {
                department_id: wanted.map(str::to_owned),
                owner_id: None,
            });
        }
        let own = actor.department_id.clone();
        if let Some(w) = wanted
            && Some(w) != own.as_deref()
        {
            actor.require(Action::ReadAnalytics, &actor.scope_of(Some(w), None))?;
        }
        if actor
            .decide(Action::ReadAnalytics, &actor.scope_of(own.as_deref(), None))
            .allowed
        {
            return Ok(Reach {
                department_id: own,
                owner_id: None,
            });
        }
        actor.require(
            Action::ReadAnalytics,
            &actor.scope_of(own.as_deref(), Some(&actor.user_id)),
        )?;
        Ok(Reach {
            department_id: own,
            owner_id: Some(actor.user_id.clone()),
        })
    }

    /// Playbacks started in `[from, to)` of the targets within `reach` (optionally one kind,
    /// one target).
    async fn playbacks(
        &self,
        reach: &Reach,
        kind: Option<&str>,
        target_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> ControlResult<Vec<Scoped>> {
        let rows = sqlx::query(
            "SELECT s.target_id, s.department_id, s.viewer_key, s.started_at, \
             s.last_seen_at, s.watched_ms, s.duration_ms FROM playback_sessions s \
             LEFT JOIN resources r ON s.target_kind = 'resource' AND r.id = s.target_id \
             LEFT JOIN channels c ON s.target_kind = 'channel' AND c.id = s.target_id \
             WHERE s.started_at >= $1 AND s.started_at < $2 \
             AND ($3 IS NULL OR s.target_kind = $3) AND ($4 IS NULL OR s.target_id = $4) \
             AND ($5 IS NULL OR COALESCE(r.department_id, c.department_id) = $5) \
             AND ($6 IS NULL OR COALESCE(r.owner_id, c.owner_id) = $6) \
             ORDER BY s.started_at",
        )
        .bind(from)
        .bind(to)
        .bind(kind.map(str::to_owned))
        .bind(target_id.map(str::to_owned))
        .bind(reach.department_id.clone())
        .bind(reach.owner_id.clone())
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Scoped {
                    target_id: r.try_get("target_id")?,
                    department_id: r
                        .try_get::<Option<String>, _>("department_id")?
                        .unwrap_or_default(),
                    row: PlaybackRow {
                        viewer: r.try_get("viewer_key")?,
                        started_at: r.try_get("started_at")?,
                        last_seen_at: r.try_get("last_seen_at")?,
                        watched_ms: r.try_get("watched_ms")?,
                        duration_ms: r.try_get("duration_ms")?,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ControlError::from)
    }

    /// Names and departments of targets.
    async fn target_names(
        &self,
        kind: &str,
        ids: &[String],
    ) -> ControlResult<BTreeMap<String, (String, String)>> {
        let mut out = BTreeMap::new();
        for id in ids {
            let row: Option<(String, String)> = if kind == "resource" {
                sqlx::query_as(
                    "SELECT v.name, r.department_id FROM resources r JOIN resource_revisions v \
                     ON v.id = COALESCE(r.published_revision_id, r.latest_revision_id) \
                     WHERE r.id = $1",
                )
                .bind(id.clone())
                .fetch_optional(self.db.pool())
                .await?
            } else {
                sqlx::query_as("SELECT name, department_id FROM channels WHERE id = $1")
                    .bind(id.clone())
                    .fetch_optional(self.db.pool())
                    .await?
            };
            if let Some(r) = row {
                out.insert(id.clone(), r);
            }
        }
        Ok(out)
    }

    /// Per-target figures in the caller's reach, most viewed first.
    pub async fn analytics_targets(
        &self,
        actor: &Actor,
        kind: &str,
        query: &ReportQuery,
        page: PageRequest,
        now: i64,
    ) -> ControlResult<Page<TargetFigures>> {
        let all = self.analytics_all_targets(actor, kind, query, now).await?;
        let total = all.len() as i64;
        let items = all
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.limit() as usize)
            .collect();
        Ok(Page::new(page, items, total))
    }

    /// Every target's figures in the caller's reach, most viewed first (for lists and CSV).
    pub async fn analytics_all_targets(
        &self,
        actor: &Actor,
        kind: &str,
        query: &ReportQuery,
        now: i64,
    ) -> ControlResult<Vec<TargetFigures>> {
        let reach = self.analytics_reach(actor, query.department_id.as_deref())?;
        let (from, to) = query.period(now)?;
        let mut by: BTreeMap<String, Vec<PlaybackRow>> = BTreeMap::new();
        for s in self.playbacks(&reach, Some(kind), None, from, to).await? {
            by.entry(s.target_id).or_default().push(s.row);
        }
        let ids: Vec<String> = by.keys().cloned().collect();
        let names = self.target_names(kind, &ids).await?;
        let share = self.config.learning.completion_share;
        let mut out: Vec<TargetFigures> = by
            .into_iter()
            .map(|(id, rows)| {
                let (name, department_id) = names.get(&id).cloned().unwrap_or_default();
                TargetFigures {
                    kind: kind.to_owned(),
                    id,
                    name,
                    department_id,
                    figures: report::figures(&rows, share),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.figures
                .views
                .cmp(&a.figures.views)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// One resource's or channel's report (`ReadAnalytics` in its scope).
    pub async fn analytics_target(
        &self,
        actor: &Actor,
        kind: &str,
        id: &str,
        query: &ReportQuery,
        now: i64,
    ) -> ControlResult<TargetReport> {
        let (name, department_id, owner_id) = if kind == "resource" {
            let row = self.resource_row(id).await?;
            let name = self.target_names(kind, &[id.to_owned()]).await?;
            let name = name.get(id).map(|n| n.0.clone()).unwrap_or_default();
            (name, row.department_id, row.owner_id)
        } else {
            let c = self.channel(id).await?;
            (c.name, c.department_id, c.owner_id)
        };
        actor.require(
            Action::ReadAnalytics,
            &actor.scope_of(Some(&department_id), Some(&owner_id)),
        )?;
        let (from, to) = query.period(now)?;
        let everything = Reach {
            department_id: None,
            owner_id: None,
        };
        let rows: Vec<PlaybackRow> = self
            .playbacks(&everything, Some(kind), Some(id), from, to)
            .await?
            .into_iter()
            .map(|s| s.row)
            .collect();
        let share = self.config.learning.completion_share;
        Ok(TargetReport {
            from,
            to,
            totals: TargetFigures {
                kind: kind.to_owned(),
                id: id.to_owned(),
                name,
                department_id,
                figures: report::figures(&rows, share),
            },
            series: report::series(&rows, query.bucket.unwrap_or_default(), share),
        })
    }

    /// Per-department figures in the caller's reach (resources and channels together).
    pub async fn analytics_departments(
        &self,
        actor: &Actor,
        query: &ReportQuery,
        now: i64,
    ) -> ControlResult<Vec<DepartmentFigures>> {
        let reach = self.analytics_reach(actor, query.department_id.as_deref())?;
        if reach.owner_id.is_some() {
            // Owners see their own targets, not their department's totals.
            actor.require(
                Action::ReadAnalytics,
                &actor.scope_of(actor.department_id.as_deref(), None),
            )?;
        }
        let (from, to) = query.period(now)?;
        let mut by: BTreeMap<String, Vec<PlaybackRow>> = BTreeMap::new();
        for s in self.playbacks(&reach, None, None, from, to).await? {
            by.entry(s.department_id).or_default().push(s.row);
        }
        let names: BTreeMap<String, String> = self
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let share = self.config.learning.completion_share;
        Ok(by
            .into_iter()
            .map(|(department_id, rows)| DepartmentFigures {
                department_name: names.get(&department_id).cloned().unwrap_or_default(),
                department_id,
                figures: report::figures(&rows, share),
            })
            .collect())
    }
}
