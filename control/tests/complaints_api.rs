//! Complaints through the HTTP API: a learner reports a resource they may watch; a centre
//! reviewer takes it down (it goes offline at once and the learners' watch tokens stop
//! working), re-reviews it and restores it (a review record says so) or retires it (stored
//! objects really removed, metadata kept); complainants see the outcome; every step is in the
//! audit log, whose chain still verifies. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod learning_support;

use axum::http::StatusCode;
use common::TestEnv;
use learning_support::{
    FileJanitor, World, app_with_janitor, call_app, event, events_token, get_ok, grant, post,
    store_objects,
};
use serde_json::{Value, json};
use yanxiu_control::Role;
use yanxiu_control::playback::{PlaybackDenied, PlaybackTarget};

async fn complain(env: &TestEnv, token: &str, id: &str, category: &str) -> (StatusCode, Value) {
    env.call(
        "POST",
        &format!("/api/v1/resources/{id}/complaints"),
        Some(token),
        Some(json!({"category": category, "detail": "第 12 分钟的公式有误"})),
    )
    .await
}

async fn audit_actions(env: &TestEnv, auditor: &str) -> Vec<String> {
    let log = get_ok(env, auditor, "/api/v1/audit?per_page=200").await;
    let mut actions: Vec<String> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    actions.reverse();
    actions
}

async fn a_complaint_takes_a_resource_down_and_a_re_review_restores_it(env: TestEnv) {
    let w = World::new(&env).await;
    let (_, auditor) = env.login_as("auditor", &[Role::AuditAdmin], None).await;
    let audience = w.audience(&env, &[&w.learner_id, &w.learner2_id]).await;
    let id = w.published_for(&env, "动量守恒", &audience).await;
    let watch = grant(&env, Some(&w.learner), json!({"resource_id": id})).await;
    let token = watch["token"].as_str().unwrap().to_owned();
    let target = PlaybackTarget::Resource(id.clone());
    assert!(
        env.control
            .authorize_playback(&target, Some(&token), env.now())
            .await
            .is_ok()
    );

    let (status, first) = complain(&env, &w.learner, &id, "scientific").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "open");
    assert_eq!(first["outcome_zh"], "已受理，等待审核");
    assert_eq!(first["resource_name"], "动量守恒");
    let cid = first["id"].as_str().unwrap().to_owned();
    assert_eq!(
        complain(&env, &w.learner, &id, "other").await.0,
        StatusCode::CONFLICT
    );
    // A later complaint (the manual clock would otherwise give both the same instant).
    env.clock.advance_ms(1_000);
    let (status, second) = complain(&env, &w.learner2, &id, "technical").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    // Outsiders may not complain about what they cannot watch; nonsense is refused.
    assert_eq!(
        complain(&env, &w.maths_learner, &id, "other").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        complain(&env, &w.learner, "no-such-id", "other").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        complain(&env, &w.learner2, &id, "rumour").await.0,
        StatusCode::BAD_REQUEST
    );

    // The queue is the centre's; a complaint is its complainant's and the centre's.
    let queue = get_ok(&env, &w.centre, "/api/v1/complaints?status=open").await;
    assert_eq!(queue["total"], 2, "{queue}");
    assert_eq!(queue["items"][0]["id"], cid, "oldest first");
    for (token, path) in [
        (&w.learner, "/api/v1/complaints".to_owned()),
        (&w.dept_admin, "/api/v1/complaints".to_owned()),
        (&w.learner2, format!("/api/v1/complaints/{cid}")),
    ] {
        assert_eq!(
            env.call("GET", &path, Some(token), None).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    get_ok(&env, &w.learner, &format!("/api/v1/complaints/{cid}")).await;

    // Take down: a reason is needed; then the resource is offline at once.
    let down = format!("/api/v1/complaints/{cid}/take-down");
    let (status, _) = env
        .call(
            "POST",
            &down,
            Some(&w.centre),
            Some(json!({"comment": " "})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        env.call(
            "POST",
            &down,
            Some(&w.learner),
            Some(json!({"comment": "x"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    env.clock.advance_ms(60_000);
    let (status, taken) = env
        .call(
            "POST",
            &down,
            Some(&w.centre),
            Some(json!({"comment": "核实中，暂时下线"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_eq!(taken["status"], "taken_down");
    assert_eq!(
        env.control
            .authorize_playback(&target, Some(&token), env.now())
            .await,
        Err(PlaybackDenied::NotAvailable),
        "the learner's token stops working"
    );
    let (_, remote) = env
        .call(
            "GET",
            &format!("/api/v1/playback/authorize?resource_id={id}&token={token}"),
            None,
            None,
        )
        .await;
    assert_eq!(remote["allowed"], false, "{remote}");
    let (status, v) = post(
        &env,
        json!({"token": token, "resource_id": id, "playback_id": "pb-after-takedown",
        "events": [event(1, ("start", 0.0, None, 0.0))]}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        env.call(
            "POST",
            "/api/v1/playback-tokens",
            Some(&w.learner),
            Some(json!({"resource_id": id}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // Its producer can still preview it for the re-review.
    let preview = grant(&env, Some(&w.producer), json!({"resource_id": id})).await;
    let preview = preview["token"].as_str().unwrap().to_owned();
    assert!(
        env.control
            .authorize_playback(&target, Some(&preview), env.now())
            .await
            .is_ok()
    );
    let mine = get_ok(&env, &w.learner2, "/api/v1/me/complaints").await;
    assert_eq!(
        mine["items"][0]["status"], "taken_down",
        "every complaint of the resource moves: {mine}"
    );
    assert_eq!(
        env.call(
            "POST",
            &down,
            Some(&w.centre),
            Some(json!({"comment": "again"}))
        )
        .await
        .0,
        StatusCode::CONFLICT
    );

    // Re-review: restored, the same revision online again, with a review record.
    let (status, restored) = env
        .call(
            "POST",
            &format!("/api/v1/complaints/{cid}/resolve"),
            Some(&w.centre),
            Some(json!({"decision": "restore", "comment": "经复核公式无误"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["status"], "restored");
    assert!(
        env.control
            .authorize_playback(&target, Some(&token), env.now())
            .await
            .is_ok()
    );
    let resource = get_ok(&env, &w.producer, &format!("/api/v1/resources/{id}")).await;
    assert_eq!(resource["published"]["state"], "published", "{resource}");
    let reviews = get_ok(
        &env,
        &w.producer,
        &format!("/api/v1/resources/{id}/reviews"),
    )
    .await;
    let last = reviews.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["level"].clone(), last["decision"].clone()),
        (json!("technical"), json!("approve"))
    );
    assert!(
        last["comment"].as_str().unwrap().contains("经复核公式无误"),
        "{last}"
    );
    let mine = get_ok(&env, &w.learner, "/api/v1/me/complaints").await;
    assert_eq!(mine["items"][0]["status"], "restored");
    assert_eq!(
        mine["items"][0]["outcome_en"],
        "re-reviewed: the resource is back online"
    );
    assert_eq!(mine["items"][0]["outcome_comment"], "经复核公式无误");

    let actions = audit_actions(&env, &auditor).await;
    let ours: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("complaint."))
        .collect();
    assert_eq!(
        ours,
        [
            "complaint.file",
            "complaint.file",
            "complaint.take_down",
            "complaint.restore"
        ]
    );
    let verify = get_ok(&env, &auditor, "/api/v1/audit/verify").await;
    assert_eq!(verify["findings"], json!([]), "{verify}");
}

async fn a_re_review_can_retire_the_resource_and_remove_its_objects(env: TestEnv) {
    let w = World::new(&env).await;
    let (_, auditor) = env.login_as("auditor", &[Role::AuditAdmin], None).await;
    let id = w.published(&env, "过时的课", 100.0, 1.0).await;
    let storage = tempfile::tempdir().unwrap();
    let files = store_objects(storage.path(), &id);
    let app = app_with_janitor(
        &env,
        FileJanitor {
            root: storage.path().to_owned(),
            fail: false,
        },
    );
    let (status, c) = complain(&env, &w.learner, &id, "copyright").await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_str().unwrap();
    let (status, retired) = call_app(
        &app,
        "POST",
        &format!("/api/v1/complaints/{cid}/resolve"),
        &w.centre,
        Some(json!({"decision": "retire", "comment": "侵犯他人著作权"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["status"], "retired");
    for f in &files {
        assert!(!f.exists(), "{} is gone", f.display());
    }
    let resource = get_ok(&env, &w.producer, &format!("/api/v1/resources/{id}")).await;
    assert!(resource["published"].is_null(), "{resource}");
    assert_eq!(
        resource["latest"]["metadata"]["name"], "过时的课",
        "metadata kept"
    );
    assert_eq!(
        env.control
            .authorize_playback(&PlaybackTarget::Resource(id.clone()), None, env.now())
            .await,
        Err(PlaybackDenied::NotAvailable)
    );
    let (status, _) = call_app(
        &app,
        "POST",
        &format!("/api/v1/complaints/{cid}/resolve"),
        &w.centre,
        Some(json!({"decision": "restore", "comment": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let actions = audit_actions(&env, &auditor).await;
    let tail: Vec<&str> = actions
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "complaint.retire",
            "resource.retire",
            "resource.retire.objects"
        ]
    );
    let mine = get_ok(&env, &w.learner, "/api/v1/me/complaints").await;
    assert_eq!(mine["items"][0]["outcome_zh"], "经复审，资源已永久下线");
}

async fn an_unfounded_complaint_is_dismissed_and_the_resource_stays_online(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "函数的单调性", 100.0, 1.0).await;
    let (_, c) = complain(&env, &w.learner, &id, "inappropriate").await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let resolve = format!("/api/v1/complaints/{cid}/resolve");
    let (status, _) = env
        .call(
            "POST",
            &resolve,
            Some(&w.centre),
            Some(json!({"decision": "restore", "comment": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing was taken down");
    let (status, dismissed) = env
        .call(
            "POST",
            &resolve,
            Some(&w.centre),
            Some(json!({"decision": "dismiss", "comment": "内容符合规范"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dismissed}");
    assert_eq!(dismissed["status"], "dismissed");
    assert!(dismissed["resolved_at"].is_i64());
    let (status, _) = env
        .call(
            "POST",
            &resolve,
            Some(&w.centre),
            Some(json!({"decision": "dismiss", "comment": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let resource = get_ok(&env, &w.producer, &format!("/api/v1/resources/{id}")).await;
    assert_eq!(resource["published"]["state"], "published");
    // The learner may complain again later, and their viewing still counts meanwhile.
    assert_eq!(
        complain(&env, &w.learner, &id, "other").await.0,
        StatusCode::CREATED
    );
    let token = events_token(&env, Some(&w.learner), &id).await;
    let (status, _) = post(
        &env,
        json!({"token": token, "resource_id": id, "playback_id": "pb-dismissed",
        "events": [event(1, ("start", 0.0, None, 0.0))]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

both_backends!(
    a_complaint_takes_a_resource_down_and_a_re_review_restores_it,
    a_re_review_can_retire_the_resource_and_remove_its_objects,
    an_unfounded_complaint_is_dismissed_and_the_resource_stays_online,
);
