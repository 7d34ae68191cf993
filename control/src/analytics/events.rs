//! The playback events a player reports (`POST /api/v1/playback/events`) and their checks,
//! without IO and without a clock: a batch names its target and its playback (one mount of a
//! player), and carries numbered events with the position in the video and the player's own
//! monotonic clock. A batch is checked whole: one bad event refuses all of it, so a refused
//! request changes nothing.

use serde::{Deserialize, Serialize};

/// What happened in the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Playback began (first event of a playback).
    Start,
    /// Playback resumed after a pause.
    Play,
    /// Still playing (sent every 10–15 s while playing).
    Heartbeat,
    /// The viewer jumped from `from` to `position`.
    Seek,
    /// Playback paused.
    Pause,
    /// Playback ended (the end of the video, or the page was left).
    End,
}

impl EventKind {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Start => "start",
            EventKind::Play => "play",
            EventKind::Heartbeat => "heartbeat",
            EventKind::Seek => "seek",
            EventKind::Pause => "pause",
            EventKind::End => "end",
        }
    }
}

/// One event as the player sends it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EventIn {
    /// 1, 2, 3… within the playback; a number seen before is a duplicate.
    pub seq: i64,
    /// What happened.
    pub kind: EventKind,
    /// Position in the video (seconds); for a seek, where it landed.
    pub position: f64,
    /// For a seek: the position before the jump (seconds).
    #[serde(default)]
    pub from: Option<f64>,
    /// The player's monotonic clock (ms since the playback began).
    pub elapsed_ms: i64,
}

/// The body of `POST /api/v1/playback/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventBatch {
    /// The playback token (or the `events_token` of a public resource's grant).
    pub token: String,
    /// The resource watched (or `channel_id`).
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The live channel watched (or `resource_id`).
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The player's id for this playback (8–64 letters, digits, `-`, `_`), e.g. a UUID.
    pub playback_id: String,
    /// The events, oldest first.
    pub events: Vec<EventIn>,
}

/// A checked event (positions in ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Sequence number (> 0).
    pub seq: i64,
    /// Kind.
    pub kind: EventKind,
    /// Position (ms).
    pub position_ms: i64,
    /// Seek origin (ms).
    pub from_ms: Option<i64>,
    /// Player clock (ms).
    pub elapsed_ms: i64,
}

/// Bounds of a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventLimits {
    /// Most events in one request.
    pub max_events: usize,
    /// How far past the video's duration a position may be (ms): players overshoot a little.
    pub position_tolerance_ms: i64,
    /// Positions allowed when the duration is unknown or the target is live (ms).
    pub max_position_ms: i64,
}

/// The longest playback a player clock may describe: 31 days.
pub const MAX_ELAPSED_MS: i64 = 31 * 24 * 3_600_000;
/// The highest sequence number accepted.
pub const MAX_SEQ: i64 = 10_000_000;

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventRefused {
    /// Neither or both of `resource_id` and `channel_id`.
    #[error("name exactly one of resource_id and channel_id")]
    Target,
    /// The playback id is malformed.
    #[error("playback_id must be 8 to 64 letters, digits, '-' or '_'")]
    PlaybackId,
    /// No events.
    #[error("the batch has no events")]
    Empty,
    /// More events than allowed.
    #[error("at most {max} events per request")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// A sequence number out of range or not increasing.
    #[error("event {index}: seq must be between 1 and {MAX_SEQ} and increase within the batch")]
    Seq {
        /// Index in the batch.
        index: usize,
    },
    /// A position below zero or past the end.
    #[error("event {index}: position {position} s is outside 0 to {max} s")]
    Position {
        /// Index in the batch.
        index: usize,
        /// The position given (s).
        position: f64,
        /// The largest position accepted (s).
        max: f64,
    },
    /// A player clock out of range or going backwards.
    #[error("event {index}: elapsed_ms must be between 0 and {MAX_ELAPSED_MS} and never decrease")]
    Clock {
        /// Index in the batch.
        index: usize,
    },
    /// The player clock runs ahead of the time that has passed on the server.
    #[error("event times run ahead of the time that has passed since the playback began")]
    Future,
}

impl EventRefused {
    /// The zh-CN message.
    pub fn message_zh(&self) -> String {
        match self {
            EventRefused::Target => "须且只能指定 resource_id 或 channel_id 之一".into(),
            EventRefused::PlaybackId => "playback_id 须为 8 到 64 个字母、数字、“-”或“_”".into(),
            EventRefused::Empty => "事件列表为空".into(),
            EventRefused::TooMany { max } => format!("每次最多上报 {max} 个事件"),
            EventRefused::Seq { index } => {
                format!("第 {index} 个事件：seq 须在 1 到 {MAX_SEQ} 之间且在批内递增")
            }
            EventRefused::Position {
                index,
                position,
                max,
            } => format!("第 {index} 个事件：播放位置 {position} 秒超出 0 到 {max} 秒的范围"),
            EventRefused::Clock { index } => {
                format!("第 {index} 个事件：elapsed_ms 须在 0 到 {MAX_ELAPSED_MS} 之间且不得减小")
            }
            EventRefused::Future => "事件时间超前于播放开始以来实际经过的时间".into(),
        }
    }

    /// The English message.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

fn valid_playback_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn seconds_to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

/// Checks a batch against `limits`, for a target `duration_ms` long (`None`: unknown or live)
/// and returns its events in ms. All or nothing.
pub fn check_batch(
    playback_id: &str,
    events: &[EventIn],
    limits: &EventLimits,
    duration_ms: Option<i64>,
) -> Result<Vec<Event>, EventRefused> {
    if !valid_playback_id(playback_id) {
        return Err(EventRefused::PlaybackId);
    }
    if events.is_empty() {
        return Err(EventRefused::Empty);
    }
    if events.len() > limits.max_events {
        return Err(EventRefused::TooMany {
            max: limits.max_events,
        });
    }
    let max_ms = match duration_ms {
        Some(d) if d > 0 => d + limits.position_tolerance_ms,
        _ => limits.max_position_ms,
    };
    let in_range = |s: f64| s.is_finite() && s >= 0.0 && seconds_to_ms(s) <= max_ms;
    let mut out = Vec::with_capacity(events.len());
    let mut last_seq = 0;
    let mut last_elapsed = 0;
    for (index, e) in events.iter().enumerate() {
        if e.seq < 1 || e.seq > MAX_SEQ || e.seq <= last_seq {
            return Err(EventRefused::Seq { index });
        }
        if !(0..=MAX_ELAPSED_MS).contains(&e.elapsed_ms) || e.elapsed_ms < last_elapsed {
            return Err(EventRefused::Clock { index });
        }
        let from = if e.kind == EventKind::Seek {
            e.from
        } else {
            None
        };
        for position in std::iter::once(e.position).chain(from) {
            if !in_range(position) {
                return Err(EventRefused::Position {
                    index,
                    position,
                    max: max_ms as f64 / 1000.0,
                });
            }
        }
        last_seq = e.seq;
        last_elapsed = e.elapsed_ms;
        out.push(Event {
            seq: e.seq,
            kind: e.kind,
            position_ms: seconds_to_ms(e.position),
            from_ms: from.map(seconds_to_ms),
            elapsed_ms: e.elapsed_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: EventLimits = EventLimits {
        max_events: 3,
        position_tolerance_ms: 5_000,
        max_position_ms: MAX_ELAPSED_MS,
    };

    fn ev(seq: i64, kind: EventKind, position: f64, elapsed_ms: i64) -> EventIn {
        EventIn {
            seq,
            kind,
            position,
            from: None,
            elapsed_ms,
        }
    }

    #[test]
    fn a_well_formed_batch_comes_back_in_milliseconds() {
        let mut seek = ev(2, EventKind::Seek, 40.0, 12_000);
        seek.from = Some(12.25);
        let events = [ev(1, EventKind::Start, 0.0, 0), seek];
        let out = check_batch("pb-12345678", &events, &LIMITS, Some(60_000)).expect("ok");
        assert_eq!(out[1].position_ms, 40_000);
        assert_eq!(out[1].from_ms, Some(12_250));
        assert_eq!(out[0].from_ms, None);
    }

    #[test]
    fn positions_past_the_end_or_below_zero_are_refused() {
        for position in [-1.0, 66.0, 1e300] {
            let events = [ev(1, EventKind::Heartbeat, position, 0)];
            assert!(matches!(
                check_batch("pb-12345678", &events, &LIMITS, Some(60_000)),
                Err(EventRefused::Position { index: 0, .. })
            ));
        }
        let within = [ev(1, EventKind::End, 64.0, 0)];
        assert!(check_batch("pb-12345678", &within, &LIMITS, Some(60_000)).is_ok());
    }

    #[test]
    fn a_seek_origin_is_checked_like_a_position() {
        let mut seek = ev(1, EventKind::Seek, 10.0, 0);
        seek.from = Some(-3.0);
        assert!(check_batch("pb-12345678", &[seek], &LIMITS, Some(60_000)).is_err());
    }

    #[test]
    fn sequence_numbers_and_clocks_must_move_forward() {
        let events = [
            ev(2, EventKind::Start, 0.0, 0),
            ev(2, EventKind::Heartbeat, 1.0, 10),
        ];
        assert_eq!(
            check_batch("pb-12345678", &events, &LIMITS, None),
            Err(EventRefused::Seq { index: 1 })
        );
        let events = [
            ev(1, EventKind::Start, 0.0, 100),
            ev(2, EventKind::Heartbeat, 1.0, 10),
        ];
        assert_eq!(
            check_batch("pb-12345678", &events, &LIMITS, None),
            Err(EventRefused::Clock { index: 1 })
        );
    }

    #[test]
    fn batches_are_bounded_and_need_a_sane_playback_id() {
        let events: Vec<_> = (1..=4)
            .map(|i| ev(i, EventKind::Heartbeat, 0.0, i))
            .collect();
        assert_eq!(
            check_batch("pb-12345678", &events, &LIMITS, None),
            Err(EventRefused::TooMany { max: 3 })
        );
        assert_eq!(
            check_batch("pb-12345678", &[], &LIMITS, None),
            Err(EventRefused::Empty)
        );
        for bad in ["short", "has space 123", &"x".repeat(65)] {
            assert_eq!(
                check_batch(bad, &events[..1], &LIMITS, None),
                Err(EventRefused::PlaybackId)
            );
        }
    }

    #[test]
    fn every_refusal_has_both_messages() {
        let all = [
            EventRefused::Target,
            EventRefused::PlaybackId,
            EventRefused::Empty,
            EventRefused::TooMany { max: 1 },
            EventRefused::Seq { index: 0 },
            EventRefused::Position {
                index: 0,
                position: -1.0,
                max: 1.0,
            },
            EventRefused::Clock { index: 0 },
            EventRefused::Future,
        ];
        for e in all {
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
    }
}
