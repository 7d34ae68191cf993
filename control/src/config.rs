//! Control-plane settings (the `[control]` table of the `--config` TOML file) and the
//! installation keys (playback-token signing key, audit-chain key) kept in the data directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::lockout::LockoutPolicy;
use crate::password::{HashCost, PasswordPolicy};
use crate::session_rules::SessionPolicy;

/// Public addresses that clients see in channel and playback URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublicUrls {
    /// RTMP publish base; the publish URL is `<rtmp_base>/<stream_name>`.
    pub rtmp_base: String,
    /// WHIP base; the WHIP URL is `<whip_base>/<stream_name>`.
    pub whip_base: String,
    /// HLS base; playback URLs are `<playback_base>/live/<channel id>/master.m3u8` and
    /// `<playback_base>/play/<resource id>/master.m3u8` (the paths `yanxiu serve` serves).
    pub playback_base: String,
}

impl Default for PublicUrls {
    fn default() -> Self {
        PublicUrls {
            rtmp_base: "rtmp://127.0.0.1:1935/live".into(),
            whip_base: "http://127.0.0.1:8080/whip".into(),
            playback_base: "http://127.0.0.1:8080".into(),
        }
    }
}

/// Every control-plane setting, with production defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ControlConfig {
    /// Password rules.
    pub password: PasswordPolicy,
    /// argon2 cost.
    pub hash_cost: HashCost,
    /// Login-failure lockout.
    pub lockout: LockoutPolicy,
    /// Session timeouts and the concurrent-session limit.
    pub sessions: SessionPolicy,
    /// Token lifetimes.
    pub tokens: TokenConfig,
    /// Public URLs.
    pub public_urls: PublicUrls,
    /// Live channels in operation.
    pub live: LiveConfig,
    /// Viewing analytics and credit hours (学时).
    pub learning: crate::analytics::LearningConfig,
    /// Retention of published resources (six months; premium courses kept).
    pub retention: crate::retention::plan::RetentionConfig,
    /// Checkpoints of the audit log (table `[control.audit]`).
    pub audit: AuditConfig,
}

/// Checkpoints of the audit log kept in object storage (table `[control.audit]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// Minutes between signed checkpoints of the chain's head (one is also written at start
    /// and at shutdown, and none while the head has not moved). At least 1.
    pub checkpoint_minutes: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_minutes: 60,
        }
    }
}

/// Settings of live channels in operation (table `[control.live]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveConfig {
    /// How many events each channel keeps (the oldest go on insert; at least 1), so that a
    /// client guessing keys cannot grow the history without bound.
    pub events_kept_per_channel: u32,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            events_kept_per_channel: 1000,
        }
    }
}

/// Lifetimes of API and playback tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    /// Default lifetime of an API token, in days.
    pub api_token_days: u32,
    /// Lifetime of a playback token, in minutes.
    pub playback_minutes: u32,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            api_token_days: 90,
            playback_minutes: 240,
        }
    }
}

/// The installation's secret keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// Signs playback tokens (hex).
    pub playback_key: String,
    /// Keys the audit hash chain (hex).
    pub audit_key: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// Reading or writing the key file failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// File system error.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("key file {path} is invalid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The key file's name inside the data directory.
pub const KEYS_FILE: &str = "control-keys.toml";

impl Keys {
    /// Fresh random keys.
    pub fn generate() -> Keys {
        Keys {
            playback_key: crate::secrets::random_key_hex(),
            audit_key: crate::secrets::random_key_hex(),
        }
    }

    /// Loads `DIR/control-keys.toml`, creating it (mode 0600) with fresh keys if missing.
    /// Nodes sharing one PostgreSQL database must share this file.
    pub fn load_or_create(data_dir: &Path) -> Result<Keys, KeysError> {
        let path = data_dir.join(KEYS_FILE);
        let shown = path.display().to_string();
        let io = |source| KeysError::Io {
            path: shown.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| KeysError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let keys = Keys::generate();
                let text = toml::to_string(&keys).map_err(|e| KeysError::Invalid {
                    path: shown.clone(),
                    message: e.to_string(),
                })?;
                write_private(&path, &text).map_err(io)?;
                Ok(keys)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The playback key bytes.
    pub fn playback_key_bytes(&self) -> Vec<u8> {
        hex::decode(&self.playback_key).unwrap_or_else(|_| self.playback_key.as_bytes().to_vec())
    }

    /// The audit key bytes.
    pub fn audit_key_bytes(&self) -> Vec<u8> {
        hex::decode(&self.audit_key).unwrap_or_else(|_| self.audit_key.as_bytes().to_vec())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
