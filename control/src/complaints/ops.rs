//! Complaints over the database: filing, the reviewers' queue, the complainant's own list, and
//! the steps (take down, restore, retire, dismiss), each audited in the same transaction as
//! the change. A step applies to every unresolved complaint of the same resource, so that each
//! complainant sees the outcome.

use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::complaints::flow::{self, ComplaintAction, ComplaintRefused, ComplaintStatus};
use crate::complaints::{Complaint, ComplaintDecision, NewComplaint};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest, new_id};
use crate::policy::{Action, Scope};
use crate::resources::{MediaJanitor, Openness, parse_text};
use crate::retention::retire::{RetireReason, retire_in, retire_record};

fn refused(e: ComplaintRefused) -> ControlError {
    match e {
        ComplaintRefused::CommentRequired | ComplaintRefused::Detail => {
            ControlError::invalid(e.message_zh(), e.message_en())
        }
        _ => ControlError::conflict(e.message_zh(), e.message_en()),
    }
}

const COMPLAINT_SELECT: &str = "SELECT c.id, c.resource_id, c.complainant_id, c.category, \
    c.detail, c.status, c.revision_id, c.outcome_comment, c.created_at, c.updated_at, \
    c.taken_down_at, c.resolved_at, v.name FROM complaints c \
    LEFT JOIN resources r ON r.id = c.resource_id \
    LEFT JOIN resource_revisions v \
      ON v.id = COALESCE(r.published_revision_id, r.latest_revision_id)";

fn complaint_of(row: &sqlx::any::AnyRow) -> Result<Complaint, sqlx::Error> {
    let status = ComplaintStatus::parse(&row.try_get::<String, _>("status")?)
        .unwrap_or(ComplaintStatus::Open);
    Ok(Complaint {
        id: row.try_get("id")?,
        resource_id: row.try_get("resource_id")?,
        resource_name: row
            .try_get::<Option<String>, _>("name")?
            .unwrap_or_default(),
        complainant_id: row.try_get("complainant_id")?,
        category: parse_text(&row.try_get::<String, _>("category")?),
        detail: row.try_get("detail")?,
        status,
        outcome_zh: status.outcome_zh().into(),
        outcome_en: status.outcome_en().into(),
        outcome_comment: row.try_get("outcome_comment")?,
        revision_id: row.try_get("revision_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        taken_down_at: row.try_get("taken_down_at")?,
        resolved_at: row.try_get("resolved_at")?,
    })
}

impl ControlPlane {
    /// One complaint without a permission check.
    pub async fn complaint(&self, id: &str) -> ControlResult<Complaint> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COMPLAINT_SELECT} WHERE c.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::NotFound("complaint"))?;
        Ok(complaint_of(&row)?)
    }

    /// One complaint for its complainant or a reviewer who handles complaints.
    pub async fn complaint_for(&self, actor: &Actor, id: &str) -> ControlResult<Complaint> {
        let c = self.complaint(id).await?;
        if c.complainant_id != actor.user_id {
            actor.require(Action::HandleComplaints, &Scope::out_of_scope())?;
        }
        Ok(c)
    }

    /// Files a complaint about a published resource the caller may watch.
    pub async fn file_complaint(
        &self,
        actor: &Actor,
        resource_id: &str,
        req: NewComplaint,
        now: i64,
    ) -> ControlResult<Complaint> {
        let row = self.resource_row(resource_id).await?;
        let view = self.view_of(&row).await?;
        let published = view.published.ok_or(ControlError::NotFound("resource"))?;
        let in_audience = match &published.metadata.audience_id {
            Some(a) => self.is_audience_member(a, &actor.user_id).await?,
            None => false,
        };
        let scope = Scope {
            public: published.metadata.openness == Openness::Public,
            in_audience,
            ..actor.scope_of(Some(&row.department_id), Some(&row.owner_id))
        };
        actor.require(Action::Watch, &scope)?;
        flow::check_detail(&req.detail).map_err(refused)?;
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM complaints WHERE resource_id = $1 AND complainant_id = $2 \
             AND status IN ('open', 'taken_down')",
        )
        .bind(resource_id.to_owned())
        .bind(actor.user_id.clone())
        .fetch_one(self.db.pool())
        .await?;
        if open > 0 {
            return Err(ControlError::conflict(
                "您对该资源的投诉正在处理中",
                "your complaint about this resource is still being handled",
            ));
        }
        let id = new_id();
        let record = AuditAppend {
            action: "complaint.file".into(),
            target: format!("complaint:{id}"),
            outcome: Outcome::Success,
            detail: json!({"resource_id": resource_id, "category": req.category}),
        };
        let (cid, rid, uid) = (id.clone(), resource_id.to_owned(), actor.user_id.clone());
        let detail = req.detail.trim().to_owned();
        {
            let mut audited = self.begin_audited().await?;
            let tx = &mut audited.tx;
            sqlx::query(
                "INSERT INTO complaints (id, resource_id, complainant_id, category, detail, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $6)",
            )
            .bind(cid.clone())
            .bind(rid.clone())
            .bind(uid.clone())
            .bind(req.category.as_str())
            .bind(detail.clone())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let records = vec![record.clone()];
            self.commit_audited(audited, &actor.audit_ctx(), &records, now)
                .await?;
        }
        self.complaint(&id).await
    }

    /// The reviewers' queue, oldest first, optionally one status.
    pub async fn complaints(
        &self,
        actor: &Actor,
        status: Option<ComplaintStatus>,
        page: PageRequest,
    ) -> ControlResult<Page<Complaint>> {
        actor.require(Action::HandleComplaints, &Scope::out_of_scope())?;
        let status = status.map(|s| s.as_str().to_owned());
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM complaints WHERE ($1 IS NULL OR status = $1)")
                .bind(status.clone())
                .fetch_one(self.db.pool())
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COMPLAINT_SELECT} WHERE ($1 IS NULL OR c.status = $1) \
             ORDER BY c.created_at, c.id LIMIT $2 OFFSET $3"
        )))
        .bind(status)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        let items = rows
            .iter()
            .map(complaint_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(page, items, total))
    }

    /// The caller's own complaints with their outcomes, newest first.
    pub async fn my_complaints(&self, actor: &Actor) -> ControlResult<Vec<Complaint>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COMPLAINT_SELECT} WHERE c.complainant_id = $1 ORDER BY c.created_at DESC, c.id"
        )))
        .bind(actor.user_id.clone())
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(complaint_of)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Takes the resource of an open complaint offline at once, pending a re-review.
    pub async fn take_down(
        &self,
        actor: &Actor,
        id: &str,
        comment: &str,
        now: i64,
    ) -> ControlResult<Complaint> {
        actor.require(Action::HandleComplaints, &Scope::out_of_scope())?;
        let c = self.complaint(id).await?;
        flow::next(c.status, ComplaintAction::TakeDown).map_err(refused)?;
        flow::check_comment(comment).map_err(refused)?;
        let view = self.resource(&c.resource_id).await?;
        let published = view.published.ok_or_else(|| {
            ControlError::conflict("资源已不在线", "the resource is already offline")
        })?;
        let (rid, rev, handler) = (
            c.resource_id.clone(),
            published.id.clone(),
            actor.user_id.clone(),
        );
        let comment = comment.trim().to_owned();
        {
            let mut audited = self.begin_audited().await?;
            let tx = &mut audited.tx;
            let moved = sqlx::query(
                "UPDATE resource_revisions SET state = 'withdrawn', updated_at = $1 \
                 WHERE id = $2 AND state = 'published'",
            )
            .bind(now)
            .bind(rev.clone())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let offline = sqlx::query(
                "UPDATE resources SET published_revision_id = NULL \
                 WHERE id = $1 AND published_revision_id = $2",
            )
            .bind(rid.clone())
            .bind(rev.clone())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if moved != 1 || offline != 1 {
                return Err(ControlError::conflict(
                    "资源状态已被他人改变，请刷新",
                    "the resource changed meanwhile; reload",
                ));
            }
            let ids = set_status(
                tx,
                &rid,
                &["open"],
                ComplaintStatus::TakenDown,
                &handler,
                &comment,
                Some(&rev),
                now,
            )
            .await?;
            let record = AuditAppend {
                action: "complaint.take_down".into(),
                target: format!("resource:{rid}"),
                outcome: Outcome::Success,
                detail: json!({"complaints": ids, "revision": published.number, "comment": comment}),
            };
            let records = vec![record];
            self.commit_audited(audited, &actor.audit_ctx(), &records, now)
                .await?;
        }
        self.analytics.forget_target("resource", &c.resource_id);
        self.complaint(id).await
    }

    /// Decides a complaint: `restore` the taken-down revision (recorded as a technical
    /// re-review), `retire` the resource (its objects removed through `janitor`), or `dismiss`.
    pub async fn resolve_complaint(
        &self,
        actor: &Actor,
        id: &str,
        decision: ComplaintDecision,
        janitor: &dyn MediaJanitor,
        now: i64,
    ) -> ControlResult<Complaint> {
        actor.require(Action::HandleComplaints, &Scope::out_of_scope())?;
        let c = self.complaint(id).await?;
        let next = flow::next(c.status, decision.decision).map_err(refused)?;
        if decision.decision == ComplaintAction::TakeDown {
            return Err(ControlError::invalid(
                "下线请使用 take-down 操作",
                "use take-down to take a resource offline",
            ));
        }
        flow::check_comment(&decision.comment).map_err(refused)?;
        let comment = decision.comment.trim().to_owned();
        match next {
            ComplaintStatus::Restored => self.restore(actor, &c, &comment, now).await?,
            ComplaintStatus::Retired => {
                self.retire_for_complaint(actor, &c, &comment, janitor, now)
                    .await?
            }
            _ => {
                let (cid, handler) = (c.id.clone(), actor.user_id.clone());
                {
                    let mut audited = self.begin_audited().await?;
                    let tx = &mut audited.tx;
                    let n = sqlx::query(
                        "UPDATE complaints SET status = 'dismissed', handler_id = $1, \
                         outcome_comment = $2, resolved_at = $3, updated_at = $3 \
                         WHERE id = $4 AND status = 'open'",
                    )
                    .bind(handler.clone())
                    .bind(comment.clone())
                    .bind(now)
                    .bind(cid.clone())
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                    if n != 1 {
                        return Err(ControlError::conflict(
                            "投诉状态已被他人改变，请刷新",
                            "the complaint changed meanwhile; reload",
                        ));
                    }
                    let record = AuditAppend {
                        action: "complaint.dismiss".into(),
                        target: format!("complaint:{cid}"),
                        outcome: Outcome::Success,
                        detail: json!({"comment": comment}),
                    };
                    let records = vec![record];
                    self.commit_audited(audited, &actor.audit_ctx(), &records, now)
                        .await?;
                }
            }
        }
        self.complaint(id).await
    }

    async fn restore(
        &self,
        actor: &Actor,
        c: &Complaint,
        comment: &str,
        now: i64,
    ) -> ControlResult<()> {
        let row = self.resource_row(&c.resource_id).await?;
        let rev_id = c.revision_id.clone().ok_or(ControlError::Internal(
            "a taken-down complaint without its revision".into(),
        ))?;
        let revision = self.revision(&rev_id).await?;
        let retired: Option<i64> =
            sqlx::query_scalar("SELECT retired_at FROM resources WHERE id = $1")
                .bind(c.resource_id.clone())
                .fetch_one(self.db.pool())
                .await?;
        flow::restorable(
            revision.state,
            row.published_revision_id.is_some(),
            retired.is_some(),
        )
        .map_err(refused)?;
        let reviewer = self.user(&actor.user_id).await?.display_name;
        let (rid, handler) = (c.resource_id.clone(), actor.user_id.clone());
        let review_comment = format!("投诉复审 / complaint re-review: {comment}");
        {
            let mut audited = self.begin_audited().await?;
            let tx = &mut audited.tx;
            let back = sqlx::query(
                "UPDATE resource_revisions SET state = 'published', updated_at = $1 \
                 WHERE id = $2 AND state = 'withdrawn'",
            )
            .bind(now)
            .bind(rev_id.clone())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let online = sqlx::query(
                "UPDATE resources SET published_revision_id = $1 \
                 WHERE id = $2 AND published_revision_id IS NULL AND retired_at IS NULL",
            )
            .bind(rev_id.clone())
            .bind(rid.clone())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if back != 1 || online != 1 {
                return Err(ControlError::conflict(
                    "资源状态已被他人改变，请刷新",
                    "the resource changed meanwhile; reload",
                ));
            }
            sqlx::query(
                "INSERT INTO review_records (id, resource_id, revision_id, level, decision, \
                 reviewer_id, reviewer_name, reviewer_role, comment, qc_report, decided_at) \
                 VALUES ($1, $2, $3, 'technical', 'approve', $4, $5, 'centre_reviewer', $6, NULL, $7)",
            )
            .bind(new_id())
            .bind(rid.clone())
            .bind(rev_id.clone())
            .bind(handler.clone())
            .bind(reviewer.clone())
            .bind(review_comment.clone())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let ids = set_status(
                tx,
                &rid,
                &["taken_down"],
                ComplaintStatus::Restored,
                &handler,
                comment,
                None,
                now,
            )
            .await?;
            let record = AuditAppend {
                action: "complaint.restore".into(),
                target: format!("resource:{rid}"),
                outcome: Outcome::Success,
                detail: json!({"complaints": ids, "revision": revision.number, "comment": comment}),
            };
            let records = vec![record];
            self.commit_audited(audited, &actor.audit_ctx(), &records, now)
                .await?;
        }
        self.analytics.forget_target("resource", &c.resource_id);
        Ok(())
    }

    async fn retire_for_complaint(
        &self,
        actor: &Actor,
        c: &Complaint,
        comment: &str,
        janitor: &dyn MediaJanitor,
        now: i64,
    ) -> ControlResult<()> {
        let view = self.resource(&c.resource_id).await?;
        let published = view.published.as_ref().map(|p| (p.id.clone(), p.number));
        let (rid, handler) = (c.resource_id.clone(), actor.user_id.clone());
        {
            let mut audited = self.begin_audited().await?;
            let tx = &mut audited.tx;
            retire_in(
                tx,
                &rid,
                published.as_ref().map(|p| p.0.as_str()),
                RetireReason::Complaint,
                now,
            )
            .await?;
            let ids = set_status(
                tx,
                &rid,
                &["open", "taken_down"],
                ComplaintStatus::Retired,
                &handler,
                comment,
                None,
                now,
            )
            .await?;
            let complaint = AuditAppend {
                action: "complaint.retire".into(),
                target: format!("resource:{rid}"),
                outcome: Outcome::Success,
                detail: json!({"complaints": ids, "comment": comment}),
            };
            let retire = retire_record(
                &rid,
                published.as_ref().map(|p| p.1),
                RetireReason::Complaint,
                json!({"complaints": ids}),
            );
            let records = vec![complaint, retire];
            self.commit_audited(audited, &actor.audit_ctx(), &records, now)
                .await?;
        }
        self.remove_retired_objects(&actor.audit_ctx(), &c.resource_id, janitor, now)
            .await?;
        Ok(())
    }
}

/// Moves every complaint of `resource_id` in one of `from` to `to` with the reviewer's words;
/// returns their ids.
#[allow(clippy::too_many_arguments)]
async fn set_status(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    resource_id: &str,
    from: &[&str],
    to: ComplaintStatus,
    handler: &str,
    comment: &str,
    revision: Option<&str>,
    now: i64,
) -> ControlResult<Vec<String>> {
    let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 2)).collect();
    let list = placeholders.join(", ");
    let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM complaints WHERE resource_id = $1 AND status IN ({list}) ORDER BY id"
    )))
    .bind(resource_id.to_owned());
    for f in from {
        q = q.bind((*f).to_owned());
    }
    let ids = q.fetch_all(&mut **tx).await?;
    let resolved = (!to.is_unresolved()).then_some(now);
    let taken_down = (to == ComplaintStatus::TakenDown).then_some(now);
    for id in &ids {
        sqlx::query(
            "UPDATE complaints SET status = $1, handler_id = $2, outcome_comment = $3, \
             updated_at = $4, resolved_at = COALESCE($5, resolved_at), \
             taken_down_at = COALESCE($6, taken_down_at), revision_id = COALESCE($7, revision_id) \
             WHERE id = $8",
        )
        .bind(to.as_str())
        .bind(handler.to_owned())
        .bind(comment.to_owned())
        .bind(now)
        .bind(resolved)
        .bind(taken_down)
        .bind(revision.map(str::to_owned))
        .bind(id.clone())
        .execute(&mut **tx)
        .await?;
    }
    Ok(ids)
}
