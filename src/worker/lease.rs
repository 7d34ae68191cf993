//! Keeping a claimed job's lease while its work runs: heartbeats that carry
//! progress, the job given back to the queue when the worker shuts down, and
//! the attempt stopped when another worker has taken the job over.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::watch;
use yanxiu_control::jobs::{JobClaim, JobError, JobFailure, JobProgress};
use yanxiu_control::now_ms;

use super::Worker;
use super::process::{Ended, failure};

/// Whether the lease is still this worker's after a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Beat {
    /// Renewed, or a passing fault (logged): the work goes on.
    Kept,
    /// Another worker owns the job now: the attempt must stop.
    Lost,
}

/// Renews the lease with `progress`. Faults other than a lost lease are
/// logged and the work goes on (the next beat tries again).
pub(super) async fn beat(worker: &Worker, claim: &JobClaim, progress: JobProgress) -> Beat {
    match worker
        .control
        .heartbeat_job(claim, progress, worker.lease(), now_ms())
        .await
    {
        Ok(_) => Beat::Kept,
        Err(JobError::LeaseLost) => Beat::Lost,
        Err(e) => {
            tracing::warn!(job = %claim.job_id, error = %e, "heartbeat failed");
            Beat::Kept
        }
    }
}

/// Gives the job back to the queue for the next worker (shutdown).
pub(super) async fn release(worker: &Worker, claim: &JobClaim) {
    if let Err(e) = worker.control.release_job(claim, now_ms()).await {
        tracing::warn!(job = %claim.job_id, error = %e, "cannot release the job");
    }
}

/// The heartbeat interval of `worker`.
pub(super) fn interval(worker: &Worker) -> tokio::time::Interval {
    tokio::time::interval(std::time::Duration::from_secs(
        worker.config.heartbeat_seconds.max(1),
    ))
}

/// Runs `work` to its end while beating with `progress()`; `Err` with how the
/// attempt stopped when the lease is lost or the worker shuts down (the job
/// is then released). Work running on threads of its own is not stopped by
/// that: it ends with its input, or with the process.
pub(super) async fn hold_while<F: Future>(
    worker: &Worker,
    claim: &JobClaim,
    mut work: Pin<&mut F>,
    shutdown: &mut watch::Receiver<bool>,
    mut progress: impl FnMut() -> JobProgress,
) -> Result<F::Output, Ended> {
    let mut ticks = interval(worker);
    loop {
        tokio::select! {
            result = &mut work => return Ok(result),
            _ = ticks.tick() => {
                if beat(worker, claim, progress()).await == Beat::Lost {
                    return Err(Ended::LeaseLost);
                }
            }
            _ = shutdown.changed() => {
                release(worker, claim).await;
                return Err(Ended::Released);
            }
        }
    }
}

/// Completes the job with `result` while the lease is still this worker's.
pub(super) async fn complete(
    worker: &Worker,
    claim: &JobClaim,
    result: serde_json::Value,
) -> Result<Ended, JobFailure> {
    match worker.control.complete_job(claim, result, now_ms()).await {
        Ok(_) => Ok(Ended::Done),
        Err(JobError::LeaseLost) => Ok(Ended::LeaseLost),
        Err(e) => Err(failure(true, "queue.complete", e)),
    }
}
