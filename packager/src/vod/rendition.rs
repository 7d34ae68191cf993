//! Per-rendition state of a VOD ladder, without IO: input validation,
//! segmentation, bitrate measurement and the media playlist (growing as an
//! EVENT playlist when asked, VOD when complete). It returns the objects to
//! store, in the order they must be stored; the driver in `vod` stores them.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;

use super::{PackagerError, RenditionKind, RenditionSpec, RenditionSummary};
use crate::bitrate::BitrateMeter;
use crate::cmaf::{self, InitTrack, TrackFragment};
use crate::hls::{MediaPlaylistState, SegmentEntry};
use crate::media::{Sample, TrackConfig, TrackKind};
use crate::segmenter::{SegmentSamples, Segmenter};

/// Every rendition is a single-track file set; its track is track 1.
const TRACK_ID: u32 = 1;
pub(crate) const INIT_NAME: &str = "init.mp4";
pub(crate) const PLAYLIST_NAME: &str = "index.m3u8";

/// What kind of object is being written (selects the cache policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Media,
    Playlist,
}

/// An object the driver must store, relative to the rendition directory.
#[derive(Debug)]
pub(crate) struct PendingObject {
    pub(crate) name: String,
    pub(crate) body: Bytes,
    pub(crate) kind: ObjectKind,
}

/// Tracks started with a config, fed samples, then ended.
#[derive(Debug)]
pub(crate) struct RenditionState {
    pub(crate) spec: RenditionSpec,
    /// Set when the spec itself is unusable (bad or duplicate name).
    pub(crate) spec_problem: Option<&'static str>,
    track: Option<ActiveTrack>,
    playlist: MediaPlaylistState,
    pub(crate) ended: bool,
    /// Publish an EVENT playlist after every segment; the VOD playlist is
    /// then written by [`RenditionState::final_playlist`].
    growing: bool,
    /// Bit/s announced for this rendition before it is measured.
    pub(crate) declared_bitrate: Option<u64>,
    /// `EXT-X-TARGETDURATION` floor of the EVENT playlist: the segment target rounded up.
    min_target_duration: u64,
    /// Names written in this run (for removing stale objects of an earlier run).
    pub(crate) written: BTreeSet<String>,
    /// Size of the init segment as last stored.
    init_bytes: u64,
    /// Size of the playlist as last stored.
    playlist_bytes: u64,
    /// Size of the segments stored.
    segment_bytes: u64,
    /// Media segments stored so far.
    segments_stored: u32,
}

#[derive(Debug)]
struct ActiveTrack {
    config: TrackConfig,
    segmenter: Segmenter,
    meter: BitrateMeter,
    last_dts: Option<i64>,
    expected_next_dts: Option<i64>,
    warned_about_gap: bool,
    next_sequence: u32,
}

impl RenditionState {
    pub(crate) fn new(
        spec: RenditionSpec,
        spec_problem: Option<&'static str>,
        growing: bool,
    ) -> Self {
        Self {
            spec,
            spec_problem,
            track: None,
            playlist: MediaPlaylistState::new(INIT_NAME),
            ended: false,
            growing,
            declared_bitrate: None,
            min_target_duration: 1,
            written: BTreeSet::new(),
            init_bytes: 0,
            playlist_bytes: 0,
            segment_bytes: 0,
            segments_stored: 0,
        }
    }

    fn error_context(&self) -> String {
        self.spec.name.clone()
    }

    /// Records that the driver stored `object`.
    pub(crate) fn stored(&mut self, object: &PendingObject) {
        let size = object.body.len() as u64;
        match (object.kind, object.name.as_str()) {
            // The init segment and the playlist are rewritten; the last size counts.
            (_, INIT_NAME) => self.init_bytes = size,
            (_, PLAYLIST_NAME) => self.playlist_bytes = size,
            (ObjectKind::Media, _) => {
                self.segment_bytes += size;
                self.segments_stored += 1;
            }
            (ObjectKind::Playlist, _) => self.playlist_bytes = size,
        }
        self.written.insert(object.name.clone());
    }

    /// Whether a player could start this rendition: its init segment, a
    /// first media segment and a playlist listing it are stored.
    pub(crate) fn is_started(&self) -> bool {
        self.written.contains(INIT_NAME)
            && self.written.contains(PLAYLIST_NAME)
            && self.segments_stored > 0
    }

    pub(crate) fn config(
        &mut self,
        config: TrackConfig,
        segment_target: Duration,
    ) -> Result<PendingObject, PackagerError> {
        let rendition = self.error_context();
        if self.ended {
            return Err(PackagerError::InputAfterEnd { rendition });
        }
        if self.track.is_some() {
            return Err(PackagerError::ConfigAlreadyReceived { rendition });
        }
        let kinds_match = matches!(
            (&self.spec.kind, &config.kind),
            (RenditionKind::Video { .. }, TrackKind::Video { .. })
                | (RenditionKind::Audio { .. }, TrackKind::Audio { .. })
        );
        if !kinds_match {
            return Err(PackagerError::KindMismatch { rendition });
        }
        if config.timescale == 0 {
            return Err(PackagerError::InvalidTimescale { rendition });
        }
        let init = cmaf::init_segment(&[(TRACK_ID, &config)]);
        self.min_target_duration = segment_target.as_secs_f64().ceil().max(1.0) as u64;
        self.track = Some(ActiveTrack {
            segmenter: Segmenter::new(config.timescale, segment_target),
            meter: BitrateMeter::new(config.timescale),
            config,
            last_dts: None,
            expected_next_dts: None,
            warned_about_gap: false,
            next_sequence: 1,
        });
        Ok(PendingObject {
            name: INIT_NAME.to_string(),
            body: Bytes::from(init),
            kind: ObjectKind::Media,
        })
    }

    /// The finished segment, if the sample completed one, followed (when
    /// growing) by the EVENT playlist that lists it.
    pub(crate) fn sample(&mut self, sample: Sample) -> Result<Vec<PendingObject>, PackagerError> {
        let rendition = self.error_context();
        if self.ended {
            return Err(PackagerError::InputAfterEnd { rendition });
        }
        let Some(track) = self.track.as_mut() else {
            return Err(PackagerError::SampleBeforeConfig { rendition });
        };
        let invalid = |reason: &'static str| PackagerError::InvalidSample {
            rendition: rendition.clone(),
            dts: sample.dts,
            reason,
        };
        if sample.dts < 0 {
            return Err(invalid("dts is negative (解码时间为负)"));
        }
        if track.last_dts.is_some_and(|last| sample.dts <= last) {
            return Err(invalid("dts does not increase (解码时间未递增)"));
        }
        if sample.duration == 0 {
            return Err(invalid("duration is zero (时长为零)"));
        }
        if track.last_dts.is_none() && track.config.is_video() && !sample.is_sync {
            return Err(invalid(
                "the first video sample is not a keyframe (第一个视频样本不是关键帧)",
            ));
        }
        if let Some(expected) = track.expected_next_dts
            && expected != sample.dts
            && !track.warned_about_gap
        {
            track.warned_about_gap = true;
            tracing::warn!(
                rendition = %rendition,
                expected,
                dts = sample.dts,
                "sample dts differs from previous dts + duration; the segment timeline follows durations"
            );
        }
        track.last_dts = Some(sample.dts);
        track.expected_next_dts = Some(sample.dts + i64::from(sample.duration));
        track
            .meter
            .push(sample.dts, sample.duration, sample.data.len() as u64);
        let Some(segment) = track.segmenter.push(sample) else {
            return Ok(Vec::new());
        };
        let mut objects = vec![self.segment_object(segment)?];
        if self.growing {
            objects.push(self.event_playlist());
        }
        Ok(objects)
    }

    fn event_playlist(&self) -> PendingObject {
        PendingObject {
            name: PLAYLIST_NAME.to_string(),
            body: Bytes::from(self.playlist.render_event(self.min_target_duration)),
            kind: ObjectKind::Playlist,
        }
    }

    /// The complete VOD playlist of an ended rendition (written by `finish`
    /// when the playlist grew as an EVENT playlist).
    pub(crate) fn final_playlist(&self) -> PendingObject {
        PendingObject {
            name: PLAYLIST_NAME.to_string(),
            body: Bytes::from(self.playlist.render_vod()),
            kind: ObjectKind::Playlist,
        }
    }

    /// Whether `finish` must rewrite the playlist as VOD.
    pub(crate) fn playlist_is_growing(&self) -> bool {
        self.growing
    }

    /// Flushes the last segment, rewrites the init segment with measured
    /// bitrates and renders the playlist (VOD, or EVENT when growing: the
    /// ladder becomes VOD as a whole in `finish`), in that order.
    pub(crate) fn end(&mut self) -> Result<Vec<PendingObject>, PackagerError> {
        let rendition = self.error_context();
        if self.ended {
            return Err(PackagerError::InputAfterEnd { rendition });
        }
        let Some(track) = self.track.as_mut() else {
            return Err(PackagerError::EndBeforeConfig { rendition });
        };
        let last = track.segmenter.finish();
        let mut objects = Vec::with_capacity(3);
        if let Some(segment) = last {
            objects.push(self.segment_object(segment)?);
        }
        if self.playlist.segments().is_empty() {
            return Err(PackagerError::NoSamples { rendition });
        }
        let Some(track) = self.track.as_ref() else {
            return Err(PackagerError::EndBeforeConfig { rendition });
        };
        let init = cmaf::init_segment_with_bitrates(&[InitTrack {
            track_id: TRACK_ID,
            config: &track.config,
            bitrate: Some(track.meter.bitrate()),
        }]);
        objects.push(PendingObject {
            name: INIT_NAME.to_string(),
            body: Bytes::from(init),
            kind: ObjectKind::Media,
        });
        objects.push(if self.growing {
            self.event_playlist()
        } else {
            self.final_playlist()
        });
        self.ended = true;
        Ok(objects)
    }

    fn segment_object(&mut self, segment: SegmentSamples) -> Result<PendingObject, PackagerError> {
        let rendition = self.error_context();
        let Some(track) = self.track.as_mut() else {
            return Err(PackagerError::SampleBeforeConfig { rendition });
        };
        let sequence = track.next_sequence;
        let body = cmaf::media_segment(
            sequence,
            &[TrackFragment {
                track_id: TRACK_ID,
                samples: &segment.samples,
            }],
        )
        .map_err(|source| PackagerError::Segment { rendition, source })?;
        track.next_sequence += 1;
        let name = format!("seg-{sequence:05}.m4s");
        self.playlist.push(SegmentEntry {
            uri: name.clone(),
            duration_ticks: segment.duration,
            timescale: track.config.timescale,
            bytes: body.len() as u64,
        });
        Ok(PendingObject {
            name,
            body: Bytes::from(body),
            kind: ObjectKind::Media,
        })
    }

    pub(crate) fn playlist(&self) -> &MediaPlaylistState {
        &self.playlist
    }

    pub(crate) fn track_config(&self) -> Option<&TrackConfig> {
        self.track.as_ref().map(|t| &t.config)
    }

    pub(crate) fn summary(&self) -> RenditionSummary {
        let (width, height) = match self.track_config().map(|c| &c.kind) {
            Some(TrackKind::Video { width, height, .. }) => (Some(*width), Some(*height)),
            _ => (None, None),
        };
        RenditionSummary {
            name: self.spec.name.clone(),
            segments: u32::try_from(self.playlist.segments().len()).unwrap_or(u32::MAX),
            duration_seconds: self.playlist.duration_seconds(),
            peak_bitrate: self.playlist.peak_bitrate(),
            average_bitrate: self.playlist.average_bitrate(),
            bytes: self.init_bytes + self.segment_bytes + self.playlist_bytes,
            codec: self
                .track_config()
                .map(TrackConfig::codec_string)
                .unwrap_or_default(),
            width,
            height,
        }
    }
}
