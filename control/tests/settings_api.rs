//! Settings changed at run time by the system administrator: read with the config file's
//! defaults, changed one section at a time within the rules' bounds, audited with the old and
//! new values, put back to the file's value; nobody else may touch them. SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::TestEnv;
use serde_json::json;
use yanxiu_control::Role;
use yanxiu_control::audit::AuditQuery;
use yanxiu_control::plane::PageRequest;

async fn the_system_admin_changes_a_section_and_the_change_is_audited_with_old_and_new(
    env: TestEnv,
) {
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    let (status, view) = env.call("GET", "/api/v1/settings", Some(&sys), None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["effective"], view["defaults"]);
    assert_eq!(view["changed"], json!([]));
    let idle = view["defaults"]["sessions"]["idle_minutes"].clone();

    let (status, view) = env
        .call(
            "PUT",
            "/api/v1/settings/sessions",
            Some(&sys),
            Some(json!({"idle_minutes": 15})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["effective"]["sessions"]["idle_minutes"], 15);
    assert_eq!(view["defaults"]["sessions"]["idle_minutes"], idle);
    assert_eq!(view["changed"][0]["section"], "sessions");
    assert_eq!(view["changed"][0]["updated_by"], "sys");
    assert_eq!(
        env.control.settings().await.unwrap().sessions.idle_minutes,
        15,
        "in force on this node at once"
    );

    let page = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("settings.".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    let record = &page.items[0];
    assert_eq!(record.action, "settings.change");
    assert_eq!(record.target, "settings:sessions");
    assert_eq!(record.actor_name, "sys");
    let detail: serde_json::Value = serde_json::from_str(&record.detail).unwrap();
    assert_eq!(detail["old"]["idle_minutes"], idle);
    assert_eq!(detail["new"]["idle_minutes"], 15);

    // Back to the file's value, audited too; twice is a conflict.
    let (status, view) = env
        .call("DELETE", "/api/v1/settings/sessions", Some(&sys), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["effective"], view["defaults"]);
    assert_eq!(
        env.call("DELETE", "/api/v1/settings/sessions", Some(&sys), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let page = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("settings.reset".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&page.items[0].detail).unwrap();
    assert_eq!(detail["old"]["idle_minutes"], 15);
    assert_eq!(detail["new"]["idle_minutes"], idle);
}

async fn values_outside_the_rules_bounds_and_unknown_names_are_refused(env: TestEnv) {
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    for (section, body, expected) in [
        ("retention", json!({"months": 3}), StatusCode::BAD_REQUEST),
        (
            "password",
            json!({"min_length": 4}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "password",
            json!({"colour": "red"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "lockout",
            json!({"max_failures": "many"}),
            StatusCode::BAD_REQUEST,
        ),
        ("weather", json!({}), StatusCode::NOT_FOUND),
    ] {
        let (status, body) = env
            .call(
                "PUT",
                &format!("/api/v1/settings/{section}"),
                Some(&sys),
                Some(body),
            )
            .await;
        assert_eq!(status, expected, "{section}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    let (_, view) = env.call("GET", "/api/v1/settings", Some(&sys), None).await;
    assert_eq!(view["changed"], json!([]), "nothing refused was stored");
}

async fn only_the_system_admin_reads_or_changes_settings(env: TestEnv) {
    for (name, role) in [
        ("sec", Role::SecurityAdmin),
        ("audit", Role::AuditAdmin),
        ("centre", Role::CentreReviewer),
        ("learner", Role::Learner),
    ] {
        let (_, token) = env.login_as(name, &[role], None).await;
        assert_eq!(
            env.call("GET", "/api/v1/settings", Some(&token), None)
                .await
                .0,
            StatusCode::FORBIDDEN,
            "{name}"
        );
        assert_eq!(
            env.call(
                "PUT",
                "/api/v1/settings/uploads",
                Some(&token),
                Some(json!({"max_size_bytes": 1_073_741_824u64}))
            )
            .await
            .0,
            StatusCode::FORBIDDEN,
            "{name}"
        );
    }
    assert_eq!(
        env.call("GET", "/api/v1/settings", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_change_made_on_one_node_is_in_force_on_another(env: TestEnv) {
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    let other = yanxiu_control::ControlPlane::open(
        &env.database_url,
        common::test_config(),
        env.keys.clone(),
    )
    .await
    .unwrap();
    assert_eq!(other.settings().await.unwrap().retention.months, 6);
    let (status, _) = env
        .call(
            "PUT",
            "/api/v1/settings/retention",
            Some(&sys),
            Some(json!({"months": 12})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The other node's copy is a few seconds old at most.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while other.settings().await.unwrap().retention.months != 12 {
        assert!(std::time::Instant::now() < deadline, "never applied");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn a_changed_lockout_applies_to_the_next_failed_sign_ins(env: TestEnv) {
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    env.user("li", &[Role::Learner], None).await;
    let (status, _) = env
        .call(
            "PUT",
            "/api/v1/settings/lockout",
            Some(&sys),
            Some(json!({"max_failures": 2, "lock_minutes": 5})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let wrong = json!({"username": "li", "password": "Wrong-pass-1"});
    // The second failure locks the account (the file says five).
    for expected in [StatusCode::UNAUTHORIZED, StatusCode::LOCKED] {
        let (status, _) = env
            .call("POST", "/api/v1/sessions", None, Some(wrong.clone()))
            .await;
        assert_eq!(status, expected);
    }
    let right = json!({"username": "li", "password": common::PASSWORD});
    let (status, body) = env
        .call("POST", "/api/v1/sessions", None, Some(right))
        .await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "still locked, even with the right password: {body}"
    );
}

both_backends!(
    a_changed_lockout_applies_to_the_next_failed_sign_ins,
    the_system_admin_changes_a_section_and_the_change_is_audited_with_old_and_new,
    values_outside_the_rules_bounds_and_unknown_names_are_refused,
    only_the_system_admin_reads_or_changes_settings,
    a_change_made_on_one_node_is_in_force_on_another,
);
