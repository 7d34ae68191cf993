//! Retention through the HTTP API with the test clock moved months ahead: published resources
//! expire six months after publication; premium courses are kept; nothing under review or on
//! hold (complaint, administrator) is retired; a dry run changes nothing; a real run retires
//! (offline, stored objects really removed, metadata and audit kept) and a run after a storage
//! failure removes what was left; renewals move the expiry. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod learning_support;

use axum::http::StatusCode;
use common::TestEnv;
use learning_support::{FileJanitor, World, app_with_janitor, call_app, get_ok, store_objects};
use serde_json::{Value, json};
use yanxiu_control::Role;

const DAY: i64 = 86_400_000;

fn ids(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["resource_id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn expired_resources_retire_unless_premium_under_review_or_on_hold(env: TestEnv) {
    let w = World::new(&env).await;
    env.user("auditor", &[Role::AuditAdmin], None).await;
    let storage = tempfile::tempdir().unwrap();
    let mut files = std::collections::BTreeMap::new();
    let mut ids_by_name = std::collections::BTreeMap::new();
    for name in ["expired", "premium", "review", "complaint", "hold"] {
        let id = w.published(&env, name, 100.0, 1.0).await;
        files.insert(name, store_objects(storage.path(), &id));
        ids_by_name.insert(name, id);
    }
    let id = |n: &str| ids_by_name[n].clone();
    let settings = |n: &str| format!("/api/v1/resources/{}/retention", id(n));
    // The producer reads the expiry; only the centre changes the settings.
    let before = get_ok(&env, &w.producer, &settings("expired")).await;
    let published_at = before["published_at"].as_i64().unwrap();
    let expires_at = before["expires_at"].as_i64().unwrap();
    assert!(
        (181 * DAY..=184 * DAY).contains(&(expires_at - published_at)),
        "six months: {before}"
    );
    assert_eq!(
        env.call(
            "PUT",
            &settings("premium"),
            Some(&w.producer),
            Some(json!({"premium": true}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, premium) = env
        .call(
            "PUT",
            &settings("premium"),
            Some(&w.centre),
            Some(json!({"premium": true, "note": "2026 精品课程"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{premium}");
    assert!(
        premium["expires_at"].is_null(),
        "premium courses do not expire: {premium}"
    );
    let (status, _) = env
        .call(
            "PUT",
            &settings("hold"),
            Some(&w.centre),
            Some(json!({"hold": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A newer revision under review, and an open complaint.
    let (status, _) = env
        .call(
            "PATCH",
            &format!("/api/v1/resources/{}", id("review")),
            Some(&w.producer),
            Some(json!({"metadata": {"summary": "更新的简介"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{}/reviews", id("review")),
            Some(&w.producer),
            Some(json!({"level": "self", "decision": "approve", "comment": "自审通过"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{}/complaints", id("complaint")),
            Some(&w.learner),
            Some(json!({"category": "technical", "detail": "无法播放"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Ten days before the expiry: listed as expiring soon, nothing due.
    env.clock.advance_ms(expires_at - env.now() - 10 * DAY);
    let centre = env.login("centre").await;
    assert_eq!(
        env.call(
            "GET",
            "/api/v1/retention",
            Some(&env.login("learner1").await),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let plan = get_ok(&env, &centre, "/api/v1/retention").await;
    assert_eq!(plan["retire"], json!([]), "{plan}");
    assert_eq!(
        ids(&plan["expiring_soon"]),
        sorted(vec![
            id("expired"),
            id("review"),
            id("complaint"),
            id("hold")
        ])
    );
    assert_eq!(ids(&plan["kept"]), vec![id("premium")]);
    let narrow = get_ok(&env, &centre, "/api/v1/retention?within_days=5").await;
    assert_eq!(narrow["expiring_soon"], json!([]));

    // A day after: the dry run names what would go and changes nothing.
    env.clock.advance_ms(11 * DAY);
    let centre = env.login("centre").await;
    let failing = app_with_janitor(
        &env,
        FileJanitor {
            root: storage.path().to_owned(),
            fail: true,
        },
    );
    let working = app_with_janitor(
        &env,
        FileJanitor {
            root: storage.path().to_owned(),
            fail: false,
        },
    );
    let (status, dry) = call_app(
        &working,
        "POST",
        "/api/v1/retention/run",
        &centre,
        Some(json!({"dry_run": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    assert_eq!(ids(&dry["plan"]["retire"]), vec![id("expired")]);
    let kept: std::collections::BTreeMap<String, String> = dry["plan"]["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["resource_id"].as_str().unwrap().to_owned(),
                k["kept_because"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(kept[&id("premium")], "premium");
    assert_eq!(kept[&id("review")], "under_review");
    assert_eq!(kept[&id("complaint")], "on_hold");
    assert_eq!(kept[&id("hold")], "on_hold");
    assert_eq!(dry["retired"], json!([]));
    assert!(
        files["expired"].iter().all(|f| f.exists()),
        "a dry run removes nothing"
    );
    let resource = get_ok(
        &env,
        &centre,
        &format!("/api/v1/resources/{}", id("expired")),
    )
    .await;
    assert_eq!(resource["published"]["state"], "published");

    // A real run while storage fails: retired and offline, the objects wait for the next run.
    let (status, run) = call_app(
        &failing,
        "POST",
        "/api/v1/retention/run",
        &centre,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(ids(&run["failed"]), vec![id("expired")], "{run}");
    let state = get_ok(&env, &centre, &settings("expired")).await;
    assert_eq!(state["retire_reason"], "expired", "{state}");
    assert!(state["objects_removed_at"].is_null());
    assert!(files["expired"].iter().all(|f| f.exists()));
    let resource = get_ok(
        &env,
        &centre,
        &format!("/api/v1/resources/{}", id("expired")),
    )
    .await;
    assert!(resource["published"].is_null(), "offline: {resource}");
    assert_eq!(
        resource["latest"]["metadata"]["name"], "expired",
        "metadata kept"
    );
    // The next run removes them.
    let (status, run) = call_app(
        &working,
        "POST",
        "/api/v1/retention/run",
        &centre,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["cleaned"], json!([id("expired")]), "{run}");
    assert!(
        files["expired"].iter().all(|f| !f.exists()),
        "the objects are really gone"
    );
    for kept in ["premium", "review", "complaint", "hold"] {
        assert!(
            files[kept].iter().all(|f| f.exists()),
            "{kept} keeps its objects"
        );
        let r = get_ok(&env, &centre, &format!("/api/v1/resources/{}", id(kept))).await;
        assert_eq!(r["published"]["state"], "published", "{kept} stays online");
    }
    let state = get_ok(&env, &centre, &settings("expired")).await;
    assert!(state["objects_removed_at"].is_i64(), "{state}");

    let auditor = env.login("auditor").await;
    let log = get_ok(&env, &auditor, "/api/v1/audit?per_page=200").await;
    let actions: Vec<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|r| {
            r["target"] == format!("resource:{}", id("expired")) || r["action"] == "retention.run"
        })
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let tail: Vec<(&str, &str)> = actions
        .iter()
        .map(|(a, r)| (a.as_str(), r.as_str()))
        .rev()
        .take(5)
        .rev()
        .collect();
    assert_eq!(
        tail,
        [
            ("resource.retire", "success"),
            ("resource.retire.objects", "failure"),
            ("retention.run", "success"),
            ("resource.retire.objects", "success"),
            ("retention.run", "success"),
        ]
    );
    let verify = get_ok(&env, &auditor, "/api/v1/audit/verify").await;
    assert_eq!(verify["findings"], json!([]));
}

async fn a_renewal_moves_the_expiry_and_can_be_undone(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "续期课程", 100.0, 1.0).await;
    let path = format!("/api/v1/resources/{id}/retention");
    let computed = get_ok(&env, &w.centre, &path).await["expires_at"]
        .as_i64()
        .unwrap();
    let later = computed + 90 * DAY;
    let (status, renewed) = env
        .call(
            "PUT",
            &path,
            Some(&w.centre),
            Some(json!({"expires_at": later})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["expires_at"], later);
    assert_eq!(renewed["expires_override"], later);
    // Past the computed expiry, the renewed resource is not due.
    env.clock.advance_ms(computed - env.now() + DAY);
    let centre = env.login("centre").await;
    let plan = get_ok(&env, &centre, "/api/v1/retention").await;
    assert_eq!(plan["retire"], json!([]), "{plan}");
    let (status, undone) = env
        .call(
            "PUT",
            &path,
            Some(&centre),
            Some(json!({"expires_at": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(undone["expires_at"], computed);
    let plan = get_ok(&env, &centre, "/api/v1/retention").await;
    assert_eq!(ids(&plan["retire"]), vec![id]);
    let (status, _) = env
        .call("PUT", &path, Some(&centre), Some(json!({"forever": true})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

both_backends!(
    expired_resources_retire_unless_premium_under_review_or_on_hold,
    a_renewal_moves_the_expiry_and_can_be_undone,
);
