//! Staff authentication (issue 13): TOTP enrolment and sign-in with codes computed by an
//! independent TOTP library (totp-lite), replayed codes refused, wrong codes counting toward
//! the lockout, single-use recovery codes, a reviewer without a second factor unable to
//! approve, the reset of a second factor, password expiry and reuse, the sign-in history, the
//! new-address alert, and key rotation (old playback tokens still valid, new ones signed with
//! the new key, the audit chain verifying across the rotation). SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{Backend, PASSWORD, TestEnv, secret_of_uri, test_config, totp_code};
use serde_json::{Value, json};
use yanxiu_control::secrets::PlaybackClaims;
use yanxiu_control::sessions::{LoginOutcome, SecondFactorProof};
use yanxiu_control::sign_ins::SignInMeta;
use yanxiu_control::{ControlPlane, Keys, Role};

async fn password_step(env: &TestEnv, username: &str, password: &str) -> (StatusCode, Value) {
    env.call(
        "POST",
        "/api/v1/sessions",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

async fn answer(env: &TestEnv, challenge: &Value, field: &str, code: &str) -> (StatusCode, Value) {
    env.call(
        "POST",
        "/api/v1/sessions/second-factor",
        None,
        Some(json!({"challenge": challenge["challenge"], field: code})),
    )
    .await
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("?")
}

async fn a_reviewer_enrols_with_a_first_valid_code_and_is_restricted_until_then(env: TestEnv) {
    env.user_without_mfa("head", &[Role::CentreReviewer], None)
        .await;
    let (status, grant) = password_step(&env, "head", PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(grant["restriction"], "mfa_enrolment");
    let token = grant["token"].as_str().unwrap().to_owned();

    // The restricted session can do nothing but enrol: a coded, bilingual refusal.
    let (status, body) = env
        .call("GET", "/api/v1/resources", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code_of(&body), "second_factor_required");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("双因素")
    );
    let (_, _, en) = env
        .raw(
            "GET",
            "/api/v1/resources",
            Some(&token),
            None,
            &[("accept-language", "en")],
        )
        .await;
    assert!(en.contains("two-factor"), "{en}");
    let (status, me) = env.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(
        (status, &me["restriction"]),
        (StatusCode::OK, &json!("mfa_enrolment"))
    );
    let (_, mfa) = env.call("GET", "/api/v1/me/mfa", Some(&token), None).await;
    assert_eq!(
        (mfa["required"].clone(), mfa["enabled"].clone()),
        (json!(true), json!(false))
    );

    let (status, enrolment) = env
        .call("POST", "/api/v1/me/mfa/totp", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/yanxiu:head?"), "{uri}");
    assert!(enrolment["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let secret = secret_of_uri(uri);
    let typed: String = enrolment["secret"].as_str().unwrap().replace(' ', "");
    assert!(uri.contains(&typed));

    // Not active until a first valid code; a wrong one is refused.
    let (status, body) = env
        .call(
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            Some(&token),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_second_factor")
    );
    let code = totp_code(&secret, env.step());
    let (status, body) = env
        .call(
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            Some(&token),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);

    // The same session now works; the secret is never shown again nor stored in clear.
    let (status, _) = env
        .call("GET", "/api/v1/resources", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, mfa) = env.call("GET", "/api/v1/me/mfa", Some(&token), None).await;
    assert_eq!(
        (mfa["enabled"].clone(), mfa["recovery_codes_left"].clone()),
        (json!(true), json!(10))
    );
    assert!(!mfa.to_string().contains(&typed));
    let stored: String = sqlx::query_scalar("SELECT secret_enc FROM mfa_totp")
        .fetch_one(env.control.db().pool())
        .await
        .unwrap();
    assert!(
        !stored.contains(&typed) && stored.starts_with("1:"),
        "sealed under key 1"
    );
    let (status, _) = env
        .call("POST", "/api/v1/me/mfa/totp", Some(&token), None)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no second enrolment over an active one"
    );
}

async fn sign_in_takes_a_totp_code_once_and_refuses_its_replay(env: TestEnv) {
    env.user("sec", &[Role::SecurityAdmin], None).await;
    let (status, challenge) = password_step(&env, "sec", PASSWORD).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{challenge}");
    assert_eq!(challenge["methods"], json!(["totp", "recovery_code"]));
    assert!(
        challenge.get("token").is_none(),
        "no session before the second factor"
    );
    let code = env.next_code("sec");
    let (status, grant) = answer(&env, &challenge, "code", &code).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert!(grant["restriction"].is_null());
    // The challenge is spent, and the code cannot be used again with a new one.
    let (status, body) = answer(&env, &challenge, "code", &code).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "challenge_invalid")
    );
    let (_, again) = password_step(&env, "sec", PASSWORD).await;
    let (status, body) = answer(&env, &again, "code", &code).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "second_factor_replayed")
    );
    // A challenge lives five minutes.
    let (_, late) = password_step(&env, "sec", PASSWORD).await;
    env.clock.advance_ms(5 * 60_000);
    let code = env.next_code("sec");
    let (status, body) = answer(&env, &late, "code", &code).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "challenge_invalid")
    );
}

async fn wrong_codes_count_toward_the_lockout_and_raise_the_alert(env: TestEnv) {
    env.user("audit", &[Role::AuditAdmin], None).await;
    let before = env.control.security_events().lockouts();
    for _ in 0..2 {
        let (status, _) = password_step(&env, "audit", "Wrong-Passw0rd").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, challenge) = password_step(&env, "audit", PASSWORD).await;
    for _ in 0..2 {
        let (status, body) = answer(&env, &challenge, "code", "123456").await;
        assert_eq!(
            (status, code_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_second_factor")
        );
    }
    // The fifth failure (default policy) locks the account.
    let (status, body) = answer(&env, &challenge, "code", "654321").await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::LOCKED, "account_locked")
    );
    assert_eq!(env.control.security_events().lockouts(), before + 1);
    let code = env.next_code("audit");
    let (status, _) = answer(&env, &challenge, "code", &code).await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "a right code does not open a locked account"
    );
}

async fn a_recovery_code_signs_in_once(env: TestEnv) {
    let user = env
        .user_without_mfa("sys", &[Role::SystemAdmin], None)
        .await;
    let codes = env.enrol_totp(&user).await;
    let (_, challenge) = password_step(&env, "sys", PASSWORD).await;
    let typed = codes[3].to_uppercase();
    let (status, grant) = answer(&env, &challenge, "recovery_code", &typed).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let token = grant["token"].as_str().unwrap();
    let (_, mfa) = env.call("GET", "/api/v1/me/mfa", Some(token), None).await;
    assert_eq!(mfa["recovery_codes_left"], 9);
    let (_, challenge) = password_step(&env, "sys", PASSWORD).await;
    let (status, body) = answer(&env, &challenge, "recovery_code", &codes[3]).await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_second_factor")
    );
    let (status, _) = answer(&env, &challenge, "recovery_code", &codes[4]).await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn a_reviewer_without_a_second_factor_cannot_approve(env: TestEnv) {
    let math = env.department("数学学科组").await;
    let (_, producer) = env
        .login_as("producer", &[Role::Producer], Some(&math))
        .await;
    env.user_without_mfa("head", &[Role::DepartmentReviewer], Some(&math))
        .await;
    let (status, grant) = password_step(&env, "head", PASSWORD).await;
    assert_eq!(status, StatusCode::CREATED);
    let head = grant["token"].as_str().unwrap().to_owned();
    let metadata = json!({"project_name": "研修", "undertaking_unit": "中心", "name": "示范课",
        "lecturer_name": "宋薇", "lecturer_unit": "附中", "summary": "要点", "credit_hours": 2});
    let (status, created) = env
        .call(
            "POST",
            "/api/v1/resources",
            Some(&producer),
            Some(json!({"department_id": math, "metadata": metadata})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let media = json!({"media_ref": "vod/x/source.mp4", "processing_status": "ready",
        "qc_report": {"video_codec": "h264", "width": 1280, "height": 720, "passed": true}});
    env.call(
        "PUT",
        &format!("/api/v1/resources/{id}/media"),
        Some(&producer),
        Some(media),
    )
    .await;
    let review =
        |decision: &str| json!({"level": "department", "decision": decision, "comment": "好"});
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/reviews"),
            Some(&producer),
            Some(json!({"level": "self", "decision": "approve", "comment": "自审"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/reviews"),
            Some(&head),
            Some(review("approve")),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "second_factor_required")
    );
    // Once enrolled, the same reviewer approves.
    let user = env.control.user_by_name("head").await.unwrap();
    env.enrol_totp(&user).await;
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/reviews"),
            Some(&head),
            Some(review("approve")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_reset_second_factor_ends_the_sessions_and_needs_a_new_enrolment(env: TestEnv) {
    let user = env.user("centre", &[Role::CentreReviewer], None).await;
    let token = env.login("centre").await;
    // The security administrator resets over the API; others may not.
    let sec_token = {
        env.user("sec", &[Role::SecurityAdmin], None).await;
        env.login("sec").await
    };
    let path = format!("/api/v1/security/users/{}/mfa/reset", user.id);
    let (status, _) = env.call("POST", &path, Some(&token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env.call("POST", &path, Some(&sec_token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = env.call("GET", "/api/v1/me", Some(&token), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the reset ended the session"
    );
    let (status, grant) = password_step(&env, "centre", PASSWORD).await;
    assert_eq!(
        (status, &grant["restriction"]),
        (StatusCode::CREATED, &json!("mfa_enrolment"))
    );

    // The machine's operator (what `yanxiu admin reset-mfa` calls) resets too, audited as cli.
    env.enrol_totp(&user).await;
    env.control
        .reset_mfa(None, &user.id, env.now())
        .await
        .unwrap();
    let (status, _) = password_step(&env, "centre", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "no challenge without an authenticator"
    );
    let page = env
        .control
        .search_audit(
            &yanxiu_control::audit::AuditQuery {
                action: Some("mfa.reset".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let actors: Vec<&str> = page.items.iter().map(|r| r.actor_name.as_str()).collect();
    assert_eq!(
        actors,
        ["cli", "sec", "centre"],
        "newest first, the refusal too"
    );
    assert!(
        env.control
            .verify_audit()
            .await
            .unwrap()
            .findings
            .is_empty()
    );
}

async fn an_expired_password_signs_in_only_to_be_changed_and_recent_ones_are_not_reused(
    backend: Backend,
) {
    let mut config = test_config();
    config.password.max_age_days = 30;
    config.password.history = 3;
    let env = TestEnv::with_config(backend, config).await;
    env.user("li", &[Role::Learner], None).await;
    let token = env.login("li").await;
    let (status, _) = env
        .call("GET", "/api/v1/resources", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    env.clock.advance_ms(30 * 86_400_000);
    let (status, grant) = password_step(&env, "li", PASSWORD).await;
    assert_eq!(
        (status, &grant["restriction"]),
        (StatusCode::CREATED, &json!("password_change"))
    );
    let expired = grant["token"].as_str().unwrap().to_owned();
    let (status, body) = env
        .call("GET", "/api/v1/resources", Some(&expired), None)
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::FORBIDDEN, "password_expired")
    );
    let change = |from: &str, to: &str| json!({"current_password": from, "new_password": to});
    let (status, body) = env
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&expired),
            Some(change(PASSWORD, PASSWORD)),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "password_reused")
    );
    let mut current = PASSWORD;
    for next in ["Second-Passw0rd", "Third-Passw0rd"] {
        let (status, body) = env
            .call(
                "PUT",
                "/api/v1/me/password",
                Some(&expired),
                Some(change(current, next)),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        current = next;
    }
    let (status, _) = env
        .call("GET", "/api/v1/resources", Some(&expired), None)
        .await;
    assert_eq!(status, StatusCode::OK, "the change lifted the restriction");
    // The first password is one of the last three: refused; a fourth one is fine.
    let (status, body) = env
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&expired),
            Some(change("Third-Passw0rd", PASSWORD)),
        )
        .await;
    assert_eq!(
        (status, code_of(&body)),
        (StatusCode::BAD_REQUEST, "password_reused")
    );
    let (status, _) = env
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&expired),
            Some(change("Third-Passw0rd", "Fourth-Passw0rd")),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn the_sign_in_history_keeps_address_agent_and_outcome_for_the_account_and_the_security_admin(
    env: TestEnv,
) {
    let wang = env.user("wang", &[Role::Learner], None).await;
    let agent = [("user-agent", "Mozilla/5.0 (X11; Linux) Chromium/120")];
    let login = |password: &str| json!({"username": "wang", "password": password}).to_string();
    env.raw(
        "POST",
        "/api/v1/sessions",
        None,
        Some(login("Wrong-Passw0rd")),
        &agent,
    )
    .await;
    env.clock.advance_ms(1000);
    let (status, _, body) = env
        .raw(
            "POST",
            "/api/v1/sessions",
            None,
            Some(login(PASSWORD)),
            &agent,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, page) = env
        .call("GET", "/api/v1/me/sign-ins?per_page=1", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 2);
    let newest = &page["items"][0];
    assert_eq!(newest["outcome"], "success");
    assert_eq!(
        newest["user_agent"],
        "Mozilla/5.0 (X11; Linux) Chromium/120"
    );
    assert_eq!(newest["source_addr"], "unknown");
    let (_, page2) = env
        .call(
            "GET",
            "/api/v1/me/sign-ins?per_page=1&page=2",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (
            page2["items"][0]["outcome"].clone(),
            page2["items"][0]["reason"].clone()
        ),
        (json!("failure"), json!("bad_password"))
    );
    let sec_user = env.user("sec", &[Role::SecurityAdmin], None).await;
    let sec = env.login("sec").await;
    let others = format!("/api/v1/security/users/{}/sign-ins", sec_user.id);
    let (status, _) = env.call("GET", &others, Some(&token), None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only the security admin reads others'"
    );
    let path = format!("/api/v1/security/users/{}/sign-ins", wang.id);
    let (status, page) = env.call("GET", &path, Some(&sec), None).await;
    assert_eq!((status, page["total"].clone()), (StatusCode::OK, json!(2)));
}

async fn an_administrator_signing_in_from_a_new_address_raises_the_alert(env: TestEnv) {
    env.user("root", &[Role::SystemAdmin], None).await;
    let events = env.control.security_events();
    let before = events.admin_new_address_sign_ins();
    let sign_in = |addr: &'static str| {
        let env = &env;
        async move {
            let meta = SignInMeta {
                source_addr: addr,
                user_agent: Some("curl/8"),
            };
            let LoginOutcome::SecondFactor(challenge) = env
                .control
                .login("root", PASSWORD, meta, env.now())
                .await
                .unwrap()
            else {
                panic!("a challenge expected");
            };
            let code = env.next_code("root");
            env.control
                .login_second_factor(
                    &challenge.challenge,
                    SecondFactorProof::Totp(&code),
                    meta,
                    env.now(),
                )
                .await
                .unwrap()
        }
    };
    sign_in("192.0.2.10").await;
    sign_in("192.0.2.10").await;
    assert_eq!(
        events.admin_new_address_sign_ins(),
        before,
        "first and known addresses"
    );
    let grant = sign_in("198.51.100.7").await;
    assert_eq!(events.admin_new_address_sign_ins(), before + 1);
    let actor = env
        .control
        .authenticate(&grant.token, "198.51.100.7", env.now())
        .await
        .unwrap();
    let page = env
        .control
        .sign_in_history(&actor, &actor.user_id, Default::default())
        .await
        .unwrap();
    assert!(page.items[0].new_address && !page.items[1].new_address);
    // A learner's new address is no alert.
    env.user("learner", &[Role::Learner], None).await;
    for addr in ["192.0.2.1", "192.0.2.2"] {
        let meta = SignInMeta::addr(addr);
        env.control
            .login("learner", PASSWORD, meta, env.now())
            .await
            .unwrap();
    }
    assert_eq!(events.admin_new_address_sign_ins(), before + 1);
}

async fn keys_rotate_without_downtime(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => yanxiu_control::db::sqlite_url(&dir.path().join("y.db")),
        Backend::Postgres => common::pg::fresh_database().await,
    };
    let keys = Keys::load_or_create(dir.path()).unwrap();
    let control = Arc::new(ControlPlane::open(&url, test_config(), keys).await.unwrap());
    let now = common::T0;
    let actor = {
        control
            .bootstrap_user(
                yanxiu_control::accounts::NewUser {
                    username: "viewer".into(),
                    display_name: None,
                    password: PASSWORD.into(),
                    department_id: None,
                    roles: vec![Role::Learner],
                },
                now,
            )
            .await
            .unwrap();
        let LoginOutcome::Session(grant) = control
            .login("viewer", PASSWORD, SignInMeta::addr("127.0.0.1"), now)
            .await
            .unwrap()
        else {
            panic!("no second factor for a learner");
        };
        control
            .authenticate(&grant.token, "127.0.0.1", now)
            .await
            .unwrap()
    };
    assert_eq!(control.playback_key_id(), "1");
    let claims = |at: i64| PlaybackClaims {
        user_id: actor.user_id.clone(),
        session_id: actor.credential_id.clone(),
        target: "r:abc".into(),
        expires_at: at + 240 * 60_000,
    };
    let verifies = |token: &str, at: i64| control.verify_playback_token(token, "r:abc", at).is_ok();
    let old = control.sign_playback_token(&claims(now));

    // `yanxiu admin rotate-keys` rewrites the file; the running plane picks it up.
    let grace = 240 * 60_000;
    let rotation = yanxiu_control::keyring::rotate_file(dir.path(), now, grace).unwrap();
    assert_eq!(rotation.playback_key_id, "2");
    assert!(control.reload_keys());
    assert_eq!(control.playback_key_id(), "2");
    let new = control.sign_playback_token(&claims(now + 1));
    assert_ne!(old, new);
    assert!(verifies(&old, now + 1), "old tokens still verify");
    assert!(verifies(&new, now + 1));
    assert!(!verifies(&old, now + grace), "until the old key retires");
    // The audit chain spans both keys and still verifies; records name their key.
    control.logout(&actor, now + 2).await.unwrap();
    let report = control.verify_audit().await.unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let ids: Vec<Option<String>> = sqlx::query_scalar("SELECT key_id FROM audit_log ORDER BY seq")
        .fetch_all(control.db().pool())
        .await
        .unwrap();
    assert_eq!(ids.first().cloned().flatten().as_deref(), Some("1"));
    assert_eq!(ids.last().cloned().flatten().as_deref(), Some("2"));
    // A second rotation drops nothing that still verifies an audit record.
    yanxiu_control::keyring::rotate_file(dir.path(), now + grace + 1, grace).unwrap();
    assert!(control.reload_keys());
    assert!(control.verify_audit().await.unwrap().findings.is_empty());
}

mod non_macro {
    use super::*;

    #[tokio::test]
    async fn expiry_and_reuse_on_sqlite() {
        an_expired_password_signs_in_only_to_be_changed_and_recent_ones_are_not_reused(
            Backend::Sqlite,
        )
        .await;
    }

    #[tokio::test]
    async fn expiry_and_reuse_on_postgres() {
        an_expired_password_signs_in_only_to_be_changed_and_recent_ones_are_not_reused(
            Backend::Postgres,
        )
        .await;
    }

    #[tokio::test]
    async fn key_rotation_on_sqlite() {
        keys_rotate_without_downtime(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn key_rotation_on_postgres() {
        keys_rotate_without_downtime(Backend::Postgres).await;
    }
}

both_backends!(
    a_reviewer_enrols_with_a_first_valid_code_and_is_restricted_until_then,
    sign_in_takes_a_totp_code_once_and_refuses_its_replay,
    wrong_codes_count_toward_the_lockout_and_raise_the_alert,
    a_recovery_code_signs_in_once,
    a_reviewer_without_a_second_factor_cannot_approve,
    a_reset_second_factor_ends_the_sessions_and_needs_a_new_enrolment,
    the_sign_in_history_keeps_address_agent_and_outcome_for_the_account_and_the_security_admin,
    an_administrator_signing_in_from_a_new_address_raises_the_alert,
);
