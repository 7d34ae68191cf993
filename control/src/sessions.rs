//! Sessions and API tokens: sign-in in named steps (password, lockout, the second factor's
//! challenge, the concurrent-session limit, the session itself), bearer-token authentication
//! with idle timeout, absolute lifetime and the session's restriction, logout, and API tokens
//! for automation. Every state change and its audit record commit in one transaction; every
//! attempt on a known account also lands in its sign-in history ([`crate::sign_ins`]). Never
//! a password, a code or a token in a record or a log.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::accounts::UserInfo;
use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::lockout::{FailureOutcome, LockState};
use crate::password;
use crate::plane::{Actor, AuditCtx, ControlPlane, Restriction, new_id, role_label};
use crate::policy::Role;
use crate::secrets;
use crate::session_rules::{Admission, SessionPolicy, SessionTimes};
use crate::sign_ins::SignInMeta;

pub use crate::api_tokens::{ApiTokenGrant, ApiTokenInfo};

/// A successful sign-in.
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
    /// What the session is limited to until done (`mfa_enrolment`, `password_change`).
    pub restriction: Option<Restriction>,
}

/// The second sign-in step awaited after a correct password.
#[derive(Debug, Clone, Serialize)]
pub struct LoginChallenge {
    /// The challenge to send back with the code (shown once, short-lived).
    pub challenge: String,
    /// Until when it can be answered (ms).
    pub expires_at: i64,
    /// What answers it: `totp` and `recovery_code`.
    pub methods: Vec<&'static str>,
}

/// What the password step led to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    Session(LoginGrant),
    /// A second factor is needed.
    SecondFactor(LoginChallenge),
}

/// What answers a sign-in challenge.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactorProof<'a> {
    /// A TOTP code from the authenticator app.
    Totp(&'a str),
    /// One of the account's recovery codes.
    RecoveryCode(&'a str),
}

const SESSION_PREFIX: &str = "yxs_";
const CHALLENGE_PREFIX: &str = "yxc_";
/// How long a sign-in challenge can be answered.
pub const CHALLENGE_MS: i64 = 5 * 60_000;

/// The sign-in facts of an account, read at the password step.
#[derive(Debug, Clone)]
struct Account {
    user_id: String,
    username: String,
    password_hash: String,
    disabled: bool,
    lock: LockState,
    password_set_at: i64,
}

impl Account {
    fn target(&self) -> String {
        format!("user:{}", self.user_id)
    }
}

/// How the account proved itself, for the record.
#[derive(Debug, Clone, Copy)]
enum Proof {
    Password,
    Totp,
    RecoveryCode,
}

impl Proof {
    fn as_str(self) -> &'static str {
        match self {
            Proof::Password => "password",
            Proof::Totp => "totp",
            Proof::RecoveryCode => "recovery_code",
        }
    }
}

impl ControlPlane {
    /// The password step of sign-in for `username` from `meta`: lockout, password, disabled
    /// account; then either the second factor's challenge (accounts with one) or a session.
    /// Every outcome is audited and kept in the sign-in history (never the password).
    pub async fn login(
        &self,
        username: &str,
        password_given: &str,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<LoginOutcome> {
        let anon = AuditCtx::anonymous(meta.source_addr);
        let Some(account) = self.find_account(username).await? else {
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
        let ctx = AuditCtx {
            actor_id: Some(account.user_id.clone()),
            actor_name: account.username.clone(),
            ..anon
        };
        self.refuse_if_locked(&ctx, &account, meta, now).await?;
        if !password::verify_password(password_given, &account.password_hash) {
            return Err(self
                .count_failure(&ctx, &account, "bad_password", meta, now)
                .await?);
        }
        self.refuse_if_disabled(&ctx, &account, meta, now).await?;
        if self.totp_active(&account.user_id).await? {
            return Ok(LoginOutcome::SecondFactor(
                self.open_challenge(&ctx, &account, meta, now).await?,
            ));
        }
        Ok(LoginOutcome::Session(
            self.issue_session(ctx, &account, Proof::Password, meta, None, now)
                .await?,
        ))
    }

    /// The second step of sign-in: answers `challenge` with a TOTP code (never one already
    /// used) or a recovery code (used up). A wrong code counts toward the lockout like a wrong
    /// password.
    pub async fn login_second_factor(
        &self,
        challenge: &str,
        proof: SecondFactorProof<'_>,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<LoginGrant> {
        let anon = AuditCtx::anonymous(meta.source_addr);
        let found = sqlx::query(
            "SELECT c.id, u.username FROM login_challenges c JOIN users u ON u.id = c.user_id \
             WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > $2",
        )
        .bind(secrets::secret_hash(challenge))
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = found else {
            let detail = json!({"reason": "challenge_invalid"});
            self.audit(
                &anon,
                "login.failure",
                "user:-",
                Outcome::Failure,
                detail,
                now,
            )
            .await?;
            return Err(ControlError::ChallengeInvalid);
        };
        let challenge_id: String = row.try_get("id")?;
        let username: String = row.try_get("username")?;
        let account = self
            .find_account(&username)
            .await?
            .ok_or(ControlError::ChallengeInvalid)?;
        let ctx = AuditCtx {
            actor_id: Some(account.user_id.clone()),
            actor_name: account.username.clone(),
            ..anon
        };
        self.refuse_if_locked(&ctx, &account, meta, now).await?;
        self.refuse_if_disabled(&ctx, &account, meta, now).await?;
        let checked = match proof {
            SecondFactorProof::Totp(code) => self
                .check_totp(&account.user_id, code, now)
                .await
                .map(|step| (Proof::Totp, SecondFactorUse::TotpStep(step))),
            SecondFactorProof::RecoveryCode(code) => self
                .find_recovery_code(&account.user_id, code)
                .await
                .map(|id| (Proof::RecoveryCode, SecondFactorUse::RecoveryCode(id))),
        };
        let (how, used) = match checked {
            Ok(found) => found,
            Err(e @ (ControlError::InvalidSecondFactor | ControlError::SecondFactorReplayed)) => {
                let reason = match e {
                    ControlError::SecondFactorReplayed => "replayed_code",
                    _ => "bad_second_factor",
                };
                let counted = self
                    .count_failure(&ctx, &account, reason, meta, now)
                    .await?;
                return Err(match counted {
                    ControlError::AccountLocked { .. } => counted,
                    _ => e,
                });
            }
            Err(e) => return Err(e),
        };
        let spend = Spend { challenge_id, used };
        self.issue_session(ctx, &account, how, meta, Some(spend), now)
            .await
    }

    async fn find_account(&self, username: &str) -> ControlResult<Option<Account>> {
        let row = sqlx::query(
            "SELECT id, username, password_hash, disabled_at, failed_attempts, locked_until, \
             created_at, password_changed_at FROM users WHERE username = $1",
        )
        .bind(username.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let created_at: i64 = row.try_get("created_at")?;
        Ok(Some(Account {
            user_id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            lock: LockState {
                failed_attempts: u32::try_from(row.try_get::<i64, _>("failed_attempts")?)
                    .unwrap_or(0),
                locked_until: row.try_get("locked_until")?,
            },
            password_set_at: row
                .try_get::<Option<i64>, _>("password_changed_at")?
                .unwrap_or(created_at),
        }))
    }

    /// Refuses a locked account (audited, in the history).
    async fn refuse_if_locked(
        &self,
        ctx: &AuditCtx,
        account: &Account,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<()> {
        let Some(until) = account.lock.locked_at(now) else {
            return Ok(());
        };
        let detail = json!({"reason": "locked", "locked_until": until});
        self.record_refusal(ctx, account, "locked", Outcome::Denied, detail, meta, now)
            .await?;
        Err(ControlError::AccountLocked { until })
    }

    /// Refuses a disabled account (audited, in the history).
    async fn refuse_if_disabled(
        &self,
        ctx: &AuditCtx,
        account: &Account,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<()> {
        if !account.disabled {
            return Ok(());
        }
        let detail = json!({"reason": "disabled"});
        self.record_refusal(ctx, account, "disabled", Outcome::Denied, detail, meta, now)
            .await?;
        Err(ControlError::AccountDisabled)
    }

    /// A refused attempt: its history row and audit record in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn record_refusal(
        &self,
        ctx: &AuditCtx,
        account: &Account,
        reason: &str,
        outcome: Outcome,
        detail: serde_json::Value,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<()> {
        let mut audited = self.begin_audited().await?;
        crate::sign_ins::insert(
            &mut audited.tx,
            &account.user_id,
            meta,
            false,
            Some(reason),
            false,
            now,
        )
        .await?;
        let record = AuditAppend {
            action: "login.failure".into(),
            target: account.target(),
            outcome,
            detail,
        };
        self.commit_audited(audited, ctx, &[record], now).await
    }

    /// Counts a wrong password or code toward the lockout; returns the error to answer
    /// (`account_locked` when this failure locked the account). A lockout raises the alert.
    async fn count_failure(
        &self,
        ctx: &AuditCtx,
        account: &Account,
        reason: &str,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<ControlError> {
        let lockout = self.policies().await.lockout;
        let (state, outcome) = account.lock.after_failure(&lockout, now);
        let mut audited = self.begin_audited().await?;
        store_lock(&mut audited.tx, &account.user_id, state).await?;
        crate::sign_ins::insert(
            &mut audited.tx,
            &account.user_id,
            meta,
            false,
            Some(reason),
            false,
            now,
        )
        .await?;
        let mut records = vec![AuditAppend {
            action: "login.failure".into(),
            target: account.target(),
            outcome: Outcome::Failure,
            detail: json!({"reason": reason, "failed_attempts": state.failed_attempts}),
        }];
        if let FailureOutcome::LockedNow { until } = outcome {
            records.push(AuditAppend {
                action: "account.lockout".into(),
                target: account.target(),
                outcome: Outcome::Success,
                detail: json!({"locked_until": until,
                    "max_failures": lockout.max_failures}),
            });
        }
        self.commit_audited(audited, ctx, &records, now).await?;
        Ok(match outcome {
            FailureOutcome::LockedNow { until } => {
                self.security_events.lockout(
                    &account.user_id,
                    &account.username,
                    meta.source_addr,
                    until,
                );
                ControlError::AccountLocked { until }
            }
            FailureOutcome::Counted if reason == "bad_password" => ControlError::InvalidCredentials,
            FailureOutcome::Counted => ControlError::InvalidSecondFactor,
        })
    }

    /// Opens the short-lived challenge that the second factor answers (audited).
    async fn open_challenge(
        &self,
        ctx: &AuditCtx,
        account: &Account,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<LoginChallenge> {
        let challenge = secrets::random_secret(CHALLENGE_PREFIX);
        let id = new_id();
        let expires_at = now + CHALLENGE_MS;
        let mut audited = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO login_challenges (id, user_id, token_hash, created_at, expires_at, \
             source_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(account.user_id.clone())
        .bind(secrets::secret_hash(&challenge))
        .bind(now)
        .bind(expires_at)
        .bind(meta.source_addr.to_owned())
        .bind(crate::security::clean_user_agent(meta.user_agent))
        .execute(&mut *audited.tx)
        .await?;
        let record = AuditAppend {
            action: "login.challenge".into(),
            target: account.target(),
            outcome: Outcome::Success,
            detail: json!({"challenge_id": id, "expires_at": expires_at}),
        };
        self.commit_audited(audited, ctx, &[record], now).await?;
        Ok(LoginChallenge {
            challenge,
            expires_at,
            methods: vec!["totp", "recovery_code"],
        })
    }

    /// What the session is limited to: an expired password first, then a missing second
    /// factor on an account that needs one.
    async fn restriction_for(
        &self,
        password_set_at: i64,
        roles: &[Role],
        second_factor: bool,
        now: i64,
    ) -> Option<Restriction> {
        if self.policies().await.password.expired(password_set_at, now) {
            Some(Restriction::PasswordChange)
        } else if crate::mfa::requires_second_factor(roles) && !second_factor {
            Some(Restriction::MfaEnrolment)
        } else {
            None
        }
    }

    /// The sessions to end for a new one under `sessions`' limit; a refusal is recorded (as
    /// a failed sign-in) and answered with [`ControlError::SessionLimit`].
    async fn admit_session(
        &self,
        ctx: &AuditCtx,
        account: &Account,
        sessions: &SessionPolicy,
        meta: SignInMeta<'_>,
        now: i64,
    ) -> ControlResult<Vec<String>> {
        let live = self.live_sessions(&account.user_id, now).await?;
        match sessions.admit(&live) {
            Admission::Admit { evict } => Ok(evict.into_iter().map(str::to_owned).collect()),
            Admission::Refuse => {
                let detail = json!({"reason": "session_limit", "limit": sessions.max_concurrent});
                self.record_refusal(
                    ctx,
                    account,
                    "session_limit",
                    Outcome::Denied,
                    detail,
                    meta,
                    now,
                )
                .await?;
                Err(ControlError::SessionLimit)
            }
        }
    }

    /// Admits the sign-in under the concurrent-session limit and creates the session: the
    /// lock reset, the second factor spent, older sessions evicted, the session, its history
    /// row and every audit record in one transaction. Raises the alert for an administrator
    /// signing in from a new address.
    async fn issue_session(
        &self,
        ctx: AuditCtx,
        account: &Account,
        how: Proof,
        meta: SignInMeta<'_>,
        spend: Option<Spend>,
        now: i64,
    ) -> ControlResult<LoginGrant> {
        let roles = self.roles_of(&account.user_id).await?;
        let ctx = AuditCtx {
            actor_role: role_label(&roles),
            ..ctx
        };
        let target = account.target();
        let sessions = self.policies().await.sessions;
        let evict = self
            .admit_session(&ctx, account, &sessions, meta, now)
            .await?;
        let new_address = crate::mfa::is_admin(&roles)
            && self
                .address_is_new(&account.user_id, meta.source_addr)
                .await?;
        let second_factor = self.totp_active(&account.user_id).await?;
        let restriction = self
            .restriction_for(account.password_set_at, &roles, second_factor, now)
            .await;
        let token = secrets::random_secret(SESSION_PREFIX);
        let session_id = new_id();
        let expires_at = sessions.absolute_expiry(now);
        let mut audited = self.begin_audited().await?;
        if let Some(spend) = &spend {
            self.spend_second_factor(&mut audited.tx, &account.user_id, spend, now)
                .await?;
        }
        store_lock(
            &mut audited.tx,
            &account.user_id,
            account.lock.after_success(),
        )
        .await?;
        let mut records = evict_sessions(
            &mut audited.tx,
            &evict,
            &target,
            sessions.max_concurrent,
            now,
        )
        .await?;
        let session = NewSession {
            id: &session_id,
            user_id: &account.user_id,
            token: &token,
            expires_at,
            restriction,
        };
        insert_session(&mut audited.tx, &session, meta, now).await?;
        crate::sign_ins::insert(
            &mut audited.tx,
            &account.user_id,
            meta,
            true,
            None,
            new_address,
            now,
        )
        .await?;
        records.push(AuditAppend {
            action: "login.success".into(),
            target,
            outcome: Outcome::Success,
            detail: json!({"session_id": session_id, "method": how.as_str(),
                "restriction": restriction.map(Restriction::as_str), "new_address": new_address}),
        });
        self.commit_audited(audited, &ctx, &records, now).await?;
        if new_address {
            self.security_events.admin_new_address(
                &account.user_id,
                &account.username,
                meta.source_addr,
            );
        }
        Ok(LoginGrant {
            token,
            session_id,
            expires_at,
            user: self.user(&account.user_id).await?,
            restriction,
        })
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
        let sessions = self.policies().await.sessions;
        let mut live = Vec::new();
        for row in rows {
            let times = SessionTimes {
                created_at: row.try_get("created_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                expires_at: row.try_get("expires_at")?,
            };
            if sessions.check(times, now).is_ok() {
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
             c.restriction, u.id AS user_id, u.username, u.department_id, u.disabled_at, \
             m.confirmed_at AS mfa_confirmed_at FROM credentials c \
             JOIN users u ON u.id = c.user_id LEFT JOIN mfa_totp m ON m.user_id = u.id \
             WHERE c.token_hash = $1",
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
            self.policies().await.sessions.check(times, now).is_ok()
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
        let roles = self.roles_of(&user_id).await?;
        let second_factor = row.try_get::<Option<i64>, _>("mfa_confirmed_at")?.is_some();
        // A missing second factor is judged now (roles may have changed since sign-in); an
        // expired password was judged at sign-in.
        let restriction = row
            .try_get::<Option<String>, _>("restriction")?
            .as_deref()
            .and_then(Restriction::parse)
            .or_else(|| {
                (crate::mfa::requires_second_factor(&roles) && !second_factor)
                    .then_some(Restriction::MfaEnrolment)
            });
        Ok(Actor {
            roles,
            restriction,
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
        let mut audited = self.begin_audited().await?;
        sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'logout' WHERE id = $2",
        )
        .bind(now)
        .bind(actor.credential_id.clone())
        .execute(&mut *audited.tx)
        .await?;
        let record = AuditAppend {
            action: "logout".into(),
            target: format!("user:{}", actor.user_id),
            outcome: Outcome::Success,
            detail: json!({"session_id": actor.credential_id}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await
    }
}

/// Writes an account's lockout state inside a transaction.
async fn store_lock(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    state: LockState,
) -> ControlResult<()> {
    sqlx::query("UPDATE users SET failed_attempts = $1, locked_until = $2 WHERE id = $3")
        .bind(i64::from(state.failed_attempts))
        .bind(state.locked_until)
        .bind(user_id.to_owned())
        .execute(conn)
        .await?;
    Ok(())
}

/// The second factor a sign-in spends: its challenge, and the TOTP step or recovery code.
#[derive(Debug, Clone)]
pub(crate) struct Spend {
    pub(crate) challenge_id: String,
    pub(crate) used: SecondFactorUse,
}

/// What a second-factor answer uses up.
#[derive(Debug, Clone)]
pub(crate) enum SecondFactorUse {
    /// This TOTP time step (no code of it or before it is accepted again).
    TotpStep(u64),
    /// This recovery code (by id).
    RecoveryCode(String),
}

/// Ends the sessions `evict` (the oldest, over the concurrent-session `limit`) in `tx`; their
/// audit records.
async fn evict_sessions(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    evict: &[String],
    target: &str,
    limit: u32,
    now: i64,
) -> ControlResult<Vec<AuditAppend>> {
    let mut records = Vec::with_capacity(evict.len() + 1);
    for id in evict {
        sqlx::query(
            "UPDATE credentials SET revoked_at = $1, revoke_reason = 'evicted' WHERE id = $2",
        )
        .bind(now)
        .bind(id.clone())
        .execute(&mut **tx)
        .await?;
        records.push(AuditAppend {
            action: "session.evicted".into(),
            target: target.to_owned(),
            outcome: Outcome::Success,
            detail: json!({"session_id": id, "limit": limit}),
        });
    }
    Ok(records)
}

/// A session about to be stored.
struct NewSession<'a> {
    id: &'a str,
    user_id: &'a str,
    token: &'a str,
    expires_at: i64,
    restriction: Option<Restriction>,
}

/// Stores session `s` (only a password-change restriction is kept with it: the second factor's
/// is worked out afresh on every request) in `tx`.
async fn insert_session(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    s: &NewSession<'_>,
    meta: SignInMeta<'_>,
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "INSERT INTO credentials (id, user_id, kind, token_hash, created_at, last_seen_at, \
         expires_at, source_addr, user_agent, restriction) \
         VALUES ($1, $2, 'session', $3, $4, $4, $5, $6, $7, $8)",
    )
    .bind(s.id.to_owned())
    .bind(s.user_id.to_owned())
    .bind(secrets::secret_hash(s.token))
    .bind(now)
    .bind(s.expires_at)
    .bind(meta.source_addr.to_owned())
    .bind(crate::security::clean_user_agent(meta.user_agent))
    .bind(
        s.restriction
            .filter(|r| *r == Restriction::PasswordChange)
            .map(|r| r.as_str().to_owned()),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
