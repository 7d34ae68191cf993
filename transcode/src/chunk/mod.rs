//! Parallel encoding of long sources: the chunk plan (pure), the encoders of
//! one part of a ladder, and the join that turns the parts into one ladder.
//!
//! A long source is cut into chunks of whole segments ([`plan_chunks`]); each
//! chunk is encoded for every video rung by [`encode_part`] on whichever
//! worker claims it: its decoder seeks to the keyframe at or before the
//! chunk's start, drops the pictures before it ([`FrameWindow`]) and stops at
//! its end, so chunk boundaries need not be source keyframes. Pictures keep
//! their source times, so keyframes fall on the same grid as in a single
//! pass, segments carry decode times (`tfdt`) that continue across chunks,
//! and each segment gets its ladder-wide number. The audio is one more part,
//! encoded once over the whole source (no seam). Every part reports a
//! [`PartManifest`]: its segments and the init segment its encoder produced.
//! [`join::join_ladder`] checks the manifests (every segment present, one
//! init per rung, durations adding up) and only then writes the init
//! segments, the media playlists and the master playlist, last.

mod encode;
pub mod join;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use encode::encode_part;
pub use join::{JoinError, growing_parts, join_ladder, publish_growing};

use crate::ladder::LadderPlan;
use crate::source::SourceVideo;
use crate::timing::VIDEO_TIMESCALE;
use crate::{TranscodeError, TranscodeJob, VideoInput};

/// One chunk of a long source: a run of whole segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRange {
    /// Position in the plan, from 0.
    pub index: u32,
    /// Index (from 0) of the chunk's first segment in the ladder.
    pub first_segment: u32,
    /// Segments in the chunk; `None` for the last chunk, which runs to the
    /// end of the source whatever its probed duration said.
    pub segments: Option<u32>,
}

impl ChunkRange {
    /// Start time in seconds.
    pub fn start_seconds(&self, segment_seconds: f64) -> f64 {
        f64::from(self.first_segment) * segment_seconds
    }

    /// End time in seconds; `None` for the last chunk (to the end).
    pub fn end_seconds(&self, segment_seconds: f64) -> Option<f64> {
        self.segments
            .map(|n| f64::from(self.first_segment + n) * segment_seconds)
    }
}

/// Cuts a source of `duration_seconds` into chunks of about
/// `chunk_seconds`, each a whole number of `segment_seconds` segments.
/// Empty when the source is not longer than `threshold_seconds` (or
/// chunking is off: a zero threshold): it is encoded in one pass. A tail
/// shorter than half a chunk joins the chunk before it.
pub fn plan_chunks(
    duration_seconds: f64,
    segment_seconds: f64,
    chunk_seconds: f64,
    threshold_seconds: f64,
) -> Vec<ChunkRange> {
    if threshold_seconds <= 0.0
        || !duration_seconds.is_finite()
        || duration_seconds <= threshold_seconds
        || segment_seconds <= 0.0
    {
        return Vec::new();
    }
    let per_chunk = ((chunk_seconds / segment_seconds).round() as u32).max(1);
    let total = (duration_seconds / segment_seconds).ceil() as u32;
    let mut full = total / per_chunk;
    let tail = total % per_chunk;
    if full == 0 {
        full = 1;
    } else if tail > 0 && tail * 2 >= per_chunk {
        full += 1;
    }
    (0..full)
        .map(|index| ChunkRange {
            index,
            first_segment: index * per_chunk,
            segments: (index + 1 < full).then_some(per_chunk),
        })
        .collect()
}

/// What the decoder does with a picture, given the chunk's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Before the chunk (decoded only to reach it): dropped.
    Drop,
    /// In the chunk.
    Take,
    /// At or past the chunk's end: stop decoding.
    Stop,
}

/// The pictures of one chunk, in ticks of [`VIDEO_TIMESCALE`] from the
/// source's origin. A picture belongs to the chunk whose keyframe grid
/// point it starts, with the keyframe grid's half-frame tolerance (so a
/// 29.97 fps picture just before a boundary opens the next chunk, as it
/// would be the keyframe there in a single pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameWindow {
    start: Option<i64>,
    end: Option<i64>,
    tolerance: i64,
}

impl FrameWindow {
    /// The window of `range`, for frames of about `frame_rate` per second.
    pub fn new(range: &ChunkRange, segment_seconds: f64, frame_rate: f64) -> Self {
        let ticks = |s: f64| (s * f64::from(VIDEO_TIMESCALE)).round() as i64;
        let start = range.start_seconds(segment_seconds);
        Self {
            start: (range.first_segment > 0).then(|| ticks(start)),
            end: range.end_seconds(segment_seconds).map(ticks),
            tolerance: ((f64::from(VIDEO_TIMESCALE) / frame_rate.max(1.0)) / 2.0).round() as i64,
        }
    }

    /// Where the decoder should seek first (microseconds from the origin):
    /// the chunk's start less a frame, `None` for the first chunk.
    pub fn seek_microseconds(&self) -> Option<i64> {
        self.start
            .map(|s| (s - 2 * self.tolerance).max(0) * 1_000_000 / i64::from(VIDEO_TIMESCALE))
    }

    /// What to do with a picture whose source time is `t` (ticks from the
    /// origin); a picture without a time is taken (the clock places it).
    pub fn keep(&self, t: Option<i64>) -> Keep {
        let Some(t) = t else {
            return Keep::Take;
        };
        if self.end.is_some_and(|end| t + self.tolerance >= end) {
            return Keep::Stop;
        }
        if self.start.is_some_and(|start| t + self.tolerance < start) {
            return Keep::Drop;
        }
        Keep::Take
    }
}

/// Which part of a chunked ladder a job encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Part {
    /// Every video rung over one chunk.
    Video {
        /// The chunk.
        range: ChunkRange,
        /// Whether this chunk holds the poster's time (it writes the poster).
        poster: bool,
    },
    /// The audio rendition over the whole source.
    Audio,
}

/// One part of a chunked ladder: everything a worker needs to encode it,
/// as stored in the job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartJob {
    /// The source file.
    pub input: PathBuf,
    /// The source picture (for rotation).
    pub source: SourceVideo,
    /// Index of the video stream.
    pub video_stream: usize,
    /// Index of the audio stream, if any.
    pub audio_stream: Option<usize>,
    /// Source duration in seconds.
    pub duration_seconds: f64,
    /// The whole ladder's plan.
    pub plan: LadderPlan,
    /// Key prefix of the ladder (ends in `/`).
    pub prefix: String,
    /// What to encode.
    pub part: Part,
}

impl PartJob {
    /// The parts of `job` cut at `chunks`: the audio first (when the plan
    /// has audio and the source sound), then every chunk of video. Only a
    /// source with picture is chunked.
    pub fn split(
        job: &TranscodeJob,
        chunks: &[ChunkRange],
    ) -> Result<Vec<PartJob>, TranscodeError> {
        let video = job.video()?;
        let poster_at = crate::pipeline::poster_seconds(job.duration_seconds);
        let segment = job.plan.segment_seconds;
        let make = |part| PartJob {
            input: job.input.clone(),
            source: video.source,
            video_stream: video.stream,
            audio_stream: job.audio_stream,
            duration_seconds: job.duration_seconds,
            plan: job.plan.clone(),
            prefix: job.prefix.clone(),
            part,
        };
        let audio =
            (job.plan.audio.is_some() && job.audio_stream.is_some()).then(|| make(Part::Audio));
        let chunks = chunks.iter().map(|range| {
            let holds_poster = poster_at >= range.start_seconds(segment)
                && range.end_seconds(segment).is_none_or(|end| poster_at < end);
            make(Part::Video {
                range: *range,
                poster: job.poster && holds_poster,
            })
        });
        Ok(audio.into_iter().chain(chunks).collect())
    }

    /// The single-pass job this part is a piece of (no poster, storyboard,
    /// growing playlists or QC).
    pub(crate) fn transcode_job(&self) -> TranscodeJob {
        TranscodeJob {
            input: self.input.clone(),
            video: Some(VideoInput {
                stream: self.video_stream,
                source: self.source,
            }),
            audio_stream: self.audio_stream,
            duration_seconds: self.duration_seconds,
            plan: self.plan.clone(),
            prefix: self.prefix.clone(),
            poster: false,
            storyboard: false,
            growing: false,
            qc: None,
        }
    }
}

/// One media segment a part wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// Ladder-wide number (from 1): the file is `seg-NNNNN.m4s`.
    pub sequence: u32,
    /// `tfdt` of the segment: its first decode time, in track ticks.
    pub start_dts: i64,
    /// Duration in track ticks.
    pub duration: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// What a part wrote for one rendition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackManifest {
    /// Rendition name (directory).
    pub rendition: String,
    /// Track ticks per second.
    pub timescale: u32,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Picture size (video).
    pub width: Option<u32>,
    /// Picture height (video).
    pub height: Option<u32>,
    /// Channels (audio).
    pub channels: Option<u16>,
    /// The init segment this part's encoder implies, hex; every part of a
    /// rendition must imply the same one.
    pub init_hex: String,
    /// The segments written, in order.
    pub segments: Vec<SegmentRecord>,
}

/// What one part wrote: kept as its job's result until the join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartManifest {
    /// The part.
    pub part: Part,
    /// One entry per rendition the part encodes.
    pub tracks: Vec<TrackManifest>,
    /// Files written beside the ladder (the poster), relative to the prefix.
    pub files: Vec<String>,
    /// Pictures encoded (video parts).
    pub video_frames: u64,
}

/// The name of a media segment.
pub fn segment_name(sequence: u32) -> String {
    format!("seg-{sequence:05}.m4s")
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_at_or_under_the_threshold_is_not_chunked() {
        assert!(plan_chunks(600.0, 4.0, 60.0, 600.0).is_empty());
        assert!(plan_chunks(30.0, 4.0, 60.0, 600.0).is_empty());
    }

    #[test]
    fn a_zero_threshold_turns_chunking_off() {
        assert!(plan_chunks(7200.0, 4.0, 60.0, 0.0).is_empty());
    }

    #[test]
    fn chunks_are_whole_segments_and_the_last_runs_to_the_end() {
        // 10 min 30 s, 4 s segments, ~1 min chunks: 15 segments per chunk.
        let chunks = plan_chunks(630.0, 4.0, 60.0, 300.0);
        assert_eq!(chunks.len(), 11);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.index as usize, i);
            assert_eq!(c.first_segment, 15 * i as u32);
        }
        assert!(chunks[..10].iter().all(|c| c.segments == Some(15)));
        assert_eq!(chunks[10].segments, None);
        assert_eq!(chunks[3].start_seconds(4.0), 180.0);
        assert_eq!(chunks[3].end_seconds(4.0), Some(240.0));
        assert_eq!(chunks[10].end_seconds(4.0), None);
    }

    #[test]
    fn a_short_tail_joins_the_chunk_before_it() {
        // 602 s: 151 segments = 10 chunks of 15 and a 1-segment tail.
        let chunks = plan_chunks(602.0, 4.0, 60.0, 300.0);
        assert_eq!(chunks.len(), 10);
        assert_eq!(chunks[9].first_segment, 135);
        assert_eq!(chunks[9].segments, None);
    }

    #[test]
    fn the_chunk_length_is_rounded_to_whole_segments() {
        let chunks = plan_chunks(1000.0, 6.0, 100.0, 10.0);
        // 100 / 6 rounds to 17 segments (102 s).
        assert_eq!(chunks[1].first_segment, 17);
        assert_eq!(chunks[1].start_seconds(6.0), 102.0);
    }

    #[test]
    fn a_window_drops_pictures_before_its_start_and_stops_at_its_end() {
        let range = ChunkRange {
            index: 1,
            first_segment: 15,
            segments: Some(15),
        };
        // 25 fps: 3600 ticks a frame; the chunk is 60 s to 120 s.
        let w = FrameWindow::new(&range, 4.0, 25.0);
        assert_eq!(w.keep(Some(60 * 90_000 - 3600)), Keep::Drop);
        assert_eq!(w.keep(Some(60 * 90_000)), Keep::Take);
        assert_eq!(w.keep(Some(120 * 90_000 - 3600)), Keep::Take);
        assert_eq!(w.keep(Some(120 * 90_000)), Keep::Stop);
        assert_eq!(w.keep(None), Keep::Take);
        assert_eq!(w.seek_microseconds(), Some(60_000_000 - 40_000));
    }

    #[test]
    fn a_picture_within_half_a_frame_of_a_boundary_opens_the_next_chunk() {
        let first = ChunkRange {
            index: 0,
            first_segment: 0,
            segments: Some(15),
        };
        let second = ChunkRange {
            index: 1,
            first_segment: 15,
            segments: None,
        };
        let rate = 30_000.0 / 1001.0;
        let (a, b) = (
            FrameWindow::new(&first, 4.0, rate),
            FrameWindow::new(&second, 4.0, rate),
        );
        // Frame 1798 at 29.97 fps is 606 ticks before 60 s.
        let t = 1798 * 3003;
        assert_eq!(a.keep(Some(t)), Keep::Stop);
        assert_eq!(b.keep(Some(t)), Keep::Take);
        assert_eq!(b.keep(Some(t - 3003)), Keep::Drop);
        // Every picture lands in exactly one chunk.
        for n in 0..4000_i64 {
            let t = Some(n * 3003);
            let taken = [a.keep(t), b.keep(t)]
                .iter()
                .filter(|k| **k == Keep::Take)
                .count();
            assert_eq!(taken, 1, "frame {n}");
        }
        assert_eq!(a.seek_microseconds(), None);
    }

    #[test]
    fn hex_round_trips() {
        let bytes = vec![0, 1, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "0001abff");
        assert_eq!(from_hex("0001abff"), Some(bytes));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
