//! The upload pipeline's view of the control plane, on SQLite and PostgreSQL: upload
//! authorization, a draft with its file and job, the job's progress and results in
//! `GET /api/v1/resources/{id}`, rejection with coded reasons, failure, a replaced file making
//! the old job obsolete, delete removing stored objects through the janitor, and the counts
//! for metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use common::TestEnv;
use serde_json::{Value, json};
use yanxiu_control::http::AppState;
use yanxiu_control::jobs::{JobFailure, JobProgress, JobState, NewJob};
use yanxiu_control::resources::{
    JanitorError, MediaJanitor, MediaUpdate, MediaValidation, MediaViolation, ProcessingFailure,
    ProcessingStatus, ResourceMetadata, StoredMedia,
};
use yanxiu_control::{ControlError, Role};

const LEASE: Duration = Duration::from_secs(60);

fn metadata(name: &str) -> ResourceMetadata {
    ResourceMetadata {
        name: name.into(),
        lecturer_name: "宋薇".into(),
        lecturer_unit: "北京市清华大学附属中学".into(),
        credit_hours: 4.0,
        display_order: 1,
        ..Default::default()
    }
}

fn media_job(max_attempts: u32) -> NewJob {
    NewJob {
        kind: "media".into(),
        resource_id: None,
        payload: json!({"upload": "uploads/abc"}),
        max_attempts,
    }
}

/// A producer in a department who uploads a file: returns (token, resource id, job id).
async fn uploaded(env: &TestEnv, max_attempts: u32) -> (String, String, String) {
    let dept = env.department("数学学科组").await;
    let (_, token) = env
        .login_as("producer", &[Role::Producer], Some(&dept))
        .await;
    let uploader = env
        .control
        .authorize_upload(&token, "127.0.0.1", env.now())
        .await
        .expect("producers may upload");
    let view = env
        .control
        .create_resource_for(
            &uploader.user_id,
            &uploader.department_id,
            metadata("全景式认识中国式现代化"),
            env.now(),
        )
        .await
        .unwrap();
    let (_, job_id) = env
        .control
        .start_processing(
            &view.id,
            "uploads/abc/source.mp4",
            media_job(max_attempts),
            env.now(),
        )
        .await
        .unwrap();
    (token, view.id, job_id)
}

async fn detail(env: &TestEnv, token: &str, id: &str) -> Value {
    let (status, body) = env
        .call("GET", &format!("/api/v1/resources/{id}"), Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn rejected_validation() -> MediaValidation {
    MediaValidation {
        accepted: false,
        violations: vec![MediaViolation {
            code: "video.codec_not_allowed".into(),
            message_zh: "视频编码 vp9 不在允许范围内（h264）".into(),
            message_en: "video codec vp9 is not allowed (h264)".into(),
            actual: Some("vp9".into()),
            limit: Some("h264".into()),
        }],
    }
}

async fn an_upload_shows_its_progress_and_results_in_the_resource_detail(env: TestEnv) {
    let (token, id, job_id) = uploaded(&env, 3).await;
    let c = &env.control;

    let body = detail(&env, &token, &id).await;
    let p = &body["processing"];
    assert_eq!(p["status"], "pending");
    assert_eq!(p["job"]["id"], job_id.as_str());
    assert_eq!(p["job"]["state"], "queued");
    assert_eq!(p["job"]["attempts"], 0);
    assert_eq!(p["playback_url"], Value::Null);
    assert_eq!(body["latest"]["source_file"], "source.mp4");
    assert!(
        body["latest"].get("media_ref").is_none(),
        "no storage path is shown"
    );

    // A worker takes the job, probes, validates and transcodes.
    let claimed = c
        .claim_job("worker-1", &["media"], LEASE, env.now())
        .await
        .unwrap()
        .expect("the upload's job");
    assert_eq!(claimed.job.resource_id.as_deref(), Some(id.as_str()));
    c.record_processing(
        &id,
        &job_id,
        MediaUpdate {
            processing_status: ProcessingStatus::Processing,
            probe_report: Some(json!({"duration_s": 1500.0, "video": {"codec": "h264"}})),
            validation: Some(MediaValidation {
                accepted: true,
                violations: vec![],
            }),
            ..Default::default()
        },
        env.now(),
    )
    .await
    .unwrap();
    env.clock.advance_ms(5_000);
    c.heartbeat_job(
        &claimed.claim,
        JobProgress {
            stage: "transcode".into(),
            percent: 40.0,
            speed: Some(2.5),
            detail: None,
        },
        LEASE,
        env.now(),
    )
    .await
    .unwrap();
    let p = detail(&env, &token, &id).await["processing"].clone();
    assert_eq!(p["status"], "processing");
    assert_eq!(p["job"]["state"], "running");
    assert_eq!(p["job"]["stage"], "transcode");
    assert_eq!(p["job"]["percent"], 40.0);
    assert_eq!(p["job"]["speed"], 2.5);
    assert_eq!(p["job"]["attempts"], 1);
    assert_eq!(p["probe"]["duration_s"], 1500.0);
    assert_eq!(p["validation"]["accepted"], true);
    assert_eq!(p["playback_url"], Value::Null);

    // Fast start: playable as soon as the ladder is being written.
    c.record_processing(
        &id,
        &job_id,
        MediaUpdate {
            processing_status: ProcessingStatus::Processing,
            ladder_prefix: Some(format!("vod/{id}/r1")),
            ..Default::default()
        },
        env.now(),
    )
    .await
    .unwrap();
    let p = detail(&env, &token, &id).await["processing"].clone();
    assert_eq!(p["playback_url"], format!("/play/{id}/master.m3u8"));

    c.record_processing(
        &id,
        &job_id,
        MediaUpdate {
            processing_status: ProcessingStatus::Ready,
            renditions: Some(vec![
                json!({"name": "720p", "height": 720, "bandwidth": 2_800_000}),
                json!({"name": "360p", "height": 360, "bandwidth": 800_000}),
            ]),
            poster_key: Some(format!("vod/{id}/r1/poster.jpg")),
            storyboard_key: Some(format!("vod/{id}/r1/storyboard.vtt")),
            ..Default::default()
        },
        env.now(),
    )
    .await
    .unwrap();
    c.complete_job(&claimed.claim, json!({"renditions": 2}), env.now())
        .await
        .unwrap();
    let body = detail(&env, &token, &id).await;
    let p = &body["processing"];
    assert_eq!(p["status"], "ready");
    assert_eq!(p["job"]["state"], "succeeded");
    assert_eq!(p["renditions"].as_array().unwrap().len(), 2);
    assert_eq!(p["probe"]["video"]["codec"], "h264", "earlier results kept");
    assert_eq!(p["playback_url"], format!("/play/{id}/master.m3u8"));
    assert_eq!(p["poster_url"], format!("/play/{id}/poster.jpg"));
    assert_eq!(p["storyboard_url"], format!("/play/{id}/storyboard.vtt"));
    assert_eq!(
        body["latest"]["state"], "draft",
        "processing leaves review alone"
    );

    // The list filters by processing status and shows the same view.
    let (_, ready) = env
        .call(
            "GET",
            "/api/v1/resources?processing=ready",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(ready["total"], 1);
    assert_eq!(ready["items"][0]["processing"]["status"], "ready");
    let (_, failed) = env
        .call(
            "GET",
            "/api/v1/resources?processing=failed",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(failed["total"], 0);
    let (status, jobs) = env
        .call(
            "GET",
            &format!("/api/v1/resources/{id}/jobs"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs["items"][0]["state"], "succeeded");

    // The OpenAPI document describes every field the detail returns.
    let (_, doc) = env.call("GET", "/api/v1/openapi.json", None, None).await;
    let schemas = &doc["components"]["schemas"];
    for (object, schema) in [
        (&body, "Resource"),
        (&body["latest"], "Revision"),
        (&body["processing"], "Processing"),
        (&body["processing"]["job"], "JobProgressSummary"),
        (&jobs["items"][0], "Job"),
    ] {
        for key in object.as_object().unwrap().keys() {
            assert!(
                schemas[schema]["properties"].get(key).is_some(),
                "{schema} lacks {key}"
            );
        }
    }
    assert_eq!(
        doc["paths"]["/api/v1/resources/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/Resource"
    );
    let list_params = doc["paths"]["/api/v1/resources"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(list_params.iter().any(|p| p["name"] == "processing"));

    let counts = c.resource_counts_by_processing_status().await.unwrap();
    assert!(counts.contains(&(ProcessingStatus::Ready, 1)), "{counts:?}");
    assert!(
        counts.contains(&(ProcessingStatus::Pending, 0)),
        "{counts:?}"
    );
    let jobs = c.job_counts_by_state().await.unwrap();
    assert!(jobs.contains(&(JobState::Succeeded, 1)), "{jobs:?}");
    c.ping().await.expect("the database answers");
}

async fn a_file_that_breaks_the_rules_is_rejected_with_its_codes_and_cannot_pass_review(
    env: TestEnv,
) {
    let (producer, id, job_id) = uploaded(&env, 3).await;
    let c = &env.control;
    let claimed = c
        .claim_job("w", &["media"], LEASE, env.now())
        .await
        .unwrap()
        .unwrap();
    c.record_processing(
        &id,
        &job_id,
        MediaUpdate {
            processing_status: ProcessingStatus::Rejected,
            probe_report: Some(json!({"video": {"codec": "vp9"}})),
            validation: Some(rejected_validation()),
            ..Default::default()
        },
        env.now(),
    )
    .await
    .unwrap();
    c.complete_job(&claimed.claim, json!({"accepted": false}), env.now())
        .await
        .unwrap();
    let p = detail(&env, &producer, &id).await["processing"].clone();
    assert_eq!(p["status"], "rejected");
    let violation = &p["validation"]["violations"][0];
    assert_eq!(violation["code"], "video.codec_not_allowed");
    assert!(
        violation["message_zh"]
            .as_str()
            .unwrap()
            .contains("视频编码")
    );
    assert!(violation["message_en"].as_str().unwrap().contains("codec"));
    assert_eq!(p["playback_url"], Value::Null);

    // The rejection stops the technical review.
    let dept = detail(&env, &producer, &id).await["department_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, head) = env
        .login_as("head", &[Role::DepartmentReviewer], Some(&dept))
        .await;
    let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;
    for (token, level) in [(&producer, "self"), (&head, "department")] {
        let (status, body) = env
            .call(
                "POST",
                &format!("/api/v1/resources/{id}/reviews"),
                Some(token),
                Some(json!({"level": level, "decision": "approve", "comment": "同意"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{level}: {body}");
    }
    let (status, body) = env
        .raw(
            "POST",
            &format!("/api/v1/resources/{id}/reviews"),
            Some(&centre),
            Some(json!({"level": "technical", "decision": "approve", "comment": "ok"}).to_string()),
            &[("accept-language", "en")],
        )
        .await
        .into_status_and_json();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("technical rules")
    );
}

trait StatusAndJson {
    fn into_status_and_json(self) -> (StatusCode, Value);
}

impl StatusAndJson for (StatusCode, String, String) {
    fn into_status_and_json(self) -> (StatusCode, Value) {
        (self.0, serde_json::from_str(&self.2).unwrap_or(Value::Null))
    }
}

async fn a_job_that_runs_out_of_attempts_shows_as_failed_with_its_reason(env: TestEnv) {
    let (token, id, job_id) = uploaded(&env, 1).await;
    let c = &env.control;
    let claimed = c
        .claim_job("w", &["media"], LEASE, env.now())
        .await
        .unwrap()
        .unwrap();
    c.fail_job(
        &claimed.claim,
        JobFailure {
            retryable: true,
            code: "storage_unavailable".into(),
            message: "the object store did not answer".into(),
        },
        env.now(),
    )
    .await
    .unwrap();
    let p = detail(&env, &token, &id).await["processing"].clone();
    assert_eq!(p["status"], "failed", "derived from the job");
    assert_eq!(p["job"]["state"], "failed");
    assert_eq!(p["job"]["error"]["code"], "storage_unavailable");
    assert_eq!(p["failure"]["code"], "storage_unavailable");
    assert!(!p["failure"]["message_zh"].as_str().unwrap().is_empty());

    // When the pipeline records its own words, they are shown.
    c.record_processing(
        &id,
        &job_id,
        MediaUpdate {
            processing_status: ProcessingStatus::Failed,
            failure: Some(ProcessingFailure {
                code: "decode_error".into(),
                message_zh: "文件已损坏，无法解码".into(),
                message_en: "the file is corrupt and cannot be decoded".into(),
            }),
            ..Default::default()
        },
        env.now(),
    )
    .await
    .unwrap();
    let p = detail(&env, &token, &id).await["processing"].clone();
    assert_eq!(p["failure"]["code"], "decode_error");
    assert_eq!(p["failure"]["message_zh"], "文件已损坏，无法解码");
}

async fn a_new_file_makes_the_old_job_obsolete(env: TestEnv) {
    let (token, id, old_job) = uploaded(&env, 3).await;
    let c = &env.control;
    let (_, new_job) = c
        .start_processing(&id, "uploads/def/source.mp4", media_job(3), env.now())
        .await
        .unwrap();
    assert_eq!(c.job(&old_job).await.unwrap().state, JobState::Cancelled);
    let refused = c
        .record_processing(
            &id,
            &old_job,
            MediaUpdate::status(ProcessingStatus::Ready),
            env.now(),
        )
        .await;
    assert!(
        matches!(refused, Err(ControlError::Conflict { .. })),
        "{refused:?}"
    );
    let claimed = c
        .claim_job("w", &["media"], LEASE, env.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job.id, new_job);
    let body = detail(&env, &token, &id).await;
    assert_eq!(body["latest"]["source_file"], "source.mp4");
    assert_eq!(body["processing"]["job"]["id"], new_job.as_str());
}

async fn a_follow_up_job_takes_over_the_processing_of_the_same_file(env: TestEnv) {
    let (token, id, probe_job) = uploaded(&env, 3).await;
    let c = &env.control;
    let probe = c
        .claim_job("w", &["media"], LEASE, env.now())
        .await
        .unwrap()
        .unwrap();
    let transcode = c
        .chain_processing_job(
            &id,
            &probe_job,
            NewJob {
                kind: "transcode".into(),
                ..media_job(3)
            },
            env.now(),
        )
        .await
        .unwrap();
    c.complete_job(&probe.claim, json!({}), env.now())
        .await
        .unwrap();
    let p = detail(&env, &token, &id).await["processing"].clone();
    assert_eq!(p["job"]["id"], transcode.as_str());
    assert_eq!(p["job"]["kind"], "transcode");
    assert!(
        c.chain_processing_job(&id, &probe_job, media_job(1), env.now())
            .await
            .is_err(),
        "the probe job no longer owns the revision"
    );
    c.record_processing(
        &id,
        &transcode,
        MediaUpdate::status(ProcessingStatus::Processing),
        env.now(),
    )
    .await
    .unwrap();
}

/// Records what it was asked to remove; fails while `fail` is set.
#[derive(Debug, Default)]
struct RecordingJanitor {
    removed: Mutex<Vec<(String, StoredMedia)>>,
    fail: Mutex<bool>,
}

#[async_trait::async_trait]
impl MediaJanitor for RecordingJanitor {
    async fn remove_media(
        &self,
        resource_id: &str,
        media: &StoredMedia,
    ) -> Result<(), JanitorError> {
        if *self.fail.lock().unwrap() {
            return Err(JanitorError("storage unreachable".into()));
        }
        self.removed
            .lock()
            .unwrap()
            .push((resource_id.to_owned(), media.clone()));
        Ok(())
    }
}

async fn deleting_a_resource_cancels_its_jobs_and_removes_its_stored_objects(mut env: TestEnv) {
    let janitor = Arc::new(RecordingJanitor::default());
    env.app = yanxiu_control::router(
        AppState::new(env.control.clone())
            .with_clock(env.clock.clone())
            .with_janitor(janitor.clone()),
    );
    let (token, id, job_id) = uploaded(&env, 3).await;
    env.control
        .record_processing(
            &id,
            &job_id,
            MediaUpdate {
                processing_status: ProcessingStatus::Processing,
                ladder_prefix: Some(format!("vod/{id}/r1")),
                poster_key: Some(format!("vod/{id}/r1/poster.jpg")),
                storyboard_key: Some(format!("vod/{id}/r1/storyboard.vtt")),
                ..Default::default()
            },
            env.now(),
        )
        .await
        .unwrap();
    let path = format!("/api/v1/resources/{id}");

    *janitor.fail.lock().unwrap() = true;
    let (status, body) = env.call("DELETE", &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"]["code"], "internal");
    assert_eq!(
        env.call("GET", &path, Some(&token), None).await.0,
        StatusCode::OK,
        "kept for a retry"
    );
    assert_eq!(
        env.control.job(&job_id).await.unwrap().state,
        JobState::Cancelled
    );

    *janitor.fail.lock().unwrap() = false;
    let (status, _) = env.call("DELETE", &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call("GET", &path, Some(&token), None).await.0,
        StatusCode::NOT_FOUND
    );
    let removed = janitor.removed.lock().unwrap().clone();
    assert_eq!(removed.len(), 1);
    let (resource, media) = &removed[0];
    assert_eq!(resource, &id);
    assert_eq!(media.media_refs, vec!["uploads/abc/source.mp4".to_owned()]);
    assert_eq!(media.ladder_prefixes, vec![format!("vod/{id}/r1")]);
    assert_eq!(
        media.keys,
        vec![
            format!("vod/{id}/r1/poster.jpg"),
            format!("vod/{id}/r1/storyboard.vtt")
        ]
    );
}

async fn uploads_are_authorized_for_producers_with_a_department_and_audited(env: TestEnv) {
    let dept = env.department("语文学科组").await;
    let (producer, token) = env
        .login_as("producer", &[Role::Producer], Some(&dept))
        .await;
    let (_, learner) = env.login_as("learner", &[Role::Learner], Some(&dept)).await;
    let (_, homeless) = env.login_as("centre", &[Role::CentreReviewer], None).await;
    let c = &env.control;
    let uploader = c
        .authorize_upload(&token, "10.0.0.7", env.now())
        .await
        .unwrap();
    assert_eq!(uploader.user_id, producer.id);
    assert_eq!(uploader.department_id, dept);
    for denied in [&learner, &homeless] {
        let e = c
            .authorize_upload(denied, "10.0.0.7", env.now())
            .await
            .unwrap_err();
        assert!(matches!(e, ControlError::Forbidden(_)), "{e:?}");
    }
    let e = c
        .authorize_upload("not-a-token", "10.0.0.7", env.now())
        .await
        .unwrap_err();
    assert!(matches!(e, ControlError::Unauthenticated), "{e:?}");
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT result FROM audit_log WHERE action = 'upload.authorize' ORDER BY seq",
    )
    .fetch_all(c.db().pool())
    .await
    .unwrap();
    let results: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(results, vec!["success", "denied", "denied", "denied"]);
}

both_backends!(
    an_upload_shows_its_progress_and_results_in_the_resource_detail,
    a_file_that_breaks_the_rules_is_rejected_with_its_codes_and_cannot_pass_review,
    a_job_that_runs_out_of_attempts_shows_as_failed_with_its_reason,
    a_new_file_makes_the_old_job_obsolete,
    a_follow_up_job_takes_over_the_processing_of_the_same_file,
    deleting_a_resource_cancels_its_jobs_and_removes_its_stored_objects,
    uploads_are_authorized_for_producers_with_a_department_and_audited,
);
