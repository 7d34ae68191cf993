//! Ratings (1–5) and comments through the HTTP API: learners who may watch a resource give
//! feedback; it stays hidden (not in the average, not shown) until a moderator approves it;
//! rejected feedback stays hidden and its author reads the note; a change goes back to
//! moderation. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod learning_support;

use axum::http::StatusCode;
use common::TestEnv;
use learning_support::{World, get_ok};
use serde_json::{Value, json};
use yanxiu_control::Role;

async fn give(env: &TestEnv, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    env.call(
        "PUT",
        &format!("/api/v1/resources/{id}/feedback"),
        Some(token),
        Some(body),
    )
    .await
}

async fn feedback_is_hidden_until_a_moderator_approves_it(env: TestEnv) {
    let w = World::new(&env).await;
    let (_, auditor) = env.login_as("auditor", &[Role::AuditAdmin], None).await;
    let id = w.published(&env, "光的干涉", 100.0, 1.0).await;
    let (status, mine) = give(
        &env,
        &w.learner,
        &id,
        json!({"stars": 5, "comment": " 讲解清楚，例子好 "}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        (mine["status"].clone(), mine["comment"].clone()),
        (json!("pending"), json!("讲解清楚，例子好"))
    );
    let (status, _) = give(
        &env,
        &w.learner2,
        &id,
        json!({"stars": 2, "comment": "广告太多"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for bad in [
        json!({"stars": 6}),
        json!({"stars": 0}),
        json!({"stars": 3, "comment": "长".repeat(1001)}),
        json!({"stars": 3, "extra": 1}),
    ] {
        assert_eq!(
            give(&env, &w.learner, &id, bad.clone()).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // Nothing shows yet, not even the count; the author sees their own.
    let (status, public) = env
        .call(
            "GET",
            &format!("/api/v1/resources/{id}/feedback"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(
        (public["ratings"].clone(), public["average_stars"].clone()),
        (json!(0), Value::Null)
    );
    assert_eq!(public["comments"], json!([]));
    assert!(public["mine"].is_null());
    let own = get_ok(
        &env,
        &w.learner,
        &format!("/api/v1/resources/{id}/feedback"),
    )
    .await;
    assert_eq!(own["mine"]["status"], "pending");

    // The queue: the centre and the resource's department admin; not learners.
    let queue = get_ok(&env, &w.centre, "/api/v1/feedback?status=pending").await;
    assert_eq!(queue["total"], 2, "{queue}");
    let dept = get_ok(&env, &w.dept_admin, "/api/v1/feedback").await;
    assert_eq!(dept["total"], 2);
    assert_eq!(
        env.call("GET", "/api/v1/feedback", Some(&w.learner), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let item = |stars: i64| {
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["stars"] == stars)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (good, bad) = (item(5), item(2));
    let moderate = |fid: &str| format!("/api/v1/feedback/{fid}/moderate");
    assert_eq!(
        env.call(
            "POST",
            &moderate(&good),
            Some(&w.learner),
            Some(json!({"decision": "approve"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, approved) = env
        .call(
            "POST",
            &moderate(&good),
            Some(&w.centre),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(
        (status, approved["status"].clone()),
        (StatusCode::OK, json!("approved")),
        "{approved}"
    );
    let (status, _) = env
        .call(
            "POST",
            &moderate(&bad),
            Some(&w.dept_admin),
            Some(json!({"decision": "reject", "note": "与课程内容无关"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.call(
            "POST",
            &moderate(&bad),
            Some(&w.centre),
            Some(json!({"decision": "approve"}))
        )
        .await
        .0,
        StatusCode::CONFLICT,
        "moderated once"
    );
    let public = get_ok(
        &env,
        &w.maths_learner,
        &format!("/api/v1/resources/{id}/feedback"),
    )
    .await;
    assert_eq!(
        (public["ratings"].clone(), public["average_stars"].clone()),
        (json!(1), json!(5.0)),
        "{public}"
    );
    assert_eq!(public["comments"][0]["comment"], "讲解清楚，例子好");
    assert!(
        public["comments"][0].get("user_id").is_none(),
        "no author shown"
    );
    let rejected = get_ok(
        &env,
        &w.learner2,
        &format!("/api/v1/resources/{id}/feedback"),
    )
    .await;
    assert_eq!(rejected["mine"]["status"], "rejected");
    assert_eq!(rejected["mine"]["moderation_note"], "与课程内容无关");

    // A change goes back to moderation and leaves the average meanwhile.
    let (status, changed) = give(&env, &w.learner, &id, json!({"stars": 4})).await;
    assert_eq!(
        (status, changed["status"].clone()),
        (StatusCode::OK, json!("pending"))
    );
    let public = get_ok(
        &env,
        &w.maths_learner,
        &format!("/api/v1/resources/{id}/feedback"),
    )
    .await;
    assert_eq!(public["ratings"], 0, "{public}");

    // Only what one may watch.
    let audience = w.audience(&env, &[&w.learner_id]).await;
    let private = w.published_for(&env, "班级课", &audience).await;
    assert_eq!(
        give(&env, &w.maths_learner, &private, json!({"stars": 1}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        env.call(
            "GET",
            &format!("/api/v1/resources/{private}/feedback"),
            None,
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        give(&env, &w.learner, &private, json!({"stars": 4}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        give(&env, &w.learner, "no-such-resource", json!({"stars": 4}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let log = get_ok(&env, &auditor, "/api/v1/audit?action=feedback.").await;
    assert_eq!(log["total"], 2, "{log}");
}

both_backends!(feedback_is_hidden_until_a_moderator_approves_it);
