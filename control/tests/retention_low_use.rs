//! The low-use report through the HTTP API with the test clock months ahead: published
//! resources with fewer than N views in the last M months (those online for the whole window),
//! least viewed first, in the caller's reach; a reviewer then retires one (objects removed)
//! or renews another, never one under review. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod learning_support;

use axum::http::StatusCode;
use common::TestEnv;
use learning_support::{
    FileJanitor, World, app_with_janitor, call_app, event, events_token, get_ok, post,
    store_objects,
};
use serde_json::json;

const DAY: i64 = 86_400_000;

async fn views(env: &TestEnv, id: &str, n: usize) {
    for i in 0..n {
        let token = events_token(env, None, id).await;
        let (status, body) = post(env, json!({"token": token, "resource_id": id,
            "playback_id": format!("pb-lowuse-{i:04}"), "events": [event(1, ("start", 0.0, None, 0.0))]}))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

async fn little_used_resources_are_reported_then_retired_or_renewed(env: TestEnv) {
    let w = World::new(&env).await;
    let storage = tempfile::tempdir().unwrap();
    let busy = w.published(&env, "热门课", 100.0, 1.0).await;
    let quiet = w.published(&env, "冷门课", 100.0, 1.0).await;
    let unseen = w.published(&env, "无人问津", 100.0, 1.0).await;
    let reviewing = w.published(&env, "修订中", 100.0, 1.0).await;
    let maths = w.published_maths(&env, "数学冷门课", 100.0).await;
    let quiet_files = store_objects(storage.path(), &quiet);
    env.clock.advance_ms(31 * DAY);
    views(&env, &busy, 12).await;
    views(&env, &quiet, 2).await;
    // Published later: not judged yet.
    env.clock.advance_ms(120 * DAY);
    let producer = env.login("producer").await;
    let dept_reviewer = env.login("head").await;
    let centre = env.login("centre").await;
    let recent = learning_support::publish_resource(
        &env,
        &producer,
        &dept_reviewer,
        &centre,
        &w.physics,
        "新课",
        100.0,
        1.0,
    )
    .await;
    env.clock.advance_ms(40 * DAY);
    let centre = env.login("centre").await;
    let dept_admin = env.login("padmin").await;
    let producer = env.login("producer").await;

    let report = get_ok(
        &env,
        &centre,
        "/api/v1/analytics/low-use?min_views=10&months=6",
    )
    .await;
    let listed: Vec<(String, i64)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["resource_id"].as_str().unwrap().to_owned(),
                i["views"].as_i64().unwrap(),
            )
        })
        .collect();
    let ids: Vec<&str> = listed.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        listed.iter().find(|(i, _)| *i == quiet).unwrap().1,
        2,
        "{report}"
    );
    assert!(
        ids.contains(&unseen.as_str())
            && ids.contains(&maths.as_str())
            && ids.contains(&reviewing.as_str())
    );
    assert!(!ids.contains(&busy.as_str()), "12 views is enough");
    assert!(!ids.contains(&recent.as_str()), "too new to judge");
    assert_eq!(listed.last().unwrap().0, quiet, "least viewed first");
    assert_eq!(
        (report["min_views"].clone(), report["months"].clone()),
        (json!(10), json!(6))
    );
    let defaults = get_ok(&env, &centre, "/api/v1/analytics/low-use").await;
    assert_eq!(
        (defaults["min_views"].clone(), defaults["months"].clone()),
        (json!(10), json!(6))
    );
    let physics_only = get_ok(&env, &dept_admin, "/api/v1/analytics/low-use").await;
    assert!(
        physics_only["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["department_id"] == w.physics)
    );
    let learner = env.login("learner1").await;
    assert_eq!(
        env.call("GET", "/api/v1/analytics/low-use", Some(&learner), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        env.call(
            "GET",
            "/api/v1/analytics/low-use?months=0",
            Some(&centre),
            None
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );

    // Retire one (its objects really go), renew another, never one under review.
    let app = app_with_janitor(
        &env,
        FileJanitor {
            root: storage.path().to_owned(),
            fail: false,
        },
    );
    let (status, _) = call_app(
        &app,
        "POST",
        &format!("/api/v1/resources/{quiet}/retire"),
        &centre,
        Some(json!({"comment": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call_app(
        &app,
        "POST",
        &format!("/api/v1/resources/{quiet}/retire"),
        &producer,
        Some(json!({"comment": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, retired) = call_app(
        &app,
        "POST",
        &format!("/api/v1/resources/{quiet}/retire"),
        &centre,
        Some(json!({"comment": "半年仅 2 次观看"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["retire_reason"], "low_use");
    assert!(quiet_files.iter().all(|f| !f.exists()));
    let (status, _) = call_app(
        &app,
        "POST",
        &format!("/api/v1/resources/{quiet}/retire"),
        &centre,
        Some(json!({"comment": "again"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = env
        .call(
            "PATCH",
            &format!("/api/v1/resources/{reviewing}"),
            Some(&producer),
            Some(json!({"metadata": {"summary": "新版"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{reviewing}/reviews"),
            Some(&producer),
            Some(json!({"level": "self", "decision": "approve", "comment": "ok"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = call_app(
        &app,
        "POST",
        &format!("/api/v1/resources/{reviewing}/retire"),
        &centre,
        Some(json!({"comment": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let renew_to = env.now() + 365 * DAY;
    let (status, renewed) = env
        .call(
            "PUT",
            &format!("/api/v1/resources/{unseen}/retention"),
            Some(&centre),
            Some(json!({"expires_at": renew_to, "note": "新学期继续使用"})),
        )
        .await;
    assert_eq!(
        (status, renewed["expires_at"].clone()),
        (StatusCode::OK, json!(renew_to))
    );
    let after = get_ok(
        &env,
        &centre,
        "/api/v1/analytics/low-use?min_views=10&months=6",
    )
    .await;
    assert!(
        after["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["resource_id"] != quiet),
        "retired: no longer online"
    );
}

both_backends!(little_used_resources_are_reported_then_retired_or_renewed);
