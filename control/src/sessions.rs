//! Sessions and API tokens: login with lockout, the concurrent-session limit, bearer-token
//! authentication with idle timeout and absolute lifetime, logout, and API tokens for
//! automation. Every security-relevant step is audited (never a password or a token).

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::accounts::UserInfo;
use crate::audit::Outcome;
use crate::error::{ControlError, ControlResult};
use crate::lockout::{FailureOutcome, LockState};
use crate::password;
use crate::plane::{Actor, AuditCtx, ControlPlane, new_id, role_label};
use crate::secrets;
use crate::session_rules::{Admission, SessionTimes};

/// A successful login.
#[derive(Debug, Clone, Serialize)]
pub struct LoginGrant {
    /// The bearer token (shown once).
    pub token: String,
    /// The session id.
    pub session_id: String,
    /// Absolute expiry (ms).
    pub expires_at: i64,
    /// The account.
    pub user: UserInfo,
}

/// A newly created API token.
#[derive(Debug, Clone, Serialize)]
pub struct ApiTokenGrant {
    /// Token id.
    pub id: String,
    /// The bearer token (shown once).
    pub token: String,
    /// Expiry (ms).
    pub expires_at: i64,
}

/// An API token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiTokenInfo {
    /// Id.
    pub id: String,
    /// Label.
    pub name: Option<String>,
    /// Creation (ms).
    pub created_at: i64,
    /// Last use (ms).
    pub last_seen_at: i64,
    /// Expiry (ms).
    pub expires_at: Option<i64>,
}

const SESSION_PREFIX: &str = "yxs_";
const API_TOKEN_PREFIX: &str = "yxt_";

impl ControlPlane {
    /// Logs in with username and password from `source_addr`, applying lockout and the
    /// concurrent-session limit. Every outcome is audited (never the password).
    pub async fn login(
        &self,
        username: &str,
        password_given: &str,
        source_addr: &str,
        now: i64,
    ) -> ControlResult<LoginGrant> {
        let anon = AuditCtx::anonymous(source_addr);
        let row = sqlx::query(
            "SELECT id, password_hash, disabled_at, failed_attempts, locked_until FROM users \
             WHERE username = $1",
        )
        .bind(username.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            let detail = json!({"username": username, "reason": "unknown_user"});
            self.audit(
                &anon,
                "login.failure",
                "user:-",
                Outcome::Failure,
                detail,
                now,
            )
            .await?;
            return Err(ControlError::InvalidCredentials);
        };
        let user_id: String = row.try_get("id")?;
        let target = format!("user:{user_id}");
        let ctx = AuditCtx {
            actor_id: Some(user_id.clone()),
            actor_name: username.to_owned(),
            ..anon
        };
        let lock = LockState {
            failed_attempts: u32::try_from(row.try_get::<i64, _>("failed_attempts")?).unwrap_or(0),
            locked_until: row.try_get("locked_until")?,
        };
        if let Some(until) = lock.locked_at(now) {
            let detail = json!({"reason": "locked", "locked_until": until});
            self.audit(&ctx, "login.failure", &target, Outcome::Denied, detail, now)
                .await?;
            return Err(ControlError::AccountLocked { until });
        }
        let hash: String = row.try_get("password_hash")?;
        if !password::verify_password(password_given, &hash) {
            let (state, outcome) = lock.after_failure(&self.config.lockout, now);
            self.store_lock(&user_id, state).await?;
            let detail =
                json!({"reason": "bad_password", "failed_attempts": state.failed_attempts});
            self.audit(
                &ctx,
                "login.failure",
                &target,
                Outcome::Failure,
                detail,
                now,
            )
            .await?;
            if let FailureOutcome::LockedNow { until } = outcome {
                let detail = json!({"locked_until": until,
                    "max_failures": self.config.lockout.max_failures});
                self.audit(
                    &ctx,
                    "account.lockout",
                    &target,
                    Outcome::Success,
                    detail,
                    now,
                )
                .await?;
                return Err(ControlError::AccountLocked { until });
            }
            return Err(ControlError::InvalidCredentials);
        }
        if row.try_get::<Option<i64>, _>("disabled_at")?.is_some() {
            let detail = json!({"reason": "disabled"});
            self.audit(&ctx, "login.failure", &target, Outcome::Denied, detail, now)
                .await?;
            return Err(ControlError::AccountDisabled);
        }
        self.store_lock(&user_id, lock.after_success()).await?;
        let roles = self.roles_of(&user_id).await?;
        let ctx = AuditCtx {
            actor_role: role_label(&roles),
            ..ctx
        };
        let live = self.live_sessions(&user_id, now).await?;
        let evict: Vec<String> = match self.config.sessions.admit(&live) {
            Admission::Refuse => {
                let detail = json!({"reason": "session_limit", "limit": self.config.sessions.max_concurrent});
                self.audit(&ctx, "login.failure", &target, Outcome::Denied, detail, now)
                    .await?;
                return Err(ControlError::SessionLimit);
            }
            Admission::Admit { evict } => evict.into_iter().map(str::to_owned).collect(),
        };
        for id in &evict {
            sqlx::query(
                "UPDATE credentials SET revoked_at = $1, revoke_reason = 'evicted' WHERE id = $2",
            )
            .bind(now)
            .bind(id.clone())
            .execute(self.db.pool())
            .await?;
            let detail = json!({"session_id": id, "limit": self.config.sessions.max_concurrent});
            self.audit(
                &ctx,
                "session.evicted",
                &target,
                Outcome::Success,
                detail,
                now,
            )
            .await?;
        }
        let token = secrets::random_secret(SESSION_PREFIX);
        let session_id = new_id();
        let expires_at = self.config.sessions.absolute_expiry(now);
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, token_hash, created_at, last_seen_at, \
             expires_at, source_addr) VALUES ($1, $2, 'session', $3, $4, $4, $5, $6)",
        )
        .bind(session_id.clone())
        .bind(user_id.clone())
        .bind(secrets::secret_hash(&token))
        .bind(now)
        .bind(expires_at)
        .bind(source_addr.to_owned())
        .execute(self.db.pool())
        .await?;
        self.audit(
            &ctx,
            "login.success",
            &target,
            Outcome::Success,
            json!({"session_id": session_id}),
            now,
        )
        .await?;
        Ok(LoginGrant {
            token,
            session_id,
            expires_at,
            user: self.user(&user_id).await?,
        })
    }

    async fn store_lock(&self, user_id: &str, state: LockState) -> ControlResult<()> {
        sqlx::query("UPDATE users SET failed_attempts = $1, locked_until = $2 WHERE id = $3")
            .bind(i64::from(state.failed_attempts))
            .bind(state.locked_until)
            .bind(user_id.to_owned())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The account's interactive sessions still valid at `now`, as `(id, created_at)`.
    async fn live_sessions(&self, user_id: &str, now: i64) -> ControlResult<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_seen_at, expires_at FROM credentials \
             WHERE user_id = $1 AND kind = 'session' AND revoked_at IS NULL",
        )
        .bind(user_id.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        let mut live = Vec::new();
        for row in rows {
            let times = SessionTimes {
                created_at: row.try_get("created_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                expires_at: row.try_get("expires_at")?,
            };
            if self.config.sessions.check(times, now).is_ok() {
                live.push((row.try_get("id")?, times.created_at));
            }
        }
        Ok(live)
    }

    /// Resolves a bearer token (session or API token) into an [`Actor`] at `now`, refreshing the
    /// session's idle timer.
    pub async fn authenticate(
        &self,
        token: &str,
        source_addr: &str,
        now: i64,
    ) -> ControlResult<Actor> {
        let row = sqlx::query(
            "SELECT c.id, c.kind, c.created_at, c.last_seen_at, c.expires_at, c.revoked_at, \
             u.id AS user_id, u.username, u.department_id, u.disabled_at \
             FROM credentials c JOIN users u ON u.id = c.user_id WHERE c.token_hash = $1",
        )
        .bind(secrets::secret_hash(token))
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::Unauthenticated)?;
        if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
            return Err(ControlError::SessionEnded);
        }
        if row.try_get::<Option<i64>, _>("disabled_at")?.is_some() {
            return Err(ControlError::AccountDisabled);
        }
        let kind: String = row.try_get("kind")?;
        let times = SessionTimes {
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        let valid = if kind == "session" {
            self.config.sessions.check(times, now).is_ok()
        } else {
            times.expires_at.is_none_or(|e| now < e)
        };
        if !valid {
            return Err(ControlError::SessionEnded);
        }
        let credential_id: String = row.try_get("id")?;
        sqlx::query("UPDATE credentials SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(credential_id.clone())
            .execute(self.db.pool())
            .await?;
        let user_id: String = row.try_get("user_id")?;
        Ok(Actor {
            roles: self.roles_of(&user_id).await?,
            user_id,
            username: row.try_get("username")?,
            department_id: row.try_get("department_id")?,
            credential_id,
            credential_kind: kind,
            source_addr: source_addr.to_owned(),
        })
    }

    /// Ends the caller's session (or revokes the API token it used).
    pub async fn logout(&self, actor: &Actor, now: i64) -> ControlResult<()> {
        sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'logout' WHERE id = $2",
        )
        .bind(now)
        .bind(actor.credential_id.clone())
        .execute(self.db.pool())
        .await?;
        let detail = json!({"session_id": actor.credential_id});
        self.audit(
            &actor.audit_ctx(),
            "logout",
            &format!("user:{}", actor.user_id),
            Outcome::Success,
            detail,
            now,
        )
        .await
    }

    /// Whether a credential (session or API token) is still alive: not revoked, its account not
    /// disabled, not past its absolute expiry. The idle timeout is not applied (a viewer watching
    /// a long lecture does not touch the API).
    pub(crate) async fn credential_alive(
        &self,
        credential_id: &str,
        now: i64,
    ) -> ControlResult<bool> {
        let row = sqlx::query(
            "SELECT c.revoked_at, c.expires_at, u.disabled_at FROM credentials c \
             JOIN users u ON u.id = c.user_id WHERE c.id = $1",
        )
        .bind(credential_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(false) };
        Ok(row.try_get::<Option<i64>, _>("revoked_at")?.is_none()
            && row.try_get::<Option<i64>, _>("disabled_at")?.is_none()
            && row
                .try_get::<Option<i64>, _>("expires_at")?
                .is_none_or(|e| now < e))
    }

    /// Creates an API token for the caller (automation), valid `days` (default from settings).
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        name: Option<String>,
        days: Option<u32>,
        now: i64,
    ) -> ControlResult<ApiTokenGrant> {
        let days = days
            .unwrap_or(self.config.tokens.api_token_days)
            .clamp(1, 366);
        let token = secrets::random_secret(API_TOKEN_PREFIX);
        let id = new_id();
        let expires_at = now + i64::from(days) * 86_400_000;
        sqlx::query(
            "INSERT INTO credentials (id, user_id, kind, name, token_hash, created_at, last_seen_at, \
             expires_at, source_addr) VALUES ($1, $2, 'api_token', $3, $4, $5, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(actor.user_id.clone())
        .bind(name.clone())
        .bind(secrets::secret_hash(&token))
        .bind(now)
        .bind(expires_at)
        .bind(actor.source_addr.clone())
        .execute(self.db.pool())
        .await?;
        let detail = json!({"token_id": id, "name": name, "expires_at": expires_at});
        self.audit(
            &actor.audit_ctx(),
            "api_token.create",
            &format!("user:{}", actor.user_id),
            Outcome::Success,
            detail,
            now,
        )
        .await?;
        Ok(ApiTokenGrant {
            id,
            token,
            expires_at,
        })
    }

    /// The caller's live API tokens.
    pub async fn list_api_tokens(
        &self,
        actor: &Actor,
        now: i64,
    ) -> ControlResult<Vec<ApiTokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_seen_at, expires_at FROM credentials \
             WHERE user_id = $1 AND kind = 'api_token' AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at",
        )
        .bind(actor.user_id.clone())
        .bind(now)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ApiTokenInfo {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                })
            })
            .collect()
    }

    /// Revokes one of the caller's API tokens.
    pub async fn revoke_api_token(
        &self,
        actor: &Actor,
        token_id: &str,
        now: i64,
    ) -> ControlResult<()> {
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'revoked' \
             WHERE id = $2 AND user_id = $3 AND kind = 'api_token' AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id.to_owned())
        .bind(actor.user_id.clone())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if done == 0 {
            return Err(ControlError::NotFound("api token"));
        }
        let detail = json!({"token_id": token_id});
        self.audit(
            &actor.audit_ctx(),
            "api_token.revoke",
            &format!("user:{}", actor.user_id),
            Outcome::Success,
            detail,
            now,
        )
        .await
    }
}
