//! Sans-IO CMAF / fragmented MP4 writing: the init segment (`init.mp4`) and
//! media segments (`*.m4s`) as byte vectors. Byte-level box writing lives in
//! `box_writer`; this module and its children only decide which boxes to write.

mod box_writer;
mod fragment;
mod init;
#[cfg(test)]
pub(crate) mod test_box_reader;

pub use fragment::{NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS, TrackFragment, media_segment};
pub use init::{InitTrack, TrackBitrate, init_segment, init_segment_with_bitrates};

/// Why a media segment could not be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CmafError {
    /// `media_segment` was called without any track fragment.
    #[error("a media segment needs at least one track fragment (媒体分片至少需要一个轨道)")]
    NoFragments,
    /// A track fragment had no samples.
    #[error("track {track_id} fragment has no samples (轨道 {track_id} 的分片没有样本)")]
    EmptyFragment {
        /// The track.
        track_id: u32,
    },
    /// The first sample's decode time was negative (it becomes the unsigned `tfdt`).
    #[error(
        "track {track_id} fragment starts at negative dts {dts} (轨道 {track_id} 的解码时间为负)"
    )]
    NegativeDecodeTime {
        /// The track.
        track_id: u32,
        /// The offending decode time.
        dts: i64,
    },
    /// `pts - dts` did not fit a signed 32-bit composition offset.
    #[error(
        "track {track_id} composition offset {offset} does not fit 32 bits (轨道 {track_id} 的显示时间偏移超出范围)"
    )]
    CompositionOffsetOutOfRange {
        /// The track.
        track_id: u32,
        /// `pts - dts`.
        offset: i64,
    },
    /// The segment would be too large for 32-bit data offsets (about 2 GiB).
    #[error("media segment of about {bytes} bytes is too large (媒体分片过大)")]
    SegmentTooLarge {
        /// Estimated size.
        bytes: u64,
    },
}

#[cfg(test)]
mod tests;
