//! Test harness: every scenario runs on SQLite and on PostgreSQL.
//!
//! PostgreSQL: one throwaway cluster per test binary, started with `initdb` + `pg_ctl` from
//! Debian's `postgresql` package (as the `postgres` user when running as root), on a free port,
//! socket directory inside its tempdir; every test gets a fresh database. A watcher process
//! stops the cluster and removes its directory when the test binary exits. If the cluster
//! cannot start, the tests FAIL (they never skip).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod pg;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use yanxiu_control::accounts::{NewUser, UserInfo};
use yanxiu_control::config::ControlConfig;
use yanxiu_control::http::{AppState, ManualClock};
use yanxiu_control::password::HashCost;
use yanxiu_control::{ControlPlane, Keys, Role};

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The password every test account gets.
pub const PASSWORD: &str = "Passw0rd-Test";
/// The clock's start: 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

/// Settings for tests: cheap argon2, otherwise production-like.
pub fn test_config() -> ControlConfig {
    let mut config = ControlConfig {
        hash_cost: HashCost::cheap(),
        ..Default::default()
    };
    config.sessions.max_concurrent = 3;
    // Scenarios move the clock by months; password expiry has its own tests.
    config.password.max_age_days = 0;
    config
}

/// One scenario's world: a migrated database, the control plane, the HTTP app, a manual clock.
pub struct TestEnv {
    pub backend: Backend,
    pub control: Arc<ControlPlane>,
    pub clock: Arc<ManualClock>,
    pub app: Router,
    pub database_url: String,
    pub keys: Keys,
    pub dir: tempfile::TempDir,
    /// TOTP secrets of the accounts enrolled by the helpers, and the last step each used.
    pub totp: Mutex<HashMap<String, (Vec<u8>, u64)>>,
}

/// Seconds per TOTP step (RFC 6238 default, as the server uses).
pub const TOTP_STEP: u64 = 30;

/// A TOTP code of `secret` for `step`, computed by an independent library (totp-lite).
pub fn totp_code(secret: &[u8], step: u64) -> String {
    totp_lite::totp_custom::<totp_lite::Sha1>(TOTP_STEP, 6, secret, step * TOTP_STEP)
}

/// The raw secret of an `otpauth://` URI.
pub fn secret_of_uri(uri: &str) -> Vec<u8> {
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .expect("secret in the URI");
    base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret).expect("base32 secret")
}

impl TestEnv {
    pub async fn new(backend: Backend) -> TestEnv {
        TestEnv::with_config(backend, test_config()).await
    }

    pub async fn with_config(backend: Backend, config: ControlConfig) -> TestEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = match backend {
            Backend::Sqlite => yanxiu_control::db::sqlite_url(&dir.path().join("yanxiu.db")),
            Backend::Postgres => pg::fresh_database().await,
        };
        let keys = Keys::generate();
        let control = Arc::new(
            ControlPlane::open(&database_url, config, keys.clone())
                .await
                .expect("open control plane"),
        );
        let clock = Arc::new(ManualClock::new(T0));
        let state = AppState::new(control.clone()).with_clock(clock.clone());
        let app = yanxiu_control::router(state);
        TestEnv {
            backend,
            control,
            clock,
            app,
            database_url,
            keys,
            dir,
            totp: Mutex::new(HashMap::new()),
        }
    }

    /// The step of the manual clock.
    pub fn step(&self) -> u64 {
        u64::try_from(self.now()).expect("positive clock") / 1000 / TOTP_STEP
    }

    /// A code for `username`'s authenticator the server has not seen yet (one step behind,
    /// now or one ahead: the skew the server allows), moving the clock on a step when all
    /// three were used.
    pub fn next_code(&self, username: &str) -> String {
        let (secret, last) = self
            .totp
            .lock()
            .unwrap()
            .get(username)
            .cloned()
            .unwrap_or_else(|| panic!("{username} has no authenticator"));
        if last + 1 > self.step() + 1 {
            self.clock.advance_ms((TOTP_STEP * 1000) as i64);
        }
        let step = (last + 1).max(self.step() - 1);
        self.totp
            .lock()
            .unwrap()
            .insert(username.to_owned(), (secret.clone(), step));
        totp_code(&secret, step)
    }

    /// Enrols `user` in TOTP through the control plane (as their own restricted session
    /// would) and keeps the secret for [`TestEnv::next_code`]; returns the recovery codes.
    pub async fn enrol_totp(&self, user: &UserInfo) -> Vec<String> {
        let actor = yanxiu_control::Actor {
            user_id: user.id.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            department_id: user.department_id.clone(),
            credential_id: "test-enrolment".into(),
            credential_kind: "session".into(),
            source_addr: "127.0.0.1".into(),
            restriction: Some(yanxiu_control::Restriction::MfaEnrolment),
        };
        let enrolment = self
            .control
            .begin_totp_enrolment(&actor, self.now())
            .await
            .expect("begin enrolment");
        let secret = secret_of_uri(&enrolment.otpauth_uri);
        let step = self.step() - 1;
        self.totp
            .lock()
            .unwrap()
            .insert(user.username.clone(), (secret.clone(), step));
        self.control
            .confirm_totp_enrolment(&actor, &totp_code(&secret, step), self.now())
            .await
            .expect("confirm enrolment")
            .recovery_codes
    }

    pub fn now(&self) -> i64 {
        use yanxiu_control::http::Clock;
        self.clock.now_ms()
    }

    /// Creates a department from the CLI side and returns its id.
    pub async fn department(&self, name: &str) -> String {
        self.control
            .create_department(None, name, self.now())
            .await
            .expect("department")
            .id
    }

    /// Creates an account (bootstrap path) and returns it; reviewers and administrators get
    /// an authenticator (TOTP), which their sign-ins need.
    pub async fn user(&self, username: &str, roles: &[Role], department: Option<&str>) -> UserInfo {
        let user = self.user_without_mfa(username, roles, department).await;
        if yanxiu_control::mfa::requires_second_factor(roles) {
            self.enrol_totp(&user).await;
        }
        user
    }

    /// Creates an account (bootstrap path) without enrolling a second factor.
    pub async fn user_without_mfa(
        &self,
        username: &str,
        roles: &[Role],
        department: Option<&str>,
    ) -> UserInfo {
        self.control
            .bootstrap_user(
                NewUser {
                    username: username.into(),
                    display_name: None,
                    password: PASSWORD.into(),
                    department_id: department.map(str::to_owned),
                    roles: roles.to_vec(),
                },
                self.now(),
            )
            .await
            .expect("bootstrap user")
    }

    /// Creates an account and logs it in over HTTP; returns (user, bearer token).
    pub async fn login_as(
        &self,
        username: &str,
        roles: &[Role],
        department: Option<&str>,
    ) -> (UserInfo, String) {
        let user = self.user(username, roles, department).await;
        let token = self.login(username).await;
        (user, token)
    }

    /// Logs in over HTTP with the test password.
    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/sessions",
                None,
                Some(serde_json::json!({"username": username, "password": PASSWORD})),
            )
            .await;
        if status == StatusCode::ACCEPTED {
            return self.second_factor(username, &body).await;
        }
        assert_eq!(status, StatusCode::CREATED, "login {username}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Answers a sign-in challenge (`body` of the 202) with the account's next TOTP code.
    pub async fn second_factor(&self, username: &str, body: &Value) -> String {
        let challenge = body["challenge"].as_str().expect("challenge");
        let code = self.next_code(username);
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/sessions/second-factor",
                None,
                Some(serde_json::json!({"challenge": challenge, "code": code})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "second factor {username}: {body}"
        );
        body["token"].as_str().expect("token").to_owned()
    }

    /// One JSON request; returns status and JSON body (`Null` when empty, `String` for text).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, text) = self
            .raw(method, path, token, body.map(|b| b.to_string()), &[])
            .await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// One request with a raw body and extra headers; returns status, content type and body.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let has_body = body.is_some();
        if has_body
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        (
            status,
            content_type,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Runs SQL directly against the database (tamper tests).
    pub async fn sql(&self, statement: &str) -> u64 {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(self.control.db().pool())
            .await
            .expect("sql")
            .rows_affected()
    }
}

/// Declares each listed scenario `async fn name(env: TestEnv)` as two tests: on SQLite and on
/// PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestEnv::new($crate::common::Backend::Sqlite).await).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestEnv::new($crate::common::Backend::Postgres).await).await
                }
            )*
        }
    };
}
