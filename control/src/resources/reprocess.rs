//! Processing a resource's file again (重新处理): after its file was refused or its
//! processing failed for good, once the producer has fixed what the refusal named (the
//! resource type of a lecture without picture, its category) or the platform's rules have
//! changed. The file kept from the upload (or the link of an import) is queued again; nobody
//! has to upload gigabytes twice.

use crate::error::{ControlError, ControlResult};
use crate::jobs::{JobId, NewJob};
use crate::plane::{Actor, ControlPlane};
use crate::policy::Action;
use crate::resources::ResourceView;
use crate::resources::processing::ProcessingStatus;

impl ControlPlane {
    /// Queues the working revision's file for processing again, with the job `job_for` makes
    /// from the file's reference (a path, a storage key or an import's link). Needs
    /// `EditResource`; only a file that was refused or whose processing failed (409
    /// otherwise). Audited `resource.reprocess`.
    pub async fn reprocess(
        &self,
        actor: &Actor,
        resource_id: &str,
        job_for: impl FnOnce(&str) -> ControlResult<NewJob>,
        now: i64,
    ) -> ControlResult<(ResourceView, JobId)> {
        let row = self.resource_row(resource_id).await?;
        actor.require(
            Action::EditResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        let view = self.view_of(&row).await?;
        if !matches!(
            view.processing.status,
            ProcessingStatus::Rejected | ProcessingStatus::Failed
        ) {
            return Err(ControlError::conflict(
                "只有被拒绝或处理失败的文件才能重新处理",
                "only a refused file, or one whose processing failed, can be processed again",
            ));
        }
        let media_ref = view.latest.media.media_ref.clone().ok_or_else(|| {
            ControlError::conflict("该资源没有媒体文件", "the resource has no media file")
        })?;
        let job = job_for(&media_ref)?;
        self.queue_media_job(
            resource_id,
            &media_ref,
            job,
            (&actor.audit_ctx(), "resource.reprocess"),
            now,
        )
        .await
    }
}
