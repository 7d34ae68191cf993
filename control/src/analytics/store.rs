//! Rows of `playback_sessions`, `learning_progress` and `credit_awards` (migration
//! `0005_learning.sql`): loading many by key and writing many in one statement, inside the
//! writer's transaction. Keys are single TEXT columns so that one `IN (…)` finds them on both
//! engines; on PostgreSQL the rows are locked (`FOR UPDATE`, in key order) so that two nodes
//! folding the same playback serialise.

use std::collections::HashMap;

use sqlx::{Any, Row, Transaction};

use crate::analytics::intervals::IntervalSet;
use crate::analytics::session::SessionState;
use crate::db::Backend;

/// Rows per multi-row statement (well under SQLite's and PostgreSQL's parameter limits).
const CHUNK: usize = 200;

/// A playback as stored: who, what, when, and its folded state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredSession {
    pub(crate) key: String,
    pub(crate) viewer_key: String,
    pub(crate) playback_id: String,
    pub(crate) target_kind: String,
    pub(crate) target_id: String,
    pub(crate) department_id: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) started_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) watched_ms: i64,
    pub(crate) state: SessionState,
}

/// A learner's progress on one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredProgress {
    pub(crate) key: String,
    pub(crate) user_id: String,
    pub(crate) resource_id: String,
    pub(crate) department_id: Option<String>,
    pub(crate) watched: IntervalSet,
    pub(crate) watched_ms: i64,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) first_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) credited_at: Option<i64>,
}

/// An earned credit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Award {
    pub(crate) user_id: String,
    pub(crate) resource_id: String,
    pub(crate) revision_id: Option<String>,
    pub(crate) credit_hours: f64,
    pub(crate) department_id: Option<String>,
    pub(crate) watched_ms: i64,
    pub(crate) duration_ms: i64,
    pub(crate) earned_at: i64,
}

/// `($n, $n+1, …)` groups for `rows` rows of `cols` columns, numbered from `$1`.
fn value_groups(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn in_list(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lock_clause(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

const SESSION_COLUMNS: &str = "session_key, viewer_key, playback_id, target_kind, target_id, \
    department_id, user_id, started_at, last_seen_at, anchor_at, first_elapsed_ms, \
    last_elapsed_ms, last_seq, last_position_ms, playing, ended, events, watched_ms, credited_ms, \
    live_ms, intervals, duration_ms";

/// Loads the playbacks named by `keys`.
pub(crate) async fn load_sessions(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    keys: &[String],
) -> Result<HashMap<String, StoredSession>, sqlx::Error> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM playback_sessions WHERE session_key IN ({}) \
             ORDER BY session_key{}",
            in_list(chunk.len()),
            lock_clause(backend)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k.clone());
        }
        for row in q.fetch_all(&mut **tx).await? {
            let s = StoredSession {
                key: row.try_get("session_key")?,
                viewer_key: row.try_get("viewer_key")?,
                playback_id: row.try_get("playback_id")?,
                target_kind: row.try_get("target_kind")?,
                target_id: row.try_get("target_id")?,
                department_id: row.try_get("department_id")?,
                user_id: row.try_get("user_id")?,
                started_at: row.try_get("started_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                duration_ms: row.try_get("duration_ms")?,
                watched_ms: row.try_get("watched_ms")?,
                state: SessionState {
                    anchor_at: row.try_get("anchor_at")?,
                    last_seq: row.try_get("last_seq")?,
                    first_elapsed_ms: row.try_get("first_elapsed_ms")?,
                    last_elapsed_ms: row.try_get("last_elapsed_ms")?,
                    last_position_ms: row.try_get("last_position_ms")?,
                    playing: row.try_get::<i64, _>("playing")? != 0,
                    ended: row.try_get::<i64, _>("ended")? != 0,
                    events: row.try_get("events")?,
                    watched: IntervalSet::from_json(&row.try_get::<String, _>("intervals")?),
                    credited_ms: row.try_get("credited_ms")?,
                    live_ms: row.try_get("live_ms")?,
                },
            };
            out.insert(s.key.clone(), s);
        }
    }
    Ok(out)
}

/// Inserts or replaces `sessions`.
pub(crate) async fn save_sessions(
    tx: &mut Transaction<'_, Any>,
    sessions: &[&StoredSession],
) -> Result<(), sqlx::Error> {
    const COLS: usize = 22;
    for chunk in sessions.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO playback_sessions ({SESSION_COLUMNS}) VALUES {} \
             ON CONFLICT (session_key) DO UPDATE SET last_seen_at = excluded.last_seen_at, \
             anchor_at = excluded.anchor_at, first_elapsed_ms = excluded.first_elapsed_ms, \
             last_elapsed_ms = excluded.last_elapsed_ms, last_seq = excluded.last_seq, \
             last_position_ms = excluded.last_position_ms, playing = excluded.playing, \
             ended = excluded.ended, events = excluded.events, watched_ms = excluded.watched_ms, \
             credited_ms = excluded.credited_ms, live_ms = excluded.live_ms, \
             intervals = excluded.intervals",
            value_groups(chunk.len(), COLS)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            let st = &s.state;
            q = q
                .bind(s.key.clone())
                .bind(s.viewer_key.clone())
                .bind(s.playback_id.clone())
                .bind(s.target_kind.clone())
                .bind(s.target_id.clone())
                .bind(s.department_id.clone())
                .bind(s.user_id.clone())
                .bind(s.started_at)
                .bind(s.last_seen_at)
                .bind(st.anchor_at)
                .bind(st.first_elapsed_ms)
                .bind(st.last_elapsed_ms)
                .bind(st.last_seq)
                .bind(st.last_position_ms)
                .bind(i64::from(st.playing))
                .bind(i64::from(st.ended))
                .bind(st.events)
                .bind(s.watched_ms)
                .bind(st.credited_ms)
                .bind(st.live_ms)
                .bind(st.watched.to_json())
                .bind(s.duration_ms);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

const PROGRESS_COLUMNS: &str = "progress_key, user_id, resource_id, department_id, intervals, \
    watched_ms, duration_ms, first_at, updated_at, credited_at";

/// Loads the progress rows named by `keys`.
pub(crate) async fn load_progress(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    keys: &[String],
) -> Result<HashMap<String, StoredProgress>, sqlx::Error> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT {PROGRESS_COLUMNS} FROM learning_progress WHERE progress_key IN ({}) \
             ORDER BY progress_key{}",
            in_list(chunk.len()),
            lock_clause(backend)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k.clone());
        }
        for row in q.fetch_all(&mut **tx).await? {
            let p = StoredProgress {
                key: row.try_get("progress_key")?,
                user_id: row.try_get("user_id")?,
                resource_id: row.try_get("resource_id")?,
                department_id: row.try_get("department_id")?,
                watched: IntervalSet::from_json(&row.try_get::<String, _>("intervals")?),
                watched_ms: row.try_get("watched_ms")?,
                duration_ms: row.try_get("duration_ms")?,
                first_at: row.try_get("first_at")?,
                updated_at: row.try_get("updated_at")?,
                credited_at: row.try_get("credited_at")?,
            };
            out.insert(p.key.clone(), p);
        }
    }
    Ok(out)
}

/// Inserts or replaces `rows`.
pub(crate) async fn save_progress(
    tx: &mut Transaction<'_, Any>,
    rows: &[&StoredProgress],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO learning_progress ({PROGRESS_COLUMNS}) VALUES {} \
             ON CONFLICT (progress_key) DO UPDATE SET intervals = excluded.intervals, \
             watched_ms = excluded.watched_ms, duration_ms = excluded.duration_ms, \
             updated_at = excluded.updated_at, credited_at = excluded.credited_at",
            value_groups(chunk.len(), 10)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in chunk {
            q = q
                .bind(p.key.clone())
                .bind(p.user_id.clone())
                .bind(p.resource_id.clone())
                .bind(p.department_id.clone())
                .bind(p.watched.to_json())
                .bind(p.watched_ms)
                .bind(p.duration_ms)
                .bind(p.first_at)
                .bind(p.updated_at)
                .bind(p.credited_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Records earned credits; a credit already recorded stays as it was (earned once).
pub(crate) async fn insert_awards(
    tx: &mut Transaction<'_, Any>,
    awards: &[Award],
) -> Result<(), sqlx::Error> {
    for chunk in awards.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO credit_awards (user_id, resource_id, revision_id, credit_hours, \
             department_id, watched_ms, duration_ms, earned_at) VALUES {} \
             ON CONFLICT (user_id, resource_id) DO NOTHING",
            value_groups(chunk.len(), 8)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in chunk {
            q = q
                .bind(a.user_id.clone())
                .bind(a.resource_id.clone())
                .bind(a.revision_id.clone())
                .bind(a.credit_hours)
                .bind(a.department_id.clone())
                .bind(a.watched_ms)
                .bind(a.duration_ms)
                .bind(a.earned_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_groups_number_every_cell_once() {
        assert_eq!(value_groups(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(in_list(3), "$1, $2, $3");
    }
}
