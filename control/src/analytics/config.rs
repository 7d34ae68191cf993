//! Settings of viewing analytics and credit hours (table `[control.learning]` of the config
//! file), with their defaults.

use serde::{Deserialize, Serialize};

use crate::analytics::ratelimit::Rate;

/// Viewing analytics, credit hours and the low-use report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Share of a resource's duration a learner must have watched (not skipped over) to earn
    /// its credit hours (学时). The operating rules name no figure; 0.8 by default.
    pub credit_share: f64,
    /// Share of the duration that makes a playback count as completed in the reports.
    pub completion_share: f64,
    /// Most events in one request.
    pub max_events_per_request: usize,
    /// Fastest playback speed that still counts as watching.
    pub max_playback_rate: f64,
    /// How far past the end a reported position may be (seconds).
    pub position_tolerance_seconds: f64,
    /// How far a player's clock may run ahead of the server's (seconds).
    pub clock_tolerance_seconds: i64,
    /// Allowance for timer jitter between two events (seconds).
    pub slack_seconds: f64,
    /// Requests of one playback: burst.
    pub playback_burst: u32,
    /// Requests of one playback per minute, sustained.
    pub playback_per_minute: u32,
    /// Requests of one viewer (all their playbacks): burst.
    pub viewer_burst: u32,
    /// Requests of one viewer per minute, sustained.
    pub viewer_per_minute: u32,
    /// Most playbacks and viewers the rate limiter tracks at once.
    pub tracked_keys: usize,
    /// Batches waiting for the database writer; beyond it requests get 503 and the player
    /// sends again with its next heartbeat.
    pub queue_capacity: usize,
    /// Low-use report: fewer views than this…
    pub low_use_min_views: i64,
    /// …in this many months (published before the window began).
    pub low_use_months: u32,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            credit_share: 0.8,
            completion_share: 0.9,
            max_events_per_request: 50,
            max_playback_rate: 2.0,
            position_tolerance_seconds: 5.0,
            clock_tolerance_seconds: 30,
            slack_seconds: 3.0,
            playback_burst: 12,
            playback_per_minute: 30,
            viewer_burst: 40,
            viewer_per_minute: 120,
            tracked_keys: 200_000,
            queue_capacity: 4096,
            low_use_min_views: 10,
            low_use_months: 6,
        }
    }
}

impl LearningConfig {
    /// The rate of one playback's requests.
    pub fn playback_rate(&self) -> Rate {
        Rate {
            burst: self.playback_burst.max(1),
            per_minute: self.playback_per_minute.max(1),
        }
    }

    /// The rate of one viewer's requests.
    pub fn viewer_rate(&self) -> Rate {
        Rate {
            burst: self.viewer_burst.max(1),
            per_minute: self.viewer_per_minute.max(1),
        }
    }

    /// The credit share within 0–1 (an absurd setting falls back to the default).
    pub fn credit_share(&self) -> f64 {
        if (0.0..=1.0).contains(&self.credit_share) {
            self.credit_share
        } else {
            LearningConfig::default().credit_share
        }
    }
}
