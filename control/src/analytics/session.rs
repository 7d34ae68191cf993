//! One playback (a player's mount on a resource or channel) folded from its events, without IO
//! and without a clock (`now` is an argument).
//!
//! Watched time is the union of the stretches of the timeline the player really moved through
//! while playing: between two consecutive events of a playing player, the passage from the
//! earlier position to the later one counts when it is no longer than the player clock allows
//! (at most `max_rate` times the elapsed time, plus a small slack). A skip ahead (a `seek`, or a
//! jump without one) counts nothing of what was skipped; a passage watched twice counts once.
//! A playback can never be credited more than its player clock allows in total, and the player
//! clock can never run ahead of the server's clock since the playback began. For live channels
//! there is no timeline: the time spent playing counts, with gaps capped.

use crate::analytics::events::{Event, EventKind, EventRefused};
use crate::analytics::intervals::IntervalSet;

/// The rules a fold applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldRules {
    /// The fastest playback speed that still counts as watching (the player offers up to 2×).
    pub max_rate: f64,
    /// Allowance for timer jitter between two events (ms).
    pub slack_ms: i64,
    /// The video's duration (ms), when known; watched stretches are clipped to it.
    pub duration_ms: Option<i64>,
    /// True for live channels (time counts, not the timeline).
    pub live: bool,
    /// Longest gap between two events of a live playback that still counts whole (ms).
    pub max_live_gap_ms: i64,
}

/// The state of one playback, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionState {
    /// Server time (ms) at which the player clock read zero.
    pub anchor_at: i64,
    /// Highest sequence number applied (0: none yet).
    pub last_seq: i64,
    /// Player clock of the first event applied.
    pub first_elapsed_ms: i64,
    /// Player clock of the last event applied.
    pub last_elapsed_ms: i64,
    /// Position after the last event applied (ms).
    pub last_position_ms: i64,
    /// Whether the player was playing after the last event.
    pub playing: bool,
    /// Whether an `end` arrived.
    pub ended: bool,
    /// Events applied.
    pub events: i64,
    /// The watched stretches of the timeline (VOD).
    pub watched: IntervalSet,
    /// Everything credited so far, before the union (ms): bounded by the player clock.
    pub credited_ms: i64,
    /// Time spent playing (live, ms).
    pub live_ms: i64,
}

/// What one batch did to a playback.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// New events applied.
    pub accepted: usize,
    /// Events seen before (same or lower sequence number), ignored.
    pub duplicates: usize,
    /// Stretches of the timeline this batch credited (VOD).
    pub added: IntervalSet,
}

impl SessionState {
    /// The watched time (ms): the union of watched stretches within the duration, or the
    /// time spent playing a live channel.
    pub fn watched_ms(&self, rules: &FoldRules) -> i64 {
        if rules.live {
            self.live_ms
        } else {
            match rules.duration_ms {
                Some(d) if d > 0 => self.watched.total_within(d),
                _ => self.watched.total(),
            }
        }
    }

    /// Checks the player clock of `events` against the server's: `now` is when the batch
    /// arrived, `issued_at` when the playback token was issued, `tolerance_ms` the allowed
    /// drift. A new playback is anchored so that its newest event happened now; it may not
    /// reach back before the token existed. A known playback's events may not claim to have
    /// happened after now. Returns the anchor to keep.
    pub fn check_clock(
        &self,
        events: &[Event],
        now: i64,
        issued_at: i64,
        tolerance_ms: i64,
    ) -> Result<i64, EventRefused> {
        let newest = events.iter().map(|e| e.elapsed_ms).max().unwrap_or(0);
        if self.last_seq == 0 {
            let anchor = now - newest;
            if anchor < issued_at - tolerance_ms {
                return Err(EventRefused::Future);
            }
            Ok(anchor)
        } else if self.anchor_at + newest > now + tolerance_ms {
            Err(EventRefused::Future)
        } else {
            Ok(self.anchor_at)
        }
    }

    /// Applies checked `events` (increasing `seq`) under `rules`.
    pub fn apply(&mut self, events: &[Event], rules: &FoldRules) -> Applied {
        let mut out = Applied::default();
        for e in events {
            if e.seq <= self.last_seq {
                out.duplicates += 1;
                continue;
            }
            if self.events == 0 {
                self.first_elapsed_ms = e.elapsed_ms;
                self.last_elapsed_ms = e.elapsed_ms;
            } else if self.playing {
                self.credit(e, rules, &mut out.added);
            }
            self.last_seq = e.seq;
            self.last_elapsed_ms = self.last_elapsed_ms.max(e.elapsed_ms);
            self.last_position_ms = e.position_ms;
            self.events += 1;
            match e.kind {
                EventKind::Start | EventKind::Play | EventKind::Heartbeat => self.playing = true,
                EventKind::Seek => {}
                EventKind::Pause => self.playing = false,
                EventKind::End => {
                    self.playing = false;
                    self.ended = true;
                }
            }
            out.accepted += 1;
        }
        out
    }

    /// Credits the stretch between the last event and `e` if the player clock allows it.
    fn credit(&mut self, e: &Event, rules: &FoldRules, added: &mut IntervalSet) {
        let dt = (e.elapsed_ms - self.last_elapsed_ms).max(0);
        if rules.live {
            let gained = dt.min(rules.max_live_gap_ms);
            self.live_ms += gained;
            self.credited_ms += gained;
            return;
        }
        let reached = match e.kind {
            EventKind::Seek => e.from_ms.unwrap_or(e.position_ms),
            _ => e.position_ms,
        };
        let start = self.last_position_ms;
        let moved = reached - start;
        let step_allowance = (dt as f64 * rules.max_rate) as i64 + rules.slack_ms;
        let since_first = (e.elapsed_ms - self.first_elapsed_ms).max(0);
        let budget = (since_first as f64 * rules.max_rate) as i64 + rules.slack_ms;
        if moved <= 0 || moved > step_allowance || self.credited_ms + moved > budget {
            return;
        }
        let (lo, hi) = match rules.duration_ms {
            Some(d) if d > 0 => (start.clamp(0, d), reached.clamp(0, d)),
            _ => (start.max(0), reached.max(0)),
        };
        self.watched.add(lo, hi);
        added.add(lo, hi);
        self.credited_ms += moved;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: FoldRules = FoldRules {
        max_rate: 2.0,
        slack_ms: 2_000,
        duration_ms: Some(100_000),
        live: false,
        max_live_gap_ms: 60_000,
    };

    fn ev(seq: i64, kind: EventKind, pos_s: i64, at_s: i64) -> Event {
        Event {
            seq,
            kind,
            position_ms: pos_s * 1000,
            from_ms: None,
            elapsed_ms: at_s * 1000,
        }
    }

    fn seek(seq: i64, from_s: i64, to_s: i64, at_s: i64) -> Event {
        Event {
            from_ms: Some(from_s * 1000),
            ..ev(seq, EventKind::Seek, to_s, at_s)
        }
    }

    #[test]
    fn watching_straight_through_counts_the_whole_timeline() {
        let mut s = SessionState::default();
        let events: Vec<_> = std::iter::once(ev(1, EventKind::Start, 0, 0))
            .chain((1..=9).map(|i| ev(i + 1, EventKind::Heartbeat, i * 10, i * 10)))
            .chain(std::iter::once(ev(11, EventKind::End, 100, 100)))
            .collect();
        s.apply(&events, &RULES);
        assert_eq!(s.watched_ms(&RULES), 100_000);
        assert!(s.ended && !s.playing);
    }

    #[test]
    fn skipping_ahead_counts_nothing_of_what_was_skipped() {
        let mut s = SessionState::default();
        s.apply(
            &[
                ev(1, EventKind::Start, 0, 0),
                ev(2, EventKind::Heartbeat, 10, 10),
                seek(3, 12, 70, 12),
                ev(4, EventKind::Heartbeat, 80, 22),
            ],
            &RULES,
        );
        assert_eq!(s.watched.pairs(), &[(0, 12_000), (70_000, 80_000)]);
        assert_eq!(s.watched_ms(&RULES), 22_000);
    }

    #[test]
    fn a_jump_without_a_seek_event_counts_nothing() {
        let mut s = SessionState::default();
        s.apply(
            &[
                ev(1, EventKind::Start, 0, 0),
                ev(2, EventKind::Heartbeat, 60, 10),
            ],
            &RULES,
        );
        assert_eq!(s.watched_ms(&RULES), 0);
    }

    #[test]
    fn watching_a_passage_again_after_seeking_back_counts_it_once() {
        let mut s = SessionState::default();
        s.apply(
            &[
                ev(1, EventKind::Start, 0, 0),
                ev(2, EventKind::Heartbeat, 20, 20),
                seek(3, 20, 5, 20),
                ev(4, EventKind::Heartbeat, 25, 40),
            ],
            &RULES,
        );
        assert_eq!(s.watched_ms(&RULES), 25_000);
    }

    #[test]
    fn paused_time_counts_nothing() {
        let mut s = SessionState::default();
        s.apply(
            &[
                ev(1, EventKind::Start, 0, 0),
                ev(2, EventKind::Pause, 10, 10),
                seek(3, 10, 50, 500),
                ev(4, EventKind::Play, 50, 600),
                ev(5, EventKind::Heartbeat, 60, 610),
            ],
            &RULES,
        );
        assert_eq!(s.watched.pairs(), &[(0, 10_000), (50_000, 60_000)]);
    }

    #[test]
    fn repeated_batches_are_duplicates_and_change_nothing() {
        let batch = [
            ev(1, EventKind::Start, 0, 0),
            ev(2, EventKind::Heartbeat, 10, 10),
        ];
        let mut s = SessionState::default();
        let first = s.apply(&batch, &RULES);
        let before = s.clone();
        let again = s.apply(&batch, &RULES);
        assert_eq!((first.accepted, first.duplicates), (2, 0));
        assert_eq!((again.accepted, again.duplicates), (0, 2));
        assert_eq!(s, before);
        assert!(again.added.is_empty());
    }

    #[test]
    fn a_forged_burst_of_seeks_cannot_beat_the_player_clock() {
        // Each step moves within the per-step slack, but the clock hardly moves.
        let mut s = SessionState::default();
        let mut events = vec![ev(1, EventKind::Start, 0, 0)];
        for i in 1..50 {
            events.push(Event {
                seq: i + 1,
                kind: EventKind::Heartbeat,
                position_ms: i * 2_000,
                from_ms: None,
                elapsed_ms: i,
            });
        }
        s.apply(&events, &RULES);
        assert!(s.watched_ms(&RULES) <= RULES.slack_ms, "{s:?}");
    }

    #[test]
    fn a_live_playback_counts_time_spent_playing_with_gaps_capped() {
        let rules = FoldRules {
            live: true,
            duration_ms: None,
            ..RULES
        };
        let mut s = SessionState::default();
        s.apply(
            &[
                ev(1, EventKind::Start, 100, 0),
                ev(2, EventKind::Heartbeat, 115, 15),
                ev(3, EventKind::Heartbeat, 600, 600),
                ev(4, EventKind::Pause, 610, 610),
                ev(5, EventKind::Play, 700, 900),
            ],
            &rules,
        );
        assert_eq!(s.watched_ms(&rules), 15_000 + 60_000 + 10_000);
    }

    #[test]
    fn the_player_clock_may_not_run_ahead_of_the_server() {
        let fresh = SessionState::default();
        let events = [ev(1, EventKind::Start, 0, 30)];
        // Token issued 10 s ago, the clock claims 30 s: refused; with 60 s it is fine.
        assert_eq!(
            fresh.check_clock(&events, 100_000, 90_000, 5_000),
            Err(EventRefused::Future)
        );
        assert_eq!(
            fresh.check_clock(&events, 100_000, 40_000, 5_000),
            Ok(70_000)
        );
        let known = SessionState {
            anchor_at: 70_000,
            last_seq: 1,
            ..Default::default()
        };
        let later = [ev(2, EventKind::Heartbeat, 10, 40)];
        assert_eq!(
            known.check_clock(&later, 100_000, 40_000, 5_000),
            Err(EventRefused::Future)
        );
        assert_eq!(
            known.check_clock(&later, 112_000, 40_000, 5_000),
            Ok(70_000)
        );
    }
}
