//! Feeds one track's samples through the part cutter and the CMAF writer
//! into a live rendition of the origin: init section, parts, segment ends
//! with their program date time, discontinuities on publisher reconnects.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

use super::LiveError;
use super::origin::{LiveRendition, SegmentEnd};
use super::part_cutter::{CutPart, PartCutter};
use crate::cmaf::{TrackFragment, init_segment, media_segment};
use crate::hls::live_playlist::LivePart;
use crate::hls::live_reload::PartId;
use crate::media::{Sample, TrackConfig};

/// `track_ID` of the single track of every live rendition.
const TRACK_ID: u32 = 1;

/// Ties the media timeline to the wall clock: the sample with `pts` was
/// captured at `at`. Program date times are derived from it, no clock is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClockAnchor {
    /// A presentation timestamp in track ticks.
    pub pts: i64,
    /// Its wall-clock time.
    pub at: OffsetDateTime,
}

/// Packages one track into a [`LiveRendition`].
#[derive(Debug)]
pub struct LiveTrackPackager {
    rendition: Arc<LiveRendition>,
    config: TrackConfig,
    segment_target: Duration,
    part_target: Duration,
    cutter: PartCutter,
    anchor: Option<WallClockAnchor>,
    sequence_number: u32,
    dropped_by_earlier_cutters: u64,
}

impl LiveTrackPackager {
    /// Starts packaging `config` into `rendition` (writing its init section)
    /// with the rendition's segment and part targets.
    pub fn new(
        rendition: Arc<LiveRendition>,
        config: TrackConfig,
        segment_target: Duration,
        part_target: Duration,
        anchor: Option<WallClockAnchor>,
    ) -> Self {
        rendition.set_init(Bytes::from(init_segment(&[(TRACK_ID, &config)])));
        Self {
            cutter: PartCutter::new(config.timescale, segment_target, part_target),
            rendition,
            config,
            segment_target,
            part_target,
            anchor,
            sequence_number: 0,
            dropped_by_earlier_cutters: 0,
        }
    }

    /// Adds a sample; returns the part it completed, if any.
    pub fn push(&mut self, sample: Sample) -> Result<Option<PartId>, LiveError> {
        match self.cutter.push(sample) {
            Some(part) => self.publish(part).map(Some),
            None => Ok(None),
        }
    }

    /// A new publisher replaced the old one: flushes the open segment and
    /// continues the same playlist after a discontinuity, with a new init
    /// section when the track configuration changed and a new timeline.
    pub fn reconnect(
        &mut self,
        config: TrackConfig,
        anchor: Option<WallClockAnchor>,
    ) -> Result<(), LiveError> {
        self.flush()?;
        let new_init =
            (config != self.config).then(|| Bytes::from(init_segment(&[(TRACK_ID, &config)])));
        self.rendition.start_discontinuity(new_init)?;
        self.dropped_by_earlier_cutters += self.cutter.dropped_before_sync();
        self.cutter = PartCutter::new(config.timescale, self.segment_target, self.part_target);
        self.config = config;
        self.anchor = anchor;
        Ok(())
    }

    /// Samples dropped because they came before a publisher's first keyframe
    /// (for the channel's dropped-frames figure).
    pub fn dropped_before_keyframe(&self) -> u64 {
        self.dropped_by_earlier_cutters + self.cutter.dropped_before_sync()
    }

    /// The rendition this packager writes into.
    pub fn rendition(&self) -> &Arc<LiveRendition> {
        &self.rendition
    }

    /// Flushes the last part and ends the playlist.
    pub fn finish(mut self) -> Result<(), LiveError> {
        self.flush()?;
        self.rendition.end()
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        if let Some(part) = self.cutter.finish() {
            self.publish(part)?;
        }
        Ok(())
    }

    fn publish(&mut self, part: CutPart) -> Result<PartId, LiveError> {
        self.sequence_number = self.sequence_number.wrapping_add(1);
        let bytes = media_segment(
            self.sequence_number,
            &[TrackFragment {
                track_id: TRACK_ID,
                samples: &part.samples,
            }],
        )?;
        let segment_end = part.ends_segment.then(|| SegmentEnd {
            program_date_time: self.program_date_time(part.segment_start_pts),
        });
        self.rendition.publish_part(
            Bytes::from(bytes),
            LivePart {
                duration_ticks: part.duration_ticks,
                independent: part.independent,
            },
            segment_end,
        )
    }

    fn program_date_time(&self, pts: i64) -> Option<OffsetDateTime> {
        let anchor = self.anchor?;
        let ticks = i128::from(pts) - i128::from(anchor.pts);
        let nanos = ticks * 1_000_000_000 / i128::from(self.config.timescale.max(1));
        let offset = time::Duration::nanoseconds(i64::try_from(nanos).ok()?);
        anchor.at.checked_add(offset)
    }
}
