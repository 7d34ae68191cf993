//! API tokens for automation: created by an account for itself (shown once), listed, revoked;
//! each change and its audit record in one transaction. A session limited to enrolling a
//! second factor or changing its password cannot create one.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, new_id};
use crate::secrets;

const API_TOKEN_PREFIX: &str = "yxt_";

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

impl ControlPlane {
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
        actor.require_unrestricted()?;
        let token = secrets::random_secret(API_TOKEN_PREFIX);
        let id = new_id();
        let expires_at = now + i64::from(days) * 86_400_000;
        let mut audited = self.begin_audited().await?;
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
        .execute(&mut *audited.tx)
        .await?;
        let record = AuditAppend {
            action: "api_token.create".into(),
            target: format!("user:{}", actor.user_id),
            outcome: Outcome::Success,
            detail: json!({"token_id": id, "name": name, "expires_at": expires_at}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
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
        let mut audited = self.begin_audited().await?;
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'revoked' \
             WHERE id = $2 AND user_id = $3 AND kind = 'api_token' AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_id.to_owned())
        .bind(actor.user_id.clone())
        .execute(&mut *audited.tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(ControlError::NotFound("api token"));
        }
        let record = AuditAppend {
            action: "api_token.revoke".into(),
            target: format!("user:{}", actor.user_id),
            outcome: Outcome::Success,
            detail: json!({"token_id": token_id}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await
    }
}
