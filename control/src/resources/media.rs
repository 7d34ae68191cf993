//! The entry points of the upload, import and recording pipeline: who may upload
//! ([`ControlPlane::authorize_upload`]), a draft for the uploader
//! ([`ControlPlane::create_resource_for`]), a file and its processing job
//! ([`ControlPlane::start_processing`]), what the job learns and produces
//! ([`ControlPlane::record_processing`]); and media attached by an API caller
//! ([`ControlPlane::attach_media_for`]).

use serde::Serialize;
use serde_json::json;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::jobs::queue::{cancel_resource_jobs, complete_claimed, fail_claimed, insert_job};
use crate::jobs::{JobClaim, JobFailure, JobId, JobState, NewJob};
use crate::plane::{Actor, AuditCtx, ControlPlane};
use crate::policy::{Action, Reason};
use crate::resources::processing::{
    MediaState, MediaUpdate, ProcessingFailure, ProcessingStatus, apply_media_update, file_name_of,
};
use crate::resources::store::{revision_for_job_in, write_media};
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

/// The answer to a processing job whose revision took a newer file meanwhile.
pub(crate) fn obsolete() -> ControlError {
    ControlError::conflict(
        "该资源的媒体已被替换，此处理任务已作废",
        "the resource's media was replaced; this processing job is obsolete",
    )
}

fn pipeline() -> AuditCtx {
    AuditCtx::service("pipeline", "local")
}

fn media_detail(revision: &Revision, media: &MediaState) -> serde_json::Value {
    json!({
        "revision": revision.number,
        "processing_status": media.processing_status,
        "source_file": media.media_ref.as_deref().map(file_name_of),
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
        self.queue_media_job(
            resource_id,
            media_ref,
            job,
            (&pipeline(), "resource.media"),
            now,
        )
        .await
    }

    /// [`ControlPlane::start_processing`], audited as `action` by `ctx`.
    pub(crate) async fn queue_media_job(
        &self,
        resource_id: &str,
        media_ref: &str,
        job: NewJob,
        (ctx, action): (&AuditCtx, &'static str),
        now: i64,
    ) -> ControlResult<(ResourceView, JobId)> {
        if media_ref.trim().is_empty() {
            return Err(ControlError::invalid(
                "须提供媒体文件",
                "media_ref is required",
            ));
        }
        let row = self.resource_row(resource_id).await?;
        let mut tx = self.begin_audited().await?;
        let revision = self.working_revision(tx.conn(), &row, now).await?;
        cancel_resource_jobs(tx.conn(), resource_id, now).await?;
        let job_id = insert_job(
            tx.conn(),
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
        write_media(
            tx.conn(),
            &revision.id,
            &media,
            Some(RevisionState::Draft),
            now,
        )
        .await?;
        let record = AuditAppend::success(
            action,
            format!("resource:{resource_id}"),
            media_detail(&revision, &media),
        );
        self.commit_audited(tx, ctx, &[record], now).await?;
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
        let mut tx = self.db.pool().begin().await?;
        let revision = revision_for_job_in(&mut tx, resource_id, after_job_id)
            .await?
            .ok_or_else(obsolete)?;
        let job_id = insert_job(
            &mut tx,
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
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            // Replaced between our read and our write: nothing is queued.
            return Err(obsolete());
        }
        tx.commit().await?;
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
        let mut tx = self.begin_audited().await?;
        let records = record_in(tx.conn(), resource_id, job_id, update, now).await?;
        self.commit_audited(tx, &pipeline(), &records, now).await?;
        self.resource(resource_id).await
    }

    /// Records the last facts of a processing job (ready, or rejected with its reasons) and
    /// marks the job succeeded with `result`, in one transaction with the audit record: the
    /// resource never shows a ladder whose job still runs, and a worker that lost its lease
    /// changes nothing ([`JobError::LeaseLost`](crate::jobs::JobError::LeaseLost) as a
    /// conflict).
    pub async fn finish_processing(
        &self,
        resource_id: &str,
        claim: &JobClaim,
        update: MediaUpdate,
        result: serde_json::Value,
        now: i64,
    ) -> ControlResult<ResourceView> {
        self.resource_row(resource_id).await?;
        let mut tx = self.begin_audited().await?;
        let records = record_in(tx.conn(), resource_id, &claim.job_id, update, now).await?;
        complete_claimed(tx.conn(), claim, &result, now).await?;
        self.commit_audited(tx, &pipeline(), &records, now).await?;
        self.resource(resource_id).await
    }

    /// Records a failed attempt of a processing job; when no attempt is left, the revision
    /// shows `failure` in the same transaction. Returns the job's new state.
    pub async fn fail_processing(
        &self,
        resource_id: &str,
        claim: &JobClaim,
        failure: JobFailure,
        shown: ProcessingFailure,
        now: i64,
    ) -> ControlResult<JobState> {
        let jitter: f64 = rand::random();
        let mut tx = self.begin_audited().await?;
        let state = fail_claimed(tx.conn(), claim, failure, now, jitter).await?;
        let mut records = Vec::new();
        if state == JobState::Failed {
            let update = MediaUpdate {
                processing_status: ProcessingStatus::Failed,
                failure: Some(shown),
                ..Default::default()
            };
            match record_in(tx.conn(), resource_id, &claim.job_id, update, now).await {
                Ok(r) => records = r,
                // The media was replaced meanwhile: only the job's end is recorded.
                Err(ControlError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.commit_audited(tx, &pipeline(), &records, now).await?;
        Ok(state)
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
        let mut tx = self.begin_audited().await?;
        let revision = self.working_revision(tx.conn(), &row, now).await?;
        let next = apply_media_update(&revision.media, update)?;
        if next.media_ref != revision.media.media_ref {
            // A different file: whatever processed the old one is obsolete.
            cancel_resource_jobs(tx.conn(), id, now).await?;
        }
        write_media(
            tx.conn(),
            &revision.id,
            &next,
            Some(RevisionState::Draft),
            now,
        )
        .await?;
        let record = AuditAppend::success(
            "resource.media",
            format!("resource:{id}"),
            media_detail(&revision, &next),
        );
        self.commit_audited(tx, ctx, &[record], now).await?;
        self.resource(id).await
    }
}

/// Merges `update` into the revision waiting for `job_id` on `conn`; returns the audit record
/// due when the processing status changed.
async fn record_in(
    conn: &mut sqlx::AnyConnection,
    resource_id: &str,
    job_id: &str,
    update: MediaUpdate,
    now: i64,
) -> ControlResult<Vec<AuditAppend>> {
    let revision = revision_for_job_in(conn, resource_id, job_id)
        .await?
        .ok_or_else(obsolete)?;
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
    write_media(conn, &revision.id, &next, None, now).await?;
    if next.processing_status == revision.media.processing_status {
        return Ok(Vec::new());
    }
    Ok(vec![AuditAppend::success(
        "resource.processing",
        format!("resource:{resource_id}"),
        media_detail(&revision, &next),
    )])
}
