//! Retiring a resource: it goes offline for good (its published revision is withdrawn), it is
//! marked retired with the reason, and once that is committed its stored objects (source,
//! ladder, poster, storyboard) are removed through the [`MediaJanitor`]. Its metadata, review
//! records and audit records stay. When storage fails, the resource stays retired with its
//! objects recorded as not yet removed, and the next retention run tries again.

use serde_json::json;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{AuditCtx, ControlPlane};
use crate::resources::{MediaJanitor, StoredMedia};

/// Why a resource was retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetireReason {
    /// A complaint's re-review.
    Complaint,
    /// Its retention period ended.
    Expired,
    /// Little used (the low-use report), decided by a reviewer.
    LowUse,
}

impl RetireReason {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            RetireReason::Complaint => "complaint",
            RetireReason::Expired => "expired",
            RetireReason::LowUse => "low_use",
        }
    }
}

/// Inside `tx`: withdraws `published_revision` (when the resource is online) and marks the
/// resource retired. Guarded: a resource that changed meanwhile (published elsewhere, already
/// retired) is a conflict and nothing is written.
pub(crate) async fn retire_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    resource_id: &str,
    published_revision: Option<&str>,
    reason: RetireReason,
    now: i64,
) -> ControlResult<()> {
    let conflict = || {
        ControlError::conflict(
            "资源状态已被他人改变，请刷新",
            "the resource changed meanwhile; reload",
        )
    };
    if let Some(revision) = published_revision {
        let moved = sqlx::query(
            "UPDATE resource_revisions SET state = 'withdrawn', updated_at = $1 \
             WHERE id = $2 AND state = 'published'",
        )
        .bind(now)
        .bind(revision.to_owned())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let offline = sqlx::query(
            "UPDATE resources SET published_revision_id = NULL \
             WHERE id = $1 AND published_revision_id = $2",
        )
        .bind(resource_id.to_owned())
        .bind(revision.to_owned())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved != 1 || offline != 1 {
            return Err(conflict());
        }
    }
    let marked = sqlx::query(
        "UPDATE resources SET retired_at = $1, retire_reason = $2 \
         WHERE id = $3 AND retired_at IS NULL AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(resource_id.to_owned())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if marked != 1 {
        return Err(conflict());
    }
    Ok(())
}

/// The audit record of a retirement.
pub(crate) fn retire_record(
    resource_id: &str,
    revision: Option<i64>,
    reason: RetireReason,
    extra: serde_json::Value,
) -> AuditAppend {
    AuditAppend {
        action: "resource.retire".into(),
        target: format!("resource:{resource_id}"),
        outcome: Outcome::Success,
        detail: json!({"reason": reason, "withdrawn_revision": revision, "detail": extra}),
    }
}

impl ControlPlane {
    /// Removes the stored objects of retired resource `resource_id` (cancelling its jobs
    /// first) and records that they are gone; audited either way. `Ok(false)` when storage
    /// failed: the objects stay recorded as present and a later run tries again.
    pub async fn remove_retired_objects(
        &self,
        ctx: &AuditCtx,
        resource_id: &str,
        janitor: &dyn MediaJanitor,
        now: i64,
    ) -> ControlResult<bool> {
        self.analytics.forget_target("resource", resource_id);
        let cancelled = self.cancel_jobs_for_resource(resource_id, now).await?;
        let stored = StoredMedia::of(&self.revisions_of(resource_id).await?);
        let target = format!("resource:{resource_id}");
        if !stored.is_empty()
            && let Err(e) = janitor.remove_media(resource_id, &stored).await
        {
            tracing::error!(resource = %resource_id, error = %e, "removing a retired resource's objects failed");
            self.audit(
                ctx,
                "resource.retire.objects",
                &target,
                Outcome::Failure,
                json!({"error": "storage cleanup failed", "cancelled_jobs": cancelled}),
                now,
            )
            .await?;
            return Ok(false);
        }
        let id = resource_id.to_owned();
        let record = AuditAppend {
            action: "resource.retire.objects".into(),
            target,
            outcome: Outcome::Success,
            detail: json!({"removed": stored, "cancelled_jobs": cancelled}),
        };
        {
            let mut audited = self.begin_audited().await?;
            let tx = &mut audited.tx;
            sqlx::query("UPDATE resources SET objects_removed_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.clone())
                .execute(&mut **tx)
                .await?;
            let records = vec![record.clone()];
            self.commit_audited(audited, ctx, &records, now).await?;
        }
        Ok(true)
    }
}
