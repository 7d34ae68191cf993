//! Which decoded pictures the encoded live rungs turn into keyframes, pure
//! (no IO, no clock; times are arguments, in 90 kHz ticks of the repaired
//! timeline).
//!
//! Two policies:
//!
//! - **Grid** (no passthrough): a keyframe at the first picture at or after
//!   every multiple of the GOP length ([`KeyframeGrid`]).
//! - **Aligned to the source** (with passthrough): the passthrough rendition
//!   can only cut segments at the source's keyframes, so the rungs put their
//!   keyframes exactly on the source keyframes (same presentation times) and
//!   every rendition cuts at the same instants. When the source goes more
//!   than two GOPs without a keyframe (a long or broken encoder GOP), the
//!   rungs cannot wait: the picture that reaches two GOPs after the last
//!   keyframe becomes one, then one every GOP after it, until the source's
//!   next keyframe (which is always a rung keyframe too).
//!
//! Every rung receives the same decision, so the encoded rungs are always
//! aligned with each other.

use std::collections::VecDeque;

use crate::timing::{KeyframeGrid, VIDEO_TIMESCALE};

/// Source keyframes remembered while waiting for their pictures (a decoder
/// holds at most a few pictures back for reordering; older entries are
/// pictures that never decoded).
const PENDING_SOURCE_KEYFRAMES: usize = 16;

/// The keyframe decisions for the encoded rungs of one live transcode.
#[derive(Debug, Clone)]
pub struct RungKeyframes {
    policy: Policy,
}

#[derive(Debug, Clone)]
enum Policy {
    Grid(KeyframeGrid),
    Aligned(Aligned),
}

#[derive(Debug, Clone)]
struct Aligned {
    gop_ticks: i64,
    tolerance: i64,
    /// Presentation times of source keyframes not yet decoded.
    pending: VecDeque<i64>,
    /// The last rung keyframe, and whether it was a source keyframe.
    last: Option<(i64, bool)>,
}

/// Why a picture is (or is not) a rung keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyframeDecision {
    /// Not a keyframe.
    Inter,
    /// A keyframe on the GOP grid (no passthrough, or the source's keyframe
    /// is overdue).
    Grid,
    /// A keyframe at a source keyframe (same presentation time as the
    /// passthrough's sync sample).
    Source,
}

impl KeyframeDecision {
    /// Whether the picture must start a closed GOP.
    pub fn is_keyframe(self) -> bool {
        !matches!(self, Self::Inter)
    }
}

impl RungKeyframes {
    /// Keyframes on a grid of `gop_seconds` starting at 0, for pictures of
    /// about `frame_rate` per second.
    pub fn grid(gop_seconds: f64, frame_rate: f64) -> Self {
        Self {
            policy: Policy::Grid(KeyframeGrid::new(gop_seconds, frame_rate, VIDEO_TIMESCALE)),
        }
    }

    /// Keyframes on the source's keyframes, with a keyframe every
    /// `gop_seconds` once the source has gone two GOPs without one.
    pub fn aligned(gop_seconds: f64, frame_rate: f64) -> Self {
        let ts = f64::from(VIDEO_TIMESCALE);
        Self {
            policy: Policy::Aligned(Aligned {
                gop_ticks: ((gop_seconds * ts).round() as i64).max(1),
                tolerance: ((ts / frame_rate.max(1.0)) / 2.0).round() as i64,
                pending: VecDeque::new(),
                last: None,
            }),
        }
    }

    /// Notes a source keyframe entering the decoder, with its presentation
    /// time (the passthrough sample's). Ignored by the grid policy.
    pub fn source_keyframe(&mut self, pts: i64) {
        if let Policy::Aligned(a) = &mut self.policy {
            if a.pending.len() == PENDING_SOURCE_KEYFRAMES {
                a.pending.pop_front();
            }
            a.pending.push_back(pts);
        }
    }

    /// The decision for the next decoded picture (presentation order).
    pub fn decide(&mut self, pts: i64) -> KeyframeDecision {
        match &mut self.policy {
            Policy::Grid(grid) => {
                if grid.is_keyframe(pts) {
                    KeyframeDecision::Grid
                } else {
                    KeyframeDecision::Inter
                }
            }
            Policy::Aligned(a) => a.decide(pts),
        }
    }
}

impl Aligned {
    fn decide(&mut self, pts: i64) -> KeyframeDecision {
        // Source keyframes before this picture never came out of the decoder.
        while self.pending.front().is_some_and(|&k| k < pts) {
            self.pending.pop_front();
        }
        let decision = if self.pending.front() == Some(&pts) {
            self.pending.pop_front();
            KeyframeDecision::Source
        } else {
            match self.last {
                // The first picture always starts a GOP.
                None => KeyframeDecision::Grid,
                Some((last, was_source)) => {
                    let limit = if was_source {
                        2 * self.gop_ticks
                    } else {
                        self.gop_ticks
                    };
                    if pts - last + self.tolerance >= limit {
                        KeyframeDecision::Grid
                    } else {
                        KeyframeDecision::Inter
                    }
                }
            }
        };
        if decision.is_keyframe() {
            self.last = Some((pts, decision == KeyframeDecision::Source));
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: i64 = 3000;

    /// Runs `frames` pictures at 30 fps; source keyframes at `source`
    /// (frame numbers); returns the rung keyframes (frame numbers).
    fn aligned_keys(frames: i64, source: &[i64]) -> Vec<i64> {
        let mut k = RungKeyframes::aligned(2.0, 30.0);
        (0..frames)
            .filter(|&n| {
                if source.contains(&n) {
                    k.source_keyframe(n * FRAME);
                }
                k.decide(n * FRAME).is_keyframe()
            })
            .collect()
    }

    #[test]
    fn rung_keyframes_are_exactly_the_source_keyframes_when_the_source_gop_is_regular() {
        assert_eq!(aligned_keys(240, &[0, 60, 120, 180]), vec![0, 60, 120, 180]);
    }

    #[test]
    fn an_irregular_source_gop_up_to_two_gops_is_followed_exactly() {
        let source = [0, 45, 59, 100, 219];
        assert_eq!(aligned_keys(240, &source), source.to_vec());
    }

    #[test]
    fn a_source_gop_longer_than_two_gops_gets_grid_keyframes_until_the_next_source_keyframe() {
        // Source keyframes every 10 s, GOP 2 s: forced at 4 s, 6 s, 8 s.
        assert_eq!(aligned_keys(400, &[0, 300]), vec![0, 120, 180, 240, 300]);
    }

    #[test]
    fn source_keyframes_are_matched_in_presentation_order_despite_decoder_delay() {
        let mut k = RungKeyframes::aligned(2.0, 30.0);
        // The decoder holds two pictures: keyframes at 0 and 45 enter before
        // pictures 0..=45 come out.
        k.source_keyframe(0);
        k.source_keyframe(45 * FRAME);
        let keys: Vec<i64> = (0..60)
            .filter(|&n| k.decide(n * FRAME) == KeyframeDecision::Source)
            .collect();
        assert_eq!(keys, vec![0, 45]);
    }

    #[test]
    fn a_source_keyframe_that_never_decodes_is_forgotten() {
        let mut k = RungKeyframes::aligned(2.0, 30.0);
        k.source_keyframe(0);
        assert!(k.decide(0).is_keyframe());
        // The keyframe at frame 30 was corrupt: no picture at its time.
        k.source_keyframe(30 * FRAME + 7);
        assert_eq!(k.decide(31 * FRAME), KeyframeDecision::Inter);
        k.source_keyframe(60 * FRAME);
        assert_eq!(k.decide(60 * FRAME), KeyframeDecision::Source);
    }

    #[test]
    fn without_passthrough_keyframes_stay_on_the_grid_whatever_the_source_does() {
        let mut k = RungKeyframes::grid(2.0, 30.0);
        let keys: Vec<i64> = (0..200)
            .filter(|&n| {
                k.source_keyframe(n * FRAME);
                k.decide(n * FRAME).is_keyframe()
            })
            .collect();
        assert_eq!(keys, vec![0, 60, 120, 180]);
    }
}
