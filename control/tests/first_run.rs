//! First run: the setup page's single job, creating the first system administrator while none
//! exists, with the usual password policy and an audit record. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PASSWORD, TestEnv};
use yanxiu_control::Role;
use yanxiu_control::audit::AuditQuery;
use yanxiu_control::first_run::FirstAdmin;
use yanxiu_control::plane::PageRequest;

fn admin(username: &str, password: &str) -> FirstAdmin {
    FirstAdmin {
        username: username.into(),
        display_name: Some("首位管理员".into()),
        password: password.into(),
    }
}

async fn a_fresh_installation_has_no_system_admin_and_the_first_one_is_created_once(env: TestEnv) {
    assert!(!env.control.has_system_admin().await.unwrap());
    let user = env
        .control
        .create_first_admin(admin("root-admin", PASSWORD), "127.0.0.1", env.now())
        .await
        .expect("first admin");
    assert_eq!(user.roles, vec![Role::SystemAdmin]);
    assert_eq!(user.department_id, None);
    assert_eq!(user.display_name, "首位管理员");
    assert!(env.control.has_system_admin().await.unwrap());
    env.login("root-admin").await;

    let again = env
        .control
        .create_first_admin(admin("second-admin", PASSWORD), "127.0.0.1", env.now())
        .await
        .expect_err("a second first admin is refused");
    assert_eq!(again.code(), "conflict");

    let records = env
        .control
        .search_audit(
            &AuditQuery {
                action: Some("user.create".into()),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(
        records
            .items
            .iter()
            .any(|r| r.actor_name == "setup" && r.source_addr == "127.0.0.1"),
        "{records:?}"
    );
}

async fn an_existing_system_admin_made_by_the_cli_closes_first_run(env: TestEnv) {
    env.user("cli-admin", &[Role::SystemAdmin], None).await;
    assert!(env.control.has_system_admin().await.unwrap());
    let refused = env
        .control
        .create_first_admin(admin("web-admin", PASSWORD), "127.0.0.1", env.now())
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), "conflict");
}

async fn other_roles_do_not_count_as_a_system_admin(env: TestEnv) {
    env.user("auditor", &[Role::AuditAdmin], None).await;
    assert!(!env.control.has_system_admin().await.unwrap());
}

async fn the_first_admin_password_follows_the_password_policy(env: TestEnv) {
    let weak = env
        .control
        .create_first_admin(admin("root-admin", "short"), "127.0.0.1", env.now())
        .await
        .expect_err("weak password refused");
    assert_eq!(weak.code(), "invalid_request");
    assert!(!env.control.has_system_admin().await.unwrap());
}

both_backends!(
    a_fresh_installation_has_no_system_admin_and_the_first_one_is_created_once,
    an_existing_system_admin_made_by_the_cli_closes_first_run,
    other_roles_do_not_count_as_a_system_admin,
    the_first_admin_password_follows_the_password_policy,
);
