//! Retention over the database: the facts of every online (or half-retired) resource, the
//! plan ([`super::plan`]) at a given time, a run that retires what is due (each retirement
//! audited in its transaction, then its stored objects removed) and cleans up what an earlier
//! run could not remove, and the per-resource settings (premium course, hold, renewal date).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, AuditCtx, ControlPlane};
use crate::policy::{Action, Scope};
use crate::resources::MediaJanitor;
use crate::retention::plan::{self, RetentionConfig, RetentionFacts, RetentionPlan};
use crate::retention::retire::{RetireReason, retire_in, retire_record};
use crate::review_flow::RevisionState;

/// A resource the run could not retire or clean up, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFailure {
    /// The resource.
    pub resource_id: String,
    /// zh-CN.
    pub message_zh: String,
    /// English.
    pub message_en: String,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRun {
    /// True when nothing was changed.
    pub dry_run: bool,
    /// The plan the run followed.
    pub plan: RetentionPlan,
    /// Retired now, objects removed.
    pub retired: Vec<String>,
    /// Objects of earlier retirements removed now.
    pub cleaned: Vec<String>,
    /// Not done, with the reason (tried again next run).
    pub failed: Vec<RunFailure>,
}

/// A resource's retention settings and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRetention {
    /// The resource.
    pub resource_id: String,
    /// Selected as a premium course (精品课程): kept.
    pub premium: bool,
    /// Held by an administrator: never retired while held.
    pub hold: bool,
    /// The expiry an administrator set (renewal), if any.
    pub expires_override: Option<i64>,
    /// When the online revision was published.
    pub published_at: Option<i64>,
    /// When it expires (none: premium, or not online).
    pub expires_at: Option<i64>,
    /// The administrator's note.
    pub note: Option<String>,
    /// Retired (ms), why, and when its objects were removed.
    pub retired_at: Option<i64>,
    /// `complaint`, `expired` or `low_use`.
    pub retire_reason: Option<String>,
    /// When its stored objects were removed.
    pub objects_removed_at: Option<i64>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// A change of retention settings; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionUpdate {
    /// Premium course.
    pub premium: Option<bool>,
    /// Administrator's hold.
    pub hold: Option<bool>,
    /// A new expiry (renewal, ms), or `null` to go back to the computed one.
    #[serde(deserialize_with = "double_option")]
    pub expires_at: Option<Option<i64>>,
    /// A note.
    pub note: Option<String>,
}

impl ControlPlane {
    /// The retention settings in force (the config file's, or as changed at run time).
    async fn retention_config(&self) -> ControlResult<RetentionConfig> {
        Ok(self.settings().await?.retention)
    }

    async fn retention_facts(&self, only: Option<&str>) -> ControlResult<Vec<RetentionFacts>> {
        let rows = sqlx::query(
            "SELECT r.id, r.department_id, r.published_revision_id, r.published_at, r.retired_at, \
             r.objects_removed_at, v.name, lv.state AS latest_state, t.premium, t.hold, \
             t.expires_at, (SELECT COUNT(*) FROM complaints c WHERE c.resource_id = r.id \
               AND c.status IN ('open', 'taken_down')) AS complaints \
             FROM resources r JOIN resource_revisions lv ON lv.id = r.latest_revision_id \
             LEFT JOIN resource_revisions v \
               ON v.id = COALESCE(r.published_revision_id, r.latest_revision_id) \
             LEFT JOIN resource_retention t ON t.resource_id = r.id \
             WHERE r.deleted_at IS NULL AND ($1 IS NULL OR r.id = $1) \
             AND ($1 IS NOT NULL OR r.published_revision_id IS NOT NULL \
               OR (r.retired_at IS NOT NULL AND r.objects_removed_at IS NULL)) \
             ORDER BY r.id",
        )
        .bind(only.map(str::to_owned))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let latest: String = r.try_get("latest_state")?;
                Ok(RetentionFacts {
                    resource_id: r.try_get("id")?,
                    name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
                    department_id: r.try_get("department_id")?,
                    published_revision_id: r.try_get("published_revision_id")?,
                    published_at: r.try_get("published_at")?,
                    expires_override: r.try_get("expires_at")?,
                    premium: r.try_get::<Option<i64>, _>("premium")?.unwrap_or(0) != 0,
                    hold: r.try_get::<Option<i64>, _>("hold")?.unwrap_or(0) != 0,
                    under_review: latest
                        .parse::<RevisionState>()
                        .is_ok_and(RevisionState::is_in_review),
                    complaint: r.try_get::<i64, _>("complaints")? > 0,
                    retired: r.try_get::<Option<i64>, _>("retired_at")?.is_some(),
                    objects_removed: r.try_get::<Option<i64>, _>("objects_removed_at")?.is_some(),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ControlError::from)
    }

    /// The plan at `now` (no permission check: the CLI and the job). `warn_days` overrides
    /// the configured warning window.
    pub async fn retention_plan(
        &self,
        now: i64,
        warn_days: Option<u32>,
    ) -> ControlResult<RetentionPlan> {
        let mut config = self.retention_config().await?;
        if let Some(d) = warn_days {
            config.warn_days = d;
        }
        Ok(plan::plan(&self.retention_facts(None).await?, now, &config))
    }

    /// [`Self::retention_plan`] for `actor` (`ManageRetention`).
    pub async fn retention_plan_for(
        &self,
        actor: &Actor,
        now: i64,
        warn_days: Option<u32>,
    ) -> ControlResult<RetentionPlan> {
        actor.require(Action::ManageRetention, &Scope::out_of_scope())?;
        self.retention_plan(now, warn_days).await
    }

    /// Runs retention at `now` as `ctx`: retires what is due and removes objects left over;
    /// with `dry_run`, only the plan. Every retirement is audited in its transaction; a real
    /// run also leaves a `retention.run` record with its counts.
    pub async fn run_retention(
        &self,
        ctx: &AuditCtx,
        janitor: &dyn MediaJanitor,
        now: i64,
        dry_run: bool,
    ) -> ControlResult<RetentionRun> {
        let plan = self.retention_plan(now, None).await?;
        let mut run = RetentionRun {
            dry_run,
            plan,
            retired: Vec::new(),
            cleaned: Vec::new(),
            failed: Vec::new(),
        };
        if dry_run {
            return Ok(run);
        }
        for item in run.plan.retire.clone() {
            match self
                .retire_expired(ctx, &item.resource_id, item.expires_at, now)
                .await
            {
                Ok(()) => {}
                Err(e) if !e.is_internal() => {
                    run.failed.push(RunFailure {
                        resource_id: item.resource_id.clone(),
                        message_zh: e.message_zh(),
                        message_en: e.message_en(),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            }
            if self
                .remove_retired_objects(ctx, &item.resource_id, janitor, now)
                .await?
            {
                run.retired.push(item.resource_id.clone());
            } else {
                run.failed.push(storage_failure(&item.resource_id));
            }
        }
        for item in run.plan.cleanup.clone() {
            if self
                .remove_retired_objects(ctx, &item.resource_id, janitor, now)
                .await?
            {
                run.cleaned.push(item.resource_id.clone());
            } else {
                run.failed.push(storage_failure(&item.resource_id));
            }
        }
        self.audit(
            ctx,
            "retention.run",
            "retention",
            Outcome::Success,
            json!({"retired": run.retired, "cleaned": run.cleaned, "kept": run.plan.kept.len(),
                "expiring_soon": run.plan.expiring_soon.len(), "failed": run.failed.len()}),
            now,
        )
        .await?;
        Ok(run)
    }

    /// [`Self::run_retention`] for `actor` (`ManageRetention`).
    pub async fn run_retention_for(
        &self,
        actor: &Actor,
        janitor: &dyn MediaJanitor,
        now: i64,
        dry_run: bool,
    ) -> ControlResult<RetentionRun> {
        actor.require(Action::ManageRetention, &Scope::out_of_scope())?;
        self.run_retention(&actor.audit_ctx(), janitor, now, dry_run)
            .await
    }

    async fn retire_expired(
        &self,
        ctx: &AuditCtx,
        resource_id: &str,
        expires_at: Option<i64>,
        now: i64,
    ) -> ControlResult<()> {
        // The facts again, now: anything that moved since the plan (a new submission, a
        // complaint, a hold) keeps the resource.
        let facts = self.retention_facts(Some(resource_id)).await?;
        let fresh = plan::plan(&facts, now, &self.retention_config().await?);
        if !fresh.retire.iter().any(|i| i.resource_id == resource_id) {
            return Err(ControlError::conflict(
                "资源状态已变化，本次不再退役",
                "the resource changed since the plan; not retired this time",
            ));
        }
        let published = facts.first().and_then(|f| f.published_revision_id.clone());
        let mut audited = self.begin_audited().await?;
        retire_in(
            &mut audited.tx,
            resource_id,
            published.as_deref(),
            RetireReason::Expired,
            now,
        )
        .await?;
        let record = retire_record(
            resource_id,
            None,
            RetireReason::Expired,
            json!({"expires_at": expires_at, "revision_id": published}),
        );
        self.commit_audited(audited, ctx, &[record], now).await?;
        self.analytics.forget_target("resource", resource_id);
        Ok(())
    }

    /// Retires a resource by a reviewer's decision (`ManageRetention`), e.g. after the
    /// low-use report: refused while a revision is under review or the resource is on hold;
    /// audited with the change; its stored objects removed through `janitor`.
    pub async fn retire_resource_for(
        &self,
        actor: &Actor,
        resource_id: &str,
        comment: &str,
        janitor: &dyn MediaJanitor,
        now: i64,
    ) -> ControlResult<ResourceRetention> {
        actor.require(Action::ManageRetention, &Scope::out_of_scope())?;
        if comment.trim().is_empty() {
            return Err(ControlError::invalid(
                "退役须填写理由",
                "a retirement needs a reason",
            ));
        }
        let facts = self
            .retention_facts(Some(resource_id))
            .await?
            .pop()
            .ok_or(ControlError::NotFound("resource"))?;
        let refusal = if facts.retired {
            Some(("资源已退役", "the resource is already retired"))
        } else if facts.under_review {
            Some(("有修订正在审核中，不能退役", "a revision is under review"))
        } else if facts.hold || facts.complaint {
            Some(("资源处于冻结状态，不能退役", "the resource is on hold"))
        } else {
            None
        };
        if let Some((zh, en)) = refusal {
            return Err(ControlError::conflict(zh, en));
        }
        let mut audited = self.begin_audited().await?;
        retire_in(
            &mut audited.tx,
            resource_id,
            facts.published_revision_id.as_deref(),
            RetireReason::LowUse,
            now,
        )
        .await?;
        let record = retire_record(
            resource_id,
            None,
            RetireReason::LowUse,
            json!({"comment": comment.trim(), "revision_id": facts.published_revision_id}),
        );
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        self.analytics.forget_target("resource", resource_id);
        self.remove_retired_objects(&actor.audit_ctx(), resource_id, janitor, now)
            .await?;
        self.retention_of(resource_id).await
    }

    /// A resource's retention settings and expiry (anyone who may read the resource).
    pub async fn resource_retention(
        &self,
        actor: &Actor,
        resource_id: &str,
    ) -> ControlResult<ResourceRetention> {
        self.resource_for(actor, resource_id).await?;
        self.retention_of(resource_id).await
    }

    async fn retention_of(&self, resource_id: &str) -> ControlResult<ResourceRetention> {
        let facts = self
            .retention_facts(Some(resource_id))
            .await?
            .pop()
            .ok_or(ControlError::NotFound("resource"))?;
        let row = sqlx::query(
            "SELECT r.retired_at, r.retire_reason, r.objects_removed_at, t.note \
             FROM resources r LEFT JOIN resource_retention t ON t.resource_id = r.id \
             WHERE r.id = $1",
        )
        .bind(resource_id.to_owned())
        .fetch_one(self.db.pool())
        .await?;
        Ok(ResourceRetention {
            resource_id: resource_id.to_owned(),
            premium: facts.premium,
            hold: facts.hold,
            expires_override: facts.expires_override,
            published_at: facts.published_at,
            expires_at: plan::expiry(&facts, self.retention_config().await?.months),
            note: row.try_get("note")?,
            retired_at: row.try_get("retired_at")?,
            retire_reason: row.try_get("retire_reason")?,
            objects_removed_at: row.try_get("objects_removed_at")?,
        })
    }

    /// Changes a resource's retention settings (`ManageRetention`), audited in the change's
    /// transaction.
    pub async fn set_retention(
        &self,
        actor: &Actor,
        resource_id: &str,
        update: RetentionUpdate,
        now: i64,
    ) -> ControlResult<ResourceRetention> {
        actor.require(Action::ManageRetention, &Scope::out_of_scope())?;
        let current = self.retention_of(resource_id).await?;
        let premium = update.premium.unwrap_or(current.premium);
        let hold = update.hold.unwrap_or(current.hold);
        let expires = update.expires_at.unwrap_or(current.expires_override);
        let note = update.note.clone().or(current.note.clone());
        if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(ControlError::invalid(
                "备注不得超过 500 个字符",
                "the note must not exceed 500 characters",
            ));
        }
        let mut audited = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO resource_retention (resource_id, premium, hold, expires_at, note, \
             updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (resource_id) DO UPDATE SET premium = excluded.premium, \
             hold = excluded.hold, expires_at = excluded.expires_at, note = excluded.note, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(resource_id.to_owned())
        .bind(i64::from(premium))
        .bind(i64::from(hold))
        .bind(expires)
        .bind(note.clone())
        .bind(now)
        .bind(actor.user_id.clone())
        .execute(&mut *audited.tx)
        .await?;
        let record = AuditAppend {
            action: "resource.retention".into(),
            target: format!("resource:{resource_id}"),
            outcome: Outcome::Success,
            detail: json!({"premium": premium, "hold": hold, "expires_at": expires,
                "before": {"premium": current.premium, "hold": current.hold,
                    "expires_at": current.expires_override}}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        self.retention_of(resource_id).await
    }
}

fn storage_failure(resource_id: &str) -> RunFailure {
    RunFailure {
        resource_id: resource_id.to_owned(),
        message_zh: "删除存储对象失败，下次运行时重试".into(),
        message_en: "removing the stored objects failed; the next run tries again".into(),
    }
}
