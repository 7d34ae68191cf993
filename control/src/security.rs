//! The security administrator's view of sign-ins (等级保护: login failure handling and
//! session control): every live interactive session of every account (who, from which
//! address and browser, since when, last seen), ended one by one; and the accounts locked
//! after repeated wrong passwords, unlocked one by one. Only `ManageSessions` (the security
//! administrator) may look or act; every step, and every refused step, is audited, the change
//! and its record in one transaction.
//!
//! Which sessions are live is decided by the same rules as sign-in ([`crate::session_rules`]);
//! the browser's user agent is kept with the session when it signs in
//! ([`ControlPlane::note_session_agent`]).

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest};
use crate::policy::{Action, Scope};
use crate::session_rules::SessionTimes;

/// The longest user agent kept (characters); longer ones are cut.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// A live interactive session as the security administrator sees it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveSession {
    /// Session id.
    pub id: String,
    /// The account.
    pub user_id: String,
    /// Its login name.
    pub username: String,
    /// Its display name.
    pub display_name: String,
    /// The address it signed in from.
    pub source_addr: Option<String>,
    /// The browser's user agent at sign-in, when known.
    pub user_agent: Option<String>,
    /// Sign-in (ms).
    pub created_at: i64,
    /// Last authenticated use (ms).
    pub last_seen_at: i64,
    /// When it ends at the latest (ms).
    pub expires_at: i64,
    /// True for the session making the request.
    pub current: bool,
}

/// An account locked after repeated wrong passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lockout {
    /// The account.
    pub user_id: String,
    /// Its login name.
    pub username: String,
    /// Its display name.
    pub display_name: String,
    /// Its department, if any.
    pub department_id: Option<String>,
    /// Locked until (ms); the lock lifts by itself then.
    pub locked_until: i64,
}

/// The user agent worth keeping: trimmed, control characters dropped, at most
/// [`MAX_USER_AGENT_CHARS`] characters; `None` when nothing is left.
pub fn clean_user_agent(raw: Option<&str>) -> Option<String> {
    let kept: String = raw?
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

fn session_not_found() -> ControlError {
    ControlError::NotFound("session")
}

impl ControlPlane {
    /// Keeps the browser's user agent with a session that just signed in.
    pub async fn note_session_agent(
        &self,
        session_id: &str,
        user_agent: Option<&str>,
    ) -> ControlResult<()> {
        let Some(agent) = clean_user_agent(user_agent) else {
            return Ok(());
        };
        sqlx::query("UPDATE credentials SET user_agent = $1 WHERE id = $2 AND kind = 'session'")
            .bind(agent)
            .bind(session_id.to_owned())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Refuses `actor` unless the policy lets them manage sessions; a refused write is audited.
    async fn require_sessions(
        &self,
        actor: &Actor,
        audited_as: Option<(&str, &str)>,
        now: i64,
    ) -> ControlResult<()> {
        let Err(e) = actor.require(Action::ManageSessions, &Scope::out_of_scope()) else {
            return Ok(());
        };
        if let Some((action, target)) = audited_as {
            let ctx = actor.audit_ctx();
            self.audit(&ctx, action, target, Outcome::Denied, json!({}), now)
                .await?;
        }
        Err(e)
    }

    /// Every live interactive session of every account, the most recently used first.
    pub async fn active_sessions(
        &self,
        actor: &Actor,
        page: PageRequest,
        now: i64,
    ) -> ControlResult<Page<ActiveSession>> {
        self.require_sessions(actor, None, now).await?;
        let sessions = self.policies().await.sessions;
        let idle_ms = i64::from(sessions.idle_minutes) * 60_000;
        let rows = sqlx::query(
            "SELECT c.id, c.user_id, c.source_addr, c.user_agent, c.created_at, c.last_seen_at, \
             c.expires_at, u.username, u.display_name FROM credentials c \
             JOIN users u ON u.id = c.user_id \
             WHERE c.kind = 'session' AND c.revoked_at IS NULL AND c.last_seen_at > $1 \
             ORDER BY c.last_seen_at DESC, c.id",
        )
        .bind(now - idle_ms)
        .fetch_all(self.db.pool())
        .await?;
        let mut live = Vec::new();
        for r in rows {
            let created_at: i64 = r.try_get("created_at")?;
            let expires_at: Option<i64> = r.try_get("expires_at")?;
            let times = SessionTimes {
                created_at,
                last_seen_at: r.try_get("last_seen_at")?,
                expires_at,
            };
            if sessions.check(times, now).is_err() {
                continue;
            }
            let id: String = r.try_get("id")?;
            live.push(ActiveSession {
                current: id == actor.credential_id,
                id,
                user_id: r.try_get("user_id")?,
                username: r.try_get("username")?,
                display_name: r.try_get("display_name")?,
                source_addr: r.try_get("source_addr")?,
                user_agent: r.try_get("user_agent")?,
                created_at,
                last_seen_at: times.last_seen_at,
                expires_at: expires_at.unwrap_or_else(|| sessions.absolute_expiry(created_at)),
            });
        }
        let total = i64::try_from(live.len()).unwrap_or(i64::MAX);
        let items = live
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(0))
            .take(usize::try_from(page.limit()).unwrap_or(0))
            .collect();
        Ok(Page::new(page, items, total))
    }

    /// Ends one live session of any account (the person is signed out at their next request).
    /// The caller's own session is ended by signing out, not here.
    pub async fn revoke_session(
        &self,
        actor: &Actor,
        session_id: &str,
        now: i64,
    ) -> ControlResult<()> {
        let target = format!("session:{session_id}");
        self.require_sessions(actor, Some(("session.revoke", &target)), now)
            .await?;
        if session_id == actor.credential_id {
            return Err(ControlError::conflict(
                "不能在此结束自己当前的会话，请使用“退出登录”",
                "you cannot end your own current session here; sign out instead",
            ));
        }
        let row = sqlx::query(
            "SELECT c.user_id, u.username FROM credentials c JOIN users u ON u.id = c.user_id \
             WHERE c.id = $1 AND c.kind = 'session' AND c.revoked_at IS NULL",
        )
        .bind(session_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(session_not_found)?;
        let user_id: String = row.try_get("user_id")?;
        let username: String = row.try_get("username")?;
        let mut audited = self.begin_audited().await?;
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'revoked_by_admin' \
             WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(session_id.to_owned())
        .execute(&mut *audited.tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(session_not_found());
        }
        let record = AuditAppend {
            action: "session.revoke".into(),
            target: format!("user:{user_id}"),
            outcome: Outcome::Success,
            detail: json!({"session_id": session_id, "username": username}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await
    }

    /// The accounts locked at `now`, the lock ending soonest first.
    pub async fn lockouts(&self, actor: &Actor, now: i64) -> ControlResult<Vec<Lockout>> {
        self.require_sessions(actor, None, now).await?;
        let rows = sqlx::query(
            "SELECT id, username, display_name, department_id, locked_until FROM users \
             WHERE locked_until IS NOT NULL AND locked_until > $1 ORDER BY locked_until, id",
        )
        .bind(now)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Lockout {
                    user_id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    department_id: r.try_get("department_id")?,
                    locked_until: r.try_get("locked_until")?,
                })
            })
            .collect()
    }

    /// Lifts the lock of an account before it ends by itself, and forgets its failed attempts.
    pub async fn unlock_account(
        &self,
        actor: &Actor,
        user_id: &str,
        now: i64,
    ) -> ControlResult<()> {
        let target = format!("user:{user_id}");
        self.require_sessions(actor, Some(("account.unlock", &target)), now)
            .await?;
        let locked_until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM users WHERE id = $1")
                .bind(user_id.to_owned())
                .fetch_optional(self.db.pool())
                .await?
                .ok_or(ControlError::NotFound("user"))?;
        let Some(until) = locked_until.filter(|u| *u > now) else {
            return Err(ControlError::conflict(
                "该账号未被锁定",
                "the account is not locked",
            ));
        };
        let mut audited = self.begin_audited().await?;
        sqlx::query("UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(user_id.to_owned())
            .execute(&mut *audited.tx)
            .await?;
        let record = AuditAppend {
            action: "account.unlock".into(),
            target,
            outcome: Outcome::Success,
            detail: json!({"locked_until": until}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_kept_trimmed_without_control_characters_and_cut_to_its_limit() {
        assert_eq!(
            clean_user_agent(Some("  Mozilla/5.0 (X11)\r\n ")),
            Some("Mozilla/5.0 (X11)".to_owned())
        );
        assert_eq!(clean_user_agent(Some("a\u{0}b")), Some("ab".to_owned()));
        assert_eq!(clean_user_agent(Some(" \t ")), None);
        assert_eq!(clean_user_agent(None), None);
        let long = "浏".repeat(MAX_USER_AGENT_CHARS + 10);
        assert_eq!(
            clean_user_agent(Some(&long)).map(|s| s.chars().count()),
            Some(MAX_USER_AGENT_CHARS)
        );
    }
}
