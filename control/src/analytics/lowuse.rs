//! The low-use report (审核细则 Art. 10: low-use resources are gradually taken down): published
//! resources that had fewer than N views in the last M months, among those online for the
//! whole window (a resource published last week is not "little used"). The selection is pure;
//! [`ControlPlane::low_use`] feeds it from the database in the caller's reach. What to do with
//! each (retire, or renew its retention) is a reviewer's decision, through the API.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane};
use crate::policy::{Action, Scope};
use crate::retention::plan::months_before;

/// A published resource as the report sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub name: String,
    /// Its department.
    pub department_id: String,
    /// When its online revision was published (ms).
    pub published_at: Option<i64>,
    /// A premium course (listed, but kept by retention).
    pub premium: bool,
}

/// One little-used resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LowUseItem {
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub name: String,
    /// Its department.
    pub department_id: String,
    /// When it was published (ms).
    pub published_at: Option<i64>,
    /// Views in the window.
    pub views: i64,
    /// A premium course.
    pub premium: bool,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LowUseReport {
    /// Window start (ms).
    pub from: i64,
    /// Window end (ms).
    pub to: i64,
    /// Fewer views than this…
    pub min_views: i64,
    /// …in this many months.
    pub months: u32,
    /// Least viewed first.
    pub items: Vec<LowUseItem>,
}

/// The report's parameters (defaults from `[control.learning]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LowUseQuery {
    /// Fewer views than this.
    pub min_views: Option<i64>,
    /// In this many months.
    pub months: Option<u32>,
    /// One department (platform-wide readers).
    pub department_id: Option<String>,
}

/// The resources of `published` online since `from` with fewer than `min_views` views.
pub fn select(
    published: &[Published],
    views: &HashMap<String, i64>,
    from: i64,
    min_views: i64,
) -> Vec<LowUseItem> {
    let mut out: Vec<LowUseItem> = published
        .iter()
        .filter(|p| p.published_at.is_some_and(|at| at <= from))
        .map(|p| LowUseItem {
            resource_id: p.resource_id.clone(),
            name: p.name.clone(),
            department_id: p.department_id.clone(),
            published_at: p.published_at,
            views: views.get(&p.resource_id).copied().unwrap_or(0),
            premium: p.premium,
        })
        .filter(|i| i.views < min_views)
        .collect();
    out.sort_by(|a, b| {
        a.views
            .cmp(&b.views)
            .then_with(|| a.published_at.cmp(&b.published_at))
            .then_with(|| a.resource_id.cmp(&b.resource_id))
    });
    out
}

impl ControlPlane {
    /// The low-use report at `now` in the caller's reach (`ReadAnalytics`; owners see theirs).
    pub async fn low_use(
        &self,
        actor: &Actor,
        query: &LowUseQuery,
        now: i64,
    ) -> ControlResult<LowUseReport> {
        let cfg = &self.config.learning;
        let min_views = query.min_views.unwrap_or(cfg.low_use_min_views);
        let months = query.months.unwrap_or(cfg.low_use_months);
        if min_views < 1 || !(1..=120).contains(&months) {
            return Err(ControlError::invalid(
                "min_views 须至少为 1，months 须在 1 到 120 之间",
                "min_views must be at least 1 and months between 1 and 120",
            ));
        }
        let (department, owner) = if actor
            .decide(Action::ReadAnalytics, &Scope::out_of_scope())
            .allowed
        {
            (query.department_id.clone(), None)
        } else {
            let own = actor.department_id.clone();
            if let Some(w) = &query.department_id
                && Some(w) != own.as_ref()
            {
                actor.require(Action::ReadAnalytics, &actor.scope_of(Some(w), None))?;
            }
            if actor
                .decide(Action::ReadAnalytics, &actor.scope_of(own.as_deref(), None))
                .allowed
            {
                (own, None)
            } else {
                actor.require(
                    Action::ReadAnalytics,
                    &actor.scope_of(own.as_deref(), Some(&actor.user_id)),
                )?;
                (own, Some(actor.user_id.clone()))
            }
        };
        let from = months_before(now, months);
        let rows = sqlx::query(
            "SELECT r.id, r.department_id, r.published_at, v.name, t.premium, \
             (SELECT COUNT(*) FROM playback_sessions s WHERE s.target_kind = 'resource' \
               AND s.target_id = r.id AND s.started_at >= $1 AND s.started_at <= $2) AS views \
             FROM resources r JOIN resource_revisions v ON v.id = r.published_revision_id \
             LEFT JOIN resource_retention t ON t.resource_id = r.id \
             WHERE r.deleted_at IS NULL AND ($3 IS NULL OR r.department_id = $3) \
             AND ($4 IS NULL OR r.owner_id = $4)",
        )
        .bind(from)
        .bind(now)
        .bind(department)
        .bind(owner)
        .fetch_all(self.db.pool())
        .await?;
        let mut published = Vec::with_capacity(rows.len());
        let mut views = HashMap::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            views.insert(id.clone(), r.try_get::<i64, _>("views")?);
            published.push(Published {
                resource_id: id,
                name: r.try_get("name")?,
                department_id: r.try_get("department_id")?,
                published_at: r.try_get("published_at")?,
                premium: r.try_get::<Option<i64>, _>("premium")?.unwrap_or(0) != 0,
            });
        }
        Ok(LowUseReport {
            from,
            to: now,
            min_views,
            months,
            items: select(&published, &views, from, min_views),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, at: i64) -> Published {
        Published {
            resource_id: id.into(),
            name: id.into(),
            department_id: "d".into(),
            published_at: Some(at),
            premium: false,
        }
    }

    #[test]
    fn resources_online_for_the_whole_window_with_few_views_are_listed_least_viewed_first() {
        let views = HashMap::from([("busy".to_owned(), 50), ("quiet".to_owned(), 3)]);
        let all = [p("busy", 0), p("quiet", 0), p("unseen", 5), p("new", 500)];
        let out = select(&all, &views, 100, 10);
        let ids: Vec<&str> = out.iter().map(|i| i.resource_id.as_str()).collect();
        assert_eq!(ids, ["unseen", "quiet"], "new ones are not judged yet");
        assert_eq!(out[0].views, 0);
    }
}
