//! The authorization matrix, table-driven: every role × every action × three scopes
//! (own: same department and owner and audience member; dept: same department, not the owner;
//! other: another department, not the owner, not in the audience). Expectations are written
//! out from the institute's rules, independently of the policy code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use yanxiu_control::policy::{Action, Role, Scope, decide};

const ROLES: [Role; 9] = [
    Role::Learner,
    Role::Producer,
    Role::EventOrganiser,
    Role::DepartmentReviewer,
    Role::CentreReviewer,
    Role::DepartmentAdmin,
    Role::SystemAdmin,
    Role::SecurityAdmin,
    Role::AuditAdmin,
];

fn scopes() -> [(&'static str, Scope); 3] {
    [
        (
            "own",
            Scope {
                same_department: true,
                is_owner: true,
                public: false,
                in_audience: true,
            },
        ),
        (
            "dept",
            Scope {
                same_department: true,
                is_owner: false,
                public: false,
                in_audience: false,
            },
        ),
        ("other", Scope::out_of_scope()),
    ]
}

/// Columns: learner producer organiser dept_reviewer centre_reviewer dept_admin sys sec audit;
/// each cell is own/dept/other, Y = allowed, N = denied.
fn expected() -> Vec<(Action, [&'static str; 9])> {
    use Action::*;
    use Role as R;
    const NONE: &str = "NNN";
    let mut rows = vec![
        (
            ManageUsers,
            [NONE, NONE, NONE, NONE, NONE, "YYN", "YYY", NONE, NONE],
        ),
        (
            ManageConfig,
            [NONE, NONE, NONE, NONE, NONE, NONE, "YYY", NONE, NONE],
        ),
        (
            ReadAudit,
            [NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE, "YYY"],
        ),
        (
            ManageDepartments,
            [NONE, NONE, NONE, NONE, NONE, NONE, "YYY", NONE, NONE],
        ),
        (
            ManageProjects,
            [NONE, NONE, NONE, NONE, NONE, "YYN", "YYY", NONE, NONE],
        ),
        (
            ManageAudiences,
            [NONE, NONE, "YYN", NONE, NONE, "YYN", NONE, NONE, NONE],
        ),
        (
            ManageChannels,
            [NONE, NONE, "YYN", NONE, NONE, "YYN", NONE, NONE, NONE],
        ),
        (
            ReadChannel,
            [NONE, NONE, "YYN", "YYN", "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            CreateResource,
            [NONE, "YYN", "YYN", NONE, NONE, NONE, NONE, NONE, NONE],
        ),
        (
            EditResource,
            [NONE, "YNN", "YNN", NONE, NONE, NONE, NONE, NONE, NONE],
        ),
        (
            ReadResource,
            [NONE, "YNN", "YNN", "YYN", "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            DeleteResource,
            [NONE, "YNN", NONE, NONE, NONE, "YYN", NONE, NONE, NONE],
        ),
        (
            ReviewSelf,
            [NONE, "YNN", "YNN", NONE, NONE, NONE, NONE, NONE, NONE],
        ),
        (
            ReviewDepartment,
            [NONE, NONE, NONE, "NYN", NONE, NONE, NONE, NONE, NONE],
        ),
        (
            ReviewTechnical,
            [NONE, NONE, NONE, NONE, "NYY", NONE, NONE, NONE, NONE],
        ),
        (
            Unpublish,
            [NONE, NONE, NONE, NONE, "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            ImportCatalogue,
            [NONE, NONE, NONE, NONE, "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            Watch,
            ["YNN", "YNN", "YNN", "YNN", "YNN", "YNN", NONE, NONE, NONE],
        ),
        (
            ReadAnalytics,
            [NONE, "YNN", "YNN", "YYN", "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            ReadLearningRecords,
            [NONE, NONE, NONE, NONE, "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            HandleComplaints,
            [NONE, NONE, NONE, NONE, "YYY", NONE, NONE, NONE, NONE],
        ),
        (
            ManageRetention,
            [NONE, NONE, NONE, NONE, "YYY", NONE, NONE, NONE, NONE],
        ),
        (
            ModerateFeedback,
            [NONE, NONE, NONE, NONE, "YYY", "YYN", NONE, NONE, NONE],
        ),
        (
            ManageSessions,
            [NONE, NONE, NONE, NONE, NONE, NONE, NONE, "YYY", NONE],
        ),
    ];
    for granted in [
        R::Learner,
        R::Producer,
        R::EventOrganiser,
        R::DepartmentReviewer,
    ] {
        rows.push((
            AssignRole(granted),
            [NONE, NONE, NONE, NONE, NONE, "YYN", NONE, "YYY", NONE],
        ));
    }
    for granted in [
        R::CentreReviewer,
        R::DepartmentAdmin,
        R::SystemAdmin,
        R::SecurityAdmin,
        R::AuditAdmin,
    ] {
        rows.push((
            AssignRole(granted),
            [NONE, NONE, NONE, NONE, NONE, NONE, NONE, "YYY", NONE],
        ));
    }
    rows
}

#[test]
fn every_role_action_and_scope_gets_the_expected_decision() {
    let table = expected();
    let mut covered = 0;
    for action in Action::all() {
        let (_, cells) = table
            .iter()
            .find(|(a, _)| *a == action)
            .unwrap_or_else(|| panic!("the matrix has no row for {action:?}"));
        for (role, cell) in ROLES.iter().zip(cells) {
            for ((scope_name, scope), expected) in scopes().iter().zip(cell.chars()) {
                let decision = decide(*role, action, scope);
                assert_eq!(
                    decision.allowed,
                    expected == 'Y',
                    "{role} × {action:?} × {scope_name}: got {decision:?}"
                );
                covered += 1;
            }
        }
    }
    assert_eq!(covered, Action::all().len() * 9 * 3);
    assert_eq!(table.len(), Action::all().len());
}

#[test]
fn public_content_is_watchable_by_every_non_administrator_anywhere() {
    let public = Scope {
        public: true,
        ..Scope::out_of_scope()
    };
    for role in ROLES {
        assert_eq!(
            decide(role, Action::Watch, &public).allowed,
            !role.is_platform_duty(),
            "{role}"
        );
    }
}

#[test]
fn every_denial_carries_a_reason_in_both_languages() {
    for action in Action::all() {
        for role in ROLES {
            for (_, scope) in scopes() {
                let d = decide(role, action, &scope);
                assert!(!d.reason.zh().is_empty() && !d.reason.en().is_empty());
            }
        }
    }
}

mod common;

/// The routes of staff authentication and runtime settings (issue 13), role × endpoint: every
/// role signs in (with its second factor where needed) and calls each route; the expected
/// status is written out from the rules: one's own second factor and history for everybody,
/// other accounts' history and the reset of a second factor for the security administrator
/// only, the settings for the system administrator only.
mod staff_auth_routes {
    use axum::http::StatusCode;
    use serde_json::json;

    use super::ROLES;
    use super::common::{Backend, TestEnv};
    use yanxiu_control::Role;

    async fn matrix(backend: Backend) {
        let env = TestEnv::new(backend).await;
        let dept = env.department("数学").await;
        let target = env.user("target", &[Role::Learner], None).await;
        for role in ROLES {
            let name = format!("u-{}", role.as_str());
            let department = role.is_department_scoped().then_some(dept.as_str());
            env.user(&name, &[role], department).await;
            let token = env.login(&name).await;
            let security = role == Role::SecurityAdmin;
            let only = |allowed: bool, ok: StatusCode| {
                if allowed { ok } else { StatusCode::FORBIDDEN }
            };
            let system = role == Role::SystemAdmin;
            let routes: [(&str, String, Option<serde_json::Value>, StatusCode); 9] = [
                ("GET", "/api/v1/me/mfa".into(), None, StatusCode::OK),
                ("GET", "/api/v1/me/sign-ins".into(), None, StatusCode::OK),
                // A wrong code: the route is reached, the code refused.
                (
                    "POST",
                    "/api/v1/me/mfa/recovery-codes".into(),
                    Some(json!({"code": "000000"})),
                    StatusCode::UNAUTHORIZED,
                ),
                (
                    "GET",
                    format!("/api/v1/security/users/{}/sign-ins", target.id),
                    None,
                    if security {
                        StatusCode::OK
                    } else {
                        StatusCode::FORBIDDEN
                    },
                ),
                (
                    "POST",
                    format!("/api/v1/security/users/{}/mfa/reset", target.id),
                    None,
                    if security {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::FORBIDDEN
                    },
                ),
                (
                    "POST",
                    "/api/v1/sessions/second-factor".into(),
                    Some(json!({"challenge": "yxc_unknown", "code": "000000"})),
                    StatusCode::UNAUTHORIZED,
                ),
                (
                    "GET",
                    "/api/v1/settings".into(),
                    None,
                    only(system, StatusCode::OK),
                ),
                (
                    "PUT",
                    "/api/v1/settings/uploads".into(),
                    Some(json!({"max_size_bytes": 2_147_483_648u64})),
                    only(system, StatusCode::OK),
                ),
                (
                    "DELETE",
                    "/api/v1/settings/uploads".into(),
                    None,
                    only(system, StatusCode::OK),
                ),
            ];
            for (method, path, body, expected) in routes {
                let (status, answer) = env.call(method, &path, Some(&token), body).await;
                assert_eq!(status, expected, "{role} {method} {path}: {answer}");
            }
            // Without a token, every route but the second sign-in step needs one.
            let (status, _) = env.call("GET", "/api/v1/me/mfa", None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }

    #[tokio::test]
    async fn every_role_gets_the_expected_status_on_every_staff_auth_route_on_sqlite() {
        matrix(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn every_role_gets_the_expected_status_on_every_staff_auth_route_on_postgres() {
        matrix(Backend::Postgres).await;
    }
}
