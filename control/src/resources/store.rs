//! Rows of `resources` and `resource_revisions` and the reads and writes every resource
//! operation shares: loading a resource with its revisions and processing view, and opening
//! the revision a change goes to.

use crate::error::{ControlError, ControlResult};
use crate::plane::{ControlPlane, new_id};
use crate::resources::captions::{CaptionTrack, captions_from_json, captions_to_json};
use crate::resources::processing::{self, MediaState, ProcessingStatus};
use crate::resources::{ResourceMetadata, ResourceView, Revision, RevisionState, parse_text};

fn from_json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// JSON text of an optional value.
pub(crate) fn to_json<T: serde::Serialize>(value: Option<&T>) -> Option<String> {
    value.and_then(|v| serde_json::to_string(v).ok())
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
    processing_job_id: Option<String>,
    probe_report: Option<String>,
    validation: Option<String>,
    renditions: Option<String>,
    ladder_prefix: Option<String>,
    poster_key: Option<String>,
    storyboard_key: Option<String>,
    processing_error: Option<String>,
    captions: Option<String>,
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
            media: MediaState {
                media_ref: self.media_ref,
                processing_status: ProcessingStatus::parse(&self.processing_status)
                    .unwrap_or_default(),
                qc_report: from_json(self.qc_report),
                processing_job_id: self.processing_job_id,
                probe_report: from_json(self.probe_report),
                validation: from_json(self.validation),
                renditions: from_json(self.renditions),
                ladder_prefix: self.ladder_prefix,
                poster_key: self.poster_key,
                storyboard_key: self.storyboard_key,
                processing_error: from_json(self.processing_error),
            },
            captions: captions_from_json(self.captions.as_deref()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const REVISION_COLUMNS: &str = "id, number, state, project_name, undertaking_unit, name, lecturer_name, \
    lecturer_unit, lecturer_title, summary, credit_hours, openness, audience_id, resource_type, \
    category1, category2, display_order, source_url, media_ref, processing_status, qc_report, \
    processing_job_id, probe_report, validation, renditions, ladder_prefix, poster_key, \
    storyboard_key, processing_error, captions, created_at, updated_at";

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
        let mut conn = self.db.pool().acquire().await?;
        revision_in(&mut conn, id).await
    }

    /// The revision of a resource whose processing waits for `job_id`, if any.
    pub(crate) async fn revision_for_job(
        &self,
        resource_id: &str,
        job_id: &str,
    ) -> ControlResult<Option<Revision>> {
        let mut conn = self.db.pool().acquire().await?;
        revision_for_job_in(&mut conn, resource_id, job_id).await
    }

    /// Every revision of a resource, oldest first.
    pub(crate) async fn revisions_of(&self, resource_id: &str) -> ControlResult<Vec<Revision>> {
        let rows: Vec<RevisionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REVISION_COLUMNS} FROM resource_revisions WHERE resource_id = $1 ORDER BY number"
        )))
        .bind(resource_id.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(RevisionRow::into_revision).collect())
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
        let job = match latest.media.processing_job_id.as_deref() {
            Some(job_id) => match self.job(job_id).await {
                Ok(job) => Some(job),
                Err(crate::jobs::JobError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let processing = processing::processing_view(&row.id, &latest.media, job.as_ref());
        Ok(ResourceView {
            id: row.id.clone(),
            department_id: row.department_id.clone(),
            owner_id: row.owner_id.clone(),
            created_at: row.created_at,
            published,
            latest,
            processing,
        })
    }

    pub(crate) async fn check_metadata(&self, metadata: &ResourceMetadata) -> ControlResult<()> {
        metadata.validate()?;
        if let Some(a) = &metadata.audience_id {
            self.audience(a).await?;
        }
        Ok(())
    }

    /// The revision a change should go to: the latest if editable; a new draft copied from the
    /// latest (metadata and media) if that one is published or withdrawn; a conflict while
    /// under review.
    pub(crate) async fn working_revision(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: &ResourceRow,
        now: i64,
    ) -> ControlResult<Revision> {
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
        let revision = NewRevision {
            id: &revision_id,
            resource_id: &row.id,
            number: latest.number + 1,
            metadata: &latest.metadata,
            media: &latest.media,
            captions: &latest.captions,
        };
        insert_revision(conn, revision, now).await?;
        sqlx::query("UPDATE resources SET latest_revision_id = $1 WHERE id = $2")
            .bind(revision_id.clone())
            .bind(row.id.clone())
            .execute(&mut *conn)
            .await?;
        revision_in(conn, &revision_id).await
    }
}

/// Writes the media columns of a revision on `conn`; with `new_state`, also moves its review
/// state.
pub(crate) async fn write_media(
    conn: &mut sqlx::AnyConnection,
    revision_id: &str,
    media: &MediaState,
    new_state: Option<RevisionState>,
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "UPDATE resource_revisions SET media_ref = $1, processing_status = $2, qc_report = $3, \
         processing_job_id = $4, probe_report = $5, validation = $6, renditions = $7, \
         ladder_prefix = $8, poster_key = $9, storyboard_key = $10, processing_error = $11, \
         state = COALESCE($12, state), updated_at = $13 WHERE id = $14",
    )
    .bind(media.media_ref.clone())
    .bind(media.processing_status.as_str())
    .bind(to_json(media.qc_report.as_ref()))
    .bind(media.processing_job_id.clone())
    .bind(to_json(media.probe_report.as_ref()))
    .bind(to_json(media.validation.as_ref()))
    .bind(to_json(media.renditions.as_ref()))
    .bind(media.ladder_prefix.clone())
    .bind(media.poster_key.clone())
    .bind(media.storyboard_key.clone())
    .bind(to_json(media.processing_error.as_ref()))
    .bind(new_state.map(|s| s.as_str().to_owned()))
    .bind(now)
    .bind(revision_id.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A revision by id, read on `conn`.
pub(crate) async fn revision_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> ControlResult<Revision> {
    let row: RevisionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVISION_COLUMNS} FROM resource_revisions WHERE id = $1"
    )))
    .bind(id.to_owned())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ControlError::NotFound("resource"))?;
    Ok(row.into_revision())
}

/// The revision of a resource whose processing waits for `job_id`, if any, read on `conn`.
pub(crate) async fn revision_for_job_in(
    conn: &mut sqlx::AnyConnection,
    resource_id: &str,
    job_id: &str,
) -> ControlResult<Option<Revision>> {
    let row: Option<RevisionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REVISION_COLUMNS} FROM resource_revisions \
         WHERE resource_id = $1 AND processing_job_id = $2 ORDER BY number DESC LIMIT 1"
    )))
    .bind(resource_id.to_owned())
    .bind(job_id.to_owned())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(RevisionRow::into_revision))
}

/// What a new draft revision holds.
pub(crate) struct NewRevision<'a> {
    /// Its id.
    pub id: &'a str,
    /// The resource.
    pub resource_id: &'a str,
    /// 1, 2, … per resource.
    pub number: i64,
    /// Metadata.
    pub metadata: &'a ResourceMetadata,
    /// The media.
    pub media: &'a MediaState,
    /// Caption tracks.
    pub captions: &'a [CaptionTrack],
}

/// Inserts a draft revision.
pub(crate) async fn insert_revision(
    conn: &mut sqlx::AnyConnection,
    revision: NewRevision<'_>,
    now: i64,
) -> ControlResult<()> {
    let NewRevision {
        id,
        resource_id,
        number,
        metadata: m,
        media,
        captions,
    } = revision;
    sqlx::query(
        "INSERT INTO resource_revisions (id, resource_id, number, state, project_name, undertaking_unit, \
         name, lecturer_name, lecturer_unit, lecturer_title, summary, credit_hours, openness, audience_id, \
         resource_type, category1, category2, display_order, source_url, media_ref, processing_status, \
         qc_report, processing_job_id, probe_report, validation, renditions, ladder_prefix, poster_key, \
         storyboard_key, processing_error, captions, created_at, updated_at) VALUES ($1, $2, $3, 'draft', \
         $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, \
         $25, $26, $27, $28, $29, $30, $31, $31)",
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
    .bind(media.media_ref.clone())
    .bind(media.processing_status.as_str())
    .bind(to_json(media.qc_report.as_ref()))
    .bind(media.processing_job_id.clone())
    .bind(to_json(media.probe_report.as_ref()))
    .bind(to_json(media.validation.as_ref()))
    .bind(to_json(media.renditions.as_ref()))
    .bind(media.ladder_prefix.clone())
    .bind(media.poster_key.clone())
    .bind(media.storyboard_key.clone())
    .bind(to_json(media.processing_error.as_ref()))
    .bind(captions_to_json(captions))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
