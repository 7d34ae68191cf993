//! The audit log: appending records to the keyed hash chain, searching, exporting and
//! verifying. No operation updates or deletes a record; retention is unlimited (at least the
//! 180 days the rules require). See [`crate::audit_chain`] for the chain itself.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit_chain::{self, AuditFinding, AuditRecord, GENESIS_HASH};
use crate::error::{ControlError, ControlResult};
use crate::plane::{AuditCtx, ControlPlane, Page, PageRequest};

/// The outcome recorded for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Success,
    /// Attempted and failed (e.g. wrong password).
    Failure,
    /// Refused by the policy.
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// A search over the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Actor username (exact).
    pub actor: Option<String>,
    /// Action prefix, e.g. `login` or `review.`.
    pub action: Option<String>,
    /// Target (exact), e.g. `user:<id>`.
    pub target: Option<String>,
    /// From this instant (ms, inclusive).
    pub from: Option<i64>,
    /// Until this instant (ms, exclusive).
    pub to: Option<i64>,
}

/// The result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// Records read.
    pub records: usize,
    /// Everything wrong; empty when the log is intact.
    pub findings: Vec<AuditFinding>,
}

const MAX_APPEND_TRIES: u32 = 5;

impl ControlPlane {
    /// Appends one record to the audit log. Details must never contain secrets.
    pub async fn audit(
        &self,
        ctx: &AuditCtx,
        action: &str,
        target: &str,
        outcome: Outcome,
        detail: serde_json::Value,
        now: i64,
    ) -> ControlResult<()> {
        let _guard = self.audit_lock.lock().await;
        let key = self.keys.current().audit_signing();
        let mut last_err = None;
        for _ in 0..MAX_APPEND_TRIES {
            match self
                .try_append(&key, ctx, action, target, outcome, &detail, now)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => continue,
                // Another node appended concurrently (unique seq): retry on the new head.
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| ControlError::Internal("audit append contention".into())))
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_append(
        &self,
        key: &(String, Vec<u8>),
        ctx: &AuditCtx,
        action: &str,
        target: &str,
        outcome: Outcome,
        detail: &serde_json::Value,
        now: i64,
    ) -> ControlResult<bool> {
        let mut tx = self.db.pool().begin().await?;
        lock_head(&mut tx, self.db.backend()).await?;
        let record = AuditAppend {
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            detail: detail.clone(),
        };
        if !append_in(&mut tx, key, ctx, &record, now).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Begins a transaction whose change will be audited in it ([`Self::commit_audited`]):
    /// holds this process's audit lock and, on PostgreSQL, locks the chain head so that no
    /// other node appends until the commit. Dropping it rolls the change back.
    pub(crate) async fn begin_audited(&self) -> ControlResult<AuditedTx<'_>> {
        let guard = self.audit_lock.lock().await;
        let mut tx = self.db.pool().begin().await?;
        lock_head(&mut tx, self.db.backend()).await?;
        Ok(AuditedTx { tx, _guard: guard })
    }

    /// Appends `records` to the audit log inside the change's transaction and commits both:
    /// the change and its trace commit together or not at all.
    pub(crate) async fn commit_audited(
        &self,
        mut audited: AuditedTx<'_>,
        ctx: &AuditCtx,
        records: &[AuditAppend],
        now: i64,
    ) -> ControlResult<()> {
        let key = self.keys.current().audit_signing();
        for record in records {
            if !append_in(&mut audited.tx, &key, ctx, record, now).await? {
                return Err(ControlError::Internal(
                    "the audit chain head moved under its lock".into(),
                ));
            }
        }
        audited.tx.commit().await?;
        self.changes.advance();
        Ok(())
    }
}

/// A transaction whose change is audited in it (see [`ControlPlane::begin_audited`]).
#[derive(Debug)]
pub(crate) struct AuditedTx<'a> {
    /// The transaction: run the change's statements on `&mut *audited.tx`.
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: tokio::sync::MutexGuard<'a, ()>,
}

impl AuditedTx<'_> {
    /// The transaction's connection: run the change's statements on it.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

impl AuditAppend {
    /// A record of `action` on `target`.
    pub(crate) fn new(
        action: &str,
        target: impl Into<String>,
        outcome: Outcome,
        detail: serde_json::Value,
    ) -> Self {
        AuditAppend {
            action: action.to_owned(),
            target: target.into(),
            outcome,
            detail,
        }
    }

    /// A successful `action` on `target`.
    pub(crate) fn success(
        action: &str,
        target: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self::new(action, target, Outcome::Success, detail)
    }
}

/// One audit record appended with a change ([`ControlPlane::commit_audited`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AuditAppend {
    /// Action, e.g. `complaint.take_down`.
    pub(crate) action: String,
    /// Target, e.g. `resource:<id>`.
    pub(crate) target: String,
    /// Outcome.
    pub(crate) outcome: Outcome,
    /// Detail (never secrets).
    pub(crate) detail: serde_json::Value,
}

/// Locks the chain head for `tx`, before anything else it writes. Every append takes it
/// first, an audited change ([`ControlPlane::begin_audited`]) as well as a lone record
/// ([`ControlPlane::audit`]): a writer that inserted the next `seq` before locking the head
/// would wait for the head while another node's change, holding the head, waits for that
/// `seq`, a deadlock PostgreSQL breaks by failing one of them. PostgreSQL: the head row
/// `FOR UPDATE`; SQLite: its write lock, taken now (waiting out the busy timeout) so that a
/// read in the change never meets a stale snapshot when it comes to write.
async fn lock_head(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: crate::db::Backend,
) -> Result<(), sqlx::Error> {
    match backend {
        crate::db::Backend::Postgres => {
            sqlx::query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
                .fetch_optional(&mut **tx)
                .await?;
        }
        crate::db::Backend::Sqlite => {
            sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Appends `record` on the chain head inside `tx`; `false` when another node moved the head.
async fn append_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    (key_id, key): &(String, Vec<u8>),
    ctx: &AuditCtx,
    record: &AuditAppend,
    now: i64,
) -> ControlResult<bool> {
    let (action, target, outcome, detail) = (
        &record.action,
        &record.target,
        record.outcome,
        &record.detail,
    );
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (prev_seq, prev_hash) = match head {
        Some(row) => (
            row.try_get::<i64, _>("seq")?,
            row.try_get::<String, _>("hash")?,
        ),
        None => (0, GENESIS_HASH.to_owned()),
    };
    let mut record = AuditRecord {
        seq: prev_seq + 1,
        at: now,
        actor_id: ctx.actor_id.clone(),
        actor_name: ctx.actor_name.clone(),
        actor_role: ctx.actor_role.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        result: outcome.as_str().to_owned(),
        source_addr: ctx.source_addr.clone(),
        detail: detail.to_string(),
        prev_hash,
        hash: String::new(),
    };
    record.hash = audit_chain::record_hash(key, &record);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, actor_name, actor_role, action, target, \
             result, source_addr, detail, prev_hash, hash, key_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(record.seq)
    .bind(record.at)
    .bind(record.actor_id.clone())
    .bind(record.actor_name.clone())
    .bind(record.actor_role.clone())
    .bind(record.action.clone())
    .bind(record.target.clone())
    .bind(record.result.clone())
    .bind(record.source_addr.clone())
    .bind(record.detail.clone())
    .bind(record.prev_hash.clone())
    .bind(record.hash.clone())
    .bind(key_id.clone())
    .execute(&mut **tx)
    .await?;
    let updated = if prev_seq == 0 {
        sqlx::query("INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2)")
            .bind(record.seq)
            .bind(record.hash.clone())
            .execute(&mut **tx)
            .await?
            .rows_affected()
    } else {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
            .bind(record.seq)
            .bind(record.hash.clone())
            .bind(prev_seq)
            .execute(&mut **tx)
            .await?
            .rows_affected()
    };
    Ok(updated == 1)
}

impl ControlPlane {
    /// Searches the audit log, newest first.
    pub async fn search_audit(
        &self,
        query: &AuditQuery,
        page: PageRequest,
    ) -> ControlResult<Page<AuditRecord>> {
        let action_prefix = query.action.as_ref().map(|a| format!("{a}%"));
        const FILTER: &str = "($1 IS NULL OR actor_name = $1) AND ($2 IS NULL OR action LIKE $2) \
             AND ($3 IS NULL OR target = $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at < $5)";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_log WHERE {FILTER}"
        )))
        .bind(query.actor.clone())
        .bind(action_prefix.clone())
        .bind(query.target.clone())
        .bind(query.from)
        .bind(query.to)
        .fetch_one(self.db.pool())
        .await?;
        let items: Vec<AuditRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM audit_log WHERE {FILTER} ORDER BY seq DESC LIMIT $6 OFFSET $7"
        )))
        .bind(query.actor.clone())
        .bind(action_prefix)
        .bind(query.target.clone())
        .bind(query.from)
        .bind(query.to)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        Ok(Page::new(page, items, total))
    }

    /// Exports matching records as CSV (oldest first), hashes included.
    pub async fn export_audit_csv(&self, query: &AuditQuery) -> ControlResult<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut page = PageRequest {
            page: 1,
            per_page: 200,
        };
        let mut rows = Vec::new();
        loop {
            let batch = self.search_audit(query, page).await?;
            let n = batch.items.len();
            rows.extend(batch.items);
            if n < 200 {
                break;
            }
            page.page += 1;
        }
        rows.reverse();
        let csv_err = |e: csv::Error| ControlError::Internal(e.to_string());
        writer
            .write_record([
                "seq",
                "at",
                "actor_id",
                "actor_name",
                "actor_role",
                "action",
                "target",
                "result",
                "source_addr",
                "detail",
                "prev_hash",
                "hash",
            ])
            .map_err(csv_err)?;
        for r in rows {
            writer
                .write_record([
                    r.seq.to_string(),
                    r.at.to_string(),
                    r.actor_id.unwrap_or_default(),
                    r.actor_name,
                    r.actor_role,
                    r.action,
                    r.target,
                    r.result,
                    r.source_addr,
                    r.detail,
                    r.prev_hash,
                    r.hash,
                ])
                .map_err(csv_err)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| ControlError::Internal(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| ControlError::Internal(e.to_string()))
    }

    /// Reads the whole log and verifies the hash chain against the head.
    pub async fn verify_audit(&self) -> ControlResult<AuditVerification> {
        let records: Vec<AuditRecord> = sqlx::query_as("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(self.db.pool())
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(self.db.pool())
            .await?;
        let head = match head {
            Some(row) => Some((
                row.try_get::<i64, _>("seq")?,
                row.try_get::<String, _>("hash")?,
            )),
            None => None,
        };
        // Each record names the audit key that hashed it (keys rotate; none: the first key).
        let key_ids: std::collections::HashMap<i64, Option<String>> =
            sqlx::query("SELECT seq, key_id FROM audit_log")
                .fetch_all(self.db.pool())
                .await?
                .iter()
                .map(|r| Ok((r.try_get("seq")?, r.try_get("key_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
        let keys = self.keys.current();
        let key_of = |seq: i64| keys.audit_key(key_ids.get(&seq).and_then(|k| k.as_deref()));
        let findings = audit_chain::verify_chain_keyed(&key_of, &records, head.as_ref());
        Ok(AuditVerification {
            records: records.len(),
            findings,
        })
    }
}
