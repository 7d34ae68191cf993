//! Running figures of a live transcode, readable while it runs without
//! locks: the decode and encoder threads bump atomics in a shared
//! [`LiveCounters`]; readers take a [`LiveStats`] snapshot through a
//! cloneable [`LiveStatsHandle`] (for the channel status and metrics).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::LiveReport;

/// A snapshot of a live transcode's running figures. Counters only grow
/// for the life of the transcoder (across publisher reconnects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Video access units received on the input (before any repair).
    pub video_units_received: u64,
    /// Bytes of those video access units (for the input bitrate).
    pub video_bytes_received: u64,
    /// Audio frames received on the input.
    pub audio_units_received: u64,
    /// Bytes of those audio frames.
    pub audio_bytes_received: u64,
    /// Pictures decoded (each is offered to every encoded rung).
    pub video_frames_decoded: u64,
    /// Access units the decoders refused (damage skipped over).
    pub corrupt_units: u64,
    /// Input units dropped: before the start of the timeline, before their
    /// codec configuration, or before the first keyframe of a publisher.
    pub dropped_units: u64,
    /// Timestamp repairs made (wraps, jumps, duplicates, reordering).
    pub repairs: u64,
    /// The last video decode time received, in RTMP milliseconds as the
    /// publisher sent it (32-bit, wrapping); `None` before the first.
    pub last_input_video_dts_ms: Option<u32>,
    /// The last video decode time on the repaired timeline, in 90 kHz
    /// ticks from the start of the transcode; `None` before the first.
    pub last_repaired_video_dts: Option<i64>,
    /// Per output rendition, in the order of [`super::LiveTranscoder::renditions`];
    /// empty until the ladder is planned (first keyframe).
    pub renditions: Vec<RenditionStats>,
}

/// The running figures of one output rendition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenditionStats {
    /// The rendition's name (`source`, `480p`, `audio`...).
    pub name: String,
    /// Samples handed to the rendition's consumer: encoded frames for a
    /// rung, source access units for the passthrough, AAC frames for audio.
    /// The encoders never drop a frame (a slow consumer slows the whole
    /// transcode instead), so for a rung this trails
    /// `video_frames_decoded` only by the pictures in flight.
    pub samples: u64,
}

/// The shared atomics behind [`LiveStats`].
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    pub video_units: AtomicU64,
    pub video_bytes: AtomicU64,
    pub audio_units: AtomicU64,
    pub audio_bytes: AtomicU64,
    pub video_frames: AtomicU64,
    pub corrupt_units: AtomicU64,
    pub dropped_units: AtomicU64,
    pub repairs: AtomicU64,
    /// Raw RTMP dts, or -1 before the first.
    pub last_input_dts: AtomicI64,
    /// Repaired dts, or `i64::MIN` before the first.
    pub last_repaired_dts: AtomicI64,
    renditions: OnceLock<Vec<RenditionCounter>>,
}

/// The sample counter of one rendition.
#[derive(Debug)]
pub(crate) struct RenditionCounter {
    name: String,
    samples: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl LiveCounters {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            last_input_dts: AtomicI64::new(-1),
            last_repaired_dts: AtomicI64::new(i64::MIN),
            ..Self::default()
        })
    }

    /// Declares the renditions (once, when the ladder is planned); returns
    /// false when they were declared already.
    pub fn set_renditions(&self, names: Vec<String>) -> bool {
        self.renditions
            .set(
                names
                    .into_iter()
                    .map(|name| RenditionCounter {
                        name,
                        samples: AtomicU64::new(0),
                    })
                    .collect(),
            )
            .is_ok()
    }

    /// Counts one sample handed to rendition `index`.
    pub fn rendition_sample(&self, index: usize) {
        if let Some(r) = self.renditions.get().and_then(|list| list.get(index)) {
            bump(&r.samples);
        }
    }

    /// The current figures.
    pub fn snapshot(&self) -> LiveStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let input = self.last_input_dts.load(Ordering::Relaxed);
        let repaired = self.last_repaired_dts.load(Ordering::Relaxed);
        LiveStats {
            video_units_received: get(&self.video_units),
            video_bytes_received: get(&self.video_bytes),
            audio_units_received: get(&self.audio_units),
            audio_bytes_received: get(&self.audio_bytes),
            video_frames_decoded: get(&self.video_frames),
            corrupt_units: get(&self.corrupt_units),
            dropped_units: get(&self.dropped_units),
            repairs: get(&self.repairs),
            last_input_video_dts_ms: u32::try_from(input).ok(),
            last_repaired_video_dts: (repaired != i64::MIN).then_some(repaired),
            renditions: self
                .renditions
                .get()
                .map(|list| {
                    list.iter()
                        .map(|r| RenditionStats {
                            name: r.name.clone(),
                            samples: get(&r.samples),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The figures of the final report.
    pub fn report(&self) -> LiveReport {
        let s = self.snapshot();
        LiveReport {
            video_frames: s.video_frames_decoded,
            corrupt_units: s.corrupt_units,
            dropped_units: s.dropped_units,
            repairs: s.repairs,
        }
    }
}

/// A cheap, cloneable reader of a live transcode's running figures; stays
/// valid after the transcoder is finished (it then shows the final figures).
#[derive(Debug, Clone)]
pub struct LiveStatsHandle(pub(crate) Arc<LiveCounters>);

impl LiveStatsHandle {
    /// The current figures (a few relaxed atomic loads, no lock).
    pub fn snapshot(&self) -> LiveStats {
        self.0.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_transcode_reports_no_times_and_no_renditions() {
        let s = LiveCounters::new().snapshot();
        assert_eq!(s, LiveStats::default());
    }

    #[test]
    fn rendition_counters_follow_the_declared_order_and_are_declared_once() {
        let c = LiveCounters::new();
        c.rendition_sample(0);
        assert!(c.set_renditions(vec!["source".into(), "audio".into()]));
        assert!(!c.set_renditions(vec!["other".into()]));
        c.rendition_sample(1);
        c.rendition_sample(1);
        c.rendition_sample(7);
        c.last_input_dts
            .store(i64::from(u32::MAX), Ordering::Relaxed);
        c.last_repaired_dts.store(0, Ordering::Relaxed);
        let s = c.snapshot();
        let names: Vec<(&str, u64)> = s
            .renditions
            .iter()
            .map(|r| (r.name.as_str(), r.samples))
            .collect();
        assert_eq!(names, vec![("source", 0), ("audio", 2)]);
        assert_eq!(s.last_input_video_dts_ms, Some(u32::MAX));
        assert_eq!(s.last_repaired_video_dts, Some(0));
    }
}
