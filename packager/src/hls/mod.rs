//! Pure HLS playlist writing with `m3u8-rs`: per-rendition media playlist
//! state (segments, target duration, measured bitrates) and the master
//! playlist of a ladder. No IO; callers store the rendered text.

pub mod live_playlist;
pub mod live_reload;
mod live_writer;
mod master_playlist;
mod media_playlist;

use std::sync::atomic::Ordering;

pub use live_playlist::ListedSegment;
pub use master_playlist::{AUDIO_GROUP_ID, AudioRendition, MasterPlaylistSpec, VideoVariant};
pub use media_playlist::{MediaPlaylistState, SegmentEntry};

/// `EXT-X-VERSION` of every playlist written (fMP4 segments with `EXT-X-MAP`).
pub const PLAYLIST_VERSION: usize = 7;

/// Decimals `EXTINF` needs so that rounding errors stay below a millisecond.
const EXTINF_DECIMALS: usize = 3;

/// Renders through an m3u8-rs writer into a string.
///
/// m3u8-rs takes its float precision from a process-wide setting whose
/// default prints the shortest form (`4` rather than `4.000`); it is raised
/// to at least 3 decimals here, never lowered.
fn render(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let _unchanged_when_already_precise_enough = m3u8_rs::WRITE_OPT_FLOAT_PRECISION.fetch_update(
        Ordering::Relaxed,
        Ordering::Relaxed,
        |current| (current == usize::MAX || current < EXTINF_DECIMALS).then_some(EXTINF_DECIMALS),
    );
    let mut out = Vec::with_capacity(4096);
    write(&mut out).unwrap_or_else(|error| unreachable!("writing to a Vec cannot fail: {error}"));
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
