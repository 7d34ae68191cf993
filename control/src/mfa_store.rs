//! The second factor of accounts, stored: TOTP enrolment (the secret made here, encrypted at
//! rest, shown once with its `otpauth://` URI and QR code, active only after a first valid
//! code), recovery codes (ten, shown once, argon2id hashes, each single-use), the checks the
//! sign-in's second step makes, removing one's own optional second factor, and the reset of
//! an account's second factor by the security administrator or the machine's operator (CLI).
//! Every change and its audit record commit in one transaction; never a secret or a code in a
//! record or a log. The rules themselves are in [`crate::mfa`].

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::mfa::{self, MfaError};
use crate::password;
use crate::plane::{Actor, AuditCtx, ControlPlane, Restriction, new_id};
use crate::policy::{Action, Scope};
use crate::sessions::{SecondFactorUse, Spend};

/// An account's second factor as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MfaStatus {
    /// A TOTP authenticator is active.
    pub enabled: bool,
    /// An enrolment waits for its first code.
    pub pending: bool,
    /// The account's roles require a second factor.
    pub required: bool,
    /// When the authenticator was confirmed (ms).
    pub confirmed_at: Option<i64>,
    /// Unused recovery codes left.
    pub recovery_codes_left: i64,
}

/// A started enrolment: what the authenticator app needs (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct TotpEnrolment {
    /// The secret in base32, in groups of four (to type in).
    pub secret: String,
    /// The `otpauth://totp/…` URI (what the QR code holds).
    pub otpauth_uri: String,
    /// The QR code of the URI, as SVG.
    pub qr_svg: Option<String>,
}

/// Fresh recovery codes (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryCodes {
    /// Ten single-use codes.
    pub recovery_codes: Vec<String>,
}

fn unreadable(e: MfaError) -> ControlError {
    ControlError::Internal(format!("second factor: {e}"))
}

impl ControlPlane {
    /// Whether the account has an active (confirmed) TOTP authenticator.
    pub(crate) async fn totp_active(&self, user_id: &str) -> ControlResult<bool> {
        let confirmed: Option<Option<i64>> =
            sqlx::query_scalar("SELECT confirmed_at FROM mfa_totp WHERE user_id = $1")
                .bind(user_id.to_owned())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(matches!(confirmed, Some(Some(_))))
    }

    /// The decrypted secret and last used step of the account's authenticator (`active`:
    /// confirmed ones only).
    async fn totp_secret(
        &self,
        user_id: &str,
        active: bool,
    ) -> ControlResult<Option<(Vec<u8>, Option<u64>)>> {
        let row = sqlx::query(
            "SELECT secret_enc, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1",
        )
        .bind(user_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        if active && row.try_get::<Option<i64>, _>("confirmed_at")?.is_none() {
            return Ok(None);
        }
        let sealed: String = row.try_get("secret_enc")?;
        let keys = self.keys.current();
        let key = mfa::sealed_key_id(&sealed)
            .and_then(|id| keys.secret_key(id))
            .ok_or_else(|| unreadable(MfaError::Unreadable("unknown key id")))?;
        let secret = mfa::open_secret(&key, user_id, &sealed).map_err(unreadable)?;
        let last = row
            .try_get::<Option<i64>, _>("last_step")?
            .and_then(|s| u64::try_from(s).ok());
        Ok(Some((secret, last)))
    }

    /// Checks a TOTP code of the account's active authenticator; the matched step.
    pub(crate) async fn check_totp(
        &self,
        user_id: &str,
        code: &str,
        now: i64,
    ) -> ControlResult<u64> {
        let (secret, last) = self
            .totp_secret(user_id, true)
            .await?
            .ok_or(ControlError::InvalidSecondFactor)?;
        mfa::check_code(&secret, code, now, last).map_err(|e| match e {
            MfaError::Replayed => ControlError::SecondFactorReplayed,
            MfaError::WrongCode => ControlError::InvalidSecondFactor,
            other => unreadable(other),
        })
    }

    /// The id of the unused recovery code matching `typed`.
    pub(crate) async fn find_recovery_code(
        &self,
        user_id: &str,
        typed: &str,
    ) -> ControlResult<String> {
        let code = mfa::normalize_recovery_code(typed).ok_or(ControlError::InvalidSecondFactor)?;
        let rows = sqlx::query(
            "SELECT id, code_hash FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        for row in rows {
            let hash: String = row.try_get("code_hash")?;
            if password::verify_password(&code, &hash) {
                return Ok(row.try_get("id")?);
            }
        }
        Err(ControlError::InvalidSecondFactor)
    }

    /// Spends a sign-in's challenge and second factor inside its transaction; a concurrent
    /// use of the same challenge, step or code loses (refused as a replay).
    pub(crate) async fn spend_second_factor(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        spend: &Spend,
        now: i64,
    ) -> ControlResult<()> {
        let challenge = sqlx::query(
            "UPDATE login_challenges SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(spend.challenge_id.clone())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if challenge != 1 {
            return Err(ControlError::ChallengeInvalid);
        }
        let spent = match &spend.used {
            SecondFactorUse::TotpStep(step) => {
                let step = i64::try_from(*step).unwrap_or(i64::MAX);
                sqlx::query(
                    "UPDATE mfa_totp SET last_step = $1 WHERE user_id = $2 \
                     AND (last_step IS NULL OR last_step < $1)",
                )
                .bind(step)
                .bind(user_id.to_owned())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            }
            SecondFactorUse::RecoveryCode(id) => sqlx::query(
                "UPDATE mfa_recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
            )
            .bind(now)
            .bind(id.clone())
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        };
        if spent != 1 {
            return Err(ControlError::SecondFactorReplayed);
        }
        Ok(())
    }

    /// The caller's second factor.
    pub async fn mfa_status(&self, actor: &Actor) -> ControlResult<MfaStatus> {
        let row = sqlx::query("SELECT confirmed_at FROM mfa_totp WHERE user_id = $1")
            .bind(actor.user_id.clone())
            .fetch_optional(self.db.pool())
            .await?;
        let confirmed_at = match &row {
            Some(r) => r.try_get::<Option<i64>, _>("confirmed_at")?,
            None => None,
        };
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(actor.user_id.clone())
        .fetch_one(self.db.pool())
        .await?;
        Ok(MfaStatus {
            enabled: confirmed_at.is_some(),
            pending: row.is_some() && confirmed_at.is_none(),
            required: mfa::requires_second_factor(&actor.roles),
            confirmed_at,
            recovery_codes_left: left,
        })
    }

    /// Starts (or restarts) the caller's TOTP enrolment: a fresh secret, encrypted at rest,
    /// returned this once. Refused while an authenticator is active (remove or reset it first)
    /// and for a session that must change its password first.
    pub async fn begin_totp_enrolment(
        &self,
        actor: &Actor,
        now: i64,
    ) -> ControlResult<TotpEnrolment> {
        if actor.restriction == Some(Restriction::PasswordChange) {
            return Err(ControlError::PasswordExpired);
        }
        if self.totp_active(&actor.user_id).await? {
            return Err(ControlError::conflict(
                "已启用双因素认证；如需更换，请先停用或请安全管理员重置",
                "two-factor authentication is already on: remove it, or ask the security administrator to reset it, first",
            ));
        }
        let secret = mfa::new_secret();
        let (key_id, key) = self.keys.current().secret_sealing();
        let sealed =
            mfa::seal_secret(&key_id, &key, &actor.user_id, &secret).map_err(unreadable)?;
        let uri = mfa::otpauth_uri(&secret, &actor.username).map_err(unreadable)?;
        let mut audited = self.begin_audited().await?;
        sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1")
            .bind(actor.user_id.clone())
            .execute(&mut *audited.tx)
            .await?;
        sqlx::query("INSERT INTO mfa_totp (user_id, secret_enc, created_at) VALUES ($1, $2, $3)")
            .bind(actor.user_id.clone())
            .bind(sealed)
            .bind(now)
            .execute(&mut *audited.tx)
            .await?;
        let record = AuditAppend {
            action: "mfa.enrol.begin".into(),
            target: format!("user:{}", actor.user_id),
            outcome: Outcome::Success,
            detail: json!({"method": "totp", "key_id": key_id}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(TotpEnrolment {
            secret: mfa::secret_base32_grouped(&secret),
            qr_svg: mfa::qr_svg(&uri),
            otpauth_uri: uri,
        })
    }

    /// Confirms the caller's pending enrolment with a first valid code: the authenticator
    /// becomes active (the code's step counts as used) and ten recovery codes are issued.
    pub async fn confirm_totp_enrolment(
        &self,
        actor: &Actor,
        code: &str,
        now: i64,
    ) -> ControlResult<RecoveryCodes> {
        if actor.restriction == Some(Restriction::PasswordChange) {
            return Err(ControlError::PasswordExpired);
        }
        let target = format!("user:{}", actor.user_id);
        let pending = match self.totp_secret(&actor.user_id, false).await? {
            Some(found) if !self.totp_active(&actor.user_id).await? => found,
            _ => {
                return Err(ControlError::conflict(
                    "没有待确认的双因素认证设置，请先开始设置",
                    "no two-factor enrolment is waiting: start one first",
                ));
            }
        };
        let step = match mfa::check_code(&pending.0, code, now, pending.1) {
            Ok(step) => step,
            Err(_) => {
                let detail = json!({"method": "totp"});
                self.audit(
                    &actor.audit_ctx(),
                    "mfa.enrol.confirm",
                    &target,
                    Outcome::Failure,
                    detail,
                    now,
                )
                .await?;
                return Err(ControlError::InvalidSecondFactor);
            }
        };
        let codes = mfa::new_recovery_codes();
        let hashes = self.hash_recovery_codes(&codes)?;
        let mut audited = self.begin_audited().await?;
        let done = sqlx::query(
            "UPDATE mfa_totp SET confirmed_at = $1, last_step = $2 \
             WHERE user_id = $3 AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .bind(actor.user_id.clone())
        .execute(&mut *audited.tx)
        .await?
        .rows_affected();
        if done != 1 {
            return Err(ControlError::conflict(
                "双因素认证已由另一请求确认",
                "two-factor enrolment was already confirmed by another request",
            ));
        }
        replace_recovery_codes(&mut audited.tx, &actor.user_id, &hashes, now).await?;
        let record = AuditAppend {
            action: "mfa.enrol.confirm".into(),
            target,
            outcome: Outcome::Success,
            detail: json!({"method": "totp", "recovery_codes": codes.len()}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(RecoveryCodes {
            recovery_codes: codes,
        })
    }

    /// Replaces the caller's recovery codes with ten fresh ones; needs a current TOTP code
    /// (which counts as used).
    pub async fn regenerate_recovery_codes(
        &self,
        actor: &Actor,
        code: &str,
        now: i64,
    ) -> ControlResult<RecoveryCodes> {
        actor.require_unrestricted()?;
        let step = self.check_totp(&actor.user_id, code, now).await?;
        let codes = mfa::new_recovery_codes();
        let hashes = self.hash_recovery_codes(&codes)?;
        let mut audited = self.begin_audited().await?;
        use_step(&mut audited.tx, &actor.user_id, step).await?;
        replace_recovery_codes(&mut audited.tx, &actor.user_id, &hashes, now).await?;
        let record = AuditAppend::success_of(
            "mfa.recovery_codes",
            format!("user:{}", actor.user_id),
            json!({"recovery_codes": codes.len()}),
        );
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(RecoveryCodes {
            recovery_codes: codes,
        })
    }

    /// Removes the caller's own second factor (a current code proves it is theirs). Refused
    /// for accounts whose roles require one.
    pub async fn remove_own_mfa(&self, actor: &Actor, code: &str, now: i64) -> ControlResult<()> {
        actor.require_unrestricted()?;
        if mfa::requires_second_factor(&actor.roles) {
            return Err(ControlError::conflict(
                "审核员和管理员账号必须使用双因素认证，不能停用",
                "reviewer and administrator accounts must keep two-factor authentication",
            ));
        }
        self.check_totp(&actor.user_id, code, now).await?;
        let mut audited = self.begin_audited().await?;
        delete_second_factor(&mut audited.tx, &actor.user_id).await?;
        let record =
            AuditAppend::success_of("mfa.remove", format!("user:{}", actor.user_id), json!({}));
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await
    }

    /// Resets an account's second factor (lost phone): the authenticator and recovery codes
    /// are removed and the account's sessions and API tokens end, so that it signs in again
    /// and enrols anew. `actor` `None` is the machine's operator (CLI); otherwise the security
    /// administrator (`ManageSessions`). Audited as `mfa.reset`.
    pub async fn reset_mfa(
        &self,
        actor: Option<&Actor>,
        user_id: &str,
        now: i64,
    ) -> ControlResult<()> {
        let target = format!("user:{user_id}");
        let ctx = actor.map(Actor::audit_ctx).unwrap_or_else(AuditCtx::cli);
        if let Some(actor) = actor
            && let Err(e) = actor.require(Action::ManageSessions, &Scope::out_of_scope())
        {
            self.audit(&ctx, "mfa.reset", &target, Outcome::Denied, json!({}), now)
                .await?;
            return Err(e);
        }
        self.user(user_id).await?;
        let mut audited = self.begin_audited().await?;
        let removed = delete_second_factor(&mut audited.tx, user_id).await?;
        let ended = sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'mfa_reset' \
             WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id.to_owned())
        .execute(&mut *audited.tx)
        .await?
        .rows_affected();
        let record = AuditAppend::success_of(
            "mfa.reset",
            target,
            json!({"authenticator_removed": removed, "credentials_ended": ended}),
        );
        self.commit_audited(audited, &ctx, &[record], now).await
    }

    fn hash_recovery_codes(&self, codes: &[String]) -> ControlResult<Vec<String>> {
        codes
            .iter()
            .map(|c| {
                let plain = mfa::normalize_recovery_code(c).unwrap_or_default();
                password::hash_password(&plain, self.config.hash_cost)
                    .map_err(|e| ControlError::Internal(e.to_string()))
            })
            .collect()
    }
}

impl AuditAppend {
    /// A successful `action` on `target`.
    fn success_of(action: &str, target: String, detail: serde_json::Value) -> AuditAppend {
        AuditAppend {
            action: action.to_owned(),
            target,
            outcome: Outcome::Success,
            detail,
        }
    }
}

/// Marks a TOTP step used (a concurrent use of the same code loses).
async fn use_step(conn: &mut sqlx::AnyConnection, user_id: &str, step: u64) -> ControlResult<()> {
    let done = sqlx::query(
        "UPDATE mfa_totp SET last_step = $1 WHERE user_id = $2 \
         AND (last_step IS NULL OR last_step < $1)",
    )
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .bind(user_id.to_owned())
    .execute(conn)
    .await?
    .rows_affected();
    if done == 1 {
        Ok(())
    } else {
        Err(ControlError::SecondFactorReplayed)
    }
}

async fn replace_recovery_codes(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> ControlResult<()> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.to_owned())
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO mfa_recovery_codes (id, user_id, code_hash, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(user_id.to_owned())
        .bind(hash.clone())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes an account's authenticator and recovery codes; whether there was an authenticator.
async fn delete_second_factor(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
) -> ControlResult<bool> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id.to_owned())
        .execute(&mut *conn)
        .await?;
    let removed = sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1")
        .bind(user_id.to_owned())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(removed > 0)
}
