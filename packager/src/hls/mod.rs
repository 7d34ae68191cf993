//! Pure HLS playlist writing with `m3u8-rs`: per-rendition media playlist
//! state (segments, target duration, measured bitrates) and the master
//! playlist of a ladder, and the caption (subtitles) group added to it.
//! No IO; callers store the rendered text.

pub mod live_playlist;
pub mod live_reload;
mod live_writer;
mod master_playlist;
mod media_playlist;
mod subtitles;

pub use live_playlist::ListedSegment;
pub use master_playlist::{
    AUDIO_GROUP_ID, AudioRendition, CLOSED_CAPTIONS_GROUP_ID, ClosedCaptions, MasterPlaylistSpec,
    VideoVariant,
};
pub use media_playlist::{MediaPlaylistState, SegmentEntry};
pub use subtitles::{
    SUBTITLES_GROUP_ID, SubtitleTrack, SubtitlesError, subtitle_media_playlist, with_subtitles,
};

/// `EXT-X-VERSION` of every playlist written (fMP4 segments with `EXT-X-MAP`).
pub const PLAYLIST_VERSION: usize = 7;

/// Renders through an m3u8-rs writer into a string. m3u8-rs's process-wide float setting
/// is left alone: values are rounded where they are made (`EXTINF` to milliseconds).
fn render(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::with_capacity(4096);
    if let Err(error) = write(&mut out) {
        // Writing to a Vec does not fail; should m3u8-rs ever report something, say so.
        tracing::error!(%error, "rendering a playlist failed");
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
