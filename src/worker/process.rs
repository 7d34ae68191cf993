//! One `process_upload` job: copy a source kept in storage to a scratch file
//! (the shared upload store; removed when the attempt ends), probe and
//! validate it (a rejection keeps its coded reasons on the resource),
//! transcode it into a ladder in storage while heartbeats report progress,
//! with the technical QC fed from the same decode, and record the outcome and
//! the QC report.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use yanxiu_control::error::ControlError;
use yanxiu_control::jobs::{ClaimedJob, JobClaim, JobFailure, JobProgress};
use yanxiu_control::now_ms;
use yanxiu_control::qc_reports::QcRecord;
use yanxiu_control::resources::{
    MediaUpdate, MediaValidation, MediaViolation, ProcessingFailure, ProcessingStatus,
};
use yanxiu_ingest::fetch::{FetchError, fetch_to_file};
use yanxiu_ingest::{EXIT_ACCEPTED, Lang, MediaReport, ProbeLimits, ProbeOutput, probe_file};
use yanxiu_transcode::qc::{QcReport, plot};
use yanxiu_transcode::{Progress, TranscodeError, TranscodeJob, TranscodeOutcome, transcode};

use super::Worker;
use super::chunked;
use super::failure_text::failure_text;
use super::{lease, stage};
use crate::media::{Extras, job_for};

/// The job kind: process an uploaded or imported source file.
pub const PROCESS_UPLOAD: &str = "process_upload";

/// Input of a `process_upload` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessPayload {
    /// The source file on the worker's file system (empty when `source_key` names it).
    #[serde(default)]
    pub source: PathBuf,
    /// The storage key of the source, when it lives in the media storage (the shared upload
    /// store): the worker copies it to a scratch file first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    /// The name the producer gave the file.
    pub file_name: String,
    /// For an import by link: where to fetch `source` from first.
    #[serde(default)]
    pub url: Option<String>,
}

/// How an attempt ended, for the logs.
#[derive(Debug)]
pub(super) enum Ended {
    Done,
    /// A parent deferred until its chunks are done.
    Waiting,
    Rejected,
    Failed,
    LeaseLost,
    Released,
}

/// Runs one claimed job to an end the queue knows about.
pub async fn run(worker: &Worker, claimed: ClaimedJob, shutdown: &mut watch::Receiver<bool>) {
    let started = std::time::Instant::now();
    let ClaimedJob { claim, job } = &claimed;
    let outcome = attempt(
        worker,
        claim,
        (job.resource_id.as_deref(), job.started_at),
        &job.payload,
        shutdown,
    )
    .await;
    conclude(worker, &claimed, started, outcome).await;
}

/// The end of any attempt (a whole job, a chunk, a QC pass): a failure is recorded on the
/// job (and its resource), the outcome counted and logged.
pub(super) async fn conclude(
    worker: &Worker,
    claimed: &ClaimedJob,
    started: std::time::Instant,
    outcome: Result<Ended, JobFailure>,
) {
    let ClaimedJob { claim, job } = claimed;
    let ended = match outcome {
        Ok(ended) => ended,
        Err(failure) => {
            tracing::warn!(job = %claim.job_id, kind = %job.kind, code = %failure.code, message = %failure.message, "job attempt failed");
            fail(worker, claim, job.resource_id.as_deref(), failure).await;
            Ended::Failed
        }
    };
    worker
        .metrics
        .job_finished(ended.label(), started.elapsed());
    tracing::info!(worker = %worker.id, job = %claim.job_id, kind = %job.kind, outcome = ?ended, "job attempt ended");
}

impl Ended {
    /// The metric label.
    pub(super) fn label(&self) -> &'static str {
        match self {
            Ended::Done => "done",
            Ended::Waiting => "waiting",
            Ended::Rejected => "rejected",
            Ended::Failed => "failed",
            Ended::LeaseLost => "lease_lost",
            Ended::Released => "released",
        }
    }
}

/// A failed attempt with the code `code`: `detail` (which may name files or carry database
/// and IO text) is logged; the job keeps only the code and its safe words
/// ([`failure_text`]).
pub(super) fn failure(retryable: bool, code: &str, detail: impl std::fmt::Display) -> JobFailure {
    tracing::warn!(code, retryable, %detail, "processing step failed");
    JobFailure {
        retryable,
        code: code.to_owned(),
        message: failure_text(code).1.to_owned(),
    }
}

/// Records `update` on the revision processed by this job.
pub(super) async fn record(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    update: MediaUpdate,
) -> Result<(), JobFailure> {
    worker
        .control
        .record_processing(resource_id, &claim.job_id, update, now_ms())
        .await
        .map(|_| ())
        .map_err(|e| failure(true, "control.record", e.to_string()))
}

/// One attempt, step by step: fetch (imports), probe and validate,
/// transcode with the QC on the same decode, record the outcome.
async fn attempt(
    worker: &Worker,
    claim: &JobClaim,
    (resource_id, started_at): (Option<&str>, Option<i64>),
    payload: &serde_json::Value,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended, JobFailure> {
    let resource_id =
        resource_id.ok_or_else(|| failure(false, "job.no_resource", "job has no resource"))?;
    let mut payload: ProcessPayload = serde_json::from_value(payload.clone())
        .map_err(|e| failure(false, "job.bad_payload", e.to_string()))?;
    // A long source's parent, back to wait for its chunks or to join them.
    if let Some(ended) = chunked::resume(worker, claim, resource_id, started_at).await? {
        return Ok(ended);
    }
    record(
        worker,
        claim,
        resource_id,
        MediaUpdate::status(ProcessingStatus::Processing),
    )
    .await?;
    let Some(key) = payload.source_key.clone() else {
        return process_source(worker, claim, resource_id, &payload, shutdown).await;
    };
    let scratch = worker.scratch_dir.join(&claim.job_id);
    let staged = stage::copy_source(worker, claim, &key, &scratch).await;
    let result = match staged {
        Ok(stage::Staged::Ready(path)) => {
            payload.source = path;
            process_source(worker, claim, resource_id, &payload, shutdown).await
        }
        Ok(stage::Staged::LeaseLost) => Ok(Ended::LeaseLost),
        Err(e) => Err(e),
    };
    stage::remove(&scratch).await;
    result
}

/// The steps after the source is on this worker's disk.
async fn process_source(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    payload: &ProcessPayload,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended, JobFailure> {
    if let Some(ended) = fetch_step(worker, claim, resource_id, payload).await? {
        return Ok(ended);
    }
    let report = match probe_step(worker, claim, resource_id, payload).await? {
        Probed::Accepted(report) => report,
        Probed::Rejected(ended) => return Ok(ended),
    };
    let prefix = format!("ladders/{resource_id}/{}/", claim.job_id);
    let mut job = job_for(
        &payload.source,
        &report,
        &worker.ladder,
        &prefix,
        Extras {
            poster: true,
            storyboard: true,
            growing: true,
        },
    )
    .map_err(|e| failure(false, "transcode.plan", format!("{e:#}")))?;
    // A long source: encoded in chunks by several workers at once.
    if let Some(ended) = chunked::start(
        worker,
        claim,
        resource_id,
        &job,
        payload.source_key.as_deref(),
    )
    .await?
    {
        return Ok(ended);
    }
    // The technical QC rides on the transcode's decode: no second pass.
    job.qc = Some(worker.policy.qc.clone());
    let outcome = match transcode_step(worker, claim, resource_id, job, &prefix, shutdown).await? {
        Transcoded::Done(outcome) => outcome,
        Transcoded::Stopped(ended) => return Ok(ended),
    };
    worker.metrics.transcoded(&outcome);
    let qc_summary = store_qc(worker, claim, resource_id, outcome.qc.as_ref()).await?;
    let renditions = outcome
        .ladder
        .renditions
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    let result = json!({ "master": outcome.ladder.master_key, "frames": outcome.video_frames,
                         "seconds": outcome.elapsed.as_secs_f64(),
                         "qc_errors": outcome.qc.as_ref().map(|q| q.summary.errors) });
    let update = MediaUpdate {
        processing_status: ProcessingStatus::Ready,
        qc_report: qc_summary,
        renditions: Some(renditions),
        ladder_prefix: Some(prefix),
        poster_key: outcome.poster.clone(),
        storyboard_key: outcome.storyboard.clone(),
        ..Default::default()
    };
    finish(worker, claim, resource_id, update, result, Ended::Done).await
}

/// For an import by link: fetches the file first. A link that can never
/// work rejects the resource with its reason (`Some(Rejected)`).
async fn fetch_step(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    payload: &ProcessPayload,
) -> Result<Option<Ended>, JobFailure> {
    let Some(url) = &payload.url else {
        return Ok(None);
    };
    if payload.source.exists() {
        return Ok(None);
    }
    let e = match fetch(worker, claim, url, &payload.source).await {
        Ok(()) => return Ok(None),
        Err(e) if e.code == LEASE_LOST => return Ok(Some(Ended::LeaseLost)),
        Err(e) if e.retryable => return Err(e.into()),
        Err(e) => e,
    };
    let update = MediaUpdate {
        processing_status: ProcessingStatus::Rejected,
        validation: Some(MediaValidation {
            accepted: false,
            violations: vec![MediaViolation {
                code: e.code.clone(),
                message_zh: e.message_zh.clone(),
                message_en: e.message_en.clone(),
                actual: Some(url.clone()),
                limit: None,
            }],
        }),
        failure: Some(ProcessingFailure {
            code: e.code,
            message_zh: e.message_zh,
            message_en: e.message_en,
        }),
        ..Default::default()
    };
    let result = json!({ "outcome": "rejected" });
    finish(worker, claim, resource_id, update, result, Ended::Rejected)
        .await
        .map(Some)
}

/// What probing decided.
enum Probed {
    /// Readable media that meets the policy.
    Accepted(MediaReport),
    /// Not media, or media that breaks the rules: recorded, job complete (or the lease was
    /// lost meanwhile).
    Rejected(Ended),
}

/// Probes and validates the source off the async threads and records the
/// probe report and validation; a rejection is final (not retried).
async fn probe_step(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    payload: &ProcessPayload,
) -> Result<Probed, JobFailure> {
    // Whether this resource may be sound alone is the platform's rule for its type and
    // category, not the file's: asked before the file is judged.
    let audio_only_refusal = worker
        .control
        .audio_only_refusal(resource_id)
        .await
        .map_err(|e| failure(true, "control.read", e.to_string()))?;
    let mut policy = worker.policy.clone();
    policy.video.required = audio_only_refusal.is_some();
    let source = payload.source.clone();
    let name = payload.file_name.clone();
    let output = tokio::task::spawn_blocking(move || {
        let probed = probe_file(&source, &ProbeLimits::default());
        ProbeOutput::from_probe(&name, probed, &policy)
    })
    .await
    .map_err(|e| failure(true, "probe.panicked", e.to_string()))?;
    let probe_report = output
        .report
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok());
    let has_sound = output
        .report
        .as_ref()
        .is_some_and(|r| r.primary_audio().is_some());
    let validation = output.validation.as_ref().map(|v| MediaValidation {
        accepted: v.accepted,
        violations: v
            .violations
            .iter()
            .map(|x| match &audio_only_refusal {
                // A sound file where the rule wants a picture: say which rule.
                Some(refusal) if x.code == "video.missing" && has_sound => MediaViolation {
                    code: refusal.code.to_owned(),
                    message_zh: refusal.zh.clone(),
                    message_en: refusal.en.clone(),
                    actual: None,
                    limit: None,
                },
                _ => MediaViolation {
                    code: x.code.clone(),
                    message_zh: x.message_zh.clone(),
                    message_en: x.message_en.clone(),
                    actual: x.actual.clone(),
                    limit: x.limit.clone(),
                },
            })
            .collect(),
    });
    if let (Some(report), EXIT_ACCEPTED) = (output.report.clone(), output.exit_code) {
        record(
            worker,
            claim,
            resource_id,
            MediaUpdate {
                processing_status: ProcessingStatus::Processing,
                probe_report,
                validation,
                ..Default::default()
            },
        )
        .await?;
        return Ok(Probed::Accepted(report));
    }
    // Not media, or media that breaks the rules: a final answer, not a
    // failure worth retrying.
    let failure_info = output.error.as_ref().map(|e| ProcessingFailure {
        code: e.code.clone(),
        message_zh: e.message_zh.clone(),
        message_en: e.message_en.clone(),
    });
    // An unreadable file breaks the first rule of all: be media.
    let validation = validation.or_else(|| {
        output.error.as_ref().map(|e| MediaValidation {
            accepted: false,
            violations: vec![MediaViolation {
                code: e.code.clone(),
                message_zh: e.message_zh.clone(),
                message_en: e.message_en.clone(),
                actual: None,
                limit: None,
            }],
        })
    });
    let update = MediaUpdate {
        processing_status: ProcessingStatus::Rejected,
        probe_report,
        validation,
        failure: failure_info,
        ..Default::default()
    };
    let result = json!({ "outcome": "rejected", "exit_code": output.exit_code });
    Ok(Probed::Rejected(
        finish(worker, claim, resource_id, update, result, Ended::Rejected).await?,
    ))
}

/// How the transcode ended.
enum Transcoded {
    /// The ladder is written (and the QC report made).
    Done(Box<TranscodeOutcome>),
    /// The attempt stopped: lease lost, or given back on shutdown.
    Stopped(Ended),
}

/// Transcodes (with the QC on the same decode) while heartbeats report
/// progress and keep the lease; announces the growing ladder once playable.
async fn transcode_step(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    job: TranscodeJob,
    prefix: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Transcoded, JobFailure> {
    let (tx, rx) = watch::channel(Progress::default());
    let work = transcode(job, worker.storage.clone(), tx);
    tokio::pin!(work);
    let mut beat = lease::interval(worker);
    let mut announced = false;
    let outcome = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = beat.tick() => {
                let p = *rx.borrow();
                if p.playable && !announced {
                    // Fast start: the growing ladder can be played already.
                    announced = true;
                    record(worker, claim, resource_id, MediaUpdate {
                        processing_status: ProcessingStatus::Processing,
                        ladder_prefix: Some(prefix.to_owned()),
                        ..Default::default()
                    })
                    .await?;
                }
                let progress = JobProgress {
                    stage: "transcode".to_owned(),
                    percent: (p.fraction() * 100.0).clamp(0.0, 100.0),
                    speed: Some(p.speed()).filter(|s| s.is_finite() && *s > 0.0),
                    detail: None,
                };
                if lease::beat(worker, claim, progress).await == lease::Beat::Lost {
                    return Ok(Transcoded::Stopped(Ended::LeaseLost));
                }
            }
            _ = shutdown.changed() => {
                // Dropping the transcode stops its threads; the job goes back
                // to the queue for the next worker.
                lease::release(worker, claim).await;
                return Ok(Transcoded::Stopped(Ended::Released));
            }
        }
    };
    outcome
        .map(|o| Transcoded::Done(Box::new(o)))
        .map_err(|e| transcode_failure("transcode.failed", e))
}

/// Stores the QC report and its plots with the revision; returns the
/// summary (no loudness series) the revision keeps for the technical
/// review record. Without a report (the QC stage failed) the ladder stands
/// alone.
pub(super) async fn store_qc(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    report: Option<&QcReport>,
) -> Result<Option<serde_json::Value>, JobFailure> {
    let Some(report) = report else {
        tracing::warn!(job = %claim.job_id, "no QC report for this job");
        return Ok(None);
    };
    let thresholds = &worker.policy.qc;
    let as_json = |r: &QcReport| {
        serde_json::to_value(r).map_err(|e| failure(false, "qc.serialize", e.to_string()))
    };
    let record = QcRecord {
        report: as_json(report)?,
        loudness_svg: plot::loudness_svg(report, thresholds),
        timeline_svg: plot::timeline_svg(report),
    };
    worker
        .control
        .record_qc_report(resource_id, &claim.job_id, record, now_ms())
        .await
        .map_err(|e| failure(true, "control.record_qc", e.to_string()))?;
    Ok(Some(as_json(&report.summary_only())?))
}

/// Records the job's last facts on the resource and marks it succeeded, in one transaction;
/// a worker that lost its lease ends with [`Ended::LeaseLost`] and changes nothing.
pub(super) async fn finish(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: &str,
    update: MediaUpdate,
    result: serde_json::Value,
    ended: Ended,
) -> Result<Ended, JobFailure> {
    match worker
        .control
        .finish_processing(resource_id, claim, update, result, now_ms())
        .await
    {
        Ok(_) => Ok(ended),
        // Another worker owns the job now, or a newer file made it obsolete.
        Err(ControlError::Conflict { .. }) => {
            tracing::info!(job = %claim.job_id, "the job ended elsewhere; nothing recorded");
            Ok(Ended::LeaseLost)
        }
        Err(e) => Err(failure(true, "queue.complete", e.to_string())),
    }
}

/// A fetch that failed: whether to retry, and the reason in both languages.
struct FetchFailure {
    retryable: bool,
    code: String,
    message_zh: String,
    message_en: String,
}

impl From<FetchFailure> for JobFailure {
    fn from(f: FetchFailure) -> Self {
        failure(f.retryable, &f.code, f.message_en)
    }
}

/// Fetches an imported file, reporting the stage in heartbeats.
async fn fetch(
    worker: &Worker,
    claim: &JobClaim,
    url: &str,
    dest: &std::path::Path,
) -> Result<(), FetchFailure> {
    let progress = JobProgress {
        stage: "fetch".to_owned(),
        percent: 0.0,
        speed: None,
        detail: None,
    };
    beat_or_stop(worker, claim, progress).await?;
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| FetchFailure {
                retryable: true,
                code: "fetch.storage".to_owned(),
                message_zh: failure_text("fetch.storage").0.to_owned(),
                message_en: {
                    tracing::warn!(error = %e, "cannot create the import's directory");
                    failure_text("fetch.storage").1.to_owned()
                },
            })?;
    }
    // Keep the lease alive while a long download runs.
    let download = fetch_to_file(url, dest, &worker.imports);
    tokio::pin!(download);
    let mut beat = tokio::time::interval(std::time::Duration::from_secs(
        worker.config.heartbeat_seconds.max(1),
    ));
    let result = loop {
        tokio::select! {
            r = &mut download => break r,
            _ = beat.tick() => {
                let progress = JobProgress { stage: "fetch".to_owned(), percent: 0.0, speed: None, detail: None };
                beat_or_stop(worker, claim, progress).await?;
            }
        }
    };
    result.map(|_| ()).map_err(|e| FetchFailure {
        retryable: matches!(
            e,
            FetchError::Resolve(_)
                | FetchError::Connect(_)
                | FetchError::Timeout
                | FetchError::Network(_)
                | FetchError::Storage(_)
        ) || matches!(e, FetchError::HttpStatus(s) if s >= 500),
        code: e.code().to_owned(),
        message_zh: e.message(Lang::Zh),
        message_en: e.message(Lang::En),
    })
}

/// The code of a fetch stopped because the worker lost its lease.
const LEASE_LOST: &str = "job.lease_lost";

/// Renews the lease with `progress`; an error when the lease is lost (the
/// attempt must stop: another worker owns the job now). Other heartbeat
/// errors are logged and the fetch goes on.
async fn beat_or_stop(
    worker: &Worker,
    claim: &JobClaim,
    progress: JobProgress,
) -> Result<(), FetchFailure> {
    match lease::beat(worker, claim, progress).await {
        lease::Beat::Kept => Ok(()),
        lease::Beat::Lost => Err(FetchFailure {
            retryable: false,
            code: LEASE_LOST.to_owned(),
            message_zh: "已失去任务租约".to_owned(),
            message_en: "the job's lease was lost".to_owned(),
        }),
    }
}

/// The failure of a decode or transcode: retried under `code` for storage and
/// infrastructure faults, final (`transcode.source_unreadable`) for a source
/// the decoder cannot read.
pub(super) fn transcode_failure(code: &str, e: TranscodeError) -> JobFailure {
    let retryable = !matches!(
        e,
        TranscodeError::Open { .. }
            | TranscodeError::NoVideo
            | TranscodeError::NoAudio
            | TranscodeError::NoFrames
            | TranscodeError::NoSound
            | TranscodeError::Decoder { .. }
            | TranscodeError::Bitstream(_)
    );
    if retryable {
        failure(true, code, e)
    } else {
        failure(false, "transcode.source_unreadable", e)
    }
}

/// Records a failed attempt (on the resource too when it was the last).
pub(super) async fn fail(
    worker: &Worker,
    claim: &JobClaim,
    resource_id: Option<&str>,
    failure: JobFailure,
) {
    let now = now_ms();
    let Some(id) = resource_id else {
        if let Err(e) = worker.control.fail_job(claim, failure, now).await {
            tracing::warn!(job = %claim.job_id, error = %e, "cannot fail the job");
        }
        return;
    };
    let (zh, en) = failure_text(&failure.code);
    let shown = ProcessingFailure {
        code: failure.code.clone(),
        message_zh: zh.to_owned(),
        message_en: en.to_owned(),
    };
    if let Err(e) = worker
        .control
        .fail_processing(id, claim, failure, shown, now)
        .await
    {
        tracing::warn!(job = %claim.job_id, error = %e, "cannot record the failed attempt");
    }
}
