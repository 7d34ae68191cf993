//! The job queue's database driver: `impl ControlPlane` methods that apply [`super::rules`]
//! with conditional updates, identical on SQLite and PostgreSQL except for how a claim picks
//! its row (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite, whose writers are serialised: pick
//! the oldest candidate, then a compare-and-set `UPDATE … WHERE id = ? AND <still claimable>`,
//! retried when another worker won the race).

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use super::rules::{self, AfterFailure, JobState};
use super::{
    ClaimedJob, Job, JobClaim, JobError, JobErrorInfo, JobFailure, JobId, JobProgress, NewJob,
};
use crate::db::Backend;
use crate::plane::{ControlPlane, new_id};

const JOB_COLUMNS: &str = "id, kind, resource_id, payload, state, attempts, max_attempts, run_at, \
    worker_id, lease_until, progress, result, error_code, error_message, created_at, \
    updated_at, started_at, finished_at";

/// A job is claimable when queued and due, or running with an expired lease and attempts
/// left. `$1` is now.
const CLAIMABLE: &str = "((state = 'queued' AND run_at <= $1) OR \
    (state = 'running' AND lease_until <= $1 AND attempts < max_attempts))";

/// Error code of an attempt lost because its worker stopped renewing the lease.
pub const LEASE_EXPIRED: &str = "lease_expired";

/// How often a SQLite claim retries after losing a compare-and-set race.
const CLAIM_RETRIES: usize = 64;

#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    resource_id: Option<String>,
    payload: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    worker_id: Option<String>,
    lease_until: Option<i64>,
    progress: Option<String>,
    result: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Corrupt(format!("{what}: {e}"))
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl JobRow {
    fn into_job(self) -> Result<Job, JobError> {
        let json = |what: &str, text: &str| -> Result<Value, JobError> {
            serde_json::from_str(text).map_err(|e| corrupt(what, e))
        };
        Ok(Job {
            payload: json("payload", &self.payload)?,
            state: self.state.parse().map_err(|e| corrupt("state", e))?,
            progress: match self.progress.as_deref() {
                Some(text) => Some(serde_json::from_str(text).map_err(|e| corrupt("progress", e))?),
                None => None,
            },
            result: self
                .result
                .as_deref()
                .map(|t| json("result", t))
                .transpose()?,
            error: self.error_code.map(|code| JobErrorInfo {
                code,
                message: self.error_message.unwrap_or_default(),
            }),
            id: self.id,
            kind: self.kind,
            resource_id: self.resource_id,
            attempts: count(self.attempts),
            max_attempts: count(self.max_attempts),
            run_at: self.run_at,
            worker_id: self.worker_id,
            lease_until: self.lease_until,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_lease(lease: Duration) -> Result<(), JobError> {
    if lease.is_zero() {
        return Err(JobError::Invalid(
            "the lease must be longer than zero".into(),
        ));
    }
    Ok(())
}

fn encode(value: &impl serde::Serialize) -> Result<String, JobError> {
    serde_json::to_string(value).map_err(|e| JobError::Invalid(e.to_string()))
}

impl ControlPlane {
    /// Adds a job, runnable at once. Returns its id.
    pub async fn enqueue_job(&self, job: NewJob, now: i64) -> Result<JobId, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        insert_job(&mut conn, job, now).await
    }

    /// Adds several jobs in one transaction (all or none), runnable at once and claimed in
    /// the order given (each is stamped a millisecond after the one before); returns their
    /// ids in order. A parent job queues its children this way, so a parent that dies
    /// half-way never leaves half of them behind.
    pub async fn enqueue_jobs(&self, jobs: Vec<NewJob>, now: i64) -> Result<Vec<JobId>, JobError> {
        let mut tx = self.db.pool().begin().await?;
        let mut ids = Vec::with_capacity(jobs.len());
        for (at, job) in (now..).zip(jobs) {
            ids.push(insert_job(&mut tx, job, at).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Puts a claimed job back in the queue until `run_at` without counting the attempt,
    /// keeping `progress`: a parent job that waits for its children resumes then, without
    /// holding a worker meanwhile. [`JobError::LeaseLost`] when the claim no longer holds it.
    pub async fn defer_job(
        &self,
        claim: &JobClaim,
        progress: JobProgress,
        run_at: i64,
        now: i64,
    ) -> Result<Job, JobError> {
        if !rules::valid_percent(progress.percent) {
            return Err(JobError::Invalid(
                "percent must be between 0 and 100".into(),
            ));
        }
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = $1, \
             claim_id = NULL, lease_until = NULL, progress = $2, updated_at = $3 \
             WHERE id = $4 AND claim_id = $5 AND state = 'running'",
        )
        .bind(run_at.max(now))
        .bind(encode(&progress)?)
        .bind(now)
        .bind(claim.job_id.clone())
        .bind(claim.claim_id.clone())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        self.after_claimed_update(claim, updated).await
    }

    /// Takes the oldest claimable job of one of `kinds` for `worker_id`, under a lease of
    /// `lease` from `now`: a queued job that is due, or a running job whose lease expired (its
    /// worker died; the lost attempt counts). Running jobs whose lease expired on their last
    /// attempt are failed with code `lease_expired` on the way. `None` when nothing is due.
    pub async fn claim_job(
        &self,
        worker_id: &str,
        kinds: &[&str],
        lease: Duration,
        now: i64,
    ) -> Result<Option<ClaimedJob>, JobError> {
        check_lease(lease)?;
        if kinds.is_empty() {
            return Err(JobError::Invalid("name at least one job kind".into()));
        }
        self.fail_exhausted_leases(kinds, now).await?;
        let claim_id = new_id();
        let lease_until = rules::lease_end(now, lease);
        let row = match self.db.backend() {
            Backend::Postgres => {
                self.claim_skip_locked(worker_id, &claim_id, kinds, lease_until, now)
                    .await?
            }
            Backend::Sqlite => {
                self.claim_compare_and_set(worker_id, &claim_id, kinds, lease_until, now)
                    .await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let job = row.into_job()?;
        Ok(Some(ClaimedJob {
            claim: JobClaim {
                job_id: job.id.clone(),
                worker_id: worker_id.to_owned(),
                claim_id,
            },
            job,
        }))
    }

    /// The `SET` list of a claim: `$1` now, `$2` worker, `$3` claim id, `$4` lease end. A
    /// re-claim after an expired lease records the lost attempt as the last error.
    fn claim_set() -> &'static str {
        "state = 'running', attempts = attempts + 1, worker_id = $2, claim_id = $3, \
         lease_until = $4, updated_at = $1, started_at = COALESCE(started_at, $1), \
         error_code = CASE WHEN state = 'running' THEN 'lease_expired' ELSE error_code END, \
         error_message = CASE WHEN state = 'running' \
             THEN 'the worker stopped renewing its lease' ELSE error_message END"
    }

    async fn claim_skip_locked(
        &self,
        worker_id: &str,
        claim_id: &str,
        kinds: &[&str],
        lease_until: i64,
        now: i64,
    ) -> Result<Option<JobRow>, JobError> {
        let sql = format!(
            "UPDATE jobs SET {set} WHERE {CLAIMABLE} AND id = (SELECT id FROM jobs \
             WHERE {CLAIMABLE} AND kind IN ({kinds}) ORDER BY run_at, created_at, id LIMIT 1 \
             FOR UPDATE SKIP LOCKED) RETURNING {JOB_COLUMNS}",
            set = Self::claim_set(),
            kinds = placeholders(5, kinds.len()),
        );
        let mut query = sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(worker_id.to_owned())
            .bind(claim_id.to_owned())
            .bind(lease_until);
        for kind in kinds {
            query = query.bind((*kind).to_owned());
        }
        Ok(query.fetch_optional(self.db.pool()).await?)
    }

    async fn claim_compare_and_set(
        &self,
        worker_id: &str,
        claim_id: &str,
        kinds: &[&str],
        lease_until: i64,
        now: i64,
    ) -> Result<Option<JobRow>, JobError> {
        let pick = format!(
            "SELECT id FROM jobs WHERE {CLAIMABLE} AND kind IN ({kinds}) \
             ORDER BY run_at, created_at, id LIMIT 1",
            kinds = placeholders(2, kinds.len()),
        );
        let take = format!(
            "UPDATE jobs SET {set} WHERE id = $5 AND {CLAIMABLE} RETURNING {JOB_COLUMNS}",
            set = Self::claim_set(),
        );
        for _ in 0..CLAIM_RETRIES {
            let mut query =
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(pick.clone())).bind(now);
            for kind in kinds {
                query = query.bind((*kind).to_owned());
            }
            let Some(id) = query.fetch_optional(self.db.pool()).await? else {
                return Ok(None);
            };
            let taken = sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(take.clone()))
                .bind(now)
                .bind(worker_id.to_owned())
                .bind(claim_id.to_owned())
                .bind(lease_until)
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?;
            if taken.is_some() {
                return Ok(taken);
            }
            // Another worker took that job between our read and our write: pick again.
            tokio::task::yield_now().await;
        }
        Ok(None)
    }

    /// Fails running jobs of `kinds` whose lease expired on their last attempt. Looks first, so
    /// that idle polling stays read-only (a SQLite write takes the database's write lock).
    async fn fail_exhausted_leases(&self, kinds: &[&str], now: i64) -> Result<u64, JobError> {
        let probe = format!(
            "SELECT id FROM jobs WHERE state = 'running' AND lease_until <= $1 \
             AND attempts >= max_attempts AND kind IN ({kinds}) LIMIT 1",
            kinds = placeholders(2, kinds.len()),
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(probe)).bind(now);
        for kind in kinds {
            query = query.bind((*kind).to_owned());
        }
        if query.fetch_optional(self.db.pool()).await?.is_none() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE jobs SET state = 'failed', claim_id = NULL, lease_until = NULL, \
             error_code = '{LEASE_EXPIRED}', \
             error_message = 'the worker stopped renewing its lease on the last attempt', \
             updated_at = $1, finished_at = $1 \
             WHERE state = 'running' AND lease_until <= $1 AND attempts >= max_attempts \
             AND kind IN ({kinds})",
            kinds = placeholders(2, kinds.len()),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for kind in kinds {
            query = query.bind((*kind).to_owned());
        }
        Ok(query.execute(self.db.pool()).await?.rows_affected())
    }

    /// Renews the lease of a claimed job until `now + lease` and records its progress.
    /// [`JobError::LeaseLost`] when the claim no longer holds the job.
    pub async fn heartbeat_job(
        &self,
        claim: &JobClaim,
        progress: JobProgress,
        lease: Duration,
        now: i64,
    ) -> Result<Job, JobError> {
        check_lease(lease)?;
        if !rules::valid_percent(progress.percent) {
            return Err(JobError::Invalid(
                "percent must be between 0 and 100".into(),
            ));
        }
        if progress.speed.is_some_and(|s| !s.is_finite() || s < 0.0) {
            return Err(JobError::Invalid("speed must be a positive number".into()));
        }
        let updated = sqlx::query(
            "UPDATE jobs SET lease_until = $1, progress = $2, updated_at = $3 \
             WHERE id = $4 AND claim_id = $5 AND state = 'running'",
        )
        .bind(rules::lease_end(now, lease))
        .bind(encode(&progress)?)
        .bind(now)
        .bind(claim.job_id.clone())
        .bind(claim.claim_id.clone())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        self.after_claimed_update(claim, updated).await
    }

    /// Marks a claimed job succeeded with its `result`.
    pub async fn complete_job(
        &self,
        claim: &JobClaim,
        result: Value,
        now: i64,
    ) -> Result<Job, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        complete_claimed(&mut conn, claim, &result, now).await?;
        drop(conn);
        self.job(&claim.job_id).await
    }

    /// Records a failed attempt: queued again at `now` + backoff (spread by `jitter` in
    /// `[0, 1]`, see [`rules::backoff_ms`]) while retryable with attempts left, else failed for
    /// good.
    pub async fn fail_job_with_jitter(
        &self,
        claim: &JobClaim,
        failure: JobFailure,
        now: i64,
        jitter: f64,
    ) -> Result<Job, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        fail_claimed(&mut conn, claim, failure, now, jitter).await?;
        drop(conn);
        self.job(&claim.job_id).await
    }

    /// [`ControlPlane::fail_job_with_jitter`] with random jitter.
    pub async fn fail_job(
        &self,
        claim: &JobClaim,
        failure: JobFailure,
        now: i64,
    ) -> Result<Job, JobError> {
        let jitter: f64 = rand::random();
        self.fail_job_with_jitter(claim, failure, now, jitter).await
    }

    /// Puts a claimed job back in the queue, runnable at once, without counting the attempt
    /// (a worker shutting down gracefully).
    pub async fn release_job(&self, claim: &JobClaim, now: i64) -> Result<Job, JobError> {
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = $1, \
             claim_id = NULL, lease_until = NULL, updated_at = $1 \
             WHERE id = $2 AND claim_id = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(claim.job_id.clone())
        .bind(claim.claim_id.clone())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        self.after_claimed_update(claim, updated).await
    }

    async fn after_claimed_update(&self, claim: &JobClaim, updated: u64) -> Result<Job, JobError> {
        let job = self.job(&claim.job_id).await?;
        if updated == 0 {
            return Err(JobError::LeaseLost);
        }
        Ok(job)
    }

    /// Cancels the queued and running jobs of a resource (a running worker learns it at its
    /// next heartbeat through [`JobError::LeaseLost`]). Returns how many were cancelled.
    pub async fn cancel_jobs_for_resource(
        &self,
        resource_id: &str,
        now: i64,
    ) -> Result<u64, JobError> {
        let mut conn = self.db.pool().acquire().await?;
        cancel_resource_jobs(&mut conn, resource_id, now).await
    }

    /// Cancels one job if it is queued or running. Returns whether it was.
    pub async fn cancel_job(&self, id: &str, now: i64) -> Result<bool, JobError> {
        Ok(sqlx::query(
            "UPDATE jobs SET state = 'cancelled', claim_id = NULL, lease_until = NULL, \
             updated_at = $1, finished_at = $1 WHERE id = $2 AND state IN ('queued', 'running')",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(self.db.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// A job by id.
    pub async fn job(&self, id: &str) -> Result<Job, JobError> {
        let row: JobRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(JobError::NotFound)?;
        row.into_job()
    }

    /// The jobs of a resource, oldest first.
    pub async fn jobs_for_resource(&self, resource_id: &str) -> Result<Vec<Job>, JobError> {
        let rows: Vec<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE resource_id = $1 ORDER BY created_at, id"
        )))
        .bind(resource_id.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter().map(JobRow::into_job).collect()
    }

    /// How many jobs are in each state (every state listed, zeros included), for metrics.
    pub async fn job_counts_by_state(&self) -> Result<Vec<(JobState, i64)>, JobError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(self.db.pool())
                .await?;
        let mut counts: Vec<(JobState, i64)> = JobState::ALL.iter().map(|s| (*s, 0)).collect();
        for (state, n) in rows {
            let state: JobState = state.parse().map_err(|e| corrupt("state", e))?;
            if let Some(entry) = counts.iter_mut().find(|(s, _)| *s == state) {
                entry.1 = n;
            }
        }
        Ok(counts)
    }
}

/// Adds a job, runnable at once, on `conn` (a transaction when the job goes with a change).
pub(crate) async fn insert_job(
    conn: &mut sqlx::AnyConnection,
    job: NewJob,
    now: i64,
) -> Result<JobId, JobError> {
    if job.kind.trim().is_empty() {
        return Err(JobError::Invalid("the kind must not be empty".into()));
    }
    if !rules::valid_max_attempts(job.max_attempts) {
        return Err(JobError::Invalid(format!(
            "max_attempts must be between 1 and {}",
            rules::MAX_ATTEMPTS_LIMIT
        )));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO jobs (id, kind, resource_id, payload, state, attempts, max_attempts, run_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6, $6)",
    )
    .bind(id.clone())
    .bind(job.kind)
    .bind(job.resource_id)
    .bind(job.payload.to_string())
    .bind(i64::from(job.max_attempts))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Marks a claimed job succeeded with its `result` on `conn`; [`JobError::LeaseLost`] when
/// the claim no longer holds the job.
pub(crate) async fn complete_claimed(
    conn: &mut sqlx::AnyConnection,
    claim: &JobClaim,
    result: &Value,
    now: i64,
) -> Result<(), JobError> {
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'succeeded', result = $1, claim_id = NULL, lease_until = NULL, \
         error_code = NULL, error_message = NULL, updated_at = $2, finished_at = $2 \
         WHERE id = $3 AND claim_id = $4 AND state = 'running'",
    )
    .bind(result.to_string())
    .bind(now)
    .bind(claim.job_id.clone())
    .bind(claim.claim_id.clone())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    held(updated)
}

/// Records a failed attempt of a claimed job on `conn` (see
/// [`ControlPlane::fail_job_with_jitter`]); returns the job's new state.
pub(crate) async fn fail_claimed(
    conn: &mut sqlx::AnyConnection,
    claim: &JobClaim,
    failure: JobFailure,
    now: i64,
    jitter: f64,
) -> Result<JobState, JobError> {
    let row = sqlx::query("SELECT attempts, max_attempts, run_at FROM jobs WHERE id = $1")
        .bind(claim.job_id.clone())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(JobError::NotFound)?;
    let attempts: i64 = row.try_get("attempts")?;
    let max_attempts: i64 = row.try_get("max_attempts")?;
    let run_at: i64 = row.try_get("run_at")?;
    let decision = rules::after_failure(
        count(attempts),
        count(max_attempts),
        failure.retryable,
        now,
        jitter,
    );
    let (state, run_at, finished_at) = match decision {
        AfterFailure::RetryAt(at) => (JobState::Queued, at, None),
        AfterFailure::GiveUp => (JobState::Failed, run_at, Some(now)),
    };
    let updated = sqlx::query(
        "UPDATE jobs SET state = $1, run_at = $2, finished_at = $3, claim_id = NULL, \
         lease_until = NULL, error_code = $4, error_message = $5, updated_at = $6 \
         WHERE id = $7 AND claim_id = $8 AND state = 'running'",
    )
    .bind(state.as_str())
    .bind(run_at)
    .bind(finished_at)
    .bind(failure.code)
    .bind(failure.message)
    .bind(now)
    .bind(claim.job_id.clone())
    .bind(claim.claim_id.clone())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    held(updated).map(|()| state)
}

/// Cancels the queued and running jobs of a resource on `conn`. Returns how many.
pub(crate) async fn cancel_resource_jobs(
    conn: &mut sqlx::AnyConnection,
    resource_id: &str,
    now: i64,
) -> Result<u64, JobError> {
    Ok(sqlx::query(
        "UPDATE jobs SET state = 'cancelled', claim_id = NULL, lease_until = NULL, \
         updated_at = $1, finished_at = $1 \
         WHERE resource_id = $2 AND state IN ('queued', 'running')",
    )
    .bind(now)
    .bind(resource_id.to_owned())
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// A conditional update on a claimed job: it held when it changed the row.
fn held(updated: u64) -> Result<(), JobError> {
    if updated == 0 {
        return Err(JobError::LeaseLost);
    }
    Ok(())
}
