//! The entry points of the upload, import and recording pipeline: who may upload
//! ([`ControlPlane::authorize_upload`]), a draft for the uploader
//! ([`ControlPlane::create_resource_for`]), a file and its processing job
//! ([`ControlPlane::start_processing`]), what the job learns and produces
//! ([`ControlPlane::record_processing`]); and media attached by an API caller
//! ([`ControlPlane::attach_media_for`]).

use serde::Serialize;
use serde_json::json;

use crate::audit::Outcome;
use crate::error::{ControlError, ControlResult};
use crate::jobs::{JobId, NewJob};
use crate::plane::{Actor, AuditCtx, ControlPlane};
use crate::policy::{Action, Reason};
use crate::resources::processing::{MediaState, MediaUpdate, ProcessingStatus, apply_media_update};
use crate::resources::{ResourceMetadata, ResourceView, Revision, RevisionState};

/// An account allowed to upload, and the department its uploads belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploader {
    /// Account id (the owner of the resources it uploads).
    pub user_id: String,
    /// Username.
    pub username: String,
    /// The department the uploads belong to.
    pub department_id: String,
}

fn pipeline() -> AuditCtx {
    AuditCtx::service("pipeline", "local")
}

fn media_detail(revision: &Revision, media: &MediaState) -> serde_json::Value {
    json!({
        "revision": revision.number,
        "processing_status": media.processing_status,
        "media_ref": media.media_ref,
        "job_id": media.processing_job_id,
        "violations": media.validation.as_ref().map(|v| v.violations.iter().map(|x| x.code.clone()).collect::<Vec<_>>()),
        "failure": media.processing_error.as_ref().map(|f| f.code.clone()),
    })
}

impl ControlPlane {
    /// Checks the bearer token of an upload request (the tus hook calls this when an upload
    /// is created): the account must be allowed to create resources in its own department,
    /// and have one. Every decision is audit-logged as `upload.authorize`.
    pub async fn authorize_upload(
        &self,
        bearer_token: &str,
        source_addr: &str,
        now: i64,
    ) -> ControlResult<Uploader> {
        let actor = match self.authenticate(bearer_token, source_addr, now).await {
            Ok(actor) => actor,
            Err(e) => {
                self.audit(
                    &AuditCtx::anonymous(source_addr),
                    "upload.authorize",
                    "upload",
                    Outcome::Denied,
                    json!({"error": e.code()}),
                    now,
                )
                .await?;
                return Err(e);
            }
        };
        let decision = match actor.department_id.as_deref() {
            None => Err(ControlError::Forbidden(Reason::OutsideDepartment)),
            Some(dept) => actor
                .require(Action::CreateResource, &actor.scope_of(Some(dept), None))
                .map(|()| dept.to_owned()),
        };
        match decision {
            Ok(department_id) => {
                self.audit(
                    &actor.audit_ctx(),
                    "upload.authorize",
                    &format!("department:{department_id}"),
                    Outcome::Success,
                    json!({}),
                    now,
                )
                .await?;
                Ok(Uploader {
                    user_id: actor.user_id,
                    username: actor.username,
                    department_id,
                })
            }
            Err(e) => {
                self.audit(
                    &actor.audit_ctx(),
                    "upload.authorize",
                    "upload",
                    Outcome::Denied,
                    json!({"error": e.code()}),
                    now,
                )
                .await?;
                Err(e)
            }
        }
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

    /// Puts a new file on a resource and queues its processing: the working revision (a new
    /// draft on a published resource) gets `media_ref` with status `pending` and nothing else
    /// from any earlier file; earlier jobs of the resource are cancelled; `job` is enqueued for
    /// the resource and linked to the revision. Returns the resource and the job's id.
    pub async fn start_processing(
        &self,
        resource_id: &str,
        media_ref: &str,
        job: NewJob,
        now: i64,
    ) -> ControlResult<(ResourceView, JobId)> {
        if media_ref.trim().is_empty() {
            return Err(ControlError::invalid(
                "须提供媒体文件",
                "media_ref is required",
            ));
        }
        let row = self.resource_row(resource_id).await?;
        let revision = self.working_revision(&row, now).await?;
        self.cancel_jobs_for_resource(resource_id, now).await?;
        let job_id = self
            .enqueue_job(
                NewJob {
                    resource_id: Some(resource_id.to_owned()),
                    ..job
                },
                now,
            )
            .await?;
        let media = MediaState {
            media_ref: Some(media_ref.to_owned()),
            processing_status: ProcessingStatus::Pending,
            processing_job_id: Some(job_id.clone()),
            ..Default::default()
        };
        self.write_media(&revision.id, &media, Some(RevisionState::Draft), now)
            .await?;
        self.audit(
            &pipeline(),
            "resource.media",
            &format!("resource:{resource_id}"),
            Outcome::Success,
            media_detail(&revision, &media),
            now,
        )
        .await?;
        Ok((self.resource(resource_id).await?, job_id))
    }

    /// Queues a follow-up job for the same file (e.g. a transcode after a probe) and hands the
    /// revision over to it from `after_job_id`. A conflict when the revision no longer waits
    /// for `after_job_id` (a newer file replaced it).
    pub async fn chain_processing_job(
        &self,
        resource_id: &str,
        after_job_id: &str,
        job: NewJob,
        now: i64,
    ) -> ControlResult<JobId> {
        self.resource_row(resource_id).await?;
        let obsolete = || {
            ControlError::conflict(
                "该资源的媒体已被替换，此处理任务已作废",
                "the resource's media was replaced; this processing job is obsolete",
            )
        };
        let revision = self
            .revision_for_job(resource_id, after_job_id)
            .await?
            .ok_or_else(obsolete)?;
        let job_id = self
            .enqueue_job(
                NewJob {
                    resource_id: Some(resource_id.to_owned()),
                    ..job
                },
                now,
            )
            .await?;
        let moved = sqlx::query(
            "UPDATE resource_revisions SET processing_job_id = $1, updated_at = $2 \
             WHERE id = $3 AND processing_job_id = $4",
        )
        .bind(job_id.clone())
        .bind(now)
        .bind(revision.id.clone())
        .bind(after_job_id.to_owned())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if moved == 0 {
            // Replaced between our read and our write: the new job is obsolete already.
            self.cancel_job(&job_id, now).await?;
            return Err(obsolete());
        }
        Ok(job_id)
    }

    /// Records what the job `job_id` learned or produced for the revision it processes
    /// (status, probe report, validation, renditions, ladder prefix, poster, storyboard,
    /// failure). The review state does not change. A conflict when the revision no longer
    /// waits for this job (a newer file replaced it): the worker should stop.
    pub async fn record_processing(
        &self,
        resource_id: &str,
        job_id: &str,
        update: MediaUpdate,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.resource_row(resource_id).await?;
        let revision = self
            .revision_for_job(resource_id, job_id)
            .await?
            .ok_or_else(|| {
                ControlError::conflict(
                    "该资源的媒体已被替换，此处理任务已作废",
                    "the resource's media was replaced; this processing job is obsolete",
                )
            })?;
        if update
            .media_ref
            .as_ref()
            .is_some_and(|r| revision.media.media_ref.as_ref() != Some(r))
        {
            return Err(ControlError::invalid(
                "处理任务不能更换媒体文件",
                "a processing job cannot change the media file",
            ));
        }
        let next = apply_media_update(&revision.media, update)?;
        self.write_media(&revision.id, &next, None, now).await?;
        if next.processing_status != revision.media.processing_status {
            self.audit(
                &pipeline(),
                "resource.processing",
                &format!("resource:{resource_id}"),
                Outcome::Success,
                media_detail(&revision, &next),
                now,
            )
            .await?;
        }
        self.resource(resource_id).await
    }

    /// Attaches media facts to the working revision on behalf of the pipeline (no job). A
    /// new file on a published resource opens a new revision.
    pub async fn attach_media(
        &self,
        id: &str,
        update: MediaUpdate,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.attach_media_as(&pipeline(), id, update, now).await
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
        let next = apply_media_update(&revision.media, update)?;
        if next.media_ref != revision.media.media_ref {
            // A different file: whatever processed the old one is obsolete.
            self.cancel_jobs_for_resource(id, now).await?;
        }
        self.write_media(&revision.id, &next, Some(RevisionState::Draft), now)
            .await?;
        self.audit(
            ctx,
            "resource.media",
            &format!("resource:{id}"),
            Outcome::Success,
            media_detail(&revision, &next),
            now,
        )
        .await?;
        self.resource(id).await
    }
}
