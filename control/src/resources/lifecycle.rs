//! Creating, reading, changing, listing, counting and deleting resources (the API side).

use serde_json::json;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, AuditCtx, ControlPlane, Page, PageRequest, new_id};
use crate::policy::{Action, Scope};
use crate::resources::janitor::{MediaJanitor, StoredMedia};
use crate::resources::processing::{MediaState, ProcessingStatus};
use crate::resources::store::{NewRevision, ResourceRow, insert_revision};
use crate::resources::{ResourceMetadata, ResourceView, RevisionState, merge_metadata};

/// What a resource list is narrowed to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceFilter {
    /// Review state of the latest revision.
    pub state: Option<RevisionState>,
    /// Stored processing status of the latest revision.
    pub processing: Option<ProcessingStatus>,
}

impl ControlPlane {
    /// Reads a resource without a permission check (in-process callers).
    pub async fn resource(&self, id: &str) -> ControlResult<ResourceView> {
        self.view_of(&self.resource_row(id).await?).await
    }

    /// Reads a resource for `actor` (needs `ReadResource` in scope).
    pub async fn resource_for(&self, actor: &Actor, id: &str) -> ControlResult<ResourceView> {
        let row = self.resource_row(id).await?;
        actor.require(
            Action::ReadResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        self.view_of(&row).await
    }

    /// Creates a draft resource owned by `actor` in `department_id`.
    pub async fn create_resource(
        &self,
        actor: &Actor,
        department_id: &str,
        metadata: ResourceMetadata,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.department(department_id).await?;
        actor.require(
            Action::CreateResource,
            &actor.scope_of(Some(department_id), None),
        )?;
        self.insert_resource(
            &actor.audit_ctx(),
            &actor.user_id,
            department_id,
            metadata,
            now,
        )
        .await
    }

    pub(crate) async fn insert_resource(
        &self,
        ctx: &AuditCtx,
        owner_id: &str,
        department_id: &str,
        metadata: ResourceMetadata,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.check_metadata(&metadata).await?;
        let id = new_id();
        let revision_id = new_id();
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO resources (id, department_id, owner_id, latest_revision_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.clone())
        .bind(department_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(revision_id.clone())
        .bind(now)
        .execute(tx.conn())
        .await?;
        let revision = NewRevision {
            id: &revision_id,
            resource_id: &id,
            number: 1,
            metadata: &metadata,
            media: &MediaState::default(),
            captions: &[],
        };
        insert_revision(tx.conn(), revision, now).await?;
        let detail =
            json!({"name": metadata.name, "department_id": department_id, "owner_id": owner_id});
        let record = AuditAppend::success("resource.create", format!("resource:{id}"), detail);
        self.commit_audited(tx, ctx, &[record], now).await?;
        self.resource(&id).await
    }

    /// Changes metadata (a JSON object of changed fields). On a published resource this opens
    /// a new revision; the published one stays online until the new one is published.
    pub async fn update_metadata(
        &self,
        actor: &Actor,
        id: &str,
        changes: &serde_json::Value,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(id).await?;
        actor.require(
            Action::EditResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        let current = self.view_of(&row).await?.latest.metadata;
        let metadata = merge_metadata(&current, changes)?;
        self.check_metadata(&metadata).await?;
        let mut tx = self.begin_audited().await?;
        let revision = self.working_revision(tx.conn(), &row, now).await?;
        sqlx::query(
            "UPDATE resource_revisions SET project_name = $1, undertaking_unit = $2, name = $3, \
             lecturer_name = $4, lecturer_unit = $5, lecturer_title = $6, summary = $7, \
             credit_hours = $8, openness = $9, audience_id = $10, resource_type = $11, category1 = $12, \
             category2 = $13, display_order = $14, source_url = $15, state = 'draft', updated_at = $16 \
             WHERE id = $17",
        )
        .bind(metadata.project_name.clone())
        .bind(metadata.undertaking_unit.clone())
        .bind(metadata.name.clone())
        .bind(metadata.lecturer_name.clone())
        .bind(metadata.lecturer_unit.clone())
        .bind(metadata.lecturer_title.clone())
        .bind(metadata.summary.clone())
        .bind(metadata.credit_hours)
        .bind(metadata.openness.as_str())
        .bind(metadata.audience_id.clone())
        .bind(metadata.resource_type.as_str())
        .bind(metadata.category1.clone())
        .bind(metadata.category2.clone())
        .bind(metadata.display_order)
        .bind(metadata.source_url.clone())
        .bind(now)
        .bind(revision.id.clone())
        .execute(tx.conn())
        .await?;
        let detail = json!({"revision": revision.number, "fields": changes.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())});
        let record = AuditAppend::success("resource.update", format!("resource:{id}"), detail);
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.resource(id).await
    }

    /// Deletes a resource: cancels its jobs, has `janitor` remove its stored objects (source
    /// files, ladders, posters, storyboards of every revision), then deletes it (soft: records
    /// and reviews are kept for the audit trail). When the removal fails the resource stays
    /// (its jobs stay cancelled) and the error is returned, so that the delete can be retried.
    pub async fn delete_resource(
        &self,
        actor: &Actor,
        id: &str,
        janitor: &dyn MediaJanitor,
        now: i64,
    ) -> ControlResult<()> {
        let row = self.resource_row(id).await?;
        let target = format!("resource:{id}");
        actor.require(
            Action::DeleteResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        let cancelled = self.cancel_jobs_for_resource(id, now).await?;
        let stored = StoredMedia::of(&self.revisions_of(id).await?);
        if !stored.is_empty()
            && let Err(e) = janitor.remove_media(id, &stored).await
        {
            tracing::error!(resource = %id, error = %e, "removing stored media failed");
            self.audit(
                &actor.audit_ctx(),
                "resource.delete",
                &target,
                Outcome::Failure,
                json!({"cancelled_jobs": cancelled, "error": "storage cleanup failed"}),
                now,
            )
            .await?;
            return Err(ControlError::Internal(format!(
                "removing the stored media of resource {id} failed: {e}"
            )));
        }
        sqlx::query("UPDATE resources SET deleted_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.to_owned())
            .execute(self.db.pool())
            .await?;
        self.audit(
            &actor.audit_ctx(),
            "resource.delete",
            &target,
            Outcome::Success,
            json!({"cancelled_jobs": cancelled, "removed": stored}),
            now,
        )
        .await
    }

    /// Resources `actor` may manage: everything for platform-wide readers, the department for
    /// department reviewers and admins, their own for producers; narrowed by `filter`.
    pub async fn list_resources(
        &self,
        actor: &Actor,
        filter: ResourceFilter,
        page: PageRequest,
    ) -> ControlResult<Page<ResourceView>> {
        let (dept, owner) = if actor
            .decide(Action::ReadResource, &Scope::out_of_scope())
            .allowed
        {
            (None, None)
        } else if actor
            .decide(
                Action::ReadResource,
                &actor.scope_of(actor.department_id.as_deref(), None),
            )
            .allowed
        {
            (actor.department_id.clone(), None)
        } else {
            (None, Some(actor.user_id.clone()))
        };
        const FILTER: &str = "r.deleted_at IS NULL AND ($1 IS NULL OR r.department_id = $1) \
            AND ($2 IS NULL OR r.owner_id = $2) AND ($3 IS NULL OR v.state = $3) \
            AND ($4 IS NULL OR v.processing_status = $4)";
        let state = filter.state.map(|s| s.as_str().to_owned());
        let processing = filter.processing.map(|p| p.as_str().to_owned());
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM resources r JOIN resource_revisions v ON v.id = r.latest_revision_id WHERE {FILTER}"
        )))
        .bind(dept.clone())
        .bind(owner.clone())
        .bind(state.clone())
        .bind(processing.clone())
        .fetch_one(self.db.pool())
        .await?;
        let rows: Vec<ResourceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.id, r.department_id, r.owner_id, r.published_revision_id, r.latest_revision_id, r.created_at \
             FROM resources r JOIN resource_revisions v ON v.id = r.latest_revision_id WHERE {FILTER} \
             ORDER BY v.display_order, r.created_at, r.id LIMIT $5 OFFSET $6"
        )))
        .bind(dept)
        .bind(owner)
        .bind(state)
        .bind(processing)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(self.view_of(row).await?);
        }
        Ok(Page::new(page, items, total))
    }

    /// How many (not deleted) resources have their latest revision in each processing status
    /// (every status listed, zeros included), for metrics. This counts the recorded status;
    /// the API view also corrects it from the job's state.
    pub async fn resource_counts_by_processing_status(
        &self,
    ) -> ControlResult<Vec<(ProcessingStatus, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT v.processing_status, COUNT(*) FROM resources r \
             JOIN resource_revisions v ON v.id = r.latest_revision_id \
             WHERE r.deleted_at IS NULL GROUP BY v.processing_status",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut counts: Vec<(ProcessingStatus, i64)> =
            ProcessingStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for (status, n) in rows {
            if let Some(entry) = ProcessingStatus::parse(&status)
                .and_then(|s| counts.iter_mut().find(|(c, _)| *c == s))
            {
                entry.1 += n;
            }
        }
        Ok(counts)
    }
}
