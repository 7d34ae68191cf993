//! The state of one rendition's media playlist (its segments and init
//! section) and its rendering as an HLS v7 playlist: VOD when complete,
//! EVENT while it grows.

use m3u8_rs::{Map, MediaPlaylist, MediaPlaylistType, MediaSegment};

use super::{PLAYLIST_VERSION, render};

/// One media segment as listed in a media playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    /// URI relative to the playlist, e.g. `seg-00001.m4s`.
    pub uri: String,
    /// Duration in track ticks.
    pub duration_ticks: u64,
    /// Ticks per second.
    pub timescale: u32,
    /// Size of the segment file in bytes.
    pub bytes: u64,
}

impl SegmentEntry {
    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.duration_ticks as f64 / f64::from(self.timescale.max(1))
    }

    /// Duration rounded up to whole seconds, computed without floating point.
    fn ceil_seconds(&self) -> u64 {
        let timescale = u64::from(self.timescale.max(1));
        self.duration_ticks.div_ceil(timescale)
    }
}

/// The segments of one rendition and the URI of its init section; pure state
/// from which playlists are rendered (VOD now; a live sliding window can grow
/// from the same state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylistState {
    init_uri: String,
    segments: Vec<SegmentEntry>,
    /// Segments (by index) preceded by `EXT-X-DISCONTINUITY`, with the init
    /// section they switch to when it changes.
    breaks: Vec<(usize, Option<String>)>,
    pending_break: Option<Option<String>>,
}

impl MediaPlaylistState {
    /// An empty playlist whose segments use the init section at `init_uri` (`EXT-X-MAP`).
    pub fn new(init_uri: impl Into<String>) -> Self {
        Self {
            init_uri: init_uri.into(),
            segments: Vec::new(),
            breaks: Vec::new(),
            pending_break: None,
        }
    }

    /// Reads back a playlist this module rendered (EVENT or VOD): its init
    /// sections, segments (durations to the millisecond, as written),
    /// discontinuities and init switches; `bytes` gives each segment's size
    /// (for the bitrates). `None` when the text is not a media playlist or
    /// lists no segment.
    pub fn parse(text: &str, bytes: impl Fn(&str) -> u64) -> Option<Self> {
        let playlist = m3u8_rs::parse_media_playlist_res(text.as_bytes()).ok()?;
        let mut state: Option<Self> = None;
        for segment in playlist.segments {
            let init = segment.map.as_ref().map(|m| m.uri.clone());
            match state.as_mut() {
                None => state = Some(Self::new(init.unwrap_or_default())),
                Some(state) if segment.discontinuity || init.is_some() => {
                    state.start_discontinuity(init)
                }
                Some(_) => {}
            }
            let Some(state) = state.as_mut() else {
                continue;
            };
            state.push(SegmentEntry {
                duration_ticks: (f64::from(segment.duration) * 1000.0).round() as u64,
                timescale: 1000,
                bytes: bytes(&segment.uri),
                uri: segment.uri,
            });
        }
        state
    }

    /// Appends a segment.
    pub fn push(&mut self, segment: SegmentEntry) {
        if let Some(new_init) = self.pending_break.take() {
            if self.segments.is_empty() {
                // Nothing to separate: the first segment just uses that init.
                if let Some(uri) = new_init {
                    self.init_uri = uri;
                }
            } else {
                self.breaks.push((self.segments.len(), new_init));
            }
        }
        self.segments.push(segment);
    }

    /// The next segment follows a discontinuity (a live publisher
    /// reconnected with other settings); with `new_init_uri` it and those
    /// after it use another init section.
    pub fn start_discontinuity(&mut self, new_init_uri: Option<String>) {
        let pending = self.pending_break.get_or_insert(None);
        if new_init_uri.is_some() {
            *pending = new_init_uri;
        }
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[SegmentEntry] {
        &self.segments
    }

    /// `EXT-X-TARGETDURATION`: the longest segment rounded up to whole seconds (at least 1).
    pub fn target_duration(&self) -> u64 {
        self.segments
            .iter()
            .map(SegmentEntry::ceil_seconds)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// Total duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.segments
            .iter()
            .map(SegmentEntry::duration_seconds)
            .sum()
    }

    /// Total size of the segments in bytes (the init section excluded).
    pub fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Peak segment bitrate in bit/s as HLS defines it (RFC 8216bis 4.4.6.2):
    /// the largest bitrate of any contiguous run of segments lasting between
    /// 0.5 and 1.5 target durations. Falls back to the average when no run
    /// qualifies (a playlist shorter than half a target duration).
    pub fn peak_bitrate(&self) -> u64 {
        let target = self.target_duration() as f64;
        let (shortest, longest) = (0.5 * target, 1.5 * target);
        let mut peak = 0u64;
        for start in 0..self.segments.len() {
            let (mut seconds, mut bytes) = (0.0f64, 0u64);
            for segment in &self.segments[start..] {
                seconds += segment.duration_seconds();
                bytes += segment.bytes;
                if seconds > longest {
                    break;
                }
                if seconds >= shortest {
                    peak = peak.max(bits_per_second(bytes, seconds));
                }
            }
        }
        if peak == 0 {
            self.average_bitrate()
        } else {
            peak
        }
    }

    /// Average segment bitrate in bit/s: all segment bytes over the total duration.
    pub fn average_bitrate(&self) -> u64 {
        bits_per_second(self.total_bytes(), self.duration_seconds())
    }

    /// Renders the complete VOD playlist: `EXT-X-VERSION:7`,
    /// `EXT-X-INDEPENDENT-SEGMENTS`, `EXT-X-TARGETDURATION`,
    /// `EXT-X-PLAYLIST-TYPE:VOD`, `EXT-X-MAP`, `EXTINF` with 3 decimals, `EXT-X-ENDLIST`.
    pub fn render_vod(&self) -> String {
        self.render_as(MediaPlaylistType::Vod, self.target_duration(), true)
    }

    /// Renders the playlist while it is still growing: like
    /// [`render_vod`](Self::render_vod) but `EXT-X-PLAYLIST-TYPE:EVENT` and
    /// no `EXT-X-ENDLIST`, so players poll it for new segments.
    ///
    /// `EXT-X-TARGETDURATION` should not change while a playlist grows
    /// (RFC 8216 6.2.1), so it is at least `min_target_duration` (the
    /// segment target rounded up) and only exceeds it when an
    /// already-written segment is longer.
    pub fn render_event(&self, min_target_duration: u64) -> String {
        let target = self.target_duration().max(min_target_duration);
        self.render_as(MediaPlaylistType::Event, target, false)
    }

    fn render_as(
        &self,
        playlist_type: MediaPlaylistType,
        target_duration: u64,
        end_list: bool,
    ) -> String {
        let segments = self
            .segments
            .iter()
            .enumerate()
            .map(|(index, segment)| {
                let segment_break = self.breaks.iter().find(|(at, _)| *at == index);
                let map_uri = match segment_break {
                    _ if index == 0 => Some(self.init_uri.clone()),
                    Some((_, new_init)) => new_init.clone(),
                    None => None,
                };
                MediaSegment {
                    uri: segment.uri.clone(),
                    // Milliseconds are enough; m3u8-rs prints the shortest form of what
                    // it is given (`4`, `4.004`), so the rounding is the format.
                    duration: ((segment.duration_seconds() * 1000.0).round() / 1000.0) as f32,
                    discontinuity: segment_break.is_some(),
                    map: map_uri.map(|uri| Map {
                        uri,
                        ..Map::default()
                    }),
                    ..MediaSegment::default()
                }
            })
            .collect();
        let playlist = MediaPlaylist {
            version: Some(PLAYLIST_VERSION),
            target_duration,
            media_sequence: 0,
            segments,
            end_list,
            playlist_type: Some(playlist_type),
            independent_segments: true,
            ..MediaPlaylist::default()
        };
        render(|out| playlist.write_to(out))
    }
}

/// `bytes * 8 / seconds`, rounded up so an advertised bandwidth never understates.
pub(crate) fn bits_per_second(bytes: u64, seconds: f64) -> u64 {
    if seconds <= 0.0 {
        return 0;
    }
    (bytes as f64 * 8.0 / seconds).ceil() as u64
}
