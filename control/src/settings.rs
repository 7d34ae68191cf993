//! Settings the system administrator changes while the platform runs: the password rules,
//! the login-failure lockout, session limits, retention and the upload size limit. The config
//! file gives the boot defaults; a change is stored per section in the database (so every
//! node sees it), checked against the rules' bounds, and audited with the old and the new
//! value in the same transaction. Going back to the file's value is a change too.
//!
//! The section logic ([`SettingsSection`], [`RuntimeSettings::with_section`]) is pure;
//! [`ControlPlane::settings`] reads the effective settings (cached a few seconds).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use crate::audit::AuditAppend;
use crate::config::ControlConfig;
use crate::error::{ControlError, ControlResult};
use crate::lockout::LockoutPolicy;
use crate::password::PasswordPolicy;
use crate::plane::{Actor, ControlPlane};
use crate::policy::{Action, Scope};
use crate::retention::plan::RetentionConfig;
use crate::session_rules::SessionPolicy;

/// How long a node trusts its copy of the settings before reading them again.
const CACHE_FOR: Duration = Duration::from_secs(5);

/// A group of settings changed as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsSection {
    /// Password rules.
    Password,
    /// Login-failure lockout.
    Lockout,
    /// Session timeouts and the concurrent-session limit.
    Sessions,
    /// Retention of published resources.
    Retention,
    /// Upload size limit.
    Uploads,
}

impl SettingsSection {
    /// Every section.
    pub const ALL: [SettingsSection; 5] = [
        SettingsSection::Password,
        SettingsSection::Lockout,
        SettingsSection::Sessions,
        SettingsSection::Retention,
        SettingsSection::Uploads,
    ];

    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsSection::Password => "password",
            SettingsSection::Lockout => "lockout",
            SettingsSection::Sessions => "sessions",
            SettingsSection::Retention => "retention",
            SettingsSection::Uploads => "uploads",
        }
    }

    /// The section named `s`.
    pub fn parse(s: &str) -> Option<SettingsSection> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The upload size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct UploadLimits {
    /// Largest accepted upload in bytes; `None`: the media policy's file size limit.
    pub max_size_bytes: Option<u64>,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeSettings {
    /// Password rules.
    pub password: PasswordPolicy,
    /// Login-failure lockout.
    pub lockout: LockoutPolicy,
    /// Session timeouts and the concurrent-session limit.
    pub sessions: SessionPolicy,
    /// Retention of published resources.
    pub retention: RetentionConfig,
    /// Upload size limit.
    pub uploads: UploadLimits,
}

fn out_of_bounds(field: &str, zh_rule: &str, en_rule: &str) -> ControlError {
    ControlError::invalid(
        format!("设置 {field} 超出允许范围：{zh_rule}"),
        format!("setting {field} is out of bounds: {en_rule}"),
    )
}

fn within<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: T,
    low: T,
    high: T,
) -> ControlResult<()> {
    if value < low || value > high {
        return Err(out_of_bounds(
            field,
            &format!("{low} 至 {high}"),
            &format!("{low} to {high}"),
        ));
    }
    Ok(())
}

impl RuntimeSettings {
    /// The config file's values.
    pub fn boot(config: &ControlConfig) -> RuntimeSettings {
        RuntimeSettings {
            password: config.password.clone(),
            lockout: config.lockout,
            sessions: config.sessions,
            retention: config.retention.clone(),
            uploads: UploadLimits::default(),
        }
    }

    /// The value of one section.
    pub fn section(&self, section: SettingsSection) -> Value {
        let value = match section {
            SettingsSection::Password => serde_json::to_value(&self.password),
            SettingsSection::Lockout => serde_json::to_value(self.lockout),
            SettingsSection::Sessions => serde_json::to_value(self.sessions),
            SettingsSection::Retention => serde_json::to_value(&self.retention),
            SettingsSection::Uploads => serde_json::to_value(self.uploads),
        };
        value.unwrap_or(Value::Null)
    }

    /// These settings with `section` set to `value` (every field of the section given; an
    /// unknown field, a wrong type or a value outside the rules' bounds is refused).
    pub fn with_section(
        &self,
        section: SettingsSection,
        value: &Value,
    ) -> ControlResult<RuntimeSettings> {
        let current = self.section(section);
        let (Some(given), Some(known)) = (value.as_object(), current.as_object()) else {
            return Err(ControlError::invalid(
                "设置须为 JSON 对象",
                "a settings section is a JSON object",
            ));
        };
        if let Some(unknown) = given.keys().find(|k| !known.contains_key(*k)) {
            return Err(ControlError::invalid(
                format!("未知的设置项：{}.{unknown}", section.as_str()),
                format!("unknown setting {}.{unknown}", section.as_str()),
            ));
        }
        let mut merged = known.clone();
        merged.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
        let merged = Value::Object(merged);
        let bad = |e: serde_json::Error| {
            ControlError::invalid(
                format!("设置 {} 的取值无效：{e}", section.as_str()),
                format!("invalid value in {}: {e}", section.as_str()),
            )
        };
        let mut next = self.clone();
        match section {
            SettingsSection::Password => {
                next.password = serde_json::from_value(merged).map_err(bad)?
            }
            SettingsSection::Lockout => {
                next.lockout = serde_json::from_value(merged).map_err(bad)?
            }
            SettingsSection::Sessions => {
                next.sessions = serde_json::from_value(merged).map_err(bad)?
            }
            SettingsSection::Retention => {
                next.retention = serde_json::from_value(merged).map_err(bad)?
            }
            SettingsSection::Uploads => {
                next.uploads = serde_json::from_value(merged).map_err(bad)?
            }
        }
        next.check(section)?;
        Ok(next)
    }

    /// The rules' bounds on one section (等保三级 and the platform's operating rules: strong
    /// passwords, a lockout after a few failures, idle sessions ended, resources kept at least
    /// six months).
    fn check(&self, section: SettingsSection) -> ControlResult<()> {
        match section {
            SettingsSection::Password => {
                within("password.min_length", self.password.min_length, 8, 128)?;
                within("password.min_classes", self.password.min_classes, 2, 4)?;
                within("password.max_age_days", self.password.max_age_days, 0, 365)?;
                within("password.history", self.password.history, 0, 24)
            }
            SettingsSection::Lockout => {
                within("lockout.max_failures", self.lockout.max_failures, 1, 10)?;
                within(
                    "lockout.lock_minutes",
                    self.lockout.lock_minutes,
                    1,
                    24 * 60,
                )
            }
            SettingsSection::Sessions => {
                within("sessions.idle_minutes", self.sessions.idle_minutes, 1, 120)?;
                within(
                    "sessions.absolute_minutes",
                    self.sessions.absolute_minutes,
                    self.sessions.idle_minutes,
                    7 * 24 * 60,
                )?;
                within(
                    "sessions.max_concurrent",
                    self.sessions.max_concurrent,
                    1,
                    10,
                )
            }
            SettingsSection::Retention => {
                within("retention.months", self.retention.months, 6, 120)?;
                within("retention.warn_days", self.retention.warn_days, 1, 90)?;
                within(
                    "retention.run_every_hours",
                    self.retention.run_every_hours,
                    1,
                    168,
                )
            }
            SettingsSection::Uploads => match self.uploads.max_size_bytes {
                Some(n) => within("uploads.max_size_bytes", n, 1 << 20, 100 << 30),
                None => Ok(()),
            },
        }
    }
}

/// Who last changed a section, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionChange {
    /// The section.
    pub section: SettingsSection,
    /// When (ms).
    pub updated_at: i64,
    /// The account that changed it.
    pub updated_by: String,
}

/// What `GET /api/v1/settings` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    /// The settings in force.
    pub effective: RuntimeSettings,
    /// The config file's values.
    pub defaults: RuntimeSettings,
    /// The sections changed at run time (the others are the file's).
    pub changed: Vec<SectionChange>,
}

/// The node's copy of the settings.
#[derive(Debug, Default)]
pub(crate) struct SettingsCache {
    copy: std::sync::Mutex<Option<(Instant, RuntimeSettings)>>,
}

impl SettingsCache {
    fn get(&self) -> Option<RuntimeSettings> {
        let copy = self
            .copy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        copy.as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, s)| s.clone())
    }

    fn put(&self, settings: Option<RuntimeSettings>) {
        let mut copy = self
            .copy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *copy = settings.map(|s| (Instant::now(), s));
    }
}

impl ControlPlane {
    /// The settings in force: the config file's, with the sections changed at run time.
    pub async fn settings(&self) -> ControlResult<RuntimeSettings> {
        if let Some(s) = self.settings_cache.get() {
            return Ok(s);
        }
        let (settings, _) = self.read_settings().await?;
        self.settings_cache.put(Some(settings.clone()));
        Ok(settings)
    }

    /// [`Self::settings`] for the rules that must always have an answer (sign-in, sessions,
    /// passwords): when the database cannot be read, the config file's values.
    pub(crate) async fn policies(&self) -> RuntimeSettings {
        match self.settings().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "settings unreadable; the config file's apply");
                RuntimeSettings::boot(&self.config)
            }
        }
    }

    async fn read_settings(&self) -> ControlResult<(RuntimeSettings, Vec<SectionChange>)> {
        let rows = sqlx::query(
            "SELECT section, value, updated_at, updated_by FROM runtime_settings ORDER BY section",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut settings = RuntimeSettings::boot(&self.config);
        let mut changed = Vec::new();
        for row in rows {
            let name: String = row.try_get("section")?;
            let Some(section) = SettingsSection::parse(&name) else {
                continue;
            };
            let text: String = row.try_get("value")?;
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| ControlError::Internal(format!("stored setting {name}: {e}")))?;
            // A stored section that no longer fits (a field renamed in an upgrade) keeps the
            // file's value rather than stopping every sign-in.
            match settings.with_section(section, &value) {
                Ok(next) => settings = next,
                Err(e) => {
                    tracing::warn!(section = %name, error = %e, "stored setting ignored");
                    continue;
                }
            }
            changed.push(SectionChange {
                section,
                updated_at: row.try_get("updated_at")?,
                updated_by: row.try_get("updated_by")?,
            });
        }
        Ok((settings, changed))
    }

    /// The settings, the file's defaults and what was changed (`ManageConfig`).
    pub async fn settings_for(&self, actor: &Actor) -> ControlResult<SettingsView> {
        actor.require(Action::ManageConfig, &Scope::out_of_scope())?;
        let (effective, changed) = self.read_settings().await?;
        Ok(SettingsView {
            effective,
            defaults: RuntimeSettings::boot(&self.config),
            changed,
        })
    }

    /// Changes `section` to `value` (`ManageConfig`); audited as `settings.change` with the
    /// old and the new value, in the same transaction.
    pub async fn change_settings_for(
        &self,
        actor: &Actor,
        section: SettingsSection,
        value: &Value,
        now: i64,
    ) -> ControlResult<SettingsView> {
        actor.require(Action::ManageConfig, &Scope::out_of_scope())?;
        let (current, _) = self.read_settings().await?;
        let next = current.with_section(section, value)?;
        let new_value = next.section(section);
        let mut tx = self.begin_audited().await?;
        sqlx::query("DELETE FROM runtime_settings WHERE section = $1")
            .bind(section.as_str())
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO runtime_settings (section, value, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(section.as_str())
        .bind(new_value.to_string())
        .bind(now)
        .bind(actor.username.clone())
        .execute(tx.conn())
        .await?;
        let record = AuditAppend::success(
            "settings.change",
            format!("settings:{}", section.as_str()),
            json!({"old": current.section(section), "new": new_value}),
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.settings_cache.put(None);
        self.settings_for(actor).await
    }

    /// Puts `section` back to the config file's value (`ManageConfig`); audited as
    /// `settings.reset` with the old and the new value.
    pub async fn reset_settings_for(
        &self,
        actor: &Actor,
        section: SettingsSection,
        now: i64,
    ) -> ControlResult<SettingsView> {
        actor.require(Action::ManageConfig, &Scope::out_of_scope())?;
        let (current, _) = self.read_settings().await?;
        let boot = RuntimeSettings::boot(&self.config);
        let mut tx = self.begin_audited().await?;
        let removed = sqlx::query("DELETE FROM runtime_settings WHERE section = $1")
            .bind(section.as_str())
            .execute(tx.conn())
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(ControlError::conflict(
                "该设置未修改过，已是配置文件中的值",
                "this section was not changed; it is the config file's already",
            ));
        }
        let record = AuditAppend::success(
            "settings.reset",
            format!("settings:{}", section.as_str()),
            json!({"old": current.section(section), "new": boot.section(section)}),
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.settings_cache.put(None);
        self.settings_for(actor).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot() -> RuntimeSettings {
        RuntimeSettings::boot(&ControlConfig::default())
    }

    #[test]
    fn a_section_changes_only_the_fields_given() {
        let next = boot()
            .with_section(SettingsSection::Sessions, &json!({"idle_minutes": 15}))
            .unwrap();
        assert_eq!(next.sessions.idle_minutes, 15);
        assert_eq!(next.sessions.max_concurrent, boot().sessions.max_concurrent);
        assert_eq!(next.password, boot().password);
    }

    #[test]
    fn values_outside_the_rules_bounds_are_refused_in_both_languages() {
        for (section, value) in [
            (SettingsSection::Password, json!({"min_length": 6})),
            (SettingsSection::Password, json!({"max_age_days": 1000})),
            (SettingsSection::Lockout, json!({"max_failures": 0})),
            (SettingsSection::Sessions, json!({"idle_minutes": 600})),
            (SettingsSection::Retention, json!({"months": 3})),
            (SettingsSection::Uploads, json!({"max_size_bytes": 10})),
        ] {
            let e = boot().with_section(section, &value).unwrap_err();
            assert!(e.message_zh().contains("超出允许范围"), "{section:?}: {e}");
            assert!(e.message_en().contains("out of bounds"), "{section:?}: {e}");
        }
    }

    #[test]
    fn an_unknown_field_or_a_wrong_type_is_refused() {
        let e = boot()
            .with_section(SettingsSection::Password, &json!({"min_lenght": 12}))
            .unwrap_err();
        assert!(
            e.message_en()
                .contains("unknown setting password.min_lenght"),
            "{e}"
        );
        assert!(
            boot()
                .with_section(SettingsSection::Lockout, &json!({"max_failures": "five"}))
                .is_err()
        );
        assert!(
            boot()
                .with_section(SettingsSection::Uploads, &json!([1]))
                .is_err()
        );
    }

    #[test]
    fn the_upload_limit_may_go_back_to_the_media_policy() {
        let set = boot()
            .with_section(
                SettingsSection::Uploads,
                &json!({"max_size_bytes": 2u64 << 30}),
            )
            .unwrap();
        assert_eq!(set.uploads.max_size_bytes, Some(2 << 30));
        let unset = set
            .with_section(SettingsSection::Uploads, &json!({"max_size_bytes": null}))
            .unwrap();
        assert_eq!(unset.uploads.max_size_bytes, None);
    }

    #[test]
    fn every_section_round_trips_by_name() {
        for s in SettingsSection::ALL {
            assert_eq!(SettingsSection::parse(s.as_str()), Some(s));
            assert!(boot().section(s).is_object());
        }
    }
}
