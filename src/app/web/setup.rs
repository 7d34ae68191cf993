//! First run: while no account holds `system_admin`, `yanxiu serve` makes a one-time setup
//! token, prints the link `http://ADDR/setup?token=…` once on its console (as Jupyter and
//! Grafana do), and `POST /setup` with that token creates the first system administrator
//! (through `yanxiu_control::first_run`). The token lives only in this process's memory, is
//! compared in constant time, and dies once used; a restart without an admin prints a new one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Mutex;
use yanxiu_control::first_run::FirstAdmin;
use yanxiu_control::http::error::ApiError;
use yanxiu_control::http::extract::{ApiJson, ClientAddr};
use yanxiu_control::{ControlError, ControlPlane};

/// What can go wrong on the setup page.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No token is waiting (an admin exists, or the token was used).
    #[error("setup is closed")]
    Closed,
    /// The token does not match.
    #[error("wrong setup token")]
    WrongToken,
    /// The control plane refused or failed (its own coded, bilingual error).
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl IntoResponse for SetupError {
    fn into_response(self) -> Response {
        let e = match self {
            SetupError::Closed => ControlError::conflict(
                "初始设置已完成或链接已使用，请直接登录",
                "setup is complete or the link was used; sign in instead",
            ),
            SetupError::WrongToken => ControlError::invalid(
                "设置链接无效，请使用控制台上打印的完整链接",
                "the setup link is not valid; use the whole link printed on the console",
            ),
            SetupError::Control(e) => e,
        };
        ApiError(e).into_response()
    }
}

/// The one-time setup token of this process, if setup is open.
#[derive(Debug)]
pub struct SetupGate {
    control: Arc<ControlPlane>,
    token: Option<String>,
    open: Mutex<bool>,
}

impl SetupGate {
    /// A gate over `control`: open with a fresh token when no system admin exists.
    pub async fn open(control: Arc<ControlPlane>) -> Result<SetupGate, SetupError> {
        let token = if control.has_system_admin().await? {
            None
        } else {
            Some(new_token())
        };
        Ok(SetupGate {
            control,
            open: Mutex::new(token.is_some()),
            token,
        })
    }

    /// The setup link for a server at `base` (`http://host:port`), when setup was open at
    /// start.
    pub fn link(&self, base: &str) -> Option<String> {
        self.token
            .as_ref()
            .map(|t| format!("{base}/setup?token={t}"))
    }

    /// Checks `token`, creates the first admin and closes the gate (one call at a time).
    pub async fn create(
        &self,
        token: &str,
        admin: FirstAdmin,
        source_addr: &str,
        now: i64,
    ) -> Result<yanxiu_control::accounts::UserInfo, SetupError> {
        let mut open = self.open.lock().await;
        let expected = match (*open, self.token.as_deref()) {
            (true, Some(t)) => t,
            _ => return Err(SetupError::Closed),
        };
        if !constant_time_eq(expected.as_bytes(), token.as_bytes()) {
            return Err(SetupError::WrongToken);
        }
        let user = match self
            .control
            .create_first_admin(admin, source_addr, now)
            .await
        {
            Err(ControlError::Conflict { .. }) => {
                *open = false;
                return Err(SetupError::Closed);
            }
            other => other?,
        };
        *open = false;
        Ok(user)
    }
}

/// 256 random bits (two v4 UUIDs, 244 random bits) as hex.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The body of `POST /setup`.
#[derive(Debug, serde::Deserialize)]
pub struct SetupRequest {
    token: String,
    #[serde(flatten)]
    admin: FirstAdmin,
}

/// `POST /setup {"token","username","display_name"?,"password"}` → `201` with the account.
pub async fn create_first_admin(
    State(gate): State<Arc<SetupGate>>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<(StatusCode, Json<yanxiu_control::accounts::UserInfo>), SetupError> {
    let user = gate
        .create(&req.token, req.admin, &addr, yanxiu_control::now_ms())
        .await?;
    tracing::info!(username = %user.username, "first system administrator created");
    Ok((StatusCode::CREATED, Json(user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
