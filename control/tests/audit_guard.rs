//! The audit log cannot be rewritten, and a change never lands without its record: the
//! database refuses UPDATE and DELETE of audit records (and a chain head moved backwards);
//! on PostgreSQL the application's own role (deploy/postgres/app-role.sql) has no right to
//! them either; a change whose audit record cannot be written is not made; signed
//! checkpoints find a database put back to an older copy. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestEnv};
use serde_json::json;
use yanxiu_control::audit_checkpoint::CheckpointFinding;
use yanxiu_control::jobs::NewJob;
use yanxiu_control::resources::{MediaUpdate, ProcessingStatus, ResourceMetadata};
use yanxiu_control::{ControlPlane, Role};

/// user.create, mfa.enrol.begin, mfa.enrol.confirm (the audit admin); user.create,
/// login.success (li): five records.
async fn some_history(env: &TestEnv) {
    env.user("auditor", &[Role::AuditAdmin], None).await;
    env.login_as("li", &[Role::Learner], None).await;
}

/// Runs `statement`; the database's error text when it refuses.
async fn try_sql(env: &TestEnv, statement: &str) -> Result<u64, String> {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(env.control.db().pool())
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| e.to_string())
}

async fn audit_records_cannot_be_changed_or_removed_even_by_the_owner(env: TestEnv) {
    some_history(&env).await;
    for statement in [
        "UPDATE audit_log SET result = 'success' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log",
        "UPDATE audit_head SET seq = 1 WHERE id = 1",
        "DELETE FROM audit_head",
    ] {
        let refused = try_sql(&env, statement).await.expect_err(statement);
        assert!(
            ["append-only", "only moves forward", "cannot be removed"]
                .iter()
                .any(|m| refused.contains(m)),
            "{statement}: {refused}"
        );
    }
    if env.backend == Backend::Postgres {
        let refused = try_sql(&env, "TRUNCATE audit_log")
            .await
            .expect_err("truncate");
        assert!(refused.contains("append-only"), "{refused}");
    }
    // Appending still works, and the log is whole.
    env.login("auditor").await;
    let report = env.control.audit_report(&[], env.now()).await.unwrap();
    assert!(report.chain.findings.is_empty(), "{report:?}");
    assert!(report.guard.triggers, "{report:?}");
    assert!(report.intact(), "{report:?}");
    // and the audit admin's login.challenge and login.success
    assert_eq!(report.chain.records, 7);
}

async fn a_guard_switched_off_is_reported(env: TestEnv) {
    some_history(&env).await;
    match env.backend {
        Backend::Sqlite => env.sql("DROP TRIGGER audit_log_no_delete").await,
        Backend::Postgres => {
            env.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
                .await
        }
    };
    let report = env.control.audit_report(&[], env.now()).await.unwrap();
    assert!(!report.guard.triggers);
    assert!(!report.intact());
    let missing = if env.backend == Backend::Sqlite {
        "audit_log_no_delete"
    } else {
        "audit_log_append_only"
    };
    assert_eq!(report.guard.missing_triggers, vec![missing.to_owned()]);
}

fn metadata(name: &str) -> ResourceMetadata {
    ResourceMetadata {
        name: name.into(),
        lecturer_name: "宋薇".into(),
        lecturer_unit: "北京市清华大学附属中学".into(),
        credit_hours: 1.0,
        ..Default::default()
    }
}

/// Makes every audit append fail, the way a process dying between a change and its record
/// would leave it: the record never commits.
async fn break_audit_appends(env: &TestEnv) {
    match env.backend {
        Backend::Sqlite => {
            env.sql(
                "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            )
            .await;
        }
        Backend::Postgres => {
            env.sql(
                "CREATE OR REPLACE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            )
            .await;
            env.sql(
                "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION fail_audit()",
            )
            .await;
        }
    }
}

async fn mend_audit_appends(env: &TestEnv) {
    match env.backend {
        Backend::Sqlite => env.sql("DROP TRIGGER fail_audit").await,
        Backend::Postgres => env.sql("DROP TRIGGER fail_audit ON audit_log").await,
    };
}

async fn count(env: &TestEnv, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(env.control.db().pool())
        .await
        .unwrap()
}

async fn a_change_whose_audit_record_fails_is_not_made(env: TestEnv) {
    let dept = env.department("物理教研室").await;
    let (user, token) = env
        .login_as("producer", &[Role::Producer], Some(&dept))
        .await;
    let c = &env.control;
    let uploader = c
        .authorize_upload(&token, "127.0.0.1", env.now())
        .await
        .unwrap();
    let view = c
        .create_resource_for(&user.id, &dept, metadata("第一讲"), env.now())
        .await
        .unwrap();
    let records = count(&env, "SELECT COUNT(*) FROM audit_log").await;

    break_audit_appends(&env).await;
    // A new resource: neither the resource nor its record.
    c.create_resource_for(
        &uploader.user_id,
        &uploader.department_id,
        metadata("第二讲"),
        env.now(),
    )
    .await
    .expect_err("no record, no resource");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM resources").await, 1);
    // A file and its processing job: neither the job nor the media nor the record.
    let job = NewJob {
        kind: "media".into(),
        resource_id: None,
        payload: json!({}),
        max_attempts: 3,
    };
    c.start_processing(&view.id, "uploads/a/source.mp4", job.clone(), env.now())
        .await
        .expect_err("no record, no processing");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM jobs").await, 0);
    assert_eq!(
        c.resource(&view.id).await.unwrap().latest.media.media_ref,
        None
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit_log").await, records);

    // Mended: both the change and its record.
    mend_audit_appends(&env).await;
    let (_, job_id) = c
        .start_processing(&view.id, "uploads/a/source.mp4", job, env.now())
        .await
        .unwrap();
    let claimed = c
        .claim_job(
            "w1",
            &["media"],
            std::time::Duration::from_secs(30),
            env.now(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job.id, job_id);

    // The job's end and the resource's ready state go together too.
    break_audit_appends(&env).await;
    let ready = MediaUpdate {
        processing_status: ProcessingStatus::Ready,
        ladder_prefix: Some("ladders/x/".into()),
        ..Default::default()
    };
    c.finish_processing(
        &view.id,
        &claimed.claim,
        ready.clone(),
        json!({}),
        env.now(),
    )
    .await
    .expect_err("no record, no end");
    assert_eq!(
        c.job(&job_id).await.unwrap().state,
        yanxiu_control::jobs::JobState::Running
    );
    mend_audit_appends(&env).await;
    let done = c
        .finish_processing(&view.id, &claimed.claim, ready, json!({}), env.now())
        .await
        .unwrap();
    assert_eq!(done.latest.media.processing_status, ProcessingStatus::Ready);
    assert_eq!(
        c.job(&job_id).await.unwrap().state,
        yanxiu_control::jobs::JobState::Succeeded
    );
    let report = c.audit_report(&[], env.now()).await.unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM audit_log").await,
        records + 2,
        "resource.media and resource.processing"
    );
}

async fn a_checkpoint_signed_by_the_server_holds_and_a_forged_one_does_not(env: TestEnv) {
    some_history(&env).await;
    let c = env
        .control
        .audit_checkpoint(env.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.seq, 5);
    let report = env
        .control
        .audit_report(std::slice::from_ref(&c), env.now())
        .await
        .unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.latest_checkpoint_seq, Some(5));
    let mut forged = c.clone();
    forged.seq = 1;
    let report = env
        .control
        .audit_report(&[forged], env.now())
        .await
        .unwrap();
    assert_eq!(
        report.checkpoint_findings,
        vec![CheckpointFinding::Forged { seq: 1 }]
    );
}

both_backends!(
    audit_records_cannot_be_changed_or_removed_even_by_the_owner,
    a_guard_switched_off_is_reported,
    a_change_whose_audit_record_fails_is_not_made,
    a_checkpoint_signed_by_the_server_holds_and_a_forged_one_does_not,
);

#[tokio::test]
async fn a_database_put_back_to_an_older_copy_is_flagged_by_the_checkpoints() {
    let env = TestEnv::new(Backend::Sqlite).await;
    some_history(&env).await;
    let old_copy = env.dir.path().join("old.db");
    env.sql(&format!("VACUUM INTO '{}'", old_copy.display()))
        .await;
    env.login("auditor").await;
    env.login("li").await;
    let checkpoint = env
        .control
        .audit_checkpoint(env.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checkpoint.seq, 8);

    let restored = ControlPlane::open(
        &yanxiu_control::db::sqlite_url(&old_copy),
        common::test_config(),
        env.keys.clone(),
    )
    .await
    .unwrap();
    let report = restored
        .audit_report(&[checkpoint], env.now())
        .await
        .unwrap();
    assert!(
        report.chain.findings.is_empty(),
        "the old chain is whole in itself"
    );
    assert_eq!(
        report.checkpoint_findings,
        vec![CheckpointFinding::RolledBack {
            checkpoint_seq: 8,
            head_seq: 5
        }]
    );
    assert!(!report.intact());
}

#[tokio::test]
async fn a_node_starting_beside_a_change_under_way_neither_waits_for_it_nor_rewrites_the_guard() {
    let env = TestEnv::new(Backend::Postgres).await;
    some_history(&env).await;
    // A change under way on another node: the chain head and the log held as an append holds them.
    let mut change = env.control.db().pool().begin().await.unwrap();
    sqlx::query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_optional(&mut *change)
        .await
        .unwrap();
    sqlx::query("LOCK TABLE audit_log IN ROW EXCLUSIVE MODE")
        .execute(&mut *change)
        .await
        .unwrap();
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        ControlPlane::open(&env.database_url, common::test_config(), env.keys.clone()),
    )
    .await
    .expect("the start does not wait on the change")
    .expect("opens");
    change.commit().await.unwrap();
    assert!(
        started
            .audit_report(&[], env.now())
            .await
            .unwrap()
            .guard
            .triggers
    );

    // A guard switched off is put back by the next start.
    env.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        .await;
    let restarted = ControlPlane::open(&env.database_url, common::test_config(), env.keys.clone())
        .await
        .expect("opens");
    let report = restarted.audit_report(&[], env.now()).await.unwrap();
    assert!(report.guard.triggers, "{report:?}");
}

#[tokio::test]
async fn the_application_role_of_the_deployment_guide_cannot_touch_audit_records() {
    let env = TestEnv::new(Backend::Postgres).await;
    some_history(&env).await;
    env.sql(
        "DO $$ BEGIN CREATE ROLE yanxiu_app LOGIN; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .await;
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/postgres/app-role.sql"),
    )
    .expect("deploy/postgres/app-role.sql");
    for statement in script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
        .filter(|s| !s.trim().is_empty())
    {
        env.sql(statement).await;
    }
    let app_url = env.database_url.replacen("postgres@", "yanxiu_app@", 1);
    let app = ControlPlane::open(&app_url, common::test_config(), env.keys.clone())
        .await
        .expect("the application role opens the migrated database");
    // It works: appends records, creates users.
    app.create_department(None, "化学教研室", env.now())
        .await
        .unwrap();
    let report = app.audit_report(&[], env.now()).await.unwrap();
    assert!(report.guard.role_without_change_rights, "{report:?}");
    assert!(report.intact(), "{report:?}");
    // And it has no right to rewrite: refused before any trigger runs.
    for statement in [
        "UPDATE audit_log SET result = 'success'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let refused = sqlx::query(statement)
            .execute(app.db().pool())
            .await
            .expect_err(statement)
            .to_string();
        assert!(
            refused.contains("permission denied"),
            "{statement}: {refused}"
        );
    }
    // The owner's view of the same database: no change rights withheld.
    let owner = env.control.audit_report(&[], env.now()).await.unwrap();
    assert!(!owner.guard.role_without_change_rights);
}
