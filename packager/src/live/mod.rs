//! Live packaging: the sans-IO part cutter, the in-memory live origin that
//! holds each rendition's init sections, recent segments and parts and its
//! LL-HLS playlist state, and the track packager that feeds one into the
//! other. Playlist state and rendering live in [`crate::hls::live_playlist`].

mod origin;
mod part_cutter;
mod track_packager;

pub use origin::{LiveOrigin, LiveOriginConfig, LiveRendition, RenditionKey, SegmentEnd};
pub use part_cutter::{CutPart, PartCutter};
pub use track_packager::{LiveTrackPackager, WallClockAnchor};

use crate::cmaf::CmafError;
use crate::hls::live_playlist::LivePlaylistError;
use crate::hls::live_reload::BadReloadRequest;

/// Why a live origin operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LiveError {
    /// A blocking reload request that must be answered with 400.
    #[error(transparent)]
    BadRequest(#[from] BadReloadRequest),
    /// The requested playlist state or part did not arrive in time.
    #[error(
        "the live stream did not reach the requested position in time (直播流未在时限内到达请求的位置)"
    )]
    Timeout,
    /// The requested part will never exist (its segment ended before it, or the stream ended).
    #[error("the requested part does not exist (请求的部分分片不存在)")]
    NoSuchPart,
    /// The playlist refused the update.
    #[error(transparent)]
    Playlist(#[from] LivePlaylistError),
    /// A part could not be written.
    #[error(transparent)]
    Cmaf(#[from] CmafError),
}

#[cfg(test)]
mod tests;
