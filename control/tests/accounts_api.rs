//! Accounts over the HTTP API: login, lockout, session timeouts, the concurrent-session limit,
//! API token expiry, disablement, separation of duties, the error shape. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestEnv};
use serde_json::json;
use yanxiu_control::Role;
use yanxiu_control::audit::AuditQuery;
use yanxiu_control::session_rules::OverLimit;

const MINUTE: i64 = 60_000;

async fn login_returns_a_token_that_identifies_the_caller(env: TestEnv) {
    let dept = env.department("教研部").await;
    let (user, token) = env.login_as("zhang", &[Role::Producer], Some(&dept)).await;
    assert!(token.starts_with("yxs_"));
    let (status, me) = env.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["roles"], json!(["producer"]));
    assert!(me.get("password_hash").is_none());
    let (status, body) = env.call("GET", "/api/v1/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

async fn wrong_passwords_lock_the_account_for_the_configured_minutes(env: TestEnv) {
    env.user("li", &[Role::Learner], None).await;
    let wrong = json!({"username": "li", "password": "Wrong-pass-1"});
    for attempt in 1..=4 {
        let (status, body) = env
            .call("POST", "/api/v1/sessions", None, Some(wrong.clone()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    let (status, body) = env
        .call("POST", "/api/v1/sessions", None, Some(wrong.clone()))
        .await;
    assert_eq!(status, StatusCode::LOCKED);
    assert_eq!(body["error"]["code"], "account_locked");
    // Even the right password is refused while locked.
    let right = json!({"username": "li", "password": PASSWORD});
    let (status, _) = env
        .call("POST", "/api/v1/sessions", None, Some(right.clone()))
        .await;
    assert_eq!(status, StatusCode::LOCKED);
    env.clock.advance_ms(15 * MINUTE - 1);
    let (status, _) = env
        .call("POST", "/api/v1/sessions", None, Some(right.clone()))
        .await;
    assert_eq!(status, StatusCode::LOCKED);
    env.clock.advance_ms(1);
    let (status, _) = env
        .call("POST", "/api/v1/sessions", None, Some(right))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let lockouts = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("account.lockout".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(lockouts.total, 1);
    let failures = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("login.failure".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(failures.total, 7);
    assert!(
        failures
            .items
            .iter()
            .all(|r| !r.detail.contains("Wrong-pass")),
        "passwords never logged"
    );
}

async fn an_idle_session_ends_after_the_idle_timeout(env: TestEnv) {
    let (_, token) = env.login_as("wang", &[Role::Learner], None).await;
    env.clock.advance_ms(29 * MINUTE);
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&token), None).await.0,
        StatusCode::OK
    );
    env.clock.advance_ms(29 * MINUTE);
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&token), None).await.0,
        StatusCode::OK
    );
    env.clock.advance_ms(30 * MINUTE);
    let (status, body) = env.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "session_ended");
}

async fn a_busy_session_still_ends_at_its_absolute_lifetime(env: TestEnv) {
    let (_, token) = env.login_as("zhao", &[Role::Learner], None).await;
    for _ in 0..35 {
        env.clock.advance_ms(20 * MINUTE);
        assert_eq!(
            env.call("GET", "/api/v1/me", Some(&token), None).await.0,
            StatusCode::OK
        );
    }
    env.clock.advance_ms(20 * MINUTE); // 12 h after login
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&token), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_login_beyond_the_session_limit_evicts_the_oldest_and_is_audited(env: TestEnv) {
    env.user("sun", &[Role::Learner], None).await;
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(env.login("sun").await);
        env.clock.advance_ms(1000);
    }
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&tokens[0]), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    for token in &tokens[1..] {
        assert_eq!(
            env.call("GET", "/api/v1/me", Some(token), None).await.0,
            StatusCode::OK
        );
    }
    let evicted = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("session.evicted".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(evicted.total, 1);
}

async fn a_login_beyond_the_session_limit_can_be_refused_instead(env: TestEnv) {
    let mut config = common::test_config();
    config.sessions.max_concurrent = 1;
    config.sessions.over_limit = OverLimit::Refuse;
    let env = TestEnv::with_config(env.backend, config).await;
    let (_, first) = env.login_as("qian", &[Role::Learner], None).await;
    let (status, body) = env
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": "qian", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "session_limit");
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&first), None).await.0,
        StatusCode::OK
    );
    // After logout the account may log in again.
    assert_eq!(
        env.call("DELETE", "/api/v1/sessions/current", Some(&first), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&first), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    env.login("qian").await;
}

async fn api_tokens_work_without_idle_timeout_until_they_expire_or_are_revoked(env: TestEnv) {
    let (_, session) = env.login_as("robot", &[Role::Learner], None).await;
    let (status, grant) = env
        .call(
            "POST",
            "/api/v1/api-tokens",
            Some(&session),
            Some(json!({"name": "ci", "days": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let api = grant["token"].as_str().unwrap().to_owned();
    assert!(api.starts_with("yxt_"));
    env.clock.advance_ms(47 * 60 * MINUTE);
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&api), None).await.0,
        StatusCode::OK
    );
    env.clock.advance_ms(60 * MINUTE);
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&api), None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let session = env.login("robot").await;
    let (_, grant) = env
        .call(
            "POST",
            "/api/v1/api-tokens",
            Some(&session),
            Some(json!({})),
        )
        .await;
    let api = grant["token"].as_str().unwrap().to_owned();
    let (_, list) = env
        .call("GET", "/api/v1/api-tokens", Some(&session), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        list[0].get("token").is_none(),
        "secrets are shown once only"
    );
    let path = format!("/api/v1/api-tokens/{}", grant["id"].as_str().unwrap());
    assert_eq!(
        env.call("DELETE", &path, Some(&session), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&api), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn disabling_an_account_ends_its_sessions_and_blocks_login(env: TestEnv) {
    let (_, admin) = env.login_as("sysadmin", &[Role::SystemAdmin], None).await;
    let (user, token) = env.login_as("zhou", &[Role::Learner], None).await;
    let path = format!("/api/v1/users/{}/disable", user.id);
    let (status, body) = env.call("POST", &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["disabled"], true);
    assert_eq!(
        env.call("GET", "/api/v1/me", Some(&token), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = env
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": "zhou", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "account_disabled");
    let path = format!("/api/v1/users/{}/enable", user.id);
    assert_eq!(
        env.call("POST", &path, Some(&admin), None).await.0,
        StatusCode::OK
    );
    env.login("zhou").await;
}

async fn duties_are_separated_between_user_role_and_audit_administrators(env: TestEnv) {
    let dept = env.department("教研部").await;
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    let (_, sec) = env.login_as("sec", &[Role::SecurityAdmin], None).await;
    // The system admin creates accounts but may not grant roles.
    let new = json!({"username": "wu", "password": PASSWORD, "department_id": dept, "roles": ["producer"]});
    let (status, body) = env
        .call("POST", "/api/v1/users", Some(&sys), Some(new))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let new = json!({"username": "wu", "password": PASSWORD, "department_id": dept});
    let (status, user) = env
        .call("POST", "/api/v1/users", Some(&sys), Some(new))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let roles_path = format!("/api/v1/users/{}/roles", user["id"].as_str().unwrap());
    let (status, _) = env
        .call(
            "PUT",
            &roles_path,
            Some(&sys),
            Some(json!({"roles": ["producer"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The security admin grants roles, but never two platform duties on one account.
    let (status, body) = env
        .call(
            "PUT",
            &roles_path,
            Some(&sec),
            Some(json!({"roles": ["producer"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["roles"], json!(["producer"]));
    let (status, body) = env
        .call(
            "PUT",
            &roles_path,
            Some(&sec),
            Some(json!({"roles": ["system_admin", "audit_admin"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The security admin cannot create accounts, nor read the audit log.
    let new = json!({"username": "zheng", "password": PASSWORD});
    assert_eq!(
        env.call("POST", "/api/v1/users", Some(&sec), Some(new))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        env.call("GET", "/api/v1/audit", Some(&sec), None).await.0,
        StatusCode::FORBIDDEN
    );
    // Role changes are audited.
    let changes = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("user.roles".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(changes.total, 3, "one success, one denial, one conflict");
}

async fn a_department_admin_manages_only_their_own_department(env: TestEnv) {
    let ours = env.department("数学学科组").await;
    let theirs = env.department("语文学科组").await;
    let (_, admin) = env
        .login_as("dadmin", &[Role::DepartmentAdmin], Some(&ours))
        .await;
    let new = json!({"username": "t1", "password": PASSWORD, "department_id": ours, "roles": ["producer"]});
    assert_eq!(
        env.call("POST", "/api/v1/users", Some(&admin), Some(new))
            .await
            .0,
        StatusCode::CREATED
    );
    let new = json!({"username": "t2", "password": PASSWORD, "department_id": theirs, "roles": ["producer"]});
    let (status, body) = env
        .call("POST", "/api/v1/users", Some(&admin), Some(new))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let new = json!({"username": "t3", "password": PASSWORD, "department_id": ours, "roles": ["centre_reviewer"]});
    assert_eq!(
        env.call("POST", "/api/v1/users", Some(&admin), Some(new))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, page) = env
        .call("GET", "/api/v1/users?per_page=10", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 2, "dadmin and t1: {page}");
    assert_eq!(page["per_page"], 10);
}

async fn weak_passwords_are_refused_with_a_reason(env: TestEnv) {
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    let (status, body) = env
        .call(
            "POST",
            "/api/v1/users",
            Some(&sys),
            Some(json!({"username": "he", "password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("密码"));
    let (_, me) = env.call("GET", "/api/v1/me", Some(&sys), None).await;
    let (status, _) = env
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&sys),
            Some(json!({"current_password": "nope", "new_password": "Another-Pass-2"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = env
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&sys),
            Some(json!({"current_password": PASSWORD, "new_password": "Another-Pass-2"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{me}");
    let (status, _) = env
        .call(
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": "sys", "password": "Another-Pass-2"})),
        )
        .await;
    // The new password passes; a system administrator then answers the second factor.
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn errors_have_one_shape_in_chinese_by_default_and_english_on_request(env: TestEnv) {
    let (status, _, zh) = env.raw("GET", "/api/v1/me", None, None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let zh: serde_json::Value = serde_json::from_str(&zh).unwrap();
    assert_eq!(
        zh,
        json!({"error": {"code": "unauthenticated", "message": "需要登录"}})
    );
    let (_, _, en) = env
        .raw(
            "GET",
            "/api/v1/me",
            None,
            None,
            &[("accept-language", "en-US,en;q=0.9,zh;q=0.5")],
        )
        .await;
    let en: serde_json::Value = serde_json::from_str(&en).unwrap();
    assert_eq!(en["error"]["message"], "authentication required");
    let (status, _, body) = env
        .raw(
            "GET",
            "/api/v1/nothing-here",
            None,
            None,
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "not_found"
    );
    let (status, _, body) = env
        .raw(
            "POST",
            "/api/v1/sessions",
            None,
            Some("{not json".into()),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "invalid_request"
    );
    let (status, _, body) = env.raw("PUT", "/api/v1/sessions", None, None, &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "method_not_allowed"
    );
}

both_backends!(
    login_returns_a_token_that_identifies_the_caller,
    wrong_passwords_lock_the_account_for_the_configured_minutes,
    an_idle_session_ends_after_the_idle_timeout,
    a_busy_session_still_ends_at_its_absolute_lifetime,
    a_login_beyond_the_session_limit_evicts_the_oldest_and_is_audited,
    a_login_beyond_the_session_limit_can_be_refused_instead,
    api_tokens_work_without_idle_timeout_until_they_expire_or_are_revoked,
    disabling_an_account_ends_its_sessions_and_blocks_login,
    duties_are_separated_between_user_role_and_audit_administrators,
    a_department_admin_manages_only_their_own_department,
    weak_passwords_are_refused_with_a_reason,
    errors_have_one_shape_in_chinese_by_default_and_english_on_request,
);
