//! The durable job queue on SQLite and PostgreSQL: claim and complete, crash recovery through
//! lease expiry, retries with backoff then final failure, stale claims, graceful release,
//! cancellation, counts, and many concurrent claimers each getting distinct jobs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{T0, TestEnv};
use serde_json::json;
use yanxiu_control::jobs::{JobError, JobFailure, JobProgress, JobState, NewJob};

const LEASE: Duration = Duration::from_secs(30);

fn transcode(resource: Option<&str>, max_attempts: u32) -> NewJob {
    NewJob {
        kind: "transcode".into(),
        resource_id: resource.map(str::to_owned),
        payload: json!({"source": "uploads/abc"}),
        max_attempts,
    }
}

fn progress(percent: f64) -> JobProgress {
    JobProgress {
        stage: "transcode".into(),
        percent,
        speed: Some(2.5),
        detail: None,
    }
}

fn retryable(code: &str) -> JobFailure {
    JobFailure {
        retryable: true,
        code: code.into(),
        message: format!("{code} happened"),
    }
}

async fn a_claimed_job_completes_with_its_result(env: TestEnv) {
    let c = &env.control;
    let id = c.enqueue_job(transcode(None, 3), T0).await.unwrap();
    let queued = c.job(&id).await.unwrap();
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(queued.attempts, 0);

    let claimed = c
        .claim_job("w1", &["transcode"], LEASE, T0 + 1)
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(claimed.claim.job_id, id);
    assert_eq!(claimed.job.state, JobState::Running);
    assert_eq!(claimed.job.attempts, 1);
    assert_eq!(claimed.job.worker_id.as_deref(), Some("w1"));
    assert_eq!(claimed.job.lease_until, Some(T0 + 1 + 30_000));
    assert_eq!(claimed.job.payload, json!({"source": "uploads/abc"}));
    assert!(
        c.claim_job("w2", &["transcode"], LEASE, T0 + 2)
            .await
            .unwrap()
            .is_none(),
        "a running job with a live lease is not claimable"
    );

    let beat = c
        .heartbeat_job(&claimed.claim, progress(40.0), LEASE, T0 + 20_000)
        .await
        .unwrap();
    assert_eq!(beat.progress.as_ref().unwrap().percent, 40.0);
    assert_eq!(beat.lease_until, Some(T0 + 50_000));

    let done = c
        .complete_job(&claimed.claim, json!({"renditions": 3}), T0 + 40_000)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.result, Some(json!({"renditions": 3})));
    assert_eq!(done.finished_at, Some(T0 + 40_000));
    assert!(
        c.claim_job("w1", &["transcode"], LEASE, T0 + 10_000_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        c.complete_job(&claimed.claim, json!({}), T0 + 40_001).await,
        Err(JobError::LeaseLost)
    ));
}

async fn claims_take_the_oldest_due_job_of_the_requested_kinds(env: TestEnv) {
    let c = &env.control;
    let probe = c
        .enqueue_job(
            NewJob {
                kind: "probe".into(),
                ..transcode(None, 1)
            },
            T0,
        )
        .await
        .unwrap();
    let first = c.enqueue_job(transcode(None, 1), T0 + 1).await.unwrap();
    let second = c.enqueue_job(transcode(None, 1), T0 + 2).await.unwrap();
    let a = c
        .claim_job("w", &["transcode"], LEASE, T0 + 5)
        .await
        .unwrap()
        .unwrap();
    let b = c
        .claim_job("w", &["transcode", "thumbnails"], LEASE, T0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.job.id, b.job.id), (first, second));
    assert!(
        c.claim_job("w", &["transcode"], LEASE, T0 + 5)
            .await
            .unwrap()
            .is_none()
    );
    let p = c
        .claim_job("w", &["probe"], LEASE, T0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.job.id, probe);
}

async fn a_dead_workers_job_is_claimed_again_after_its_lease_and_the_attempt_counts(env: TestEnv) {
    let c = &env.control;
    let id = c
        .enqueue_job(transcode(Some("res-1"), 3), T0)
        .await
        .unwrap();
    let dead = c
        .claim_job("worker-a", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(
        c.claim_job("worker-b", &["transcode"], LEASE, T0 + 29_999)
            .await
            .unwrap()
            .is_none(),
        "not before the lease ends"
    );
    let rescued = c
        .claim_job("worker-b", &["transcode"], LEASE, T0 + 30_000)
        .await
        .unwrap()
        .expect("the expired job");
    assert_eq!(rescued.job.id, id);
    assert_eq!(rescued.job.attempts, 2, "the lost attempt counts");
    assert_eq!(rescued.job.worker_id.as_deref(), Some("worker-b"));
    assert_eq!(rescued.job.error.as_ref().unwrap().code, "lease_expired");

    // The first worker wakes up: every call about the job is refused.
    assert!(matches!(
        c.heartbeat_job(&dead.claim, progress(90.0), LEASE, T0 + 31_000)
            .await,
        Err(JobError::LeaseLost)
    ));
    assert!(matches!(
        c.complete_job(&dead.claim, json!({}), T0 + 31_000).await,
        Err(JobError::LeaseLost)
    ));
    assert!(matches!(
        c.fail_job(&dead.claim, retryable("late"), T0 + 31_000)
            .await,
        Err(JobError::LeaseLost)
    ));
    assert!(matches!(
        c.release_job(&dead.claim, T0 + 31_000).await,
        Err(JobError::LeaseLost)
    ));
    let done = c
        .complete_job(&rescued.claim, json!({"ok": true}), T0 + 40_000)
        .await
        .unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.error, None);
}

async fn a_job_whose_lease_expires_on_its_last_attempt_fails(env: TestEnv) {
    let c = &env.control;
    let id = c.enqueue_job(transcode(None, 1), T0).await.unwrap();
    c.claim_job("w1", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(
        c.claim_job("w2", &["transcode"], LEASE, T0 + 60_000)
            .await
            .unwrap()
            .is_none()
    );
    let job = c.job(&id).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.error.unwrap().code, "lease_expired");
    assert_eq!(job.finished_at, Some(T0 + 60_000));
}

async fn failed_attempts_are_retried_with_backoff_until_attempts_run_out(env: TestEnv) {
    let c = &env.control;
    let id = c.enqueue_job(transcode(None, 3), T0).await.unwrap();
    let one = c
        .claim_job("w", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    let after_one = c
        .fail_job_with_jitter(&one.claim, retryable("storage_unavailable"), T0 + 100, 0.5)
        .await
        .unwrap();
    assert_eq!(after_one.state, JobState::Queued);
    assert_eq!(after_one.run_at, T0 + 100 + 5_000, "first backoff: 5 s");
    assert_eq!(
        after_one.error.as_ref().unwrap().code,
        "storage_unavailable"
    );
    assert!(
        c.claim_job("w", &["transcode"], LEASE, T0 + 5_099)
            .await
            .unwrap()
            .is_none(),
        "not before its backoff"
    );
    let two = c
        .claim_job("w", &["transcode"], LEASE, T0 + 5_100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.job.attempts, 2);
    let after_two = c
        .fail_job_with_jitter(
            &two.claim,
            retryable("storage_unavailable"),
            T0 + 6_000,
            0.0,
        )
        .await
        .unwrap();
    assert_eq!(
        after_two.run_at,
        T0 + 6_000 + 24_000,
        "second backoff: 30 s less 20 % jitter"
    );
    let three = c
        .claim_job("w", &["transcode"], LEASE, T0 + 30_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(three.job.attempts, 3);
    let last = c
        .fail_job_with_jitter(
            &three.claim,
            retryable("storage_unavailable"),
            T0 + 31_000,
            0.5,
        )
        .await
        .unwrap();
    assert_eq!(last.state, JobState::Failed, "out of attempts");
    assert_eq!(last.finished_at, Some(T0 + 31_000));
    assert!(
        c.claim_job("w", &["transcode"], LEASE, T0 + 99_999_999)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(c.job(&id).await.unwrap().state, JobState::Failed);
}

async fn a_permanent_failure_is_not_retried(env: TestEnv) {
    let c = &env.control;
    c.enqueue_job(transcode(None, 5), T0).await.unwrap();
    let claimed = c
        .claim_job("w", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    let failed = c
        .fail_job(
            &claimed.claim,
            JobFailure {
                retryable: false,
                code: "unsupported_codec".into(),
                message: "the source uses a codec the decoder lacks".into(),
            },
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(
        failed.error.unwrap().message,
        "the source uses a codec the decoder lacks"
    );
}

async fn a_released_job_goes_back_to_the_queue_without_spending_the_attempt(env: TestEnv) {
    let c = &env.control;
    let id = c.enqueue_job(transcode(None, 1), T0).await.unwrap();
    let first = c
        .claim_job("shutting-down", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    let released = c.release_job(&first.claim, T0 + 1_000).await.unwrap();
    assert_eq!(released.state, JobState::Queued);
    assert_eq!(released.attempts, 0);
    assert_eq!(released.lease_until, None);
    let second = c
        .claim_job("other", &["transcode"], LEASE, T0 + 1_000)
        .await
        .unwrap()
        .expect("claimable again at once");
    assert_eq!(second.job.id, id);
    assert_eq!(second.job.attempts, 1, "the single attempt is still there");
    assert!(matches!(
        c.heartbeat_job(&first.claim, progress(1.0), LEASE, T0 + 2_000)
            .await,
        Err(JobError::LeaseLost)
    ));
}

async fn jobs_queued_together_are_all_there_in_order(env: TestEnv) {
    let c = &env.control;
    let jobs = (0..3)
        .map(|i| NewJob {
            payload: json!({ "part": i }),
            ..transcode(Some("r1"), 2)
        })
        .collect();
    let ids = c.enqueue_jobs(jobs, T0).await.unwrap();
    assert_eq!(ids.len(), 3);
    let listed: Vec<_> = c
        .jobs_for_resource("r1")
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.state, j.payload["part"].as_i64()))
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|(s, _)| *s == JobState::Queued));
    assert_eq!(
        listed.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    // Claimed in the order queued, whatever their ids.
    for (worker, part) in ["w1", "w2", "w3"].into_iter().zip(0..) {
        let claimed = c
            .claim_job(worker, &["transcode"], LEASE, T0 + 10)
            .await
            .unwrap()
            .expect("a job");
        assert_eq!(claimed.job.payload["part"], part);
    }
    let bad = vec![transcode(Some("r2"), 1), transcode(Some("r2"), 0)];
    assert!(matches!(
        c.enqueue_jobs(bad, T0).await,
        Err(JobError::Invalid(_))
    ));
    assert!(
        c.jobs_for_resource("r2").await.unwrap().is_empty(),
        "none of a refused batch is queued"
    );
}

async fn a_deferred_job_waits_until_its_time_without_spending_the_attempt(env: TestEnv) {
    let c = &env.control;
    let id = c.enqueue_job(transcode(None, 1), T0).await.unwrap();
    let first = c
        .claim_job("parent", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    let deferred = c
        .defer_job(&first.claim, progress(25.0), T0 + 2_000, T0 + 10)
        .await
        .unwrap();
    assert_eq!(deferred.state, JobState::Queued);
    assert_eq!(deferred.attempts, 0);
    assert_eq!(deferred.run_at, T0 + 2_000);
    assert_eq!(deferred.progress.unwrap().percent, 25.0);
    assert!(
        c.claim_job("w", &["transcode"], LEASE, T0 + 1_999)
            .await
            .unwrap()
            .is_none(),
        "not before its time"
    );
    let again = c
        .claim_job("w", &["transcode"], LEASE, T0 + 2_000)
        .await
        .unwrap()
        .expect("due again");
    assert_eq!(
        (again.job.id.as_str(), again.job.attempts),
        (id.as_str(), 1)
    );
    assert!(matches!(
        c.defer_job(&first.claim, progress(30.0), T0 + 5_000, T0 + 2_001)
            .await,
        Err(JobError::LeaseLost)
    ));
}

async fn a_reclaim_by_the_same_worker_makes_its_older_claim_stale(env: TestEnv) {
    let c = &env.control;
    c.enqueue_job(transcode(None, 3), T0).await.unwrap();
    let old = c
        .claim_job("serve-1", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    let new = c
        .claim_job("serve-1", &["transcode"], LEASE, T0 + 30_000)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(old.claim.claim_id, new.claim.claim_id);
    assert!(matches!(
        c.heartbeat_job(&old.claim, progress(5.0), LEASE, T0 + 30_001)
            .await,
        Err(JobError::LeaseLost)
    ));
    c.heartbeat_job(&new.claim, progress(5.0), LEASE, T0 + 30_001)
        .await
        .unwrap();
}

async fn cancelled_jobs_stop_their_worker_and_counts_follow_states(env: TestEnv) {
    let c = &env.control;
    let running = c
        .enqueue_job(transcode(Some("res-gone"), 3), T0)
        .await
        .unwrap();
    let claimed = c
        .claim_job("w", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job.id, running);
    let waiting = c
        .enqueue_job(transcode(Some("res-gone"), 3), T0 + 1)
        .await
        .unwrap();
    let other = c
        .enqueue_job(transcode(Some("res-kept"), 3), T0 + 2)
        .await
        .unwrap();
    let jobs = c.jobs_for_resource("res-gone").await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
        vec![running.clone(), waiting.clone()]
    );

    assert_eq!(
        c.cancel_jobs_for_resource("res-gone", T0 + 10)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        c.heartbeat_job(&claimed.claim, progress(50.0), LEASE, T0 + 11)
            .await,
        Err(JobError::LeaseLost)
    ));
    assert_eq!(c.job(&waiting).await.unwrap().state, JobState::Cancelled);
    assert_eq!(c.job(&other).await.unwrap().state, JobState::Queued);
    let counts = c.job_counts_by_state().await.unwrap();
    assert_eq!(
        counts,
        vec![
            (JobState::Queued, 1),
            (JobState::Running, 0),
            (JobState::Succeeded, 0),
            (JobState::Failed, 0),
            (JobState::Cancelled, 2),
        ]
    );
}

async fn out_of_range_requests_are_refused(env: TestEnv) {
    let c = &env.control;
    assert!(matches!(
        c.enqueue_job(transcode(None, 0), T0).await,
        Err(JobError::Invalid(_))
    ));
    assert!(matches!(
        c.claim_job("w", &[], LEASE, T0).await,
        Err(JobError::Invalid(_))
    ));
    assert!(matches!(
        c.claim_job("w", &["transcode"], Duration::ZERO, T0).await,
        Err(JobError::Invalid(_))
    ));
    c.enqueue_job(transcode(None, 1), T0).await.unwrap();
    let claimed = c
        .claim_job("w", &["transcode"], LEASE, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        c.heartbeat_job(&claimed.claim, progress(150.0), LEASE, T0)
            .await,
        Err(JobError::Invalid(_))
    ));
    assert!(matches!(c.job("nope").await, Err(JobError::NotFound)));
}

async fn concurrent_claimers_each_get_distinct_jobs(env: TestEnv) {
    const WORKERS: usize = 4;
    const PER_WORKER: usize = 20;
    let mut ids = HashSet::new();
    for i in 0..WORKERS * PER_WORKER {
        ids.insert(
            env.control
                .enqueue_job(transcode(None, 1), T0 + i as i64)
                .await
                .unwrap(),
        );
    }
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let control = env.control.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut mine = Vec::new();
            let now = T0 + 1_000_000;
            while let Some(job) = control
                .claim_job(&worker, &["transcode"], LEASE, now)
                .await
                .expect("claim")
            {
                control
                    .complete_job(&job.claim, json!({"by": worker}), now)
                    .await
                    .expect("complete");
                mine.push(job.job.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    let unique: HashSet<String> = claimed.iter().cloned().collect();
    assert_eq!(claimed.len(), WORKERS * PER_WORKER, "each job claimed once");
    assert_eq!(unique, ids);
    for id in &ids {
        let job = env.control.job(id).await.unwrap();
        assert_eq!(job.state, JobState::Succeeded);
        assert_eq!(job.attempts, 1);
    }
}

both_backends!(
    a_claimed_job_completes_with_its_result,
    claims_take_the_oldest_due_job_of_the_requested_kinds,
    a_dead_workers_job_is_claimed_again_after_its_lease_and_the_attempt_counts,
    a_job_whose_lease_expires_on_its_last_attempt_fails,
    failed_attempts_are_retried_with_backoff_until_attempts_run_out,
    a_permanent_failure_is_not_retried,
    a_released_job_goes_back_to_the_queue_without_spending_the_attempt,
    a_reclaim_by_the_same_worker_makes_its_older_claim_stale,
    jobs_queued_together_are_all_there_in_order,
    a_deferred_job_waits_until_its_time_without_spending_the_attempt,
    cancelled_jobs_stop_their_worker_and_counts_follow_states,
    out_of_range_requests_are_refused,
);

// Claimers on a multi-threaded runtime, so that claims really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_each_get_distinct_jobs_on_sqlite() {
    concurrent_claimers_each_get_distinct_jobs(TestEnv::new(common::Backend::Sqlite).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_each_get_distinct_jobs_on_postgres() {
    concurrent_claimers_each_get_distinct_jobs(TestEnv::new(common::Backend::Postgres).await).await
}
