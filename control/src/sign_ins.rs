//! Sign-in history and security alerts. Every sign-in attempt on a known account (success,
//! wrong password or code, locked, disabled, session limit) is kept with the address and the
//! browser's user agent; the account reads its own history, the security administrator any
//! account's, newest first, paged. Alerts: a structured log event (target `yanxiu::security`)
//! and a counter ([`SecurityEvents`], exposed by the binary as a Prometheus metric) when an
//! account is locked out and when an administrator signs in from an address that account
//! has never signed in from before (its first sign-in ever is not an alert: there is nothing
//! to compare with).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sqlx::Row;

use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest, new_id};
use crate::policy::{Action, Scope};

/// Where a sign-in attempt came from.
#[derive(Debug, Clone, Copy)]
pub struct SignInMeta<'a> {
    /// The client's address.
    pub source_addr: &'a str,
    /// The browser's user agent, if sent.
    pub user_agent: Option<&'a str>,
}

impl<'a> SignInMeta<'a> {
    /// From an address only (no user agent).
    pub fn addr(source_addr: &'a str) -> SignInMeta<'a> {
        SignInMeta {
            source_addr,
            user_agent: None,
        }
    }
}

/// One sign-in attempt as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignIn {
    /// When (ms).
    pub at: i64,
    /// The client's address.
    pub source_addr: String,
    /// The browser's user agent, when known.
    pub user_agent: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Why it failed: `bad_password`, `bad_second_factor`, `replayed_code`, `locked`,
    /// `disabled`, `session_limit`.
    pub reason: Option<String>,
    /// True when an administrator signed in from an address new to the account (alerted).
    pub new_address: bool,
}

/// Counts of the alerts raised by this process (read by the binary's metrics).
#[derive(Debug, Default)]
pub struct SecurityEvents {
    lockouts: AtomicU64,
    admin_new_address: AtomicU64,
}

impl SecurityEvents {
    /// Accounts locked out since start.
    pub fn lockouts(&self) -> u64 {
        self.lockouts.load(Ordering::Relaxed)
    }

    /// Administrator sign-ins from new addresses since start.
    pub fn admin_new_address_sign_ins(&self) -> u64 {
        self.admin_new_address.load(Ordering::Relaxed)
    }

    pub(crate) fn lockout(&self, user_id: &str, username: &str, source_addr: &str, until: i64) {
        self.lockouts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            target: "yanxiu::security",
            event = "account_lockout",
            user_id,
            username,
            source_addr,
            locked_until = until,
            "account locked after repeated failed sign-ins"
        );
    }

    pub(crate) fn admin_new_address(&self, user_id: &str, username: &str, source_addr: &str) {
        self.admin_new_address.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            target: "yanxiu::security",
            event = "admin_sign_in_new_address",
            user_id,
            username,
            source_addr,
            "administrator signed in from an address not seen before for this account"
        );
    }
}

/// Keeps one attempt in the history, inside the caller's transaction.
pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    meta: SignInMeta<'_>,
    success: bool,
    reason: Option<&str>,
    new_address: bool,
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "INSERT INTO sign_ins (id, user_id, at, source_addr, user_agent, outcome, reason, \
         new_address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(user_id.to_owned())
    .bind(now)
    .bind(meta.source_addr.to_owned())
    .bind(crate::security::clean_user_agent(meta.user_agent))
    .bind(if success { "success" } else { "failure" })
    .bind(reason.map(str::to_owned))
    .bind(i64::from(new_address))
    .execute(conn)
    .await?;
    Ok(())
}

impl ControlPlane {
    /// Whether `addr` is new for an account that has signed in before.
    pub(crate) async fn address_is_new(&self, user_id: &str, addr: &str) -> ControlResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN source_addr = $2 THEN 1 ELSE 0 END), 0) AS here \
             FROM sign_ins WHERE user_id = $1 AND outcome = 'success'",
        )
        .bind(user_id.to_owned())
        .bind(addr.to_owned())
        .fetch_one(self.db.pool())
        .await?;
        let total: i64 = row.try_get("total")?;
        let here: i64 = row.try_get("here")?;
        Ok(total > 0 && here == 0)
    }

    /// The alert counters of this process.
    pub fn security_events(&self) -> &SecurityEvents {
        &self.security_events
    }

    /// The sign-in history of `user_id`, newest first: the account itself, or the security
    /// administrator (`ManageSessions`).
    pub async fn sign_in_history(
        &self,
        actor: &Actor,
        user_id: &str,
        page: PageRequest,
    ) -> ControlResult<Page<SignIn>> {
        if actor.user_id != user_id {
            actor.require(Action::ManageSessions, &Scope::out_of_scope())?;
            self.user(user_id).await?;
        }
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sign_ins WHERE user_id = $1")
            .bind(user_id.to_owned())
            .fetch_one(self.db.pool())
            .await?;
        let rows = sqlx::query(
            "SELECT at, source_addr, user_agent, outcome, reason, new_address FROM sign_ins \
             WHERE user_id = $1 ORDER BY at DESC, id LIMIT $2 OFFSET $3",
        )
        .bind(user_id.to_owned())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(SignIn {
                    at: r.try_get("at")?,
                    source_addr: r.try_get("source_addr")?,
                    user_agent: r.try_get("user_agent")?,
                    outcome: r.try_get("outcome")?,
                    reason: r.try_get("reason")?,
                    new_address: r.try_get::<i64, _>("new_address")? != 0,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(ControlError::from)?;
        Ok(Page::new(page, items, total))
    }
}
