//! The live status of a channel as the API shows it. The figures (input, renditions,
//! viewers, dropped frames…) live in the serving process, which lends them through a
//! [`LiveStatusSource`]; the database adds the channel's state and switch, and, while the
//! channel is not live, the newest problem of its event history as `last_error`.

use serde::{Deserialize, Serialize};

use crate::channel_events::ChannelEvent;
use crate::channels::{Channel, ChannelState};
use crate::error::ControlResult;
use crate::plane::{Actor, ControlPlane};

/// What the encoder sends.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveInputInfo {
    /// Video codec (e.g. `h264`).
    pub video_codec: Option<String>,
    /// Audio codec (e.g. `aac`).
    pub audio_codec: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Frames per second.
    pub frame_rate: Option<f64>,
    /// Measured input bitrate (bit/s).
    pub bitrate_bps: Option<u64>,
}

/// The live figures of a channel.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveStatus {
    /// True while a session is on air (including within the reconnect window).
    pub live: bool,
    /// Start of the session (ms).
    pub since: Option<i64>,
    /// The live session (one recording per session).
    pub session_id: Option<String>,
    /// Publishers that came back within the reconnect window.
    pub reconnects: u32,
    /// What the encoder sends.
    pub input: Option<LiveInputInfo>,
    /// The renditions served (e.g. `source`, `720p`, `480p`).
    pub renditions: Vec<String>,
    /// Current viewers.
    pub viewers: u64,
    /// Frames dropped since the session started.
    pub dropped_frames: u64,
    /// The last problem, for people.
    pub last_error: Option<String>,
}

/// Where the serving process lends the live figures of its channels.
pub trait LiveStatusSource: Send + Sync + std::fmt::Debug {
    /// The figures of `channel_id`, or `None` when this process has nothing on it.
    fn live_status(&self, channel_id: &str) -> Option<LiveStatus>;
}

/// `GET /api/v1/channels/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStatusView {
    /// The channel.
    pub channel_id: String,
    /// The state in the database (`idle`, `live`, `ended`).
    pub state: ChannelState,
    /// Whether the channel accepts publishes.
    pub enabled: bool,
    /// The live figures.
    pub status: LiveStatus,
}

/// The status view of `channel` (pure): the source's figures when it has some, else the idle
/// default whose `last_error` is the message of `last_problem` (the newest `error`/`refused`
/// event) in the preferred language.
pub fn channel_status_view(
    channel: &Channel,
    live: Option<LiveStatus>,
    last_problem: Option<&ChannelEvent>,
    prefer_english: bool,
) -> ChannelStatusView {
    let status = live.unwrap_or_else(|| LiveStatus {
        last_error: last_problem.map(|e| e.message(prefer_english)),
        ..LiveStatus::default()
    });
    ChannelStatusView {
        channel_id: channel.id.clone(),
        state: channel.state,
        enabled: channel.enabled,
        status,
    }
}

impl ControlPlane {
    /// The status of a channel for `actor` (needs `ReadChannel` in the channel's scope), with
    /// the live figures of `source` if any.
    pub async fn channel_status_for(
        &self,
        actor: &Actor,
        channel_id: &str,
        source: Option<&dyn LiveStatusSource>,
        prefer_english: bool,
    ) -> ControlResult<ChannelStatusView> {
        let channel = self.channel_for(actor, channel_id).await?;
        let live = source.and_then(|s| s.live_status(channel_id));
        let last_problem = match live {
            Some(_) => None,
            None => self.last_channel_problem(channel_id).await?,
        };
        Ok(channel_status_view(
            &channel,
            live,
            last_problem.as_ref(),
            prefer_english,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::channel_events::ChannelEventKind;
    use crate::channels::{AudienceKind, LatencyMode};

    fn channel() -> Channel {
        Channel {
            id: "c1".into(),
            name: "开学第一课".into(),
            department_id: "d".into(),
            project_id: None,
            owner_id: "u".into(),
            stream_name: "ch-1".into(),
            state: ChannelState::Idle,
            enabled: false,
            audience: AudienceKind::Public,
            audience_id: None,
            record_to_vod: true,
            latency_mode: LatencyMode::Standard,
            hevc_passthrough: false,
            scheduled_start: None,
            scheduled_end: None,
            rtmp_url: String::new(),
            whip_url: String::new(),
            playback_url: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn without_live_figures_the_status_is_idle_with_the_newest_problem_as_last_error() {
        let refused = ChannelEvent {
            id: "e".into(),
            channel_id: "c1".into(),
            kind: ChannelEventKind::Refused,
            at: 5,
            detail: json!({"code": "disabled", "message_zh": "频道已停用", "message_en": "the channel is disabled"}),
        };
        let view = channel_status_view(&channel(), None, Some(&refused), false);
        assert_eq!(view.channel_id, "c1");
        assert!(!view.enabled);
        assert_eq!(view.state, ChannelState::Idle);
        assert_eq!(
            view.status,
            LiveStatus {
                last_error: Some("频道已停用".into()),
                ..LiveStatus::default()
            }
        );
        let quiet = channel_status_view(&channel(), None, None, true);
        assert_eq!(quiet.status, LiveStatus::default());
    }

    #[test]
    fn live_figures_from_the_serving_process_are_shown_as_they_are() {
        let live = LiveStatus {
            live: true,
            since: Some(10),
            session_id: Some("s1".into()),
            reconnects: 2,
            input: Some(LiveInputInfo {
                video_codec: Some("h264".into()),
                width: Some(1280),
                height: Some(720),
                ..Default::default()
            }),
            renditions: vec!["source".into(), "480p".into()],
            viewers: 7,
            dropped_frames: 3,
            last_error: None,
        };
        let view = channel_status_view(&channel(), Some(live.clone()), None, true);
        assert_eq!(view.status, live);
    }
}
