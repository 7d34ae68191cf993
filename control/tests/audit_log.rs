//! The audit log: chained records for security actions, tamper detection (edit, delete,
//! insert directly in the database), search and export for the audit admin only, no deletion.
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, TestEnv};
use serde_json::json;
use yanxiu_control::Role;
use yanxiu_control::audit_chain::AuditFinding;

/// user.create, mfa.enrol.begin, mfa.enrol.confirm (the audit admin, seq 1–3); user.create,
/// login.success (li, 4–5); login.failure (li, 6).
async fn some_history(env: &TestEnv) {
    env.user("auditor", &[Role::AuditAdmin], None).await;
    env.login_as("li", &[Role::Learner], None).await;
    let wrong = json!({"username": "li", "password": "Wrong-pass-1"});
    env.call("POST", "/api/v1/sessions", None, Some(wrong))
        .await;
}

/// Takes the database's append-only guard away, as someone holding the owner's rights over
/// the schema could: what is left to catch them is the chain.
async fn switch_guard_off(env: &TestEnv) {
    match env.backend {
        common::Backend::Sqlite => {
            env.sql("DROP TRIGGER audit_log_no_update").await;
            env.sql("DROP TRIGGER audit_log_no_delete").await;
        }
        common::Backend::Postgres => {
            env.sql("ALTER TABLE audit_log DISABLE TRIGGER USER").await;
        }
    }
}

async fn security_actions_are_chained_and_the_intact_log_verifies(env: TestEnv) {
    some_history(&env).await;
    let v = env.control.verify_audit().await.unwrap();
    assert_eq!(v.records, 6);
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    let auditor = env.login("auditor").await;
    let (status, page) = env
        .call("GET", "/api/v1/audit?action=login", Some(&auditor), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // li's success and failure, then the audit admin's password step and second factor.
    assert_eq!(page["total"], 4, "{page}");
    let newest = &page["items"][0];
    assert_eq!(newest["action"], "login.success");
    assert_eq!(newest["actor_name"], "auditor");
    assert_eq!(page["items"][1]["action"], "login.challenge");
    let failure = &page["items"][2];
    assert_eq!(failure["result"], "failure");
    assert_eq!(failure["actor_name"], "li");
    assert_eq!(failure["source_addr"], "unknown");
    assert!(failure["hash"].as_str().unwrap().len() == 64);
    let (status, v) = env
        .call("GET", "/api/v1/audit/verify", Some(&auditor), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["findings"], json!([]));
}

async fn an_edited_record_is_named(env: TestEnv) {
    some_history(&env).await;
    switch_guard_off(&env).await;
    assert_eq!(
        env.sql("UPDATE audit_log SET result = 'success' WHERE seq = 6")
            .await,
        1
    );
    let v = env.control.verify_audit().await.unwrap();
    assert_eq!(v.findings, vec![AuditFinding::Altered { seq: 6 }]);
}

async fn a_deleted_record_is_named(env: TestEnv) {
    some_history(&env).await;
    switch_guard_off(&env).await;
    assert_eq!(env.sql("DELETE FROM audit_log WHERE seq = 2").await, 1);
    let v = env.control.verify_audit().await.unwrap();
    assert_eq!(
        v.findings,
        vec![AuditFinding::Deleted {
            from_seq: 2,
            to_seq: 2
        }]
    );
    assert_eq!(env.sql("DELETE FROM audit_log WHERE seq = 6").await, 1);
    let v = env.control.verify_audit().await.unwrap();
    assert!(
        v.findings.contains(&AuditFinding::Deleted {
            from_seq: 6,
            to_seq: 6
        }),
        "{:?}",
        v.findings
    );
}

async fn an_inserted_record_is_named(env: TestEnv) {
    some_history(&env).await;
    let forged = "INSERT INTO audit_log (seq, at, actor_id, actor_name, actor_role, action, target, result, \
        source_addr, detail, prev_hash, hash) SELECT 7, at + 1, actor_id, actor_name, actor_role, 'user.roles', \
        target, 'success', source_addr, '{}', hash, hash FROM audit_log WHERE seq = 6";
    assert_eq!(env.sql(forged).await, 1);
    let v = env.control.verify_audit().await.unwrap();
    assert_eq!(v.findings, vec![AuditFinding::Inserted { seq: 7 }]);
}

async fn only_the_audit_admin_reads_and_exports_and_nobody_deletes(env: TestEnv) {
    some_history(&env).await;
    let (_, sys) = env.login_as("sys", &[Role::SystemAdmin], None).await;
    assert_eq!(
        env.call("GET", "/api/v1/audit", Some(&sys), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        env.call("GET", "/api/v1/audit/export", Some(&sys), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let auditor = env.login("auditor").await;
    let (status, content_type, csv) = env
        .raw(
            "GET",
            "/api/v1/audit/export?action=login",
            Some(&auditor),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("seq,at,actor_id"));
    assert_eq!(
        lines.len(),
        1 + 6,
        "header + 6 records of signing in (two for each second factor): {csv}"
    );
    assert!(!csv.contains(PASSWORD));
    // The export itself is audited; the log cannot be deleted through the API.
    let (_, page) = env
        .call(
            "GET",
            "/api/v1/audit?action=audit.export",
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(
        env.call("DELETE", "/api/v1/audit", Some(&auditor), None)
            .await
            .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let v = env.control.verify_audit().await.unwrap();
    assert!(v.findings.is_empty());
}

async fn the_chain_survives_concurrent_appends(env: TestEnv) {
    let control = env.control.clone();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let control = control.clone();
        tasks.push(tokio::spawn(async move {
            let ctx = yanxiu_control::AuditCtx::anonymous("127.0.0.1");
            control
                .audit(
                    &ctx,
                    "test.concurrent",
                    &format!("n:{i}"),
                    yanxiu_control::audit::Outcome::Success,
                    json!({}),
                    1,
                )
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let v = env.control.verify_audit().await.unwrap();
    assert_eq!(v.records, 20);
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

/// Two nodes on one database: one appends lone records (a failed sign-in, say) while the
/// other makes audited changes (new accounts). Both take the chain head first, so neither
/// waits for the other in the opposite order (PostgreSQL would fail one as a deadlock), and
/// the chain stays whole.
async fn lone_records_and_audited_changes_on_two_nodes_never_deadlock(env: TestEnv) {
    let other = std::sync::Arc::new(
        yanxiu_control::ControlPlane::open(
            &env.database_url,
            common::test_config(),
            env.keys.clone(),
        )
        .await
        .unwrap(),
    );
    const EACH: usize = 40;
    let lone = {
        let control = env.control.clone();
        tokio::spawn(async move {
            let ctx = yanxiu_control::AuditCtx::anonymous("127.0.0.1");
            for i in 0..EACH {
                control
                    .audit(
                        &ctx,
                        "test.lone",
                        &format!("n:{i}"),
                        yanxiu_control::audit::Outcome::Failure,
                        json!({}),
                        1,
                    )
                    .await?;
            }
            Ok::<_, yanxiu_control::ControlError>(())
        })
    };
    let changes = {
        let other = other.clone();
        tokio::spawn(async move {
            for i in 0..EACH {
                other
                    .bootstrap_user(
                        yanxiu_control::accounts::NewUser {
                            username: format!("node2-{i}"),
                            display_name: None,
                            password: PASSWORD.into(),
                            department_id: None,
                            roles: vec![Role::Learner],
                        },
                        1,
                    )
                    .await?;
            }
            Ok::<_, yanxiu_control::ControlError>(())
        })
    };
    lone.await.unwrap().expect("lone records");
    changes.await.unwrap().expect("audited changes");
    let v = env.control.verify_audit().await.unwrap();
    assert_eq!(v.records, 2 * EACH);
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

both_backends!(
    lone_records_and_audited_changes_on_two_nodes_never_deadlock,
    security_actions_are_chained_and_the_intact_log_verifies,
    an_edited_record_is_named,
    a_deleted_record_is_named,
    an_inserted_record_is_named,
    only_the_audit_admin_reads_and_exports_and_nobody_deletes,
    the_chain_survives_concurrent_appends,
);
