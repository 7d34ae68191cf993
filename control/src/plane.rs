//! [`ControlPlane`]: the control plane's state (database, settings, keys) and the identity of
//! a caller ([`Actor`]). Operations live in the area modules (`accounts`, `org`, `channels`,
//! `resources`, `reviews`, `playback`, `audit`) as `impl ControlPlane` blocks.

use serde::{Deserialize, Serialize};

use crate::config::{ControlConfig, Keys};
use crate::db::{Db, DbError};
use crate::error::{ControlError, ControlResult};
use crate::policy::{self, Action, Decision, Role, Scope};

/// The control plane: shared by the HTTP API, the CLI and (in process) ingest and HLS serving.
#[derive(Debug)]
pub struct ControlPlane {
    pub(crate) db: Db,
    pub(crate) config: ControlConfig,
    pub(crate) keys: crate::keyring::KeyStore,
    pub(crate) audit_lock: tokio::sync::Mutex<()>,
    /// Serialises this process's appends to channel histories (sequence numbers, pruning).
    pub(crate) channel_events_lock: tokio::sync::Mutex<()>,
    /// Serialises this process's creation of live recordings (one resource per session).
    pub(crate) recordings_lock: tokio::sync::Mutex<()>,
    /// The intake of playback events (caches, rate limits, the writer's queue).
    pub(crate) analytics: crate::analytics::Analytics,
    /// This node's copy of the settings changed at run time.
    pub(crate) settings_cache: crate::settings::SettingsCache,
    /// The security alerts raised (lockouts, administrators from new addresses).
    pub(crate) security_events: crate::sign_ins::SecurityEvents,
    /// Moves with every change this process commits: cached playback facts read before it
    /// are stale.
    pub(crate) changes: crate::playback_cache::Generation,
    /// Playback facts of resources and channels, kept `[control.playback] cache_ms`.
    pub(crate) playback_targets: crate::playback_cache::FactCache<
        crate::playback::PlaybackTarget,
        Option<crate::playback::CachedTarget>,
    >,
    /// This node, when it takes live channel leases (`serve`; see [`crate::live_leases`]).
    pub(crate) live_node: std::sync::OnceLock<crate::live_leases::LiveNode>,
    /// Revocation and expiry of the credentials behind playback tokens, kept as long.
    pub(crate) playback_credentials:
        crate::playback_cache::FactCache<String, Option<crate::playback::CachedCredential>>,
}

impl ControlPlane {
    /// Connects to the database at `database_url`, applies migrations, and returns the plane.
    pub async fn open(
        database_url: &str,
        config: ControlConfig,
        keys: Keys,
    ) -> Result<ControlPlane, DbError> {
        let db = Db::connect(database_url).await?;
        Ok(ControlPlane {
            analytics: crate::analytics::Analytics::new(&config.learning),
            keys: crate::keyring::KeyStore::new(keys),
            audit_lock: tokio::sync::Mutex::new(()),
            channel_events_lock: tokio::sync::Mutex::new(()),
            recordings_lock: tokio::sync::Mutex::new(()),
            settings_cache: Default::default(),
            security_events: crate::sign_ins::SecurityEvents::default(),
            changes: Default::default(),
            live_node: std::sync::OnceLock::new(),
            playback_targets: crate::playback_cache::FactCache::new(
                config.playback.cache_ms,
                config.playback.cache_entries,
            ),
            playback_credentials: crate::playback_cache::FactCache::new(
                config.playback.cache_ms,
                config.playback.cache_entries,
            ),
            db,
            config,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &ControlConfig {
        &self.config
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A cheap database round trip (`SELECT 1`), for readiness checks.
    pub async fn ping(&self) -> ControlResult<()> {
        sqlx::query("SELECT 1").execute(self.db.pool()).await?;
        Ok(())
    }

    /// Closes the database pool.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// Account id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Roles held.
    pub roles: Vec<Role>,
    /// The account's department, if any.
    pub department_id: Option<String>,
    /// The session or API token the call came with.
    pub credential_id: String,
    /// `session` or `api_token`.
    pub credential_kind: String,
    /// The client's address.
    pub source_addr: String,
    /// What the session is limited to, if anything (no second factor yet, expired password).
    pub restriction: Option<Restriction>,
}

/// A session that may do only one thing until it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restriction {
    /// A reviewer or administrator without a second factor: may only enrol one.
    MfaEnrolment,
    /// The password expired: may only change it.
    PasswordChange,
}

impl Restriction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Restriction::MfaEnrolment => "mfa_enrolment",
            Restriction::PasswordChange => "password_change",
        }
    }

    /// The stored name read back.
    pub fn parse(s: &str) -> Option<Restriction> {
        match s {
            "mfa_enrolment" => Some(Restriction::MfaEnrolment),
            "password_change" => Some(Restriction::PasswordChange),
            _ => None,
        }
    }

    /// The error a restricted session gets for anything else.
    pub fn error(self) -> ControlError {
        match self {
            Restriction::MfaEnrolment => ControlError::SecondFactorRequired,
            Restriction::PasswordChange => ControlError::PasswordExpired,
        }
    }
}

impl Actor {
    /// `Ok` for an unrestricted session, else the restriction's error.
    pub fn require_unrestricted(&self) -> ControlResult<()> {
        match self.restriction {
            None => Ok(()),
            Some(r) => Err(r.error()),
        }
    }

    /// The scope of a target owned by `owner_id` in `department_id`.
    pub fn scope_of(&self, department_id: Option<&str>, owner_id: Option<&str>) -> Scope {
        Scope {
            same_department: department_id.is_some()
                && self.department_id.as_deref() == department_id,
            is_owner: owner_id.is_some() && owner_id == Some(self.user_id.as_str()),
            public: false,
            in_audience: false,
        }
    }

    /// The policy's decision for this actor.
    pub fn decide(&self, action: Action, scope: &Scope) -> Decision {
        if self.restriction.is_some() {
            return policy::decide_any(&[], action, scope);
        }
        policy::decide_any(&self.roles, action, scope)
    }

    /// `Ok` when allowed, else [`ControlError::Forbidden`] with the policy's reason.
    pub fn require(&self, action: Action, scope: &Scope) -> ControlResult<()> {
        self.require_unrestricted()?;
        let decision = self.decide(action, scope);
        if decision.allowed {
            Ok(())
        } else {
            Err(ControlError::Forbidden(decision.reason))
        }
    }

    /// The roles as one string for the audit log.
    pub fn role_label(&self) -> String {
        role_label(&self.roles)
    }

    /// The audit identity of this actor.
    pub fn audit_ctx(&self) -> AuditCtx {
        AuditCtx {
            actor_id: Some(self.user_id.clone()),
            actor_name: self.username.clone(),
            actor_role: self.role_label(),
            source_addr: self.source_addr.clone(),
        }
    }
}

/// Roles joined by commas, or `none`.
pub fn role_label(roles: &[Role]) -> String {
    if roles.is_empty() {
        "none".into()
    } else {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Who an audit record names as the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCtx {
    /// Account id, if known.
    pub actor_id: Option<String>,
    /// Username, `cli` or `anonymous`.
    pub actor_name: String,
    /// Role label.
    pub actor_role: String,
    /// Client address or `cli`.
    pub source_addr: String,
}

impl AuditCtx {
    /// The local command line (the operator of the machine).
    pub fn cli() -> AuditCtx {
        AuditCtx {
            actor_id: None,
            actor_name: "cli".into(),
            actor_role: "operator".into(),
            source_addr: "cli".into(),
        }
    }
    /// An unauthenticated caller from `source_addr`.
    pub fn anonymous(source_addr: &str) -> AuditCtx {
        AuditCtx {
            actor_id: None,
            actor_name: "anonymous".into(),
            actor_role: "none".into(),
            source_addr: source_addr.into(),
        }
    }
    /// A remote service (ingest node) identified by address.
    pub fn service(name: &str, source_addr: &str) -> AuditCtx {
        AuditCtx {
            actor_id: None,
            actor_name: name.into(),
            actor_role: "service".into(),
            source_addr: source_addr.into(),
        }
    }
}

/// A page request: 1-based page number and page size (at most 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PageRequest {
    /// 1-based page.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            per_page: 50,
        }
    }
}

impl PageRequest {
    /// SQL `LIMIT`.
    pub fn limit(&self) -> i64 {
        i64::from(self.per_page.clamp(1, 200))
    }
    /// SQL `OFFSET`.
    pub fn offset(&self) -> i64 {
        i64::from(self.page.max(1) - 1) * self.limit()
    }
}

/// A page of items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The 1-based page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// Items over all pages.
    pub total: i64,
}

impl<T> Page<T> {
    /// Builds a page from a request, its items and the total.
    pub fn new(req: PageRequest, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            page: req.page.max(1),
            per_page: req.limit() as u32,
            total,
        }
    }
}

/// A fresh object id (UUID v4, text).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
