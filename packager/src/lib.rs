//! yanxiu-packager: turns encoded tracks into an HLS (version 7) CMAF/fMP4
//! ladder and stores it.
//!
//! - [`media`]: the typed inputs (track configs, samples).
//! - [`h264`], [`hevc`], [`aac`]: codec configuration records and codec strings.
//! - [`cmaf`]: sans-IO init/media segment writing.
//! - [`segmenter`]: sans-IO cutting of a track into segments.
//! - [`hls`]: pure playlist state and rendering (m3u8-rs).
//! - [`live`]: live packaging: part cutter, in-memory LL-HLS origin.
//! - [`storage`]: the S3-shaped storage trait and its local, S3 and memory backends.
//! - [`vod`]: the async driver that writes a VOD ladder through a storage.

pub mod aac;
mod bitrate;
mod bits;
pub mod cmaf;
pub mod h264;
pub mod hevc;
pub mod hls;
pub mod live;
pub mod media;
pub mod segmenter;
pub mod storage;
pub mod vod;

pub use media::{AudioCodecConfig, Sample, TrackConfig, TrackInput, TrackKind, VideoCodecConfig};
pub use storage::{
    LocalDirStorage, MemoryStorage, PutOptions, S3Config, S3Storage, Storage, StorageError,
};
pub use vod::{
    LadderSummary, PackagerError, RenditionId, RenditionKind, RenditionSpec, RenditionSummary,
    VodOptions, VodPackager,
};
