//! First run: whether the installation still lacks a system administrator, and creating the
//! first one for the one-time setup page that `yanxiu serve` links to on its console.
//!
//! The setup token itself belongs to the serving process (it lives only in its memory); this
//! module owns the rule that the page may create exactly one account, a `system_admin`
//! without a department, and only while no account holds that role. The password policy and
//! the username rules are the usual ones; the creation is audited as `user.create` by the
//! actor `setup` from the caller's address.

use crate::accounts::{NewUser, UserInfo};
use crate::error::{ControlError, ControlResult};
use crate::plane::{AuditCtx, ControlPlane};
use crate::policy::Role;

/// What the setup page sends: the first administrator's account.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FirstAdmin {
    /// Login name.
    pub username: String,
    /// Name shown to people (defaults to the username).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Password (checked against the password policy).
    pub password: String,
}

impl ControlPlane {
    /// Whether any account (disabled or not) holds the `system_admin` role.
    pub async fn has_system_admin(&self) -> ControlResult<bool> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM user_roles WHERE role = $1 LIMIT 1")
                .bind(Role::SystemAdmin.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Creates the first `system_admin` for the setup page; 409 `conflict` once one exists.
    /// The caller (the serving process) checks its setup token and serializes calls.
    pub async fn create_first_admin(
        &self,
        admin: FirstAdmin,
        source_addr: &str,
        now: i64,
    ) -> ControlResult<UserInfo> {
        if self.has_system_admin().await? {
            return Err(ControlError::conflict(
                "系统管理员已存在，初始设置已完成",
                "a system administrator exists already; setup is complete",
            ));
        }
        let new = NewUser {
            username: admin.username,
            display_name: admin.display_name.filter(|n| !n.trim().is_empty()),
            password: admin.password,
            department_id: None,
            roles: vec![Role::SystemAdmin],
        };
        self.insert_user(&AuditCtx::service("setup", source_addr), None, new, now)
            .await
    }
}
