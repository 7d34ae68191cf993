//! Accounts: creating, disabling and enabling users, their roles (with separation of duties)
//! and passwords (policy, maximum age, no reuse of recent ones). Every change and its audit
//! record commit in one transaction; refusals are audited too. Sign-in, sessions and API
//! tokens are in [`crate::sessions`] and [`crate::api_tokens`].

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::password::{self, PasswordRejected};
use crate::plane::{Actor, AuditCtx, ControlPlane, Page, PageRequest, new_id, role_label};
use crate::policy::{self, Action, Role, Scope};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Department, if any.
    pub department_id: Option<String>,
    /// Roles held.
    pub roles: Vec<Role>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A new account.
#[derive(Debug, Clone, Deserialize)]
pub struct NewUser {
    /// Login name (unique).
    pub username: String,
    /// Name shown to people (defaults to the username).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Initial password (checked against the policy).
    pub password: String,
    /// Department, if any.
    #[serde(default)]
    pub department_id: Option<String>,
    /// Initial roles.
    #[serde(default)]
    pub roles: Vec<Role>,
}

fn invalid_password(e: PasswordRejected) -> ControlError {
    ControlError::invalid(e.zh(), e.to_string())
}

fn validate_username(username: &str) -> ControlResult<()> {
    let ok = (2..=64).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ControlError::invalid(
            "用户名须为 2–64 个字母、数字或 . _ - @",
            "username must be 2-64 letters, digits or . _ - @",
        ))
    }
}

impl ControlPlane {
    pub(crate) async fn roles_of(&self, user_id: &str) -> ControlResult<Vec<Role>> {
        let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user_id.to_owned())
            .fetch_all(self.db.pool())
            .await?;
        let mut roles = Vec::new();
        for row in rows {
            let name: String = row.try_get("role")?;
            if let Ok(role) = name.parse() {
                roles.push(role);
            }
        }
        roles.sort();
        Ok(roles)
    }

    /// Reads one account.
    pub async fn user(&self, user_id: &str) -> ControlResult<UserInfo> {
        let row = sqlx::query(
            "SELECT id, username, display_name, department_id, disabled_at, created_at \
             FROM users WHERE id = $1",
        )
        .bind(user_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::NotFound("user"))?;
        self.user_from_row(&row).await
    }

    async fn user_from_row(&self, row: &sqlx::any::AnyRow) -> ControlResult<UserInfo> {
        let id: String = row.try_get("id")?;
        Ok(UserInfo {
            roles: self.roles_of(&id).await?,
            id,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            department_id: row.try_get("department_id")?,
            disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            created_at: row.try_get("created_at")?,
        })
    }

    /// Finds an account by username.
    pub async fn user_by_name(&self, username: &str) -> ControlResult<UserInfo> {
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
        self.user(&id.ok_or(ControlError::NotFound("user"))?).await
    }

    /// Creates an account on behalf of `actor`: needs `ManageUsers` in the new account's
    /// department and `AssignRole` for each initial role.
    pub async fn create_user(
        &self,
        actor: &Actor,
        new: NewUser,
        now: i64,
    ) -> ControlResult<UserInfo> {
        let scope = actor.scope_of(new.department_id.as_deref(), None);
        let checks = std::iter::once(Action::ManageUsers)
            .chain(new.roles.iter().map(|r| Action::AssignRole(*r)));
        for action in checks {
            if let Err(e) = actor.require(action, &scope) {
                let detail = json!({"username": new.username});
                self.audit(
                    &actor.audit_ctx(),
                    "user.create",
                    "user:-",
                    Outcome::Denied,
                    detail,
                    now,
                )
                .await?;
                return Err(e);
            }
        }
        self.insert_user(&actor.audit_ctx(), Some(&actor.user_id), new, now)
            .await
    }

    /// Creates an account from the local command line (bootstrap), bypassing the policy but
    /// not the password policy or the separation of duties. Audited as `cli`.
    pub async fn bootstrap_user(&self, new: NewUser, now: i64) -> ControlResult<UserInfo> {
        self.insert_user(&AuditCtx::cli(), None, new, now).await
    }

    pub(crate) async fn insert_user(
        &self,
        ctx: &AuditCtx,
        granted_by: Option<&str>,
        new: NewUser,
        now: i64,
    ) -> ControlResult<UserInfo> {
        validate_username(&new.username)?;
        self.policies()
            .await
            .password
            .check(&new.username, &new.password)
            .map_err(invalid_password)?;
        let mut roles = new.roles.clone();
        roles.sort();
        roles.dedup();
        if let Some((a, b)) = policy::conflicting_roles(&roles) {
            return Err(conflicting(a, b));
        }
        if roles.iter().any(|r| r.is_department_scoped()) && new.department_id.is_none() {
            return Err(ControlError::invalid(
                "部门级角色须指定所属部门",
                "department-scoped roles need a department",
            ));
        }
        if let Some(dept) = &new.department_id {
            self.department(dept).await?;
        }
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(new.username.clone())
            .fetch_optional(self.db.pool())
            .await?;
        if exists.is_some() {
            return Err(ControlError::conflict(
                "用户名已存在",
                "username already exists",
            ));
        }
        let hash = password::hash_password(&new.password, self.config.hash_cost)
            .map_err(|e| ControlError::Internal(e.to_string()))?;
        let id = new_id();
        let mut audited = self.begin_audited().await?;
        let tx = &mut audited.tx;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, department_id, \
             failed_attempts, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(id.clone())
        .bind(new.username.clone())
        .bind(
            new.display_name
                .clone()
                .unwrap_or_else(|| new.username.clone()),
        )
        .bind(hash.clone())
        .bind(new.department_id.clone())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        remember_password(tx, &id, &hash, now).await?;
        for role in &roles {
            sqlx::query(
                "INSERT INTO user_roles (user_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.clone())
            .bind(role.as_str())
            .bind(now)
            .bind(granted_by.map(str::to_owned))
            .execute(&mut **tx)
            .await?;
        }
        let record = AuditAppend {
            action: "user.create".into(),
            target: format!("user:{id}"),
            outcome: Outcome::Success,
            detail: json!({"username": new.username, "roles": role_label(&roles),
                "department_id": new.department_id}),
        };
        self.commit_audited(audited, ctx, &[record], now).await?;
        self.user(&id).await
    }

    /// Lists accounts: all for platform user managers, the own department for department admins.
    pub async fn list_users(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> ControlResult<Page<UserInfo>> {
        let global = actor
            .decide(Action::ManageUsers, &Scope::out_of_scope())
            .allowed
            || actor
                .decide(Action::AssignRole(Role::Learner), &Scope::out_of_scope())
                .allowed;
        let dept = if global {
            None
        } else {
            actor.require(
                Action::ManageUsers,
                &actor.scope_of(actor.department_id.as_deref(), None),
            )?;
            actor.department_id.clone()
        };
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR department_id = $1)",
        )
        .bind(dept.clone())
        .fetch_one(self.db.pool())
        .await?;
        let rows = sqlx::query(
            "SELECT id, username, display_name, department_id, disabled_at, created_at FROM users \
             WHERE ($1 IS NULL OR department_id = $1) ORDER BY username LIMIT $2 OFFSET $3",
        )
        .bind(dept)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(self.user_from_row(row).await?);
        }
        Ok(Page::new(page, items, total))
    }

    /// Disables (`disabled = true`) or re-enables an account. Disabling ends all its sessions,
    /// API tokens and therefore playback tokens.
    pub async fn set_user_disabled(
        &self,
        actor: Option<&Actor>,
        user_id: &str,
        disabled: bool,
        now: i64,
    ) -> ControlResult<UserInfo> {
        let target = self.user(user_id).await?;
        let ctx = actor.map(Actor::audit_ctx).unwrap_or_else(AuditCtx::cli);
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        if let Some(actor) = actor {
            if actor.user_id == user_id {
                return Err(ControlError::conflict(
                    "不能停用或启用自己的账号",
                    "you cannot disable or enable your own account",
                ));
            }
            let scope = actor.scope_of(target.department_id.as_deref(), None);
            if let Err(e) = actor.require(Action::ManageUsers, &scope) {
                self.audit(
                    &ctx,
                    action,
                    &format!("user:{user_id}"),
                    Outcome::Denied,
                    json!({}),
                    now,
                )
                .await?;
                return Err(e);
            }
        }
        let value = if disabled { Some(now) } else { None };
        let mut audited = self.begin_audited().await?;
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(value)
            .bind(user_id.to_owned())
            .execute(&mut *audited.tx)
            .await?;
        if disabled {
            revoke_credentials(&mut audited.tx, user_id, None, "account_disabled", now).await?;
        }
        let record = AuditAppend {
            action: action.into(),
            target: format!("user:{user_id}"),
            outcome: Outcome::Success,
            detail: json!({}),
        };
        self.commit_audited(audited, &ctx, &[record], now).await?;
        self.user(user_id).await
    }

    /// Replaces an account's roles. Needs `AssignRole` for every role added or removed, and the
    /// resulting set must respect the separation of duties.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        user_id: &str,
        roles: Vec<Role>,
        now: i64,
    ) -> ControlResult<UserInfo> {
        let target = self.user(user_id).await?;
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        let scope = actor.scope_of(target.department_id.as_deref(), None);
        let changed: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| roles.contains(r) != target.roles.contains(r))
            .collect();
        let detail = json!({"from": role_label(&target.roles), "to": role_label(&roles)});
        let target_label = format!("user:{user_id}");
        for role in &changed {
            if let Err(e) = actor.require(Action::AssignRole(*role), &scope) {
                self.audit(
                    &actor.audit_ctx(),
                    "user.roles",
                    &target_label,
                    Outcome::Denied,
                    detail,
                    now,
                )
                .await?;
                return Err(e);
            }
        }
        if let Some((a, b)) = policy::conflicting_roles(&roles) {
            self.audit(
                &actor.audit_ctx(),
                "user.roles",
                &target_label,
                Outcome::Denied,
                detail,
                now,
            )
            .await?;
            return Err(conflicting(a, b));
        }
        if roles.iter().any(|r| r.is_department_scoped()) && target.department_id.is_none() {
            return Err(ControlError::invalid(
                "部门级角色须指定所属部门",
                "department-scoped roles need a department",
            ));
        }
        let mut audited = self.begin_audited().await?;
        let tx = &mut audited.tx;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(user_id.to_owned())
            .execute(&mut **tx)
            .await?;
        for role in &roles {
            sqlx::query(
                "INSERT INTO user_roles (user_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id.to_owned())
            .bind(role.as_str())
            .bind(now)
            .bind(actor.user_id.clone())
            .execute(&mut **tx)
            .await?;
        }
        let record = AuditAppend {
            action: "user.roles".into(),
            target: target_label,
            outcome: Outcome::Success,
            detail,
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        self.user(user_id).await
    }

    /// Changes the caller's own password (needs the current one): the policy, then the reuse
    /// rule (none of the last `history` passwords). Ends every other session and lifts an
    /// expired password's restriction from the caller's. Works for a session restricted to
    /// changing its password.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new_password: &str,
        now: i64,
    ) -> ControlResult<()> {
        if actor.restriction == Some(crate::plane::Restriction::MfaEnrolment) {
            return Err(ControlError::SecondFactorRequired);
        }
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(actor.user_id.clone())
            .fetch_one(self.db.pool())
            .await?;
        let target = format!("user:{}", actor.user_id);
        if !password::verify_password(current, &hash) {
            let detail = json!({"reason": "bad_password"});
            self.audit(
                &actor.audit_ctx(),
                "password.change",
                &target,
                Outcome::Failure,
                detail,
                now,
            )
            .await?;
            return Err(ControlError::InvalidCredentials);
        }
        let rules = self.policies().await.password;
        rules
            .check(&actor.username, new_password)
            .map_err(invalid_password)?;
        if self
            .password_reused(&actor.user_id, &hash, new_password)
            .await?
        {
            let count = rules.history_checked();
            let detail = json!({"reason": "reused", "history": count});
            self.audit(
                &actor.audit_ctx(),
                "password.change",
                &target,
                Outcome::Denied,
                detail,
                now,
            )
            .await?;
            return Err(ControlError::PasswordReused { count });
        }
        let hash = password::hash_password(new_password, self.config.hash_cost)
            .map_err(|e| ControlError::Internal(e.to_string()))?;
        let mut audited = self.begin_audited().await?;
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
            .bind(hash.clone())
            .bind(now)
            .bind(actor.user_id.clone())
            .execute(&mut *audited.tx)
            .await?;
        remember_password(&mut audited.tx, &actor.user_id, &hash, now).await?;
        revoke_credentials(
            &mut audited.tx,
            &actor.user_id,
            Some(&actor.credential_id),
            "password_changed",
            now,
        )
        .await?;
        sqlx::query("UPDATE credentials SET restriction = NULL WHERE id = $1")
            .bind(actor.credential_id.clone())
            .execute(&mut *audited.tx)
            .await?;
        let record = AuditAppend {
            action: "password.change".into(),
            target,
            outcome: Outcome::Success,
            detail: json!({}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await
    }

    /// Whether `candidate` is the current password or one of the recent ones the policy keeps
    /// from reuse.
    async fn password_reused(
        &self,
        user_id: &str,
        current_hash: &str,
        candidate: &str,
    ) -> ControlResult<bool> {
        if password::verify_password(candidate, current_hash) {
            return Ok(true);
        }
        let recent: Vec<String> = sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE user_id = $1 \
             ORDER BY set_at DESC, id LIMIT $2",
        )
        .bind(user_id.to_owned())
        .bind(i64::from(self.policies().await.password.history_checked()))
        .fetch_all(self.db.pool())
        .await?;
        Ok(recent
            .iter()
            .any(|h| password::verify_password(candidate, h)))
    }
}

/// Keeps a password's hash in the account's history (the reuse rule reads it).
async fn remember_password(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    hash: &str,
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "INSERT INTO password_history (id, user_id, password_hash, set_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id())
    .bind(user_id.to_owned())
    .bind(hash.to_owned())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends an account's sessions and API tokens (all but `except`) inside a transaction.
async fn revoke_credentials(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    except: Option<&str>,
    reason: &str,
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "UPDATE credentials SET revoked_at = $1, revoke_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
    )
    .bind(now)
    .bind(reason.to_owned())
    .bind(user_id.to_owned())
    .bind(except.map(str::to_owned))
    .execute(conn)
    .await?;
    Ok(())
}

fn conflicting(a: Role, b: Role) -> ControlError {
    ControlError::conflict(
        format!("职责分离：角色 {a} 与 {b} 不得由同一账号兼任"),
        format!("separation of duties: roles {a} and {b} cannot sit on one account"),
    )
}
