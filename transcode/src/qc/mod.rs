//! Technical QC of a source: black segments, frozen picture, silence, EBU
//! R128 loudness (integrated, range, true peak), clipping, audio/video
//! start offset and duration mismatch, and sampled sharpness and
//! blockiness, judged against lecture-aware thresholds into coded findings.
//!
//! The analysers ([`picture`], [`sound`], [`analyser`]) and the rules
//! ([`findings`]) are pure: decoded luma planes and float samples with
//! their times in, a [`QcReport`] out; no IO, no clock. [`plot`] draws the
//! report as SVG. [`tap`] is the thin driver that feeds them from the
//! frames the transcode pipeline decodes anyway (no second decode), or
//! from a decode of its own for `yanxiu qc FILE`.

pub mod analyser;
pub mod findings;
pub mod picture;
pub mod plot;
pub mod quality;
pub mod report;
pub mod segments;
pub mod sound;
pub mod tap;
pub mod thresholds;

pub use analyser::QcAnalyser;
pub use findings::{Finding, Severity};
pub use report::QcReport;
pub use segments::Segment;
pub use thresholds::QcThresholds;
