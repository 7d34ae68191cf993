//! Resources (数字教育资源) and their revisions: Table 1 and Table 2 metadata, media reference,
//! processing status and probe/QC report. A change to a published resource opens a new
//! revision that goes through review while the published one stays online. This module also
//! holds the entry points the upload/recording pipeline calls ([`ControlPlane::create_resource_for`],
//! [`ControlPlane::attach_media`]).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::Outcome;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, AuditCtx, ControlPlane, Page, PageRequest, new_id};
use crate::policy::{Action, Scope};
use crate::review_flow::RevisionState;

/// Openness of a resource (Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Openness {
    /// 全网公开.
    #[default]
    Public,
    /// 非公开: only its audience.
    NonPublic,
}

/// Resource type (Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// 视频.
    #[default]
    Video,
    /// 音频.
    Audio,
    /// 图片.
    Image,
    /// 文档.
    Document,
    /// 其他.
    Other,
}

/// Processing status of a revision's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingStatus {
    /// No media attached (metadata only, e.g. a source link).
    #[default]
    None,
    /// Uploaded, waiting for processing.
    Pending,
    /// Being probed/transcoded.
    Processing,
    /// Processed and playable.
    Ready,
    /// Processing failed.
    Failed,
}

impl Openness {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Openness::Public => "public",
            Openness::NonPublic => "non_public",
        }
    }
}

impl ResourceType {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Video => "video",
            ResourceType::Audio => "audio",
            ResourceType::Image => "image",
            ResourceType::Document => "document",
            ResourceType::Other => "other",
        }
    }
}

impl ProcessingStatus {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingStatus::None => "none",
            ProcessingStatus::Pending => "pending",
            ProcessingStatus::Processing => "processing",
            ProcessingStatus::Ready => "ready",
            ProcessingStatus::Failed => "failed",
        }
    }
}

fn parse_text<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or_default()
}

/// The descriptive metadata of a resource (Table 1 and Table 2 fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ResourceMetadata {
    /// 项目名称.
    pub project_name: String,
    /// 承办单位.
    pub undertaking_unit: String,
    /// 资源名称 (required).
    pub name: String,
    /// 主讲人 (required).
    pub lecturer_name: String,
    /// 主讲人单位 (required).
    pub lecturer_unit: String,
    /// 职称.
    pub lecturer_title: String,
    /// 内容简介 (goals, key points).
    pub summary: String,
    /// 学时 (required, ≥ 0).
    pub credit_hours: f64,
    /// 开放范围.
    pub openness: Openness,
    /// The audience of a non-public resource.
    pub audience_id: Option<String>,
    /// 资源类型.
    pub resource_type: ResourceType,
    /// 一级分类.
    pub category1: Option<String>,
    /// 二级分类 (needs a level 1).
    pub category2: Option<String>,
    /// 序号 (display order, ≥ 0).
    pub display_order: i64,
    /// 资源来源地址 (e.g. a cloud-drive link).
    pub source_url: Option<String>,
}

impl ResourceMetadata {
    /// Checks the required fields and their ranges (pure).
    pub fn validate(&self) -> ControlResult<()> {
        let required = [
            (&self.name, "资源名称", "name"),
            (&self.lecturer_name, "主讲人", "lecturer_name"),
            (&self.lecturer_unit, "工作单位", "lecturer_unit"),
        ];
        for (value, zh, en) in required {
            if value.trim().is_empty() {
                return Err(ControlError::invalid(
                    format!("{zh}不能为空"),
                    format!("{en} is required"),
                ));
            }
        }
        if !(0.0..=1000.0).contains(&self.credit_hours) || self.credit_hours.is_nan() {
            return Err(ControlError::invalid(
                "学时须在 0 到 1000 之间",
                "credit_hours must be between 0 and 1000",
            ));
        }
        if self.display_order < 0 {
            return Err(ControlError::invalid(
                "序号不能为负数",
                "display_order must not be negative",
            ));
        }
        if self.openness == Openness::NonPublic && self.audience_id.is_none() {
            return Err(ControlError::invalid(
                "非公开资源须指定受众",
                "a non-public resource needs an audience",
            ));
        }
        if self.category2.is_some() && self.category1.is_none() {
            return Err(ControlError::invalid(
                "二级分类须有一级分类",
                "category2 needs category1",
            ));
        }
        Ok(())
    }
}

/// One revision of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    /// Id.
    pub id: String,
    /// 1, 2, … per resource.
    pub number: i64,
    /// Review state.
    pub state: RevisionState,
    /// Metadata.
    pub metadata: ResourceMetadata,
    /// Reference to the media (object key or path), if any.
    pub media_ref: Option<String>,
    /// Media processing status.
    pub processing_status: ProcessingStatus,
    /// Probe/QC report (JSON), if any.
    pub qc_report: Option<serde_json::Value>,
    /// Creation (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A resource with its published and latest revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceView {
    /// Id.
    pub id: String,
    /// Owning department.
    pub department_id: String,
    /// The producer.
    pub owner_id: String,
    /// Creation (ms).
    pub created_at: i64,
    /// The revision online, if any.
    pub published: Option<Revision>,
    /// The newest revision (the one under work or review; equal to `published` when nothing
    /// is pending).
    pub latest: Revision,
}

/// Media facts from the upload/transcode pipeline.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct MediaUpdate {
    /// Reference to the media; `None` keeps the current one.
    #[serde(default)]
    pub media_ref: Option<String>,
    /// New processing status.
    pub processing_status: ProcessingStatus,
    /// Probe/QC report; `None` keeps the current one.
    #[serde(default)]
    pub qc_report: Option<serde_json::Value>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ResourceRow {
    pub(crate) id: String,
    pub(crate) department_id: String,
    pub(crate) owner_id: String,
    pub(crate) published_revision_id: Option<String>,
    pub(crate) latest_revision_id: Option<String>,
    pub(crate) created_at: i64,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RevisionRow {
    id: String,
    number: i64,
    state: String,
    project_name: String,
    undertaking_unit: String,
    name: String,
    lecturer_name: String,
    lecturer_unit: String,
    lecturer_title: String,
    summary: String,
    credit_hours: f64,
    openness: String,
    audience_id: Option<String>,
    resource_type: String,
    category1: Option<String>,
    category2: Option<String>,
    display_order: i64,
    source_url: Option<String>,
    media_ref: Option<String>,
    processing_status: String,
    qc_report: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl RevisionRow {
    pub(crate) fn into_revision(self) -> Revision {
        Revision {
            id: self.id,
            number: self.number,
            state: self.state.parse().unwrap_or(RevisionState::Draft),
            metadata: ResourceMetadata {
                project_name: self.project_name,
                undertaking_unit: self.undertaking_unit,
                name: self.name,
                lecturer_name: self.lecturer_name,
                lecturer_unit: self.lecturer_unit,
                lecturer_title: self.lecturer_title,
                summary: self.summary,
                credit_hours: self.credit_hours,
                openness: parse_text(&self.openness),
                audience_id: self.audience_id,
                resource_type: parse_text(&self.resource_type),
                category1: self.category1,
                category2: self.category2,
                display_order: self.display_order,
                source_url: self.source_url,
            },
            media_ref: self.media_ref,
            processing_status: parse_text(&self.processing_status),
            qc_report: self.qc_report.and_then(|t| serde_json::from_str(&t).ok()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const REVISION_COLUMNS: &str = "id, number, state, project_name, undertaking_unit, name, lecturer_name, \
    lecturer_unit, lecturer_title, summary, credit_hours, openness, audience_id, resource_type, \
    category1, category2, display_order, source_url, media_ref, processing_status, qc_report, \
    created_at, updated_at";

/// Merges a JSON object of changed fields onto metadata (pure).
pub fn merge_metadata(
    current: &ResourceMetadata,
    changes: &serde_json::Value,
) -> ControlResult<ResourceMetadata> {
    let mut value =
        serde_json::to_value(current).map_err(|e| ControlError::Internal(e.to_string()))?;
    let (Some(target), Some(changes)) = (value.as_object_mut(), changes.as_object()) else {
        return Err(ControlError::invalid(
            "metadata 须为对象",
            "metadata must be an object",
        ));
    };
    for (k, v) in changes {
        target.insert(k.clone(), v.clone());
    }
    serde_json::from_value(value).map_err(|e| {
        ControlError::invalid(format!("元数据无效：{e}"), format!("invalid metadata: {e}"))
    })
}

impl ControlPlane {
    pub(crate) async fn resource_row(&self, id: &str) -> ControlResult<ResourceRow> {
        sqlx::query_as(
            "SELECT id, department_id, owner_id, published_revision_id, latest_revision_id, created_at \
             FROM resources WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::NotFound("resource"))
    }

    pub(crate) async fn revision(&self, id: &str) -> ControlResult<Revision> {
        let row: RevisionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REVISION_COLUMNS} FROM resource_revisions WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::NotFound("resource"))?;
        Ok(row.into_revision())
    }

    pub(crate) async fn view_of(&self, row: &ResourceRow) -> ControlResult<ResourceView> {
        let latest_id = row
            .latest_revision_id
            .as_deref()
            .ok_or(ControlError::NotFound("resource"))?;
        let latest = self.revision(latest_id).await?;
        let published = match row.published_revision_id.as_deref() {
            Some(id) if id == latest.id => Some(latest.clone()),
            Some(id) => Some(self.revision(id).await?),
            None => None,
        };
        Ok(ResourceView {
            id: row.id.clone(),
            department_id: row.department_id.clone(),
            owner_id: row.owner_id.clone(),
            created_at: row.created_at,
            published,
            latest,
        })
    }

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

    async fn check_metadata(&self, metadata: &ResourceMetadata) -> ControlResult<()> {
        metadata.validate()?;
        if let Some(a) = &metadata.audience_id {
            self.audience(a).await?;
        }
        Ok(())
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

    /// Creates a draft resource owned by `owner_id` on behalf of the upload or recording
    /// pipeline (no caller permission check: the pipeline authenticated the owner already).
    pub async fn create_resource_for(
        &self,
        owner_id: &str,
        department_id: &str,
        metadata: ResourceMetadata,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.department(department_id).await?;
        self.user(owner_id).await?;
        self.insert_resource(
            &AuditCtx::service("pipeline", "local"),
            owner_id,
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
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO resources (id, department_id, owner_id, latest_revision_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.clone())
        .bind(department_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(revision_id.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_revision(
            &mut tx,
            &revision_id,
            &id,
            1,
            &metadata,
            None,
            ProcessingStatus::None,
            None,
            now,
        )
        .await?;
        tx.commit().await?;
        let detail =
            json!({"name": metadata.name, "department_id": department_id, "owner_id": owner_id});
        self.audit(
            ctx,
            "resource.create",
            &format!("resource:{id}"),
            Outcome::Success,
            detail,
            now,
        )
        .await?;
        self.resource(&id).await
    }

    /// The revision a change should go to: the latest if editable; a new draft copied from the
    /// latest if that one is published or withdrawn; a conflict while under review.
    async fn working_revision(&self, row: &ResourceRow, now: i64) -> ControlResult<Revision> {
        let view = self.view_of(row).await?;
        let latest = view.latest;
        if latest.state.is_editable() {
            return Ok(latest);
        }
        if latest.state.is_in_review() {
            return Err(ControlError::conflict(
                "该资源的修订正在审核中，审核结束前不能修改",
                "a revision of this resource is under review; it cannot change until the review ends",
            ));
        }
        let revision_id = new_id();
        let mut tx = self.db.pool().begin().await?;
        insert_revision(
            &mut tx,
            &revision_id,
            &row.id,
            latest.number + 1,
            &latest.metadata,
            latest.media_ref.as_deref(),
            latest.processing_status,
            latest.qc_report.as_ref(),
            now,
        )
        .await?;
        sqlx::query("UPDATE resources SET latest_revision_id = $1 WHERE id = $2")
            .bind(revision_id.clone())
            .bind(row.id.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.revision(&revision_id).await
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
        let revision = self.working_revision(&row, now).await?;
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
        .execute(self.db.pool())
        .await?;
        let detail = json!({"revision": revision.number, "fields": changes.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())});
        self.audit(
            &actor.audit_ctx(),
            "resource.update",
            &format!("resource:{id}"),
            Outcome::Success,
            detail,
            now,
        )
        .await?;
        self.resource(id).await
    }

    /// Attaches media facts (reference, processing status, QC report) to the working revision
    /// on behalf of the pipeline. A new file on a published resource opens a new revision.
    pub async fn attach_media(
        &self,
        id: &str,
        update: MediaUpdate,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.attach_media_as(&AuditCtx::service("pipeline", "local"), id, update, now)
            .await
    }

    /// [`ControlPlane::attach_media`] for an API caller (needs `EditResource`).
    pub async fn attach_media_for(
        &self,
        actor: &Actor,
        id: &str,
        update: MediaUpdate,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(id).await?;
        actor.require(
            Action::EditResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        self.attach_media_as(&actor.audit_ctx(), id, update, now)
            .await
    }

    async fn attach_media_as(
        &self,
        ctx: &AuditCtx,
        id: &str,
        update: MediaUpdate,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(id).await?;
        let revision = self.working_revision(&row, now).await?;
        let media_ref = update.media_ref.clone().or(revision.media_ref.clone());
        let qc = update
            .qc_report
            .clone()
            .or(revision.qc_report.clone())
            .map(|v| v.to_string());
        sqlx::query(
            "UPDATE resource_revisions SET media_ref = $1, processing_status = $2, qc_report = $3, \
             state = 'draft', updated_at = $4 WHERE id = $5",
        )
        .bind(media_ref.clone())
        .bind(update.processing_status.as_str())
        .bind(qc)
        .bind(now)
        .bind(revision.id.clone())
        .execute(self.db.pool())
        .await?;
        let detail = json!({"revision": revision.number, "processing_status": update.processing_status, "media_ref": media_ref});
        self.audit(
            ctx,
            "resource.media",
            &format!("resource:{id}"),
            Outcome::Success,
            detail,
            now,
        )
        .await?;
        self.resource(id).await
    }

    /// Deletes a resource (soft: records and reviews are kept for the audit trail).
    pub async fn delete_resource(&self, actor: &Actor, id: &str, now: i64) -> ControlResult<()> {
        let row = self.resource_row(id).await?;
        actor.require(
            Action::DeleteResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        sqlx::query("UPDATE resources SET deleted_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.to_owned())
            .execute(self.db.pool())
            .await?;
        self.audit(
            &actor.audit_ctx(),
            "resource.delete",
            &format!("resource:{id}"),
            Outcome::Success,
            json!({}),
            now,
        )
        .await
    }

    /// Resources `actor` may manage: everything for platform-wide readers, the department for
    /// department reviewers and admins, their own for producers. Optional state filter (of the
    /// latest revision).
    pub async fn list_resources(
        &self,
        actor: &Actor,
        state: Option<RevisionState>,
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
            AND ($2 IS NULL OR r.owner_id = $2) AND ($3 IS NULL OR v.state = $3)";
        let state = state.map(|s| s.as_str().to_owned());
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM resources r JOIN resource_revisions v ON v.id = r.latest_revision_id WHERE {FILTER}"
        )))
        .bind(dept.clone())
        .bind(owner.clone())
        .bind(state.clone())
        .fetch_one(self.db.pool())
        .await?;
        let rows: Vec<ResourceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.id, r.department_id, r.owner_id, r.published_revision_id, r.latest_revision_id, r.created_at \
             FROM resources r JOIN resource_revisions v ON v.id = r.latest_revision_id WHERE {FILTER} \
             ORDER BY v.display_order, r.created_at, r.id LIMIT $4 OFFSET $5"
        )))
        .bind(dept)
        .bind(owner)
        .bind(state)
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
}

#[allow(clippy::too_many_arguments)]
async fn insert_revision(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    resource_id: &str,
    number: i64,
    m: &ResourceMetadata,
    media_ref: Option<&str>,
    status: ProcessingStatus,
    qc_report: Option<&serde_json::Value>,
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "INSERT INTO resource_revisions (id, resource_id, number, state, project_name, undertaking_unit, \
         name, lecturer_name, lecturer_unit, lecturer_title, summary, credit_hours, openness, audience_id, \
         resource_type, category1, category2, display_order, source_url, media_ref, processing_status, \
         qc_report, created_at, updated_at) VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)",
    )
    .bind(id.to_owned())
    .bind(resource_id.to_owned())
    .bind(number)
    .bind(m.project_name.clone())
    .bind(m.undertaking_unit.clone())
    .bind(m.name.clone())
    .bind(m.lecturer_name.clone())
    .bind(m.lecturer_unit.clone())
    .bind(m.lecturer_title.clone())
    .bind(m.summary.clone())
    .bind(m.credit_hours)
    .bind(m.openness.as_str())
    .bind(m.audience_id.clone())
    .bind(m.resource_type.as_str())
    .bind(m.category1.clone())
    .bind(m.category2.clone())
    .bind(m.display_order)
    .bind(m.source_url.clone())
    .bind(media_ref.map(str::to_owned))
    .bind(status.as_str())
    .bind(qc_report.map(|v| v.to_string()))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResourceMetadata {
        ResourceMetadata {
            name: "全景式认识中国式现代化".into(),
            lecturer_name: "宋薇".into(),
            lecturer_unit: "北京市清华大学附属中学".into(),
            credit_hours: 4.0,
            display_order: 1,
            ..Default::default()
        }
    }

    #[test]
    fn table_two_required_fields_are_enforced() {
        assert!(sample().validate().is_ok());
        let mut m = sample();
        m.lecturer_unit = " ".into();
        assert!(m.validate().is_err());
        let mut m = sample();
        m.openness = Openness::NonPublic;
        assert!(m.validate().is_err(), "non-public needs an audience");
        let mut m = sample();
        m.category2 = Some("政治与历史".into());
        assert!(m.validate().is_err(), "level 2 needs level 1");
    }

    #[test]
    fn merging_changes_keeps_other_fields() {
        let merged = merge_metadata(
            &sample(),
            &json!({"credit_hours": 2.5, "category1": "名师课改示范课"}),
        )
        .expect("merge");
        assert_eq!(merged.credit_hours, 2.5);
        assert_eq!(merged.name, "全景式认识中国式现代化");
        assert!(merge_metadata(&sample(), &json!({"openness": "secret"})).is_err());
    }
}
