//! The database rows of resumable uploads shared by every `serve` node (`tus_uploads`, see
//! migration 0012): one row per upload with its length, durable offset, metadata, times,
//! completion and the write lease. The tus logic lives in `yanxiu-ingest`; this module only
//! reads and writes rows, and every write that belongs to the node holding the lease is
//! compared and set on the lease token, so a node that lost its lease changes nothing.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;

/// A row access failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadRowError {
    /// The query failed.
    #[error("upload row query failed: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored value could not be decoded (JSON text, a negative size).
    #[error("upload row {id} is unreadable: {detail}")]
    Corrupt {
        /// The upload.
        id: String,
        /// What was wrong.
        detail: String,
    },
}

/// One upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The upload id (32 lowercase hex digits).
    pub id: String,
    /// Who created it (the authorize hook's answer).
    pub owner: String,
    /// `Upload-Length`.
    pub length: u64,
    /// Bytes durably stored in part objects.
    pub offset: u64,
    /// Bytes per part object (all but the last part are exactly this long).
    pub part_size: u64,
    /// Decoded `Upload-Metadata`.
    pub metadata: BTreeMap<String, String>,
    /// Creation time (ms).
    pub created_ms: i64,
    /// Expiry of the unfinished upload (ms).
    pub expires_ms: i64,
    /// Every byte has arrived.
    pub completed: bool,
    /// The headers the completed hook returned, once it succeeded.
    pub completion_headers: Option<Vec<(String, String)>>,
    /// The resource the completed upload became.
    pub resource_id: Option<String>,
}

/// The upload rows of one database.
#[derive(Debug, Clone)]
pub struct UploadRows {
    db: Db,
}

fn to_i64(id: &str, value: u64) -> Result<i64, UploadRowError> {
    i64::try_from(value).map_err(|_| UploadRowError::Corrupt {
        id: id.to_owned(),
        detail: format!("{value} is out of range"),
    })
}

fn to_u64(id: &str, value: i64) -> Result<u64, UploadRowError> {
    u64::try_from(value).map_err(|_| UploadRowError::Corrupt {
        id: id.to_owned(),
        detail: format!("negative size {value}"),
    })
}

fn corrupt(id: &str, e: serde_json::Error) -> UploadRowError {
    UploadRowError::Corrupt {
        id: id.to_owned(),
        detail: e.to_string(),
    }
}

fn decode(row: &AnyRow) -> Result<UploadRow, UploadRowError> {
    let id: String = row.try_get("id")?;
    let metadata: String = row.try_get("metadata")?;
    let headers: Option<String> = row.try_get("completion_headers")?;
    let completion_headers = match headers {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| corrupt(&id, e))?),
        None => None,
    };
    Ok(UploadRow {
        owner: row.try_get("owner")?,
        length: to_u64(&id, row.try_get("length")?)?,
        offset: to_u64(&id, row.try_get("upload_offset")?)?,
        part_size: to_u64(&id, row.try_get("part_size")?)?,
        metadata: serde_json::from_str(&metadata).map_err(|e| corrupt(&id, e))?,
        created_ms: row.try_get("created_at")?,
        expires_ms: row.try_get("expires_at")?,
        completed: row.try_get::<i64, _>("completed")? != 0,
        completion_headers,
        resource_id: row.try_get("resource_id")?,
        id,
    })
}

impl UploadRows {
    /// The rows in `db` (migrated already).
    pub fn new(db: Db) -> UploadRows {
        UploadRows { db }
    }

    /// Inserts a new upload, unleased.
    pub async fn insert(&self, row: &UploadRow) -> Result<(), UploadRowError> {
        let metadata = serde_json::to_string(&row.metadata).map_err(|e| corrupt(&row.id, e))?;
        sqlx::query(
            "INSERT INTO tus_uploads (id, owner, length, upload_offset, part_size, metadata, \
             created_at, expires_at, completed, completion_headers, resource_id, lease_token, \
             lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, NULL, NULL, NULL, 0)",
        )
        .bind(row.id.clone())
        .bind(row.owner.clone())
        .bind(to_i64(&row.id, row.length)?)
        .bind(to_i64(&row.id, row.offset)?)
        .bind(to_i64(&row.id, row.part_size)?)
        .bind(metadata)
        .bind(row.created_ms)
        .bind(row.expires_ms)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The upload `id`, if there is one.
    pub async fn get(&self, id: &str) -> Result<Option<UploadRow>, UploadRowError> {
        let row = sqlx::query(
            "SELECT id, owner, length, upload_offset, part_size, metadata, created_at, \
             expires_at, completed, completion_headers, resource_id FROM tus_uploads \
             WHERE id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Takes the write lease of `id` for `token` until `until_ms`, if nobody holds it (or the
    /// holder's lease ended before `now_ms`). `false`: another node holds it, or no such row.
    pub async fn acquire(
        &self,
        id: &str,
        token: &str,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool, UploadRowError> {
        let done = sqlx::query(
            "UPDATE tus_uploads SET lease_token = $2, lease_until = $3 \
             WHERE id = $1 AND (lease_token IS NULL OR lease_until < $4)",
        )
        .bind(id.to_owned())
        .bind(token.to_owned())
        .bind(until_ms)
        .bind(now_ms)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease of `id` back (nothing if `token` no longer holds it).
    pub async fn release(&self, id: &str, token: &str) -> Result<(), UploadRowError> {
        sqlx::query(
            "UPDATE tus_uploads SET lease_token = NULL, lease_until = 0 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(id.to_owned())
        .bind(token.to_owned())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Extends the lease of `token` on `id` to `until_ms`. `false`: the lease was lost.
    pub async fn renew(
        &self,
        id: &str,
        token: &str,
        until_ms: i64,
    ) -> Result<bool, UploadRowError> {
        let done = sqlx::query(
            "UPDATE tus_uploads SET lease_until = $3 WHERE id = $1 AND lease_token = $2",
        )
        .bind(id.to_owned())
        .bind(token.to_owned())
        .bind(until_ms)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves the durable offset from `from` to `to` and extends the lease to `until_ms`, if
    /// `token` still holds the lease and the offset is still `from`. `false` otherwise.
    pub async fn advance(
        &self,
        id: &str,
        token: &str,
        from: u64,
        to: u64,
        until_ms: i64,
    ) -> Result<bool, UploadRowError> {
        let done = sqlx::query(
            "UPDATE tus_uploads SET upload_offset = $4, lease_until = $5 \
             WHERE id = $1 AND lease_token = $2 AND upload_offset = $3",
        )
        .bind(id.to_owned())
        .bind(token.to_owned())
        .bind(to_i64(id, from)?)
        .bind(to_i64(id, to)?)
        .bind(until_ms)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Saves the expiry, the completion flag and the completion headers, if `token` still
    /// holds the lease. `false` otherwise.
    pub async fn save_state(
        &self,
        id: &str,
        token: &str,
        expires_ms: i64,
        completed: bool,
        completion_headers: Option<&[(String, String)]>,
    ) -> Result<bool, UploadRowError> {
        let headers = completion_headers
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt(id, e))?;
        let done = sqlx::query(
            "UPDATE tus_uploads SET expires_at = $3, completed = $4, completion_headers = $5 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(id.to_owned())
        .bind(token.to_owned())
        .bind(expires_ms)
        .bind(i64::from(completed))
        .bind(headers)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Remembers the resource the completed upload `id` became.
    pub async fn set_resource(&self, id: &str, resource_id: &str) -> Result<(), UploadRowError> {
        sqlx::query("UPDATE tus_uploads SET resource_id = $2 WHERE id = $1")
            .bind(id.to_owned())
            .bind(resource_id.to_owned())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes the row of `id` if `token` holds its lease. `false` otherwise.
    pub async fn delete(&self, id: &str, token: &str) -> Result<bool, UploadRowError> {
        let done = sqlx::query("DELETE FROM tus_uploads WHERE id = $1 AND lease_token = $2")
            .bind(id.to_owned())
            .bind(token.to_owned())
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The ids of unfinished uploads whose expiry is at or before `now_ms`, at most `limit`.
    pub async fn expired(&self, now_ms: i64, limit: i64) -> Result<Vec<String>, UploadRowError> {
        let rows = sqlx::query(
            "SELECT id FROM tus_uploads WHERE completed = 0 AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(UploadRowError::from))
            .collect()
    }

    /// Every stored upload id (for consistency checks and tests).
    pub async fn ids(&self) -> Result<Vec<String>, UploadRowError> {
        let rows = sqlx::query("SELECT id FROM tus_uploads ORDER BY id")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(UploadRowError::from))
            .collect()
    }
}
