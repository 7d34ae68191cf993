//! Parallel encoding of long sources, the orchestration: a `process_upload`
//! job whose source is longer than the ladder's chunk threshold becomes a
//! *parent*. After probing and planning it queues its parts as
//! `encode_chunk` child jobs in one transaction (the audio over the whole
//! source, then every chunk of video), with a `qc_source` job that decodes
//! the whole source once for the technical QC (see `chunk_qc`), and defers itself (queued again a
//! little later, the attempt not counted), so it holds no worker while the
//! children run on every worker there is.
//!
//! Each time the parent is claimed again it looks at its children (jobs of
//! its resource whose payload names it): any failed for good fails the
//! parent; any still queued or running defers it again; all succeeded: the
//! parent joins their manifests into the ladder (init segments, playlists,
//! master last, see `yanxiu_transcode::chunk::join`) and records it with
//! `finish_processing` (ready, job end and audit in one transaction), as
//! the single pass does. Children are retried like any job (a killed worker
//! loses its lease, another encodes the chunk again over the same keys);
//! the join only reads and rewrites the same objects, so a parent killed
//! during the join is simply claimed and joined again; the ladder is
//! recorded once, by the claim that completes the parent.
//!
//! Fast start: while it waits, the parent writes the ladder so far (the
//! chunks done from chunk 0 on, the audio cut to them) as growing EVENT
//! playlists with a provisional master, as the single pass does, and tells
//! the resource where it is; the join rewrites them as VOD playlists. Its
//! progress is the children's.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use yanxiu_control::jobs::{ClaimedJob, Job, JobClaim, JobError, JobProgress, JobState, NewJob};
use yanxiu_control::now_ms;
use yanxiu_control::resources::{MediaUpdate, ProcessingStatus};
use yanxiu_transcode::chunk::{
    PartJob, PartManifest, encode_part, growing_parts, join_ladder, plan_chunks, publish_growing,
};
use yanxiu_transcode::{Progress, TranscodeJob};

use super::chunk_qc::{QC_SOURCE, QcPayload, report_of};
use super::process::{Ended, conclude, failure, finish, record, store_qc, transcode_failure};
use super::{Worker, lease, stage};

/// The job kind: encode one part of a chunked ladder.
pub const ENCODE_CHUNK: &str = "encode_chunk";

/// Input of an `encode_chunk` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkPayload {
    /// The `process_upload` job the part belongs to.
    pub parent: String,
    /// The part.
    pub job: PartJob,
    /// The source object in storage when the upload was kept there (the
    /// shared upload store): the worker copies it to its own disk once and
    /// keeps it for the next chunk of the same source (`job.input` is then
    /// replaced). `None`: `job.input` is a path every worker can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
}

/// The key of the parent's progress detail that counts the video segments
/// published for fast start.
const PUBLISHED: &str = "published_segments";

/// How long a waiting parent sleeps before it looks at its children again.
fn wait_ms(worker: &Worker) -> i64 {
    i64::try_from(worker.config.poll_ms.max(50) * 4).unwrap_or(2000)
}

/// When the source of `job` is long enough to be chunked: queues its parts
/// and defers the parent (`Some(Waiting)`). `None`: encode it in one pass.
pub(super) async fn start(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    job: &TranscodeJob,
    source_key: Option<&str>,
) -> Result<Option<Ended>, yanxiu_control::jobs::JobFailure> {
    // Sound alone encodes many times faster than realtime: never chunked.
    let Some(video) = job.video else {
        return Ok(None);
    };
    let chunks = plan_chunks(
        job.duration_seconds,
        job.plan.segment_seconds,
        worker.ladder.chunk_seconds,
        worker.ladder.chunk_threshold_seconds,
    );
    if chunks.is_empty() {
        return Ok(None);
    }
    let parts = PartJob::split(job, &chunks).map_err(|e| failure(false, "transcode.plan", e))?;
    let mut jobs = Vec::with_capacity(parts.len() + 1);
    for part in parts {
        let payload = ChunkPayload {
            parent: claim.job_id.clone(),
            job: part,
            source_key: source_key.map(str::to_owned),
        };
        jobs.push(NewJob {
            kind: ENCODE_CHUNK.to_owned(),
            resource_id: Some(resource_id.to_owned()),
            payload: serde_json::to_value(&payload)
                .map_err(|e| failure(false, "job.bad_payload", e))?,
            max_attempts: worker.config.max_attempts.max(1),
        });
    }
    // The technical QC decodes the whole source once, beside the chunks. It
    // takes longest, so it is claimed early, but after the audio and the first
    // chunk of video: those two make the ladder playable (fast start).
    let qc = QcPayload::for_job(&claim.job_id, job, video, source_key);
    jobs.insert(
        jobs.len().min(2),
        NewJob {
            kind: QC_SOURCE.to_owned(),
            resource_id: Some(resource_id.to_owned()),
            payload: serde_json::to_value(&qc).map_err(|e| failure(false, "job.bad_payload", e))?,
            max_attempts: worker.config.max_attempts.max(1),
        },
    );
    let count = jobs.len();
    worker
        .control
        .enqueue_jobs(jobs, now_ms())
        .await
        .map_err(|e| failure(true, "chunk.enqueue", e))?;
    tracing::info!(job = %claim.job_id, chunks = chunks.len(), parts = count, "long source: chunks queued");
    defer(worker, claim, 0.0, 0).await.map(Some)
}

/// When this `process_upload` job already queued its parts: waits for them
/// or joins them (`Some`). `None`: a first attempt (or a single pass).
pub(super) async fn resume(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    started_at: Option<i64>,
) -> Result<Option<Ended>, yanxiu_control::jobs::JobFailure> {
    let (published, children) = children(worker, resource_id, &claim.job_id).await?;
    if children.is_empty() {
        return Ok(None);
    }
    if let Some(failed) = children
        .iter()
        .find(|c| matches!(c.state, JobState::Failed | JobState::Cancelled))
    {
        let code = failed.error.as_ref().map_or("", |e| e.code.as_str());
        return Err(failure(
            false,
            "chunk.failed",
            format!("child {} ({code})", failed.id),
        ));
    }
    let done = children
        .iter()
        .filter(|c| c.state == JobState::Succeeded)
        .count();
    if done < children.len() {
        let percent = children
            .iter()
            .map(|c| match c.state {
                JobState::Succeeded => 100.0,
                _ => c.progress.as_ref().map_or(0.0, |p| p.percent),
            })
            .sum::<f64>()
            / children.len() as f64;
        let published = fast_start(worker, claim, resource_id, &children, published).await?;
        return defer(worker, claim, percent, published).await.map(Some);
    }
    join(worker, claim, resource_id, &children, started_at)
        .await
        .map(Some)
}

/// The video segments the parent has published for fast start (kept in its
/// progress) and the parts it queued, oldest first.
async fn children(
    worker: &Worker,
    resource_id: &str,
    parent: &str,
) -> Result<(usize, Vec<Job>), yanxiu_control::jobs::JobFailure> {
    let jobs = worker
        .control
        .jobs_for_resource(resource_id)
        .await
        .map_err(|e| failure(true, "control.record", e))?;
    let published = jobs
        .iter()
        .find(|j| j.id == parent)
        .and_then(|j| {
            j.progress
                .as_ref()?
                .detail
                .as_ref()?
                .get(PUBLISHED)?
                .as_u64()
        })
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let children = jobs
        .into_iter()
        .filter(|j| {
            (j.kind == ENCODE_CHUNK || j.kind == QC_SOURCE)
                && j.payload.get("parent").and_then(|p| p.as_str()) == Some(parent)
        })
        .collect();
    Ok((published, children))
}

/// The parts' manifests (of the children that succeeded) and the first part's job.
fn manifests(
    children: &[Job],
) -> Result<(Vec<PartManifest>, Option<PartJob>), yanxiu_control::jobs::JobFailure> {
    let mut manifests = Vec::with_capacity(children.len());
    let mut job = None;
    for child in children
        .iter()
        .filter(|c| c.kind == ENCODE_CHUNK && c.state == JobState::Succeeded)
    {
        let payload: ChunkPayload = serde_json::from_value(child.payload.clone())
            .map_err(|e| failure(false, "job.bad_payload", e))?;
        let manifest: PartManifest = child
            .result
            .clone()
            .ok_or_else(|| failure(false, "chunk.join", "a part has no manifest"))
            .and_then(|r| serde_json::from_value(r).map_err(|e| failure(false, "chunk.join", e)))?;
        manifests.push(manifest);
        job.get_or_insert(payload.job);
    }
    Ok((manifests, job))
}

/// Fast start: once chunk 0 and the audio are done, the ladder so far is
/// written as growing playlists with a provisional master, and the resource
/// is told where it is (so reviewers can preview it while the rest encodes);
/// rewritten as more chunks in a row are done. Best effort: a problem here
/// is logged, and the join decides. Returns the video segments published.
async fn fast_start(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    children: &[Job],
    published: usize,
) -> Result<usize, yanxiu_control::jobs::JobFailure> {
    let (manifests, job) = manifests(children)?;
    let Some(job) = job else {
        return Ok(published);
    };
    let renditions = match growing_parts(&job.plan, &manifests) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(published),
        Err(e) => {
            tracing::warn!(job = %claim.job_id, error = %e, "fast start: the parts so far do not join");
            return Ok(published);
        }
    };
    let ready = renditions
        .iter()
        .filter(|r| !r.audio)
        .map(|r| r.segments.len())
        .min()
        .unwrap_or(0);
    if ready <= published {
        return Ok(published);
    }
    match publish_growing(&job.plan, &job.prefix, &renditions, worker.storage.clone()).await {
        Ok(Some(segments)) => {
            if published == 0 {
                tracing::info!(job = %claim.job_id, segments, "chunked ladder playable (fast start)");
                record(
                    worker,
                    claim,
                    resource_id,
                    MediaUpdate {
                        processing_status: ProcessingStatus::Processing,
                        ladder_prefix: Some(job.prefix.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            }
            Ok(segments)
        }
        Ok(None) => Ok(published),
        Err(e) => {
            tracing::warn!(job = %claim.job_id, error = %e, "fast start: cannot write the ladder so far");
            Ok(published)
        }
    }
}

/// Puts the parent back in the queue until its children may have moved on.
async fn defer(
    worker: &Worker,
    claim: &JobClaim,
    percent: f64,
    published: usize,
) -> Result<Ended, yanxiu_control::jobs::JobFailure> {
    let progress = JobProgress {
        stage: "chunks".to_owned(),
        percent: percent.clamp(0.0, 100.0),
        speed: None,
        detail: (published > 0).then(|| json!({ PUBLISHED: published })),
    };
    let now = now_ms();
    match worker
        .control
        .defer_job(claim, progress, now + wait_ms(worker), now)
        .await
    {
        Ok(_) => Ok(Ended::Waiting),
        Err(JobError::LeaseLost) => Ok(Ended::LeaseLost),
        Err(e) => Err(failure(true, "queue.complete", e)),
    }
}

/// Joins the parts into the ladder and records it.
async fn join(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    children: &[Job],
    started_at: Option<i64>,
) -> Result<Ended, yanxiu_control::jobs::JobFailure> {
    let (manifests, job) = manifests(children)?;
    let job = job.ok_or_else(|| failure(false, "chunk.join", "no parts"))?;
    let ladder = join_ladder(
        &job.plan,
        job.duration_seconds,
        &job.prefix,
        &manifests,
        worker.storage.clone(),
    )
    .await
    .map_err(|e| match e {
        yanxiu_transcode::chunk::JoinError::Storage(e) => failure(true, "transcode.failed", e),
        e => failure(false, "chunk.join", e),
    })?;
    let poster = manifests
        .iter()
        .flat_map(|m| m.files.iter())
        .find(|f| f.as_str() == "poster.jpg")
        .map(|f| format!("{}{f}", job.prefix));
    let qc = children
        .iter()
        .find(|c| c.kind == QC_SOURCE)
        .and_then(|c| c.result.as_ref())
        .map(report_of)
        .transpose()?;
    let qc_summary = store_qc(worker, claim, resource_id, qc.as_ref()).await?;
    let frames: u64 = manifests.iter().map(|m| m.video_frames).sum();
    let seconds = started_at.map_or(0.0, |s| (now_ms() - s) as f64 / 1000.0);
    let renditions = ladder
        .renditions
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    let result = json!({ "master": ladder.master_key, "frames": frames, "seconds": seconds,
                         "chunks": manifests.len(),
                         "qc_errors": qc.as_ref().map(|q| q.summary.errors) });
    let update = MediaUpdate {
        processing_status: ProcessingStatus::Ready,
        qc_report: qc_summary,
        renditions: Some(renditions),
        ladder_prefix: Some(job.prefix.clone()),
        poster_key: poster,
        ..Default::default()
    };
    finish(worker, claim, resource_id, update, result, Ended::Done).await
}

/// Runs one claimed `encode_chunk` job to an end the queue knows about:
/// encodes the part while heartbeats keep the lease, then completes the job
/// with the part's manifest as its result.
pub async fn run(worker: &Worker, claimed: ClaimedJob, shutdown: &mut watch::Receiver<bool>) {
    let started = std::time::Instant::now();
    let outcome = attempt(worker, &claimed.claim, &claimed.job.payload, shutdown).await;
    conclude(worker, &claimed, started, outcome).await;
}

async fn attempt(
    worker: &Worker,
    claim: &JobClaim,
    payload: &serde_json::Value,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended, yanxiu_control::jobs::JobFailure> {
    let mut payload: ChunkPayload = serde_json::from_value(payload.clone())
        .map_err(|e| failure(false, "job.bad_payload", e))?;
    if let Some(key) = &payload.source_key {
        match stage::keep_source(worker, claim, key).await? {
            stage::Staged::Ready(path) => payload.job.input = path,
            stage::Staged::LeaseLost => return Ok(Ended::LeaseLost),
        }
    }
    let (tx, rx) = watch::channel(Progress::default());
    let work = encode_part(payload.job, worker.storage.clone(), tx);
    tokio::pin!(work);
    let progress = || {
        let p = *rx.borrow();
        JobProgress {
            stage: "encode_chunk".to_owned(),
            percent: (p.fraction() * 100.0).clamp(0.0, 100.0),
            speed: Some(p.speed()).filter(|s| s.is_finite() && *s > 0.0),
            detail: None,
        }
    };
    let manifest = match lease::hold_while(worker, claim, work.as_mut(), shutdown, progress).await {
        Ok(manifest) => manifest,
        Err(stopped) => return Ok(stopped),
    };
    let manifest = manifest.map_err(|e| transcode_failure("transcode.failed", e))?;
    let result = serde_json::to_value(&manifest).map_err(|e| failure(false, "chunk.join", e))?;
    lease::complete(worker, claim, result).await
}
