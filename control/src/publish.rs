//! Publish authorization for the ingest side: the pure decision ([`publish_decision`]) from a
//! channel's facts, the refusal reasons with stable codes and zh/en messages
//! ([`PublishDenied`]), and the [`PublishAuthorizer`] trait the ingest servers call before any
//! media flows (implemented by [`ControlPlane`]; a remote ingest node gets the same decision
//! from `POST /api/v1/ingest/authorize`). Every decision is audited; a refusal on a known
//! channel also lands in the channel's event history.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;

use crate::audit::{AuditAppend, Outcome};
use crate::channel_events::ChannelEventKind;
use crate::channels::{ChannelRow, ChannelState, LatencyMode};
use crate::error::{ControlError, ControlResult};
use crate::live_leases::LeaseOutcome;
use crate::plane::{AuditCtx, ControlPlane};
use crate::secrets;

/// What the ingest side gets when a publish is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishGrant {
    /// The channel.
    pub channel_id: String,
    /// Its stream name.
    pub stream_name: String,
    /// Whether to record into a VOD resource.
    pub record_to_vod: bool,
    /// Latency mode to package for.
    pub latency_mode: LatencyMode,
}

/// Why a publish was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum PublishDenied {
    /// No channel with that stream name (or deleted).
    #[error("unknown channel")]
    UnknownChannel,
    /// The stream key does not match.
    #[error("wrong stream key")]
    WrongKey,
    /// The stream key was this channel's key before a rotation.
    #[error("the stream key was rotated")]
    KeyRotated,
    /// The channel is switched off.
    #[error("the channel is disabled")]
    Disabled,
    /// Outside the schedule window.
    #[error("outside the channel's schedule window")]
    OutsideSchedule,
    /// The event has ended.
    #[error("the channel's event has ended")]
    Ended,
    /// The control plane could not decide (database failure): refuse.
    #[error("authorization unavailable")]
    Unavailable,
    /// Another `serve` node holds the channel's live session (its lease has not run out).
    #[error("the channel is live on another server")]
    HeldElsewhere,
}

impl PublishDenied {
    /// Every reason.
    pub const ALL: [PublishDenied; 8] = [
        PublishDenied::UnknownChannel,
        PublishDenied::WrongKey,
        PublishDenied::KeyRotated,
        PublishDenied::Disabled,
        PublishDenied::OutsideSchedule,
        PublishDenied::Ended,
        PublishDenied::Unavailable,
        PublishDenied::HeldElsewhere,
    ];

    /// The stable machine-readable code (the same as the serde form).
    pub fn code(self) -> &'static str {
        match self {
            PublishDenied::UnknownChannel => "unknown_channel",
            PublishDenied::WrongKey => "wrong_key",
            PublishDenied::KeyRotated => "key_rotated",
            PublishDenied::Disabled => "disabled",
            PublishDenied::OutsideSchedule => "outside_schedule",
            PublishDenied::Ended => "ended",
            PublishDenied::Unavailable => "unavailable",
            PublishDenied::HeldElsewhere => "held_elsewhere",
        }
    }

    /// The reason in zh-CN, for organisers.
    pub fn message_zh(self) -> &'static str {
        match self {
            PublishDenied::UnknownChannel => "推流名称不对应任何频道",
            PublishDenied::WrongKey => "推流密钥错误",
            PublishDenied::KeyRotated => "推流密钥已更换，请使用新的推流密钥",
            PublishDenied::Disabled => "频道已停用",
            PublishDenied::OutsideSchedule => "不在频道的预定直播时间内",
            PublishDenied::Ended => "频道的直播活动已结束",
            PublishDenied::Unavailable => "推流鉴权暂时不可用，请稍后重试",
            PublishDenied::HeldElsewhere => {
                "该频道正在另一台服务器上直播；请推流到同一地址，或待其结束后重试"
            }
        }
    }

    /// The reason in English, for organisers.
    pub fn message_en(self) -> &'static str {
        match self {
            PublishDenied::UnknownChannel => "the stream name belongs to no channel",
            PublishDenied::WrongKey => "wrong stream key",
            PublishDenied::KeyRotated => "the stream key was rotated: use the new stream key",
            PublishDenied::Disabled => "the channel is disabled",
            PublishDenied::OutsideSchedule => "outside the channel's scheduled time",
            PublishDenied::Ended => "the channel's live event has ended",
            PublishDenied::Unavailable => {
                "publish authorization is unavailable for now, try again later"
            }
            PublishDenied::HeldElsewhere => {
                "the channel is live on another server: publish to the same address, or retry \
                 once that session has ended"
            }
        }
    }
}

/// How a presented stream key compares with a channel's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// It is the current key.
    Current,
    /// It was the channel's key before a rotation.
    Previous,
    /// It never was this channel's key.
    Unknown,
}

/// The facts of a channel that decide a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishFacts {
    /// Live state.
    pub state: ChannelState,
    /// The channel's on/off switch.
    pub enabled: bool,
    /// Scheduled start (ms).
    pub scheduled_start: Option<i64>,
    /// Scheduled end (ms).
    pub scheduled_end: Option<i64>,
    /// The presented key.
    pub key: KeyCheck,
}

/// How early before the scheduled start a publish is accepted (to test the stream).
pub const SCHEDULE_LEAD_MS: i64 = 30 * 60_000;

/// The pure publish decision from a channel's facts. The key is checked first, so that a
/// caller without the current key learns nothing else about the channel.
pub fn publish_decision(facts: &PublishFacts, now: i64) -> Result<(), PublishDenied> {
    match facts.key {
        KeyCheck::Current => {}
        KeyCheck::Previous => return Err(PublishDenied::KeyRotated),
        KeyCheck::Unknown => return Err(PublishDenied::WrongKey),
    }
    if !facts.enabled {
        return Err(PublishDenied::Disabled);
    }
    if facts.state == ChannelState::Ended {
        return Err(PublishDenied::Ended);
    }
    if facts
        .scheduled_start
        .is_some_and(|s| now < s - SCHEDULE_LEAD_MS)
        || facts.scheduled_end.is_some_and(|e| now >= e)
    {
        return Err(PublishDenied::OutsideSchedule);
    }
    Ok(())
}

/// Publish authorization, used by the ingest side before accepting a publish (RTMP or WHIP).
/// Implemented by [`ControlPlane`]; a remote ingest node gets the same decision from
/// `POST /api/v1/ingest/authorize`.
#[async_trait]
pub trait PublishAuthorizer: Send + Sync {
    /// Decides whether `stream_key` may publish to the channel named `stream_name` at `now`;
    /// on success the channel is marked live.
    async fn authorize_publish(
        &self,
        stream_name: &str,
        stream_key: &str,
        source_addr: &str,
        now: i64,
    ) -> Result<PublishGrant, PublishDenied>;

    /// Reports that the publish on `channel_id` ended (the channel returns to idle).
    async fn publish_ended(&self, channel_id: &str, now: i64) -> Result<(), PublishDenied>;
}

impl ControlPlane {
    async fn channel_row_by_stream(&self, stream_name: &str) -> ControlResult<Option<ChannelRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM channels WHERE stream_name = $1 AND deleted_at IS NULL")
                .bind(stream_name.to_owned())
                .fetch_optional(self.db.pool())
                .await?,
        )
    }

    async fn key_check(&self, row: &ChannelRow, stream_key: &str) -> ControlResult<KeyCheck> {
        if secrets::secret_matches(stream_key, &row.stream_key_hash) {
            return Ok(KeyCheck::Current);
        }
        let previous: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM channel_previous_keys WHERE channel_id = $1 AND stream_key_hash = $2",
        )
        .bind(row.id.clone())
        .bind(secrets::secret_hash(stream_key))
        .fetch_one(self.db.pool())
        .await?;
        Ok(if previous > 0 {
            KeyCheck::Previous
        } else {
            KeyCheck::Unknown
        })
    }

    /// Decides a publish; a granted one sets the channel live in one transaction with its
    /// audit record.
    async fn decide_publish(
        &self,
        ctx: &AuditCtx,
        stream_name: &str,
        stream_key: &str,
        now: i64,
    ) -> ControlResult<Result<PublishGrant, (Option<String>, PublishDenied)>> {
        let Some(row) = self.channel_row_by_stream(stream_name).await? else {
            return Ok(Err((None, PublishDenied::UnknownChannel)));
        };
        let facts = PublishFacts {
            state: ChannelState::parse(&row.state).unwrap_or(ChannelState::Idle),
            enabled: row.enabled != 0,
            scheduled_start: row.scheduled_start,
            scheduled_end: row.scheduled_end,
            key: self.key_check(&row, stream_key).await?,
        };
        if let Err(denied) = publish_decision(&facts, now) {
            return Ok(Err((Some(row.id), denied)));
        }
        // On many nodes, one holds each channel: a publish reaching another is refused.
        if let Some(node) = self.live_node.get()
            && let LeaseOutcome::HeldElsewhere(holder) = self
                .take_live_lease(&row.id, &node.identity, node.lease_ms, now)
                .await?
        {
            tracing::info!(channel = %row.id, holder = %holder.node_id, "publish refused: the channel is held by another node");
            return Ok(Err((Some(row.id), PublishDenied::HeldElsewhere)));
        }
        let mut tx = self.begin_audited().await?;
        sqlx::query("UPDATE channels SET state = 'live', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(row.id.clone())
            .execute(tx.conn())
            .await?;
        let record =
            AuditAppend::success("channel.publish", format!("channel:{}", row.id), json!({}));
        self.commit_audited(tx, ctx, &[record], now).await?;
        let view = self.channel_view(&row);
        Ok(Ok(PublishGrant {
            channel_id: view.id,
            stream_name: view.stream_name,
            record_to_vod: view.record_to_vod,
            latency_mode: view.latency_mode,
        }))
    }

    /// The channel id for a stream name whose key matches (for the remote "ended" report).
    pub async fn channel_by_stream(
        &self,
        stream_name: &str,
        stream_key: &str,
    ) -> ControlResult<Option<String>> {
        Ok(self
            .channel_row_by_stream(stream_name)
            .await?
            .filter(|r| secrets::secret_matches(stream_key, &r.stream_key_hash))
            .map(|r| r.id))
    }
}

#[async_trait]
impl PublishAuthorizer for ControlPlane {
    async fn authorize_publish(
        &self,
        stream_name: &str,
        stream_key: &str,
        source_addr: &str,
        now: i64,
    ) -> Result<PublishGrant, PublishDenied> {
        let ctx = AuditCtx::service("ingest", source_addr);
        let decision = match self
            .decide_publish(&ctx, stream_name, stream_key, now)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "publish authorization failed");
                return Err(PublishDenied::Unavailable);
            }
        };
        let (target, outcome, detail, result) = match decision {
            // Audited with the change.
            Ok(grant) => return Ok(grant),
            Err((channel, denied)) => {
                if let Some(channel_id) = &channel {
                    let event = json!({"code": denied.code(), "message_zh": denied.message_zh(),
                        "message_en": denied.message_en(), "peer": source_addr});
                    if let Err(e) = self
                        .record_channel_event(channel_id, ChannelEventKind::Refused, event, now)
                        .await
                    {
                        // The refusal stands; only its entry in the history is missing.
                        tracing::error!(channel = %channel_id, error = %e, "recording a refused publish failed");
                    }
                }
                (
                    format!("channel:{}", channel.unwrap_or_else(|| "-".into())),
                    Outcome::Denied,
                    json!({"stream_name": stream_name, "reason": denied}),
                    Err(denied),
                )
            }
        };
        if let Err(e) = self
            .audit(&ctx, "channel.publish", &target, outcome, detail, now)
            .await
        {
            tracing::error!(error = %e, "audit append failed");
            return Err(PublishDenied::Unavailable);
        }
        result
    }

    async fn publish_ended(&self, channel_id: &str, now: i64) -> Result<(), PublishDenied> {
        let ctx = AuditCtx::service("ingest", "local");
        let unavailable = |e: ControlError| {
            tracing::error!(error = %e, "recording the end of a publish failed");
            PublishDenied::Unavailable
        };
        let mut tx = self.begin_audited().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE channels SET state = 'idle', updated_at = $1 WHERE id = $2 AND state = 'live'",
        )
        .bind(now)
        .bind(channel_id.to_owned())
        .execute(tx.conn())
        .await
        .map_err(|e| unavailable(e.into()))?;
        if done.rows_affected() == 0 {
            return Err(PublishDenied::UnknownChannel);
        }
        let record = AuditAppend::success(
            "channel.unpublish",
            format!("channel:{channel_id}"),
            json!({}),
        );
        self.commit_audited(tx, &ctx, &[record], now)
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(state: ChannelState, key: KeyCheck) -> PublishFacts {
        PublishFacts {
            state,
            enabled: true,
            scheduled_start: None,
            scheduled_end: None,
            key,
        }
    }

    #[test]
    fn a_publish_needs_the_key_an_open_event_and_the_schedule_window() {
        use ChannelState::*;
        assert_eq!(publish_decision(&facts(Idle, KeyCheck::Current), 0), Ok(()));
        assert_eq!(
            publish_decision(&facts(Idle, KeyCheck::Unknown), 0),
            Err(PublishDenied::WrongKey)
        );
        assert_eq!(
            publish_decision(&facts(Ended, KeyCheck::Current), 0),
            Err(PublishDenied::Ended)
        );
        let start = 10 * SCHEDULE_LEAD_MS;
        let scheduled = |state, start, end| PublishFacts {
            scheduled_start: start,
            scheduled_end: end,
            ..facts(state, KeyCheck::Current)
        };
        assert_eq!(
            publish_decision(
                &scheduled(Idle, Some(start), None),
                start - SCHEDULE_LEAD_MS - 1
            ),
            Err(PublishDenied::OutsideSchedule)
        );
        assert_eq!(
            publish_decision(
                &scheduled(Idle, Some(start), None),
                start - SCHEDULE_LEAD_MS
            ),
            Ok(())
        );
        assert_eq!(
            publish_decision(&scheduled(Live, Some(start), Some(start + 1)), start + 1),
            Err(PublishDenied::OutsideSchedule)
        );
    }

    #[test]
    fn a_previous_key_is_refused_as_rotated_before_anything_else_is_told() {
        let rotated = PublishFacts {
            enabled: false,
            ..facts(ChannelState::Ended, KeyCheck::Previous)
        };
        assert_eq!(
            publish_decision(&rotated, 0),
            Err(PublishDenied::KeyRotated)
        );
        let wrong = PublishFacts {
            enabled: false,
            ..facts(ChannelState::Ended, KeyCheck::Unknown)
        };
        assert_eq!(publish_decision(&wrong, 0), Err(PublishDenied::WrongKey));
    }

    #[test]
    fn a_disabled_channel_refuses_the_current_key_even_when_live() {
        for state in [ChannelState::Idle, ChannelState::Live, ChannelState::Ended] {
            let disabled = PublishFacts {
                enabled: false,
                ..facts(state, KeyCheck::Current)
            };
            assert_eq!(publish_decision(&disabled, 0), Err(PublishDenied::Disabled));
        }
    }

    #[test]
    fn every_refusal_has_a_stable_code_equal_to_its_serde_form_and_both_messages() {
        let codes: Vec<&str> = PublishDenied::ALL.iter().map(|d| d.code()).collect();
        assert_eq!(
            codes,
            [
                "unknown_channel",
                "wrong_key",
                "key_rotated",
                "disabled",
                "outside_schedule",
                "ended",
                "unavailable",
                "held_elsewhere"
            ]
        );
        for denied in PublishDenied::ALL {
            assert_eq!(
                serde_json::to_value(denied).ok(),
                Some(serde_json::Value::String(denied.code().into()))
            );
            assert!(!denied.message_zh().is_empty() && !denied.message_en().is_empty());
            assert_ne!(denied.message_zh(), denied.message_en());
        }
    }
}
