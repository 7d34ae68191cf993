//! Caption tracks through review: a category that needs captions refuses self-review without
//! them; captions attached to a published resource open a new revision for review while
//! learners keep the published captions; who may attach and remove them. SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Backend, TestEnv, test_config};
use serde_json::{Value, json};
use yanxiu_control::resources::{CaptionRules, CaptionUpload};
use yanxiu_control::{ControlError, Role};

fn metadata(name: &str) -> Value {
    json!({"project_name": "2026 年骨干教师研修", "undertaking_unit": "教师网络研修中心", "name": name,
        "lecturer_name": "宋薇", "lecturer_unit": "北京市清华大学附属中学", "lecturer_title": "高级教师",
        "summary": "目标与要点", "credit_hours": 4, "category1": "特殊教育", "category2": "无障碍课程",
        "display_order": 1})
}

fn upload(language: &str, key: &str) -> CaptionUpload {
    CaptionUpload {
        language: language.into(),
        label: String::new(),
        key: key.into(),
        cues: 12,
        bytes: 640,
        source_format: "srt".into(),
    }
}

async fn sign(env: &TestEnv, token: &str, id: &str, level: &str) -> (StatusCode, Value) {
    env.clock.advance_ms(1000);
    env.call(
        "POST",
        &format!("/api/v1/resources/{id}/reviews"),
        Some(token),
        Some(json!({"level": level, "decision": "approve", "comment": "同意"})),
    )
    .await
}

async fn captions_are_required_reviewed_and_published_with_their_revision(env: TestEnv) {
    let dept = env.department("特教组").await;
    let other = env.department("数学组").await;
    let (_, producer) = env
        .login_as("producer", &[Role::Producer], Some(&dept))
        .await;
    let (_, outsider) = env
        .login_as("outsider", &[Role::Producer], Some(&other))
        .await;
    let (_, head) = env
        .login_as("head", &[Role::DepartmentReviewer], Some(&dept))
        .await;
    let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;
    let actor = |token: String| {
        let control = env.control.clone();
        let now = env.now();
        async move {
            control
                .authenticate(&token, "127.0.0.1", now)
                .await
                .unwrap()
        }
    };
    let producer_actor = actor(producer.clone()).await;
    let outsider_actor = actor(outsider.clone()).await;

    let (status, created) = env
        .call(
            "POST",
            "/api/v1/resources",
            Some(&producer),
            Some(json!({"department_id": dept, "metadata": metadata("手语与板书")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let media = json!({"media_ref": "vod/abc/source.mp4", "processing_status": "ready",
        "ladder_prefix": "ladders/abc/j1/", "probe_report": {"duration_seconds": 600.0},
        "qc_report": {"passed": true}});
    let (status, body) = env
        .call(
            "PUT",
            &format!("/api/v1/resources/{id}/media"),
            Some(&producer),
            Some(media),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The category needs captions: self-review is refused with the rule's code.
    let (status, body) = sign(&env, &producer, &id, "self").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "captions.required");

    // Someone of another department may not attach captions.
    let refused = env
        .control
        .attach_captions(
            &outsider_actor,
            &id,
            upload("zh-CN", "k/zh-1.vtt"),
            env.now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ControlError::Forbidden(_) | ControlError::NotFound(_)
        ),
        "{refused:?}"
    );

    let view = env
        .control
        .attach_captions(
            &producer_actor,
            &id,
            upload("zh-CN", "k/zh-1.vtt"),
            env.now(),
        )
        .await
        .unwrap();
    assert_eq!(view.latest.number, 1, "a draft takes captions in place");
    assert_eq!(view.latest.captions.len(), 1);
    assert_eq!(view.latest.captions[0].label, "zh-CN", "no label: the tag");
    assert_eq!(view.latest.captions[0].uploaded_by, producer_actor.user_id);
    // The API shows the track but not where the server keeps it.
    let (_, shown) = env
        .call(
            "GET",
            &format!("/api/v1/resources/{id}"),
            Some(&producer),
            None,
        )
        .await;
    assert_eq!(shown["latest"]["captions"][0]["language"], "zh-CN");
    assert_eq!(shown["latest"]["captions"][0]["cues"], 12);
    assert!(
        shown["latest"]["captions"][0].get("key").is_none(),
        "{shown}"
    );

    for level in ["self", "department", "technical"] {
        let token = match level {
            "self" => &producer,
            "department" => &head,
            _ => &centre,
        };
        let (status, body) = sign(&env, token, &id, level).await;
        assert_eq!(status, StatusCode::OK, "{level}: {body}");
    }
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(&centre),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let played = env
        .control
        .playback_ladder(&id, env.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(played.captions.len(), 1);
    assert_eq!(played.captions[0].key, "k/zh-1.vtt");
    assert_eq!(played.duration_seconds, Some(600.0));

    // An English track on the published resource is a change: revision 2, back to draft,
    // while learners keep revision 1's captions.
    env.clock.advance_ms(1000);
    let view = env
        .control
        .attach_captions(&producer_actor, &id, upload("en", "k/en-1.vtt"), env.now())
        .await
        .unwrap();
    assert_eq!(view.latest.number, 2);
    assert_eq!(view.latest.state.as_str(), "draft");
    let languages: Vec<_> = view
        .latest
        .captions
        .iter()
        .map(|t| t.language.as_str())
        .collect();
    assert_eq!(languages, ["en", "zh-CN"]);
    assert_eq!(view.published.as_ref().unwrap().captions.len(), 1);
    let played = env
        .control
        .playback_ladder(&id, env.now() + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        played.captions.len(),
        1,
        "learners see the published captions"
    );

    // Removing a language that is not there is a 404; removing one that is, keeps the rest.
    let missing = env
        .control
        .remove_captions(&producer_actor, &id, "fr", env.now())
        .await
        .unwrap_err();
    assert!(matches!(missing, ControlError::NotFound(_)), "{missing:?}");
    let view = env
        .control
        .remove_captions(&producer_actor, &id, "EN", env.now())
        .await
        .unwrap();
    assert_eq!(view.latest.number, 2);
    assert_eq!(view.latest.captions.len(), 1);

    // Each change is in the audit log.
    let (_, auditor) = env.login_as("auditor", &[Role::AuditAdmin], None).await;
    let (status, page) = env
        .call(
            "GET",
            "/api/v1/audit?action=resource.captions",
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3, "{page}");
    assert_eq!(page["items"][0]["action"], "resource.captions.remove");
}

async fn env_needing_captions(backend: Backend) -> TestEnv {
    let mut config = test_config();
    config.captions = CaptionRules {
        required_categories: vec!["无障碍课程".into()],
    };
    TestEnv::with_config(backend, config).await
}

#[tokio::test]
async fn captions_are_required_reviewed_and_published_with_their_revision_on_sqlite() {
    captions_are_required_reviewed_and_published_with_their_revision(
        env_needing_captions(Backend::Sqlite).await,
    )
    .await
}

#[tokio::test]
async fn captions_are_required_reviewed_and_published_with_their_revision_on_postgres() {
    captions_are_required_reviewed_and_published_with_their_revision(
        env_needing_captions(Backend::Postgres).await,
    )
    .await
}
