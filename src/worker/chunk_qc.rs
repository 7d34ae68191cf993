//! The technical QC of a chunked source: a `qc_source` child job queued
//! with the parent's parts. The single pass analyses the pictures and the
//! sound it decodes anyway; the chunks of a long source are decoded on
//! several workers, each over its own range, so this child decodes the
//! whole source once more (no encoding) on whichever worker takes it, while
//! the chunks encode. Its result is the QC report, which the parent records
//! at the join exactly as the single pass does (`store_qc`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use yanxiu_control::jobs::{ClaimedJob, JobClaim, JobFailure, JobProgress};
use yanxiu_transcode::qc::QcReport;
use yanxiu_transcode::qc::tap::{QcFileSpec, analyse_file};
use yanxiu_transcode::{SourceVideo, TranscodeJob, VideoInput};

use super::process::{Ended, conclude, failure, transcode_failure};
use super::{Worker, lease, stage};

/// The job kind: the QC report of a chunked source.
pub const QC_SOURCE: &str = "qc_source";

/// Input of a `qc_source` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QcPayload {
    /// The `process_upload` job the report belongs to.
    pub parent: String,
    /// The source file (replaced by this worker's copy when `source_key` is set).
    pub input: PathBuf,
    /// The source object in storage (the shared upload store), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    /// The source picture (rotation, frame rate).
    pub source: SourceVideo,
    /// Index of the video stream.
    pub video_stream: usize,
    /// Index of the audio stream, if any.
    pub audio_stream: Option<usize>,
    /// Channels the sound is measured in.
    pub audio_channels: u16,
}

impl QcPayload {
    /// The QC child of the parent `parent` transcoding `job`.
    pub fn for_job(
        parent: &str,
        job: &TranscodeJob,
        video: VideoInput,
        source_key: Option<&str>,
    ) -> Self {
        QcPayload {
            parent: parent.to_owned(),
            input: job.input.clone(),
            source_key: source_key.map(str::to_owned),
            source: video.source,
            video_stream: video.stream,
            audio_stream: job.audio_stream,
            audio_channels: job
                .plan
                .audio
                .as_ref()
                .map_or(2, |a| a.channels.clamp(1, 2)),
        }
    }
}

/// The report in a `qc_source` job's result.
pub fn report_of(result: &serde_json::Value) -> Result<QcReport, JobFailure> {
    serde_json::from_value(result.clone()).map_err(|e| failure(false, "qc.serialize", e))
}

/// Runs one claimed `qc_source` job to an end the queue knows about.
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
) -> Result<Ended, JobFailure> {
    let mut payload: QcPayload = serde_json::from_value(payload.clone())
        .map_err(|e| failure(false, "job.bad_payload", e))?;
    if let Some(key) = &payload.source_key {
        match stage::keep_source(worker, claim, key).await? {
            stage::Staged::Ready(path) => payload.input = path,
            stage::Staged::LeaseLost => return Ok(Ended::LeaseLost),
        }
    }
    let spec = QcFileSpec {
        input: payload.input,
        video_stream: Some(payload.video_stream),
        audio_stream: payload.audio_stream,
        rotation: payload.source.rotation,
        frame_rate: payload.source.frame_rate,
        audio_channels: payload.audio_channels,
        thresholds: worker.policy.qc.clone(),
    };
    // The decode runs on threads of its own; it is not stopped when the lease
    // is lost or the worker shuts down (it ends with the source, or the process).
    let work = tokio::task::spawn_blocking(move || analyse_file(spec));
    tokio::pin!(work);
    let progress = || JobProgress {
        stage: "qc".to_owned(),
        percent: 0.0,
        speed: None,
        detail: None,
    };
    let report = match lease::hold_while(worker, claim, work.as_mut(), shutdown, progress).await {
        Ok(report) => report,
        Err(stopped) => return Ok(stopped),
    };
    let report = report
        .map_err(|e| failure(true, "qc.failed", e))?
        .map_err(|e| transcode_failure("qc.failed", e))?;
    let result = serde_json::to_value(&report).map_err(|e| failure(false, "qc.serialize", e))?;
    lease::complete(worker, claim, result).await
}
