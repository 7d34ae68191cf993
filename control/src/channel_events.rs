//! The event history of each live channel: publishes started, reconnected and stopped,
//! refused publishes, errors of the live pipeline and recordings made. The serving process
//! appends ([`ControlPlane::record_channel_event`]); people read it newest first
//! ([`ControlPlane::channel_events_for`], `GET /api/v1/channels/{id}/events`). Each channel
//! keeps its newest `[control.live] events_kept_per_channel` events (default 1000): older ones
//! are pruned on insert, so a client guessing keys cannot grow the table without bound.

use serde::{Deserialize, Serialize};

use crate::channels::text_enum;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest, new_id};

/// What happened on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelEventKind {
    /// A publish started a live session.
    Started,
    /// A publisher came back within the reconnect window (same session).
    Reconnected,
    /// The live session ended.
    Stopped,
    /// A publish was refused (detail: `code`, `message_zh`, `message_en`, `peer`).
    Refused,
    /// The live pipeline failed (detail: `code`, `message_zh`, `message_en` by convention).
    Error,
    /// A recording became a draft resource (detail: `resource_id`, `session_id`).
    Recorded,
}

text_enum!(ChannelEventKind {
    Started => "started",
    Reconnected => "reconnected",
    Stopped => "stopped",
    Refused => "refused",
    Error => "error",
    Recorded => "recorded",
});

impl ChannelEventKind {
    /// True for the kinds that report a problem (`error`, `refused`).
    pub fn is_problem(self) -> bool {
        matches!(self, ChannelEventKind::Error | ChannelEventKind::Refused)
    }
}

/// One event of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelEvent {
    /// Id.
    pub id: String,
    /// The channel.
    pub channel_id: String,
    /// What happened.
    pub kind: ChannelEventKind,
    /// When (ms).
    pub at: i64,
    /// Facts of the event (never a stream key).
    pub detail: serde_json::Value,
}

impl ChannelEvent {
    /// The event's message for people (pure): `message_en` or `message_zh` from the detail
    /// (the other language, then `message`, then `code` when missing), or the kind.
    pub fn message(&self, prefer_english: bool) -> String {
        let text = |key: &str| {
            self.detail
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
        };
        let (first, second) = if prefer_english {
            ("message_en", "message_zh")
        } else {
            ("message_zh", "message_en")
        };
        text(first)
            .or_else(|| text(second))
            .or_else(|| text("message"))
            .or_else(|| text("code"))
            .unwrap_or_else(|| self.kind.as_str().to_owned())
    }
}

#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    id: String,
    channel_id: String,
    kind: String,
    at: i64,
    detail: String,
}

impl EventRow {
    fn into_event(self) -> ChannelEvent {
        ChannelEvent {
            id: self.id,
            channel_id: self.channel_id,
            kind: ChannelEventKind::parse(&self.kind).unwrap_or(ChannelEventKind::Error),
            at: self.at,
            detail: serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

impl ControlPlane {
    /// Appends an event to a channel's history (deleted channels included) and prunes the
    /// oldest beyond the configured bound. In-process callers (ingest): no permission check.
    pub async fn record_channel_event(
        &self,
        channel_id: &str,
        kind: ChannelEventKind,
        detail: serde_json::Value,
        now: i64,
    ) -> ControlResult<()> {
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM channels WHERE id = $1")
            .bind(channel_id.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
        if exists.is_none() {
            return Err(ControlError::NotFound("channel"));
        }
        let kept = i64::from(self.config.live.events_kept_per_channel.max(1));
        let detail =
            serde_json::to_string(&detail).map_err(|e| ControlError::Internal(e.to_string()))?;
        let _guard = self.channel_events_lock.lock().await;
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO channel_events (id, channel_id, seq, kind, at, detail) \
             SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5 FROM channel_events WHERE channel_id = $2",
        )
        .bind(new_id())
        .bind(channel_id.to_owned())
        .bind(kind.as_str())
        .bind(now)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM channel_events WHERE channel_id = $1 AND seq <= \
             (SELECT seq FROM channel_events WHERE channel_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)",
        )
        .bind(channel_id.to_owned())
        .bind(kept)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The events of a channel, newest first; needs `ReadChannel` in the channel's scope.
    pub async fn channel_events_for(
        &self,
        actor: &Actor,
        channel_id: &str,
        page: PageRequest,
    ) -> ControlResult<Page<ChannelEvent>> {
        self.channel_for(actor, channel_id).await?;
        self.channel_events(channel_id, page).await
    }

    /// The events of a channel, newest first, without a permission check (in-process callers).
    pub async fn channel_events(
        &self,
        channel_id: &str,
        page: PageRequest,
    ) -> ControlResult<Page<ChannelEvent>> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM channel_events WHERE channel_id = $1")
                .bind(channel_id.to_owned())
                .fetch_one(self.db.pool())
                .await?;
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, channel_id, kind, at, detail FROM channel_events WHERE channel_id = $1 \
             ORDER BY seq DESC, id LIMIT $2 OFFSET $3",
        )
        .bind(channel_id.to_owned())
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        Ok(Page::new(
            page,
            rows.into_iter().map(EventRow::into_event).collect(),
            total,
        ))
    }

    /// The newest `error` or `refused` event of a channel, if any.
    pub async fn last_channel_problem(
        &self,
        channel_id: &str,
    ) -> ControlResult<Option<ChannelEvent>> {
        let row: Option<EventRow> = sqlx::query_as(
            "SELECT id, channel_id, kind, at, detail FROM channel_events \
             WHERE channel_id = $1 AND (kind = $2 OR kind = $3) ORDER BY seq DESC, id LIMIT 1",
        )
        .bind(channel_id.to_owned())
        .bind(ChannelEventKind::Error.as_str())
        .bind(ChannelEventKind::Refused.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(EventRow::into_event))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: ChannelEventKind, detail: serde_json::Value) -> ChannelEvent {
        ChannelEvent {
            id: "e".into(),
            channel_id: "c".into(),
            kind,
            at: 0,
            detail,
        }
    }

    #[test]
    fn event_kinds_round_trip_through_their_identifiers_and_serde() {
        use ChannelEventKind::*;
        for kind in [Started, Reconnected, Stopped, Refused, Error, Recorded] {
            assert_eq!(ChannelEventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        assert_eq!(ChannelEventKind::parse("exploded"), None);
        assert!(Error.is_problem() && Refused.is_problem() && !Stopped.is_problem());
    }

    #[test]
    fn an_event_message_prefers_the_asked_language_then_falls_back() {
        let both = event(
            ChannelEventKind::Refused,
            json!({"code": "wrong_key", "message_zh": "推流密钥错误", "message_en": "wrong stream key"}),
        );
        assert_eq!(both.message(true), "wrong stream key");
        assert_eq!(both.message(false), "推流密钥错误");
        let english_only = event(
            ChannelEventKind::Error,
            json!({"message_en": "decoder failed"}),
        );
        assert_eq!(english_only.message(false), "decoder failed");
        let code_only = event(ChannelEventKind::Error, json!({"code": "encoder_stalled"}));
        assert_eq!(code_only.message(true), "encoder_stalled");
        assert_eq!(
            event(ChannelEventKind::Error, json!(null)).message(true),
            "error"
        );
    }
}
