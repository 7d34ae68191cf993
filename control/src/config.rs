//! Control-plane settings (the `[control]` table of the `--config` TOML file) and the
//! installation keys (playback-token signing key, audit-chain key) kept in the data directory.

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
    /// SRT listener, `srt://host:port`; empty when SRT ingest is off. A channel's SRT publish
    /// URL is `<srt_base>?streamid=#!::r=<stream_name>,k=<key>,m=publish`.
    pub srt_base: String,
    /// HLS base; playback URLs are `<playback_base>/live/<channel id>/master.m3u8` and
    /// `<playback_base>/play/<resource id>/master.m3u8` (the paths `yanxiu serve` serves).
    pub playback_base: String,
}

impl Default for PublicUrls {
    fn default() -> Self {
        PublicUrls {
            rtmp_base: "rtmp://127.0.0.1:1935/live".into(),
            whip_base: "http://127.0.0.1:8080/whip".into(),
            srt_base: String::new(),
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
    /// Playback authorization caching (table `[control.playback]`).
    pub playback: PlaybackConfig,
    /// Categories that need captions (table `[control.captions]`).
    pub captions: crate::resources::CaptionRules,
    /// Which resources may be sound without picture (table `[control.audio_only]`).
    pub audio_only: crate::resources::AudioOnlyRules,
}

/// How long playback authorization may rely on facts read earlier (table
/// `[control.playback]`): a player's segment requests then cost no database read. A change
/// made on this node applies to the next request; one made on another node within `cache_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaybackConfig {
    /// Milliseconds a target's facts or a credential's revocation state are reused; 0 reads
    /// the database on every request. At most [`PlaybackConfig::MAX_CACHE_MS`].
    pub cache_ms: u64,
    /// Entries kept in each of the two caches (targets, credentials).
    pub cache_entries: usize,
}

impl PlaybackConfig {
    /// The longest reuse allowed: a revoked session or a take-down reaches every node within it.
    pub const MAX_CACHE_MS: u64 = 5_000;
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        PlaybackConfig {
            cache_ms: 2_000,
            cache_entries: 10_000,
        }
    }
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

pub use crate::keyring::{KEYS_FILE, Keys, KeysError};
