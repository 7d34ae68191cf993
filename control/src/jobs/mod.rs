//! Durable jobs: a database-backed queue that survives restarts, shared by the workers inside
//! `yanxiu serve` and by separate `yanxiu worker` processes on the same database.
//!
//! A worker [claims](crate::ControlPlane::claim_job) the oldest runnable job of the kinds it
//! handles and holds it under a lease that it renews with
//! [heartbeats](crate::ControlPlane::heartbeat_job) carrying progress. A worker that dies
//! stops renewing; once the lease has expired another worker claims the job again and the
//! lost attempt counts as failed. A failed attempt is retried after an exponential backoff
//! with jitter until `max_attempts`; a worker that shuts down gracefully
//! [releases](crate::ControlPlane::release_job) its job without spending the attempt.
//!
//! Every call after the claim names the claim ([`JobClaim`]); when the job has been claimed
//! again by someone else, cancelled or finished, the call fails with [`JobError::LeaseLost`]
//! and the worker must stop working on it.
//!
//! The rules live in [`rules`] (pure); [`queue`] applies them with conditional updates
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: compare-and-set, retried).

pub mod queue;
pub mod rules;

use serde::{Deserialize, Serialize};

pub use rules::JobState;

use crate::error::ControlError;

/// A job's id (UUID text).
pub type JobId = String;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NewJob {
    /// What to do (e.g. `transcode`); workers claim by kind.
    pub kind: String,
    /// The resource the job works for, if any.
    pub resource_id: Option<String>,
    /// Input for the worker.
    pub payload: serde_json::Value,
    /// Attempts before giving up (1 to [`rules::MAX_ATTEMPTS_LIMIT`]).
    pub max_attempts: u32,
}

/// What a worker reports with a heartbeat.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct JobProgress {
    /// The step under way (e.g. `probe`, `transcode`, `thumbnails`).
    pub stage: String,
    /// 0 to 100.
    pub percent: f64,
    /// Processing speed as a multiple of real time, if known.
    pub speed: Option<f64>,
    /// Anything else worth showing.
    pub detail: Option<serde_json::Value>,
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct JobFailure {
    /// Whether another attempt may succeed (network, storage outage) or not (a broken file).
    pub retryable: bool,
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong, for operators (never secrets).
    pub message: String,
}

/// The last error of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobErrorInfo {
    /// Stable code (`lease_expired` when a worker died holding it).
    pub code: String,
    /// Message.
    pub message: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Kind.
    pub kind: String,
    /// The resource it works for.
    pub resource_id: Option<String>,
    /// Input.
    pub payload: serde_json::Value,
    /// State.
    pub state: JobState,
    /// Attempts started so far (including a running one).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not runnable before this time (ms).
    pub run_at: i64,
    /// The worker holding (or last holding) the job.
    pub worker_id: Option<String>,
    /// End of the current lease (ms), while running.
    pub lease_until: Option<i64>,
    /// The last reported progress.
    pub progress: Option<JobProgress>,
    /// The result of a succeeded job.
    pub result: Option<serde_json::Value>,
    /// The last error (kept when a retry succeeds later, cleared on success).
    pub error: Option<JobErrorInfo>,
    /// Creation (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// First claim (ms).
    pub started_at: Option<i64>,
    /// End (ms), once terminal.
    pub finished_at: Option<i64>,
}

/// Proof of holding a job: the job, the worker and this particular claim. Every call a
/// worker makes about its job passes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobClaim {
    /// The job.
    pub job_id: JobId,
    /// The worker that claimed it.
    pub worker_id: String,
    /// Unique per claim: a re-claim by anyone (even the same worker) makes older claims stale.
    pub claim_id: String,
}

/// A job taken by a worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedJob {
    /// The claim to pass to heartbeat, complete, fail and release.
    pub claim: JobClaim,
    /// The job as it is after the claim (`attempts` includes this one).
    pub job: Job,
}

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The claim no longer holds the job: it was claimed again after the lease expired,
    /// cancelled, or already finished. The worker must stop working on it.
    #[error("the job's lease was lost")]
    LeaseLost,
    /// No such job.
    #[error("job not found")]
    NotFound,
    /// A request out of range (attempts, percent, lease, kinds).
    #[error("invalid job request: {0}")]
    Invalid(String),
    /// A stored value could not be read back.
    #[error("corrupt job record: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<JobError> for ControlError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::LeaseLost => ControlError::conflict(
                "该任务已由其他工作进程接管或已结束",
                "the job was taken over by another worker or has ended",
            ),
            JobError::NotFound => ControlError::NotFound("job"),
            JobError::Invalid(en) => ControlError::invalid(format!("任务请求无效：{en}"), en),
            JobError::Corrupt(e) => ControlError::Internal(e),
            JobError::Database(e) => ControlError::Database(e),
        }
    }
}
