//! The security administrator's sessions and lockouts over the HTTP API: the live sessions of
//! every account with address and browser, ending one (the person is signed out, the step
//! audited), the locked accounts and unlocking one (audited, failed attempts forgotten), and
//! every other role refused (the refusal of a write audited too). SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};
use yanxiu_control::Role;
use yanxiu_control::audit::AuditQuery;

const MINUTE: i64 = 60_000;

/// Signs `username` in with a browser's user agent; the token.
async fn login_from_browser(env: &TestEnv, username: &str, agent: &str) -> String {
    let body = json!({"username": username, "password": PASSWORD}).to_string();
    let (status, _, text) = env
        .raw(
            "POST",
            "/api/v1/sessions",
            None,
            Some(body),
            &[("user-agent", agent)],
        )
        .await;
    let mut grant: Value = serde_json::from_str(&text).unwrap();
    if status == StatusCode::ACCEPTED {
        // Staff answer the second factor from the same browser.
        let body = json!({"challenge": grant["challenge"], "code": env.next_code(username)});
        let (status, _, text) = env
            .raw(
                "POST",
                "/api/v1/sessions/second-factor",
                None,
                Some(body.to_string()),
                &[("user-agent", agent)],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        grant = serde_json::from_str(&text).unwrap();
    } else {
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    grant["token"].as_str().unwrap().to_owned()
}

async fn audit_count(env: &TestEnv, action: &str, result: &str) -> usize {
    let page = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some(action.into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    page.items.iter().filter(|r| r.result == result).count()
}

async fn the_security_admin_sees_every_live_session_with_address_and_browser_and_ends_one(
    env: TestEnv,
) {
    let dept = env.department("物理教研室").await;
    env.user("sec", &[Role::SecurityAdmin], None).await;
    env.user("teacher", &[Role::Learner], Some(&dept)).await;
    let sec = login_from_browser(&env, "sec", "Mozilla/5.0 (X11; Linux) Chromium/120").await;
    let teacher = login_from_browser(&env, "teacher", "Mozilla/5.0 (iPhone) Safari/17").await;
    // A session that went idle is not listed.
    env.user("gone", &[Role::Learner], Some(&dept)).await;
    env.login("gone").await;
    env.clock.advance_ms(31 * MINUTE);
    let sec = {
        let fresh = login_from_browser(&env, "sec", "Mozilla/5.0 (X11; Linux) Chromium/120").await;
        assert_ne!(fresh, sec);
        fresh
    };
    let teacher = {
        let fresh = login_from_browser(&env, "teacher", "Mozilla/5.0 (iPhone) Safari/17").await;
        assert_ne!(fresh, teacher);
        fresh
    };

    let (status, page) = env
        .call("GET", "/api/v1/security/sessions", Some(&sec), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    let names: Vec<&str> = items
        .iter()
        .map(|s| s["username"].as_str().unwrap())
        .collect();
    assert_eq!(page["total"], 2, "the idle ones are gone: {page}");
    assert!(
        names.contains(&"sec") && names.contains(&"teacher"),
        "{page}"
    );
    let mine = items.iter().find(|s| s["username"] == "sec").unwrap();
    assert_eq!(mine["current"], true);
    let theirs = items.iter().find(|s| s["username"] == "teacher").unwrap();
    assert_eq!(theirs["current"], false);
    assert_eq!(theirs["user_agent"], "Mozilla/5.0 (iPhone) Safari/17");
    assert!(theirs["source_addr"].is_string(), "{theirs}");
    assert!(theirs["expires_at"].as_i64().unwrap() > env.now());
    assert!(theirs.get("token").is_none() && theirs.get("token_hash").is_none());

    let id = theirs["id"].as_str().unwrap();
    let (status, body) = env
        .call(
            "DELETE",
            &format!("/api/v1/security/sessions/{id}"),
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = env.call("GET", "/api/v1/me", Some(&teacher), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "session_ended");
    assert_eq!(audit_count(&env, "session.revoke", "success").await, 1);
    let (status, _) = env
        .call(
            "DELETE",
            &format!("/api/v1/security/sessions/{id}"),
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "ended once");

    let own = mine["id"].as_str().unwrap();
    let (status, body) = env
        .call(
            "DELETE",
            &format!("/api/v1/security/sessions/{own}"),
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "sign out instead: {body}");
}

async fn the_security_admin_unlocks_a_locked_account_and_its_owner_signs_in_at_once(env: TestEnv) {
    env.user("sec", &[Role::SecurityAdmin], None).await;
    env.user("li", &[Role::Learner], None).await;
    let sec = env.login("sec").await;
    let wrong = json!({"username": "li", "password": "Wrong-pass-1"});
    for _ in 0..5 {
        env.call("POST", "/api/v1/sessions", None, Some(wrong.clone()))
            .await;
    }
    let right = json!({"username": "li", "password": PASSWORD});
    let (status, _) = env
        .call("POST", "/api/v1/sessions", None, Some(right.clone()))
        .await;
    assert_eq!(status, StatusCode::LOCKED);

    let (status, body) = env
        .call("GET", "/api/v1/security/lockouts", Some(&sec), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["username"], "li");
    assert_eq!(items[0]["locked_until"], env.now() + 15 * MINUTE);
    let user_id = items[0]["user_id"].as_str().unwrap().to_owned();

    let unlock = format!("/api/v1/security/lockouts/{user_id}/unlock");
    let (status, body) = env.call("POST", &unlock, Some(&sec), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(audit_count(&env, "account.unlock", "success").await, 1);
    let (status, body) = env
        .call("GET", "/api/v1/security/lockouts", Some(&sec), None)
        .await;
    assert_eq!(body["items"], json!([]), "{status} {body}");
    let (status, body) = env.call("POST", &unlock, Some(&sec), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "not locked any more: {body}");
    let (status, _) = env
        .call("POST", "/api/v1/sessions", None, Some(right))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "signs in before the lock would end"
    );
    // The failed attempts were forgotten: four more wrong ones do not lock again.
    for _ in 0..4 {
        let (status, _) = env
            .call("POST", "/api/v1/sessions", None, Some(wrong.clone()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = env
        .call(
            "POST",
            "/api/v1/security/lockouts/nobody/unlock",
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn every_other_role_is_refused_sessions_and_lockouts_and_a_refused_write_is_audited(
    env: TestEnv,
) {
    let dept = env.department("教研部").await;
    let roles = [
        ("learner", Role::Learner, true),
        ("producer", Role::Producer, true),
        ("organiser", Role::EventOrganiser, true),
        ("dept-reviewer", Role::DepartmentReviewer, true),
        ("centre", Role::CentreReviewer, false),
        ("dept-admin", Role::DepartmentAdmin, true),
        ("sys", Role::SystemAdmin, false),
        ("audit", Role::AuditAdmin, false),
    ];
    env.user("li", &[Role::Learner], None).await;
    let li = env.login("li").await;
    let (_, me) = env.call("GET", "/api/v1/me", Some(&li), None).await;
    let li_id = me["id"].as_str().unwrap().to_owned();
    for (name, role, in_dept) in roles {
        let d = in_dept.then_some(dept.as_str());
        let (_, token) = env.login_as(name, &[role], d).await;
        for (method, path) in [
            ("GET", "/api/v1/security/sessions".to_owned()),
            ("GET", "/api/v1/security/lockouts".to_owned()),
            ("DELETE", "/api/v1/security/sessions/x".to_owned()),
            ("POST", format!("/api/v1/security/lockouts/{li_id}/unlock")),
        ] {
            let (status, body) = env.call(method, &path, Some(&token), None).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{name} {method} {path}: {body}"
            );
            assert_eq!(body["error"]["code"], "forbidden");
        }
    }
    assert_eq!(
        audit_count(&env, "session.revoke", "denied").await,
        roles.len()
    );
    assert_eq!(
        audit_count(&env, "account.unlock", "denied").await,
        roles.len()
    );
    let (status, _) = env.call("GET", "/api/v1/me", Some(&li), None).await;
    assert_eq!(status, StatusCode::OK, "nothing happened to li's session");
}

both_backends!(
    the_security_admin_sees_every_live_session_with_address_and_browser_and_ends_one,
    the_security_admin_unlocks_a_locked_account_and_its_owner_signs_in_at_once,
    every_other_role_is_refused_sessions_and_lockouts_and_a_refused_write_is_audited,
);
