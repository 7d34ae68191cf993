//! The three-level review of resource revisions over the database: signing a level,
//! publication, unpublication and the review records (reviewer, role, time, decision,
//! comment, and for the technical step the QC report it saw). Transitions come from
//! [`crate::review_flow`]; permissions from [`crate::policy`].

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, new_id};
use crate::policy::{Action, Role};
use crate::resources::{MediaState, ProcessingStatus, ResourceView};
use crate::review_flow::{self, ReviewDecision, ReviewLevel, TransitionRefused};

/// One signed review step.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReviewRecord {
    /// Id.
    pub id: String,
    /// The resource.
    pub resource_id: String,
    /// The revision reviewed.
    pub revision_id: String,
    /// `self`, `department` or `technical`.
    pub level: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Reviewer account.
    pub reviewer_id: String,
    /// Reviewer's display name.
    pub reviewer_name: String,
    /// The role the reviewer signed in.
    pub reviewer_role: String,
    /// Opinion / reasons.
    pub comment: String,
    /// The probe/QC report the technical reviewer saw (JSON text).
    pub qc_report: Option<String>,
    /// When (ms).
    pub decided_at: i64,
}

/// A review request.
#[derive(Debug, Clone, Deserialize)]
pub struct ReviewRequest {
    /// Level signed.
    pub level: ReviewLevel,
    /// Decision.
    pub decision: ReviewDecision,
    /// Opinion (required for a rejection).
    #[serde(default)]
    pub comment: String,
}

fn refused(e: TransitionRefused) -> ControlError {
    let zh = match &e {
        TransitionRefused::WrongState { .. } => "当前状态下不能进行该级审核".to_owned(),
        TransitionRefused::ReasonRequired => "退回须填写理由".to_owned(),
        TransitionRefused::NotApproved(_) => "只有通过技术审核的修订才能上线".to_owned(),
        TransitionRefused::NotPublished(_) => "该资源未上线".to_owned(),
    };
    match e {
        TransitionRefused::ReasonRequired => ControlError::invalid(zh, e.to_string()),
        _ => ControlError::conflict(zh, e.to_string()),
    }
}

fn level_action(level: ReviewLevel) -> (Action, Role) {
    match level {
        ReviewLevel::SelfReview => (Action::ReviewSelf, Role::Producer),
        ReviewLevel::Department => (Action::ReviewDepartment, Role::DepartmentReviewer),
        ReviewLevel::Technical => (Action::ReviewTechnical, Role::CentreReviewer),
    }
}

impl ControlPlane {
    /// Signs one review level on the resource's latest revision.
    pub async fn review(
        &self,
        actor: &Actor,
        resource_id: &str,
        req: ReviewRequest,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(resource_id).await?;
        let view = self.view_of(&row).await?;
        let revision = view.latest.clone();
        let (action, signing_role) = level_action(req.level);
        let scope = actor.scope_of(Some(&row.department_id), Some(&row.owner_id));
        let audit_action = format!("review.{}", req.level.as_str());
        let target = format!("resource:{resource_id}");
        let detail =
            json!({"revision": revision.number, "decision": req.decision, "comment": req.comment});
        if let Err(e) = actor.require(action, &scope) {
            self.audit(
                &actor.audit_ctx(),
                &audit_action,
                &target,
                Outcome::Denied,
                detail,
                now,
            )
            .await?;
            return Err(e);
        }
        let next = review_flow::review(revision.state, req.level, req.decision, &req.comment)
            .map_err(refused)?;
        if req.level == ReviewLevel::SelfReview && req.decision == ReviewDecision::Approve {
            self.config()
                .captions
                .check(&revision.metadata, &revision.captions)?;
            // The type or category may have changed since the file was accepted.
            if view.processing.audio_only
                && let Some(refusal) = self.config().audio_only.refusal(&revision.metadata)
            {
                return Err(refusal.into());
            }
        }
        if req.level == ReviewLevel::Technical && req.decision == ReviewDecision::Approve {
            match view.processing.status {
                ProcessingStatus::Pending | ProcessingStatus::Processing => {
                    return Err(ControlError::conflict(
                        "媒体尚未处理完成，不能通过技术审核",
                        "media processing is not finished",
                    ));
                }
                ProcessingStatus::Failed => {
                    return Err(ControlError::conflict(
                        "媒体处理失败，不能通过技术审核",
                        "media processing failed",
                    ));
                }
                ProcessingStatus::Rejected => {
                    return Err(ControlError::conflict(
                        "媒体文件不符合平台技术规范，不能通过技术审核",
                        "the media file breaks the platform's technical rules",
                    ));
                }
                ProcessingStatus::None | ProcessingStatus::Ready => {}
            }
        }
        let role = if actor.roles.contains(&signing_role) {
            signing_role
        } else {
            *actor
                .roles
                .iter()
                .find(|r| actor_role_allows(**r, action, &scope))
                .unwrap_or(&signing_role)
        };
        let reviewer_name = self.user(&actor.user_id).await?.display_name;
        let qc = (req.level == ReviewLevel::Technical)
            .then(|| technical_qc_snapshot(&revision.media))
            .flatten();
        let mut tx = self.begin_audited().await?;
        let moved = sqlx::query("UPDATE resource_revisions SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
            .bind(next.as_str())
            .bind(now)
            .bind(revision.id.clone())
            .bind(revision.state.as_str())
            .execute(tx.conn())
            .await?
            .rows_affected();
        if moved != 1 {
            drop(tx);
            return Err(ControlError::conflict(
                "修订状态已被他人改变，请刷新",
                "the revision changed meanwhile; reload",
            ));
        }
        sqlx::query(
            "INSERT INTO review_records (id, resource_id, revision_id, level, decision, reviewer_id, \
             reviewer_name, reviewer_role, comment, qc_report, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(new_id())
        .bind(resource_id.to_owned())
        .bind(revision.id.clone())
        .bind(req.level.as_str())
        .bind(req.decision.as_str())
        .bind(actor.user_id.clone())
        .bind(reviewer_name)
        .bind(role.as_str())
        .bind(req.comment.clone())
        .bind(qc)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let record = AuditAppend::success(&audit_action, target, detail);
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.resource(resource_id).await
    }

    /// Publishes the technically approved latest revision (centre reviewer, not the owner).
    /// The previously published revision, if any, is superseded.
    pub async fn publish(
        &self,
        actor: &Actor,
        resource_id: &str,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(resource_id).await?;
        let target = format!("resource:{resource_id}");
        let scope = actor.scope_of(Some(&row.department_id), Some(&row.owner_id));
        if let Err(e) = actor.require(Action::ReviewTechnical, &scope) {
            self.audit(
                &actor.audit_ctx(),
                "resource.publish",
                &target,
                Outcome::Denied,
                json!({}),
                now,
            )
            .await?;
            return Err(e);
        }
        let view = self.view_of(&row).await?;
        let next = review_flow::publish(view.latest.state).map_err(refused)?;
        let mut tx = self.begin_audited().await?;
        if let Some(old) = &view.published {
            sqlx::query(
                "UPDATE resource_revisions SET state = 'superseded', updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(old.id.clone())
            .execute(tx.conn())
            .await?;
        }
        sqlx::query("UPDATE resource_revisions SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(next.as_str())
            .bind(now)
            .bind(view.latest.id.clone())
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "UPDATE resources SET published_revision_id = $1, published_at = $2, retired_at = NULL \
             WHERE id = $3",
        )
        .bind(view.latest.id.clone())
        .bind(now)
        .bind(resource_id.to_owned())
        .execute(tx.conn())
        .await?;
        let detail =
            json!({"revision": view.latest.number, "superseded": view.published.map(|p| p.number)});
        let record = AuditAppend::success("resource.publish", target, detail);
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.analytics.forget_target("resource", resource_id);
        self.resource(resource_id).await
    }

    /// Takes a resource offline (its published revision becomes withdrawn).
    pub async fn unpublish(
        &self,
        actor: &Actor,
        resource_id: &str,
        reason: &str,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(resource_id).await?;
        let target = format!("resource:{resource_id}");
        if let Err(e) = actor.require(
            Action::Unpublish,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        ) {
            self.audit(
                &actor.audit_ctx(),
                "resource.unpublish",
                &target,
                Outcome::Denied,
                json!({}),
                now,
            )
            .await?;
            return Err(e);
        }
        let view = self.view_of(&row).await?;
        let published = view
            .published
            .ok_or_else(|| refused(TransitionRefused::NotPublished(view.latest.state)))?;
        let next = review_flow::withdraw(published.state).map_err(refused)?;
        let mut tx = self.begin_audited().await?;
        sqlx::query("UPDATE resource_revisions SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(next.as_str())
            .bind(now)
            .bind(published.id.clone())
            .execute(tx.conn())
            .await?;
        sqlx::query("UPDATE resources SET published_revision_id = NULL WHERE id = $1")
            .bind(resource_id.to_owned())
            .execute(tx.conn())
            .await?;
        let detail = json!({"revision": published.number, "reason": reason});
        let record = AuditAppend::success("resource.unpublish", target, detail);
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.analytics.forget_target("resource", resource_id);
        self.resource(resource_id).await
    }

    /// The review records of a resource (all revisions), oldest first.
    pub async fn review_records(&self, resource_id: &str) -> ControlResult<Vec<ReviewRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, resource_id, revision_id, level, decision, reviewer_id, reviewer_name, reviewer_role, \
             comment, qc_report, decided_at FROM review_records WHERE resource_id = $1 ORDER BY decided_at, id",
        )
        .bind(resource_id.to_owned())
        .fetch_all(self.db.pool())
        .await?)
    }

    /// [`ControlPlane::review_records`] for `actor` (needs `ReadResource`).
    pub async fn review_records_for(
        &self,
        actor: &Actor,
        resource_id: &str,
    ) -> ControlResult<Vec<ReviewRecord>> {
        self.resource_for(actor, resource_id).await?;
        self.review_records(resource_id).await
    }
}

fn actor_role_allows(role: Role, action: Action, scope: &crate::policy::Scope) -> bool {
    crate::policy::decide(role, action, scope).allowed
}

/// What a technical review record keeps of the media checks: the QC report when the pipeline
/// wrote one, else the probe report, validation and renditions it recorded.
fn technical_qc_snapshot(media: &MediaState) -> Option<String> {
    if let Some(qc) = &media.qc_report {
        return Some(qc.to_string());
    }
    if media.probe_report.is_none() && media.validation.is_none() && media.renditions.is_none() {
        return None;
    }
    Some(
        json!({"probe": media.probe_report, "validation": media.validation,
            "renditions": media.renditions})
        .to_string(),
    )
}
