//! The pure state of one live rendition's media playlist (no IO, no clock):
//! a sliding window (or DVR window) of complete segments, the parts of the
//! last few segments and of the open one, discontinuities for publisher
//! reconnects, and its rendering as an LL-HLS or a standard live playlist.
//!
//! Resource names are owned here so the preload hint can name a part before
//! it exists: segments are `seg-{msn}.m4s`, parts `part-{msn}-{index}.m4s`,
//! init sections `init-{generation}.mp4` (a new generation per discontinuity
//! that changes the init section).

use std::collections::VecDeque;
use std::time::Duration;

use time::OffsetDateTime;

use super::PLAYLIST_VERSION;
use super::live_reload::{PartId, PlaylistPosition, ReloadDecision, ReloadRequest, decide_reload};
use super::live_writer::{LiveLine, LivePlaylistWriter};

/// Target durations of media kept with their parts at the end of the playlist (RFC 8216bis 4.4.4.9).
const PART_HISTORY_TARGET_DURATIONS: u64 = 3;
/// `PART-HOLD-BACK` in part targets (at least 3 as Apple's authoring spec requires).
const PART_HOLD_BACK_PART_TARGETS: f64 = 3.0;
/// `HOLD-BACK` in target durations (at least 3, RFC 8216bis 4.4.3.8).
const HOLD_BACK_TARGET_DURATIONS: f64 = 3.0;

/// The shortest window, in segment targets.
const MIN_WINDOW_TARGET_DURATIONS: u32 = 3;

/// How many complete segments the playlist lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveWindow {
    /// The last `n` segments (at least 1).
    Segments(usize),
    /// Every segment whose end lies within this duration of the live edge (a DVR window).
    Dvr(Duration),
}

/// How a live playlist is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivePlaylistMode {
    /// RFC 8216 live playlist: complete segments only.
    Standard,
    /// LL-HLS: server control, parts and a preload hint.
    LowLatency,
}

/// The fixed parameters of one live rendition's playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePlaylistConfig {
    /// Ticks per second of every duration pushed.
    pub timescale: u32,
    /// The segment target (segments are cut on the first keyframe at or after it).
    pub segment_target: Duration,
    /// `EXT-X-PART-INF:PART-TARGET`; every part lasts at most this long.
    pub part_target: Duration,
    /// The sliding or DVR window.
    pub window: LiveWindow,
}

impl LivePlaylistConfig {
    /// Checks the configuration: a positive timescale, a part target
    /// between zero and the segment target, and a window of at least three
    /// target durations (RFC 8216 6.2.2: a live playlist never gets shorter).
    pub fn validate(&self) -> Result<(), LivePlaylistError> {
        if self.timescale == 0 {
            return Err(LivePlaylistError::ZeroTimescale);
        }
        if self.part_target.is_zero() || self.part_target > self.segment_target {
            return Err(LivePlaylistError::PartTargetOutOfRange);
        }
        let shortest = self.segment_target * MIN_WINDOW_TARGET_DURATIONS;
        let too_short = match self.window {
            LiveWindow::Segments(count) => count < MIN_WINDOW_TARGET_DURATIONS as usize,
            LiveWindow::Dvr(window) => window < shortest,
        };
        if too_short {
            return Err(LivePlaylistError::WindowTooShort);
        }
        Ok(())
    }
}

/// One published part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePart {
    /// Duration in ticks.
    pub duration_ticks: u64,
    /// The part starts with a sync sample (`INDEPENDENT=YES`).
    pub independent: bool,
}

/// Why a live playlist update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LivePlaylistError {
    /// The playlist has ended; nothing more can be added.
    #[error("the live playlist has ended (直播播放列表已结束)")]
    Ended,
    /// A segment cannot be completed without parts.
    #[error("no open segment to complete (没有可结束的分片)")]
    NoOpenSegment,
    /// The timescale was zero.
    #[error("the timescale must be positive (时间刻度必须为正数)")]
    ZeroTimescale,
    /// The part target was zero or longer than the segment target.
    #[error(
        "the part target must be positive and at most the segment target (部分分片目标时长必须大于零且不超过分片目标时长)"
    )]
    PartTargetOutOfRange,
    /// The window was shorter than three segment targets.
    #[error(
        "the live window must hold at least three segment targets (直播窗口至少要包含三个分片时长)"
    )]
    WindowTooShort,
    /// A discontinuity or the end needs the open segment completed first.
    #[error("the open segment must be completed first (必须先结束当前分片)")]
    SegmentStillOpen,
}

#[derive(Debug, Clone, PartialEq)]
struct SegmentState {
    msn: u64,
    duration_ticks: u64,
    discontinuity: bool,
    init_generation: u64,
    program_date_time: Option<OffsetDateTime>,
    /// Emptied once the segment is older than the part history.
    parts: Vec<LivePart>,
}

/// A complete segment as the live playlist lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedSegment {
    /// Media sequence number.
    pub msn: u64,
    /// Duration in track ticks.
    pub duration_ticks: u64,
    /// Ticks per second.
    pub timescale: u32,
    /// Whether an `EXT-X-DISCONTINUITY` precedes it.
    pub discontinuity: bool,
    /// The init section generation it uses ([`init_uri`]).
    pub init_generation: u64,
    /// Wall-clock time of its first sample, if known.
    pub program_date_time: Option<OffsetDateTime>,
}

/// The state of one live rendition's media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveMediaPlaylist {
    config: LivePlaylistConfig,
    /// Complete segments in the window, oldest first.
    segments: VecDeque<SegmentState>,
    /// The open segment: media sequence number `next_msn`.
    open: Option<SegmentState>,
    next_msn: u64,
    init_generation: u64,
    pending_discontinuity: bool,
    discontinuity_sequence: u64,
    target_duration: u64,
    ended: bool,
}

impl LiveMediaPlaylist {
    /// An empty playlist: media sequence 0, init generation 0.
    pub fn new(config: LivePlaylistConfig) -> Self {
        let target_duration = config
            .segment_target
            .as_nanos()
            .div_ceil(1_000_000_000)
            .max(1);
        Self {
            target_duration: u64::try_from(target_duration).unwrap_or(u64::MAX),
            config,
            segments: VecDeque::new(),
            open: None,
            next_msn: 0,
            init_generation: 0,
            pending_discontinuity: false,
            discontinuity_sequence: 0,
            ended: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LivePlaylistConfig {
        &self.config
    }

    /// Appends a part to the open segment (opening one if needed); returns its id.
    pub fn push_part(&mut self, part: LivePart) -> Result<PartId, LivePlaylistError> {
        if self.ended {
            return Err(LivePlaylistError::Ended);
        }
        let msn = self.next_msn;
        let open = self.open.get_or_insert_with(|| SegmentState {
            msn,
            duration_ticks: 0,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            init_generation: self.init_generation,
            program_date_time: None,
            parts: Vec::new(),
        });
        open.duration_ticks += part.duration_ticks;
        open.parts.push(part);
        Ok(PartId {
            msn,
            part: open.parts.len() as u64 - 1,
        })
    }

    /// Completes the open segment, stamping it with the wall-clock time of
    /// its first sample if known; slides the window. Returns its media
    /// sequence number.
    pub fn complete_segment(
        &mut self,
        program_date_time: Option<OffsetDateTime>,
    ) -> Result<u64, LivePlaylistError> {
        let mut segment = self.open.take().ok_or(LivePlaylistError::NoOpenSegment)?;
        segment.program_date_time = program_date_time;
        let msn = segment.msn;
        self.target_duration = self
            .target_duration
            .max(self.rounded_seconds(segment.duration_ticks));
        self.segments.push_back(segment);
        self.next_msn += 1;
        self.slide_window();
        self.prune_parts();
        Ok(msn)
    }

    /// The next segment follows a discontinuity (a publisher reconnect);
    /// `new_init` says whether it uses a new init section. Returns the init
    /// generation of the next segment.
    pub fn start_discontinuity(&mut self, new_init: bool) -> Result<u64, LivePlaylistError> {
        if self.ended {
            return Err(LivePlaylistError::Ended);
        }
        if self.open.is_some() {
            return Err(LivePlaylistError::SegmentStillOpen);
        }
        // Nothing to separate before the first segment.
        self.pending_discontinuity = self.next_msn > 0;
        if new_init && self.next_msn > 0 {
            self.init_generation += 1;
        }
        Ok(self.init_generation)
    }

    /// Ends the playlist (`EXT-X-ENDLIST`); the open segment must be completed first.
    pub fn end(&mut self) -> Result<(), LivePlaylistError> {
        if self.open.is_some() {
            return Err(LivePlaylistError::SegmentStillOpen);
        }
        self.ended = true;
        Ok(())
    }

    /// `EXT-X-MEDIA-SEQUENCE`: the first listed segment's number (the next one when none is listed).
    pub fn media_sequence(&self) -> u64 {
        self.segments.front().map_or(self.next_msn, |s| s.msn)
    }

    /// `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub fn discontinuity_sequence(&self) -> u64 {
        self.discontinuity_sequence
    }

    /// `EXT-X-TARGETDURATION`: the segment target rounded up, raised by any longer segment.
    pub fn target_duration(&self) -> u64 {
        self.target_duration
    }

    /// True once [`end`](Self::end) was called.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Where the playlist stands, for blocking reload decisions.
    pub fn position(&self) -> PlaylistPosition {
        let last_segment = self.segments.back().map(|s| s.msn);
        let last_part = match &self.open {
            Some(open) => Some(PartId {
                msn: open.msn,
                part: open.parts.len() as u64 - 1,
            }),
            None => self.segments.back().and_then(|s| {
                (!s.parts.is_empty()).then(|| PartId {
                    msn: s.msn,
                    part: s.parts.len() as u64 - 1,
                })
            }),
        };
        PlaylistPosition {
            last_segment,
            last_part,
            ended: self.ended,
        }
    }

    /// Decides a blocking reload request against this playlist.
    pub fn decide_reload(&self, request: ReloadRequest) -> ReloadDecision {
        decide_reload(
            self.position(),
            request,
            self.config.segment_target,
            self.config.part_target,
        )
    }

    /// The facts of complete segment `msn` while it is listed in the window
    /// (for persisting it and listing it in a recording's VOD playlist).
    pub fn listed_segment(&self, msn: u64) -> Option<ListedSegment> {
        self.segments
            .iter()
            .find(|s| s.msn == msn)
            .map(|s| ListedSegment {
                msn: s.msn,
                duration_ticks: s.duration_ticks,
                timescale: self.config.timescale,
                discontinuity: s.discontinuity,
                init_generation: s.init_generation,
                program_date_time: s.program_date_time,
            })
    }

    /// True while segment `msn` is listed (complete) in the window.
    pub fn lists_segment(&self, msn: u64) -> bool {
        self.segments.iter().any(|s| s.msn == msn)
    }

    /// True while part `id` is listed (in a recent or the open segment).
    pub fn lists_part(&self, id: PartId) -> bool {
        self.segments
            .iter()
            .chain(self.open.as_ref())
            .any(|s| s.msn == id.msn && id.part < s.parts.len() as u64)
    }

    /// The oldest init generation any listed segment uses (the current one when none is listed).
    pub fn oldest_init_generation(&self) -> u64 {
        self.segments
            .front()
            .or(self.open.as_ref())
            .map_or(self.init_generation, |s| s.init_generation)
    }

    /// The init generation new parts use.
    pub fn current_init_generation(&self) -> u64 {
        self.init_generation
    }

    /// The part the preload hint names: the next part of the open segment,
    /// or the first part of the next segment.
    pub fn next_part(&self) -> PartId {
        match &self.open {
            Some(open) => PartId {
                msn: open.msn,
                part: open.parts.len() as u64,
            },
            None => PartId {
                msn: self.next_msn,
                part: 0,
            },
        }
    }

    /// Renders the playlist.
    pub fn render(&self, mode: LivePlaylistMode) -> String {
        self.render_with_reports(mode, &[])
    }

    /// Renders the playlist; in LL-HLS mode, followed by an
    /// `EXT-X-RENDITION-REPORT` for each of the other renditions of the same
    /// master playlist, so players switch renditions without a plain reload.
    pub fn render_with_reports(
        &self,
        mode: LivePlaylistMode,
        reports: &[RenditionReport],
    ) -> String {
        let low_latency = mode == LivePlaylistMode::LowLatency;
        let mut w = LivePlaylistWriter::new();
        w.line(LiveLine::Header);
        w.line(LiveLine::Version(PLAYLIST_VERSION));
        w.line(LiveLine::IndependentSegments);
        w.line(LiveLine::TargetDuration(self.target_duration));
        if low_latency {
            let part_target = self.config.part_target.as_secs_f64();
            w.line(LiveLine::ServerControl {
                hold_back: HOLD_BACK_TARGET_DURATIONS * self.target_duration as f64,
                part_hold_back: PART_HOLD_BACK_PART_TARGETS * part_target,
            });
            w.line(LiveLine::PartInf { part_target });
        }
        w.line(LiveLine::MediaSequence(self.media_sequence()));
        if self.discontinuity_sequence > 0 {
            w.line(LiveLine::DiscontinuitySequence(self.discontinuity_sequence));
        }
        let mut listed_init = None;
        let mut write_preamble = |w: &mut LivePlaylistWriter, segment: &SegmentState| {
            if segment.discontinuity {
                w.line(LiveLine::Discontinuity);
            }
            if listed_init != Some(segment.init_generation) {
                w.line(LiveLine::Map {
                    uri: &init_uri(segment.init_generation),
                });
                listed_init = Some(segment.init_generation);
            }
            if let Some(at) = segment.program_date_time {
                w.line(LiveLine::ProgramDateTime(at));
            }
        };
        for segment in &self.segments {
            write_preamble(&mut w, segment);
            if low_latency {
                self.write_parts(&mut w, segment);
            }
            w.line(LiveLine::Segment {
                duration: self.seconds(segment.duration_ticks),
                uri: &segment_uri(segment.msn),
            });
        }
        if self.ended {
            w.line(LiveLine::EndList);
        } else if low_latency {
            if let Some(open) = &self.open {
                write_preamble(&mut w, open);
                self.write_parts(&mut w, open);
            }
            w.line(LiveLine::PreloadHintPart {
                uri: &part_uri(self.next_part()),
            });
        }
        if low_latency {
            for report in reports {
                let Some((last_msn, last_part)) = report.last_position() else {
                    continue;
                };
                w.line(LiveLine::RenditionReport {
                    uri: &report.uri,
                    last_msn,
                    last_part,
                });
            }
        }
        w.finish()
    }

    fn write_parts(&self, w: &mut LivePlaylistWriter, segment: &SegmentState) {
        for (index, part) in segment.parts.iter().enumerate() {
            w.line(LiveLine::Part {
                duration: self.seconds(part.duration_ticks),
                uri: &part_uri(PartId {
                    msn: segment.msn,
                    part: index as u64,
                }),
                independent: part.independent,
            });
        }
    }

    fn seconds(&self, ticks: u64) -> f64 {
        ticks as f64 / f64::from(self.config.timescale.max(1))
    }

    /// Rounded to the nearest second, as `EXTINF` is compared with the target duration.
    fn rounded_seconds(&self, ticks: u64) -> u64 {
        let timescale = u64::from(self.config.timescale.max(1));
        (ticks + timescale / 2) / timescale
    }

    fn slide_window(&mut self) {
        loop {
            let excess = match self.config.window {
                LiveWindow::Segments(count) => self.segments.len() > count.max(1),
                LiveWindow::Dvr(window) => {
                    let total: u64 = self.segments.iter().map(|s| s.duration_ticks).sum();
                    let first = self.segments.front().map_or(0, |s| s.duration_ticks);
                    // Drop the oldest while the rest still covers the window.
                    self.segments.len() > 1
                        && Duration::from_secs_f64(self.seconds(total - first)) >= window
                }
            };
            if !excess {
                break;
            }
            if self
                .segments
                .pop_front()
                .is_some_and(|removed| removed.discontinuity)
            {
                // Its EXT-X-DISCONTINUITY tag leaves the playlist (RFC 8216 6.2.2).
                self.discontinuity_sequence += 1;
            }
        }
    }

    /// Clears the parts of segments older than the part history.
    fn prune_parts(&mut self) {
        let history = PART_HISTORY_TARGET_DURATIONS * self.target_duration;
        let timescale = u64::from(self.config.timescale.max(1));
        let mut newer_ticks = 0u64;
        for segment in self.segments.iter_mut().rev() {
            if newer_ticks >= history * timescale {
                segment.parts.clear();
            }
            newer_ticks += segment.duration_ticks;
        }
    }
}

/// Where another rendition of the same master playlist stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    /// Its media playlist, relative to the playlist being rendered.
    pub uri: String,
    /// Its position.
    pub position: PlaylistPosition,
}

impl RenditionReport {
    /// `LAST-MSN` and `LAST-PART`: its last part, or its last segment when
    /// it has no parts; `None` while it has nothing.
    fn last_position(&self) -> Option<(u64, Option<u64>)> {
        match (self.position.last_part, self.position.last_segment) {
            (Some(part), _) => Some((part.msn, Some(part.part))),
            (None, Some(msn)) => Some((msn, None)),
            (None, None) => None,
        }
    }
}

/// The URI of complete segment `msn`.
pub fn segment_uri(msn: u64) -> String {
    format!("seg-{msn}.m4s")
}

/// The URI of a part.
pub fn part_uri(id: PartId) -> String {
    format!("part-{}-{}.m4s", id.msn, id.part)
}

/// The URI of an init section generation.
pub fn init_uri(generation: u64) -> String {
    format!("init-{generation}.mp4")
}

/// A resource of a live rendition named by its URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveResource {
    /// `init-{generation}.mp4`
    Init(u64),
    /// `seg-{msn}.m4s`
    Segment(u64),
    /// `part-{msn}-{part}.m4s`
    Part(PartId),
}

impl LiveResource {
    /// Parses a file name written by this module; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        let number = |text: &str| -> Option<u64> {
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        };
        if let Some(generation) = name
            .strip_prefix("init-")
            .and_then(|r| r.strip_suffix(".mp4"))
        {
            return number(generation).map(Self::Init);
        }
        if let Some(msn) = name
            .strip_prefix("seg-")
            .and_then(|r| r.strip_suffix(".m4s"))
        {
            return number(msn).map(Self::Segment);
        }
        let rest = name.strip_prefix("part-")?.strip_suffix(".m4s")?;
        let (msn, part) = rest.split_once('-')?;
        Some(Self::Part(PartId {
            msn: number(msn)?,
            part: number(part)?,
        }))
    }
}

#[cfg(test)]
#[path = "live_playlist_tests.rs"]
mod tests;
