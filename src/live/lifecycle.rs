//! The lifecycle of one channel's live session, pure (no IO, no clock: time
//! is an argument in milliseconds): a publish starts a session; a publisher
//! that drops opens the reconnect window; a publish within the window
//! continues the same session (same playlists, same recording); the window
//! running out ends it. A publish that replaces a live publisher (the
//! encoder reconnected before the old connection was noticed dead) also
//! continues the session.

use uuid::Uuid;

/// Where a channel's session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No session.
    Idle,
    /// A publisher is sending.
    Live {
        /// The publish sending now.
        publisher: Uuid,
    },
    /// The publisher dropped; the session waits for it until `deadline_ms`.
    Reconnecting {
        /// When the session ends if nobody publishes.
        deadline_ms: i64,
    },
    /// The session is over.
    Ended,
}

/// What the driver must do after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Start a new session with this publisher.
    Start,
    /// The publisher continues the running session (a reconnect).
    Continue {
        /// Milliseconds the session went without a publisher (0 when it
        /// replaced a live one).
        gap_ms: i64,
    },
    /// The publisher dropped: keep everything and wait until the deadline.
    Wait {
        /// When to end the session.
        deadline_ms: i64,
    },
    /// End the session now.
    End,
    /// Nothing to do (e.g. the end of a publisher already replaced).
    Nothing,
}

/// The session lifecycle of one channel.
#[derive(Debug, Clone)]
pub struct SessionLifecycle {
    window_ms: i64,
    phase: Phase,
    dropped_at_ms: Option<i64>,
    reconnects: u32,
}

impl SessionLifecycle {
    /// A lifecycle whose reconnect window is `window_ms`.
    pub fn new(window_ms: i64) -> Self {
        Self {
            window_ms: window_ms.max(0),
            phase: Phase::Idle,
            dropped_at_ms: None,
            reconnects: 0,
        }
    }

    /// Where the session stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Publisher reconnects the session has had.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// A publish on the channel was accepted.
    pub fn published(&mut self, publisher: Uuid, now_ms: i64) -> Step {
        let step = match self.phase {
            Phase::Idle => Step::Start,
            Phase::Live { .. } => Step::Continue { gap_ms: 0 },
            Phase::Reconnecting { .. } => Step::Continue {
                gap_ms: now_ms - self.dropped_at_ms.unwrap_or(now_ms),
            },
            // An ended session takes no more publishers; the caller starts a new lifecycle.
            Phase::Ended => return Step::Nothing,
        };
        if matches!(step, Step::Continue { .. }) {
            self.reconnects += 1;
        }
        self.phase = Phase::Live { publisher };
        self.dropped_at_ms = None;
        step
    }

    /// The publish `publisher` ended (closed, unpublished, cut off). Ignored
    /// unless it is the live one (a replaced publisher ending is normal).
    pub fn publisher_ended(&mut self, publisher: Uuid, now_ms: i64) -> Step {
        match self.phase {
            Phase::Live { publisher: live } if live == publisher => {
                if self.window_ms == 0 {
                    self.phase = Phase::Ended;
                    return Step::End;
                }
                let deadline_ms = now_ms + self.window_ms;
                self.phase = Phase::Reconnecting { deadline_ms };
                self.dropped_at_ms = Some(now_ms);
                Step::Wait { deadline_ms }
            }
            _ => Step::Nothing,
        }
    }

    /// Time passed; ends the session once the reconnect window ran out.
    pub fn tick(&mut self, now_ms: i64) -> Step {
        match self.phase {
            Phase::Reconnecting { deadline_ms } if now_ms >= deadline_ms => {
                self.phase = Phase::Ended;
                Step::End
            }
            _ => Step::Nothing,
        }
    }

    /// The server is stopping: end the session whatever its phase.
    pub fn shutdown(&mut self) -> Step {
        match self.phase {
            Phase::Idle | Phase::Ended => {
                self.phase = Phase::Ended;
                Step::Nothing
            }
            _ => {
                self.phase = Phase::Ended;
                Step::End
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: i64 = 30_000;

    #[test]
    fn the_first_publish_starts_a_session() {
        let mut life = SessionLifecycle::new(WINDOW);
        assert_eq!(life.published(Uuid::new_v4(), 0), Step::Start);
        assert!(matches!(life.phase(), Phase::Live { .. }));
    }

    #[test]
    fn a_publisher_back_within_the_window_continues_the_session() {
        let mut life = SessionLifecycle::new(WINDOW);
        let first = Uuid::new_v4();
        life.published(first, 0);
        assert_eq!(
            life.publisher_ended(first, 10_000),
            Step::Wait {
                deadline_ms: 40_000
            }
        );
        assert_eq!(life.tick(39_999), Step::Nothing);
        assert_eq!(
            life.published(Uuid::new_v4(), 15_000),
            Step::Continue { gap_ms: 5_000 }
        );
        assert_eq!(life.tick(50_000), Step::Nothing, "live again: no deadline");
        assert_eq!(life.reconnects(), 1);
    }

    #[test]
    fn the_session_ends_when_the_window_runs_out() {
        let mut life = SessionLifecycle::new(WINDOW);
        let first = Uuid::new_v4();
        life.published(first, 0);
        life.publisher_ended(first, 1_000);
        assert_eq!(life.tick(31_000), Step::End);
        assert_eq!(life.phase(), Phase::Ended);
        assert_eq!(life.published(Uuid::new_v4(), 31_001), Step::Nothing);
    }

    #[test]
    fn a_replacing_publish_continues_and_the_replaced_ones_end_is_ignored() {
        let mut life = SessionLifecycle::new(WINDOW);
        let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
        life.published(old, 0);
        assert_eq!(life.published(new, 5_000), Step::Continue { gap_ms: 0 });
        assert_eq!(life.publisher_ended(old, 5_001), Step::Nothing);
        assert_eq!(life.phase(), Phase::Live { publisher: new });
    }

    #[test]
    fn without_a_window_a_drop_ends_the_session_at_once() {
        let mut life = SessionLifecycle::new(0);
        let only = Uuid::new_v4();
        life.published(only, 0);
        assert_eq!(life.publisher_ended(only, 1), Step::End);
    }

    #[test]
    fn shutdown_ends_a_live_or_waiting_session_but_not_an_idle_one() {
        let mut idle = SessionLifecycle::new(WINDOW);
        assert_eq!(idle.shutdown(), Step::Nothing);
        let mut waiting = SessionLifecycle::new(WINDOW);
        let p = Uuid::new_v4();
        waiting.published(p, 0);
        waiting.publisher_ended(p, 1);
        assert_eq!(waiting.shutdown(), Step::End);
    }
}
