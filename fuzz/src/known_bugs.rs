//! Panics of the protocol crate (`rml_rtmp` 0.8, unmaintained) that the
//! fuzzer found and that we cannot fix here. The RTMP targets treat them
//! as "the connection ends" (what the ingest's connection task does: tokio
//! catches a panicking task) so fuzzing can go on past them; any other
//! panic still fails the run. `fuzz/regressions/` holds one input each,
//! and the smoke test checks they still panic, so the exception goes away
//! when the crate is fixed or replaced.

use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::Once;

/// A known panic, recognised by its location or a function on the panicking stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPanic {
    /// Short stable name, also the regression file's name.
    pub name: &'static str,
    /// Text found in the panic's location (`file:line:column`) or in the
    /// source lines of its backtrace: a line of `rml_rtmp`.
    pub marker: &'static str,
}

/// Every tolerated panic.
pub const KNOWN_PANICS: [KnownPanic; 4] = [
    // `arguments.drain(..3)` on an AMF0 command message (type 20) with
    // fewer than three values: any client can send one, before connect.
    KnownPanic {
        name: "rml-rtmp-short-amf0-command",
        // The location is in `core` (slice indexing); the stack's source
        // lines say where (function names of inlined frames are short).
        marker: "rml_rtmp-0.8.0/src/messages/types/amf0_command.rs:35:",
    },
    // `message_length - collected` underflows when a type 1 chunk header
    // shrinks the length of a message below what was already collected:
    // a panic with overflow checks, unbounded buffering of that message
    // without them (release builds).
    KnownPanic {
        name: "rml-rtmp-chunk-length-underflow",
        // The subtraction is inlined in optimised builds: use the location.
        marker: "rml_rtmp-0.8.0/src/chunk_io/deserializer.rs:371:",
    },
    // `data.remove(1)` on an `@setDataFrame` data message without a value
    // after the name, on a publishing stream (after the key was accepted).
    KnownPanic {
        name: "rml-rtmp-short-set-data-frame",
        marker: "rml_rtmp-0.8.0/src/sessions/server/mod.rs:967:",
    },
    // `timestamp - MAX_INITIAL_TIMESTAMP` underflows when a type 3 chunk
    // starting a message carries an extended timestamp below 0xFFFFFF:
    // a panic with overflow checks, a wrapped timestamp without them.
    KnownPanic {
        name: "rml-rtmp-extended-timestamp-underflow",
        marker: "rml_rtmp-0.8.0/src/chunk_io/deserializer.rs:358:",
    },
];

thread_local! {
    /// The known panic this thread raised last, until taken.
    static LAST_KNOWN: Cell<Option<KnownPanic>> = const { Cell::new(None) };
}

/// Installs (once per process) a panic hook in front of the current one
/// (libFuzzer's, which aborts, or the default): a known panic is recorded
/// for [`take_known_panic`] and unwinds quietly; any other goes to the
/// previous hook.
pub fn install_panic_filter() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map(ToString::to_string).unwrap_or_default();
            let known = KNOWN_PANICS.iter().find(|k| location.contains(k.marker));
            let known = known.or_else(|| {
                let stack = Backtrace::force_capture().to_string();
                KNOWN_PANICS.iter().find(|k| stack.contains(k.marker))
            });
            match known {
                Some(known) => LAST_KNOWN.with(|last| last.set(Some(*known))),
                None => previous(info),
            }
        }));
    });
}

/// The known panic this thread raised since the last call, if any.
pub fn take_known_panic() -> Option<KnownPanic> {
    LAST_KNOWN.with(Cell::take)
}
