//! The audit log made append-only by the database itself: triggers that refuse every
//! UPDATE and DELETE of a record (and TRUNCATE on PostgreSQL), and a chain head that may
//! only move forward. Installed (idempotently) at every start, after the migrations, because
//! trigger syntax differs between SQLite and PostgreSQL while the migrations are shared.
//!
//! On PostgreSQL the triggers stop the application's own role; a separate role without
//! UPDATE, DELETE and TRUNCATE rights on `audit_log` (see `deploy/postgres/app-role.sql` and
//! `docs/security.md`) stops it twice over. [`ControlPlane::audit_guard`] reports both.

use serde::Serialize;
use sqlx::Row;

use crate::db::{Backend, Db};
use crate::error::ControlResult;
use crate::plane::ControlPlane;

/// The names of the triggers on SQLite.
const SQLITE_TRIGGERS: [&str; 4] = [
    "audit_log_no_update",
    "audit_log_no_delete",
    "audit_head_no_delete",
    "audit_head_forward_only",
];

const SQLITE_DDL: [&str; 4] = [
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log \
     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log \
     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head \
     BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be removed'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_head_forward_only BEFORE UPDATE ON audit_head \
     WHEN NEW.seq < OLD.seq \
     BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward'); END",
];

/// The names of the triggers on PostgreSQL.
const POSTGRES_TRIGGERS: [&str; 3] = [
    "audit_log_append_only",
    "audit_log_no_truncate",
    "audit_head_forward_only",
];

/// The body of the function the audit log's triggers call (as `pg_proc.prosrc` keeps it).
const REFUSE_CHANGE_BODY: &str = " BEGIN \
     RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege'; \
     END ";

/// The body of the function the chain head's trigger calls.
const HEAD_FORWARD_BODY: &str = " BEGIN \
     IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN \
     RAISE EXCEPTION 'the audit chain head only moves forward' \
     USING ERRCODE = 'insufficient_privilege'; END IF; \
     RETURN NEW; END ";

/// The functions and their bodies.
const POSTGRES_FUNCTIONS: [(&str, &str); 2] = [
    ("yanxiu_audit_refuse_change", REFUSE_CHANGE_BODY),
    ("yanxiu_audit_head_forward", HEAD_FORWARD_BODY),
];

const POSTGRES_TRIGGER_DDL: [&str; 3] = [
    "CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
     FOR EACH ROW EXECUTE FUNCTION yanxiu_audit_refuse_change()",
    "CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log \
     FOR EACH STATEMENT EXECUTE FUNCTION yanxiu_audit_refuse_change()",
    "CREATE OR REPLACE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head \
     FOR EACH ROW EXECUTE FUNCTION yanxiu_audit_head_forward()",
];

/// Installs the append-only triggers (idempotent; several processes may start at once,
/// beside others already writing the audit log).
pub(crate) async fn install(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    match db.backend() {
        Backend::Sqlite => {
            for ddl in SQLITE_DDL {
                sqlx::query(ddl).execute(&mut *tx).await?;
            }
        }
        Backend::Postgres => {
            // One installer at a time: concurrent CREATE OR REPLACE of a function collide.
            sqlx::query("SELECT pg_advisory_xact_lock(7310421)")
                .execute(&mut *tx)
                .await?;
            // A node starting beside running ones finds the guard in place and changes
            // nothing: its DDL would take table locks that audited changes wait on.
            if postgres_guard_in_place(&mut tx).await? {
                return tx.commit().await;
            }
            // The locks in the order every audited change takes them (the chain head, then
            // the log), the head's exclusively so that changes under way finish first: a
            // trigger created under a change holding the log deadlocks with it.
            sqlx::query("LOCK TABLE audit_head IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            for (name, body) in POSTGRES_FUNCTIONS {
                let ddl = format!(
                    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger \
                     LANGUAGE plpgsql AS $${body}$$"
                );
                sqlx::query(sqlx::AssertSqlSafe(ddl))
                    .execute(&mut *tx)
                    .await?;
            }
            for ddl in POSTGRES_TRIGGER_DDL {
                sqlx::query(ddl).execute(&mut *tx).await?;
            }
        }
    }
    tx.commit().await
}

/// Every trigger is there and switched on, and every function has this version's body.
async fn postgres_guard_in_place(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    for name in POSTGRES_TRIGGERS {
        let enabled: Option<String> =
            sqlx::query_scalar("SELECT tgenabled::text FROM pg_trigger WHERE tgname = $1")
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
        if enabled.is_none_or(|e| e == "D") {
            return Ok(false);
        }
    }
    for (name, body) in POSTGRES_FUNCTIONS {
        let source: Option<String> =
            sqlx::query_scalar("SELECT prosrc FROM pg_proc WHERE proname = $1")
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
        if source.as_deref() != Some(body) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// How the database protects the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditGuard {
    /// Every append-only trigger is in place.
    pub triggers: bool,
    /// Triggers missing (dropped or disabled), by name.
    pub missing_triggers: Vec<String>,
    /// The connected role may not UPDATE, DELETE or TRUNCATE `audit_log` at all (PostgreSQL
    /// with the separate application role); always false on SQLite, which has no roles.
    pub role_without_change_rights: bool,
}

impl ControlPlane {
    /// Reports the database's protection of the audit log.
    pub async fn audit_guard(&self) -> ControlResult<AuditGuard> {
        let mut missing = Vec::new();
        let role_without_change_rights = match self.db.backend() {
            Backend::Sqlite => {
                for name in SQLITE_TRIGGERS {
                    let found: Option<String> = sqlx::query_scalar(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name = $1",
                    )
                    .bind(name)
                    .fetch_optional(self.db.pool())
                    .await?;
                    if found.is_none() {
                        missing.push(name.to_owned());
                    }
                }
                false
            }
            Backend::Postgres => {
                for name in POSTGRES_TRIGGERS {
                    // tgenabled 'D' is a trigger switched off with ALTER TABLE … DISABLE.
                    let enabled: Option<String> = sqlx::query_scalar(
                        "SELECT tgenabled::text FROM pg_trigger WHERE tgname = $1",
                    )
                    .bind(name)
                    .fetch_optional(self.db.pool())
                    .await?;
                    if enabled.is_none_or(|e| e == "D") {
                        missing.push(name.to_owned());
                    }
                }
                let row = sqlx::query(
                    "SELECT has_table_privilege(current_user, 'audit_log', 'UPDATE')::int AS u, \
                     has_table_privilege(current_user, 'audit_log', 'DELETE')::int AS d, \
                     has_table_privilege(current_user, 'audit_log', 'TRUNCATE')::int AS t",
                )
                .fetch_one(self.db.pool())
                .await?;
                let any: i32 = row.try_get::<i32, _>("u")?
                    + row.try_get::<i32, _>("d")?
                    + row.try_get::<i32, _>("t")?;
                any == 0
            }
        };
        Ok(AuditGuard {
            triggers: missing.is_empty(),
            missing_triggers: missing,
            role_without_change_rights,
        })
    }
}
