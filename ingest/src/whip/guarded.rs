//! The WebRTC stack (str0m) behind a guard, for the publisher and viewer
//! peers alike: every call that can fail on hostile input is made inside
//! `catch_unwind`, so a bug in the stack ends one peer, never the server.
//! What the peers do with the stack's outputs stays theirs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use str0m::{Event, Input, Output, Rtc};

use super::peer::Transmit;
use crate::publish::EndReason;

/// One output of the stack.
pub(crate) enum Polled {
    /// Nothing more until then.
    Timeout(Instant),
    /// A datagram to send.
    Transmit(Transmit),
    /// Something happened (boxed: an event with media is large).
    Event(Box<Event>),
    /// The stack failed: the peer must close for this reason.
    Failed(EndReason),
}

/// The stack's next output.
pub(crate) fn poll(rtc: &mut Rtc) -> Polled {
    match catch_unwind(AssertUnwindSafe(|| rtc.poll_output())) {
        Ok(Ok(Output::Timeout(at))) => Polled::Timeout(at),
        Ok(Ok(Output::Transmit(t))) => Polled::Transmit(Transmit {
            source: t.source,
            destination: t.destination,
            contents: t.contents.to_vec(),
        }),
        Ok(Ok(Output::Event(event))) => Polled::Event(Box::new(event)),
        Ok(Err(e)) => Polled::Failed(EndReason::Transport(e.to_string())),
        Err(_) => Polled::Failed(EndReason::Protocol("the WebRTC stack failed".into())),
    }
}

/// Gives the stack `input`. A datagram it refuses (garbage, replay) is not
/// fatal; only a failure of the stack itself is (the reason to close).
pub(crate) fn handle(rtc: &mut Rtc, input: Input<'_>) -> Result<(), EndReason> {
    match catch_unwind(AssertUnwindSafe(|| rtc.handle_input(input))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "WebRTC input refused");
            Ok(())
        }
        Err(_) => Err(EndReason::Protocol(
            "the WebRTC stack failed on input".into(),
        )),
    }
}

/// Tells the remote peer the session is over (`who` names it in the log
/// should the stack fail doing so).
pub(crate) fn disconnect(rtc: &mut Rtc, who: &str) {
    if catch_unwind(AssertUnwindSafe(|| rtc.disconnect())).is_err() {
        tracing::warn!("WebRTC stack failed while disconnecting a {who}");
    }
}
