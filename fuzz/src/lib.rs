//! yanxiu-fuzz: fuzz targets for what the live ingest parses from the
//! network: RTMP handshake and chunk stream (`rml_rtmp`), AMF0 commands and
//! `onMetaData`, FLV video/audio tag bodies with the H.264 avcC and AAC
//! AudioSpecificConfig inside them, WHIP and WHEP offers and WebRTC video
//! frames.
//!
//! Each target is a pure function over `&[u8]` that must never panic; it
//! asserts cheap invariants (slices inside their body, serialize/parse
//! round trips, plausible metadata). They run three ways:
//! - `fuzz/tests/smoke.rs` (every `cargo test`): each target over every
//!   seed in `fuzz/corpus/`, then a bounded deterministic mutation loop
//!   ([`mutate`]), then each libFuzzer bin briefly;
//! - `scripts/fuzz.sh TARGET [SECONDS]`: the libFuzzer bins in
//!   `fuzz_targets/` with coverage instrumentation on stable Rust;
//! - `cargo fuzz run TARGET` from `fuzz/` with a nightly toolchain.
//!
//! - [`media`]: [`flv_video_tag`], [`flv_audio_tag`].
//! - [`amf0`](mod@amf0): [`amf0()`](fn@amf0).
//! - [`rtmp`]: [`rtmp_server_session`], [`rtmp_server_session_after_handshake`];
//!   their input is cut into socket reads by [`reads`]; [`known_bugs`] lists
//!   the protocol crate's panics they tolerate.
//! - [`webrtc`]: [`whip_offer`], [`webrtc_video_frame`], [`whep_offer`]
//!   (the WHIP offer checks, the WebRTC video frame assembly, the answer
//!   to a WHEP player's offer).

pub mod amf0;
pub mod known_bugs;
pub mod media;
pub mod mutate;
pub mod reads;
pub mod rtmp;
pub mod webrtc;

pub use amf0::amf0;
pub use media::{flv_audio_tag, flv_video_tag};
pub use rtmp::{rtmp_server_session, rtmp_server_session_after_handshake};
pub use webrtc::{webrtc_video_frame, whep_offer, whip_offer};

/// A fuzz target: a name (its bin and its corpus directory) and its function.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Bin name in `fuzz_targets/` and directory name in `corpus/`.
    pub name: &'static str,
    /// Runs one input; panics on a bug.
    pub run: fn(&[u8]),
    /// Deterministic mutations the smoke test runs: fewer for a target
    /// that negotiates a whole WebRTC session (a DTLS key) per input.
    pub smoke_mutations: usize,
}

/// Mutations per target in the smoke test, for targets that are cheap.
const SMOKE_MUTATIONS: usize = 50_000;

/// Every target, in the order the README lists them.
pub const TARGETS: [Target; 8] = [
    Target {
        name: "flv_video_tag",
        run: flv_video_tag,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "flv_audio_tag",
        run: flv_audio_tag,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "amf0",
        run: amf0,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "rtmp_server_session",
        run: rtmp_server_session,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "rtmp_server_session_after_handshake",
        run: rtmp_server_session_after_handshake,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "whip_offer",
        run: whip_offer,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "webrtc_video_frame",
        run: webrtc_video_frame,
        smoke_mutations: SMOKE_MUTATIONS,
    },
    Target {
        name: "whep_offer",
        run: whep_offer,
        smoke_mutations: 5_000,
    },
];
