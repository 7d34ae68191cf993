//! Turns an ended live session into a recording: every rendition's VOD
//! playlist over the segments persisted while live (overwriting the growing
//! EVENT playlist), then the master playlist last, then a draft resource
//! owned by the channel's organiser through the control plane, which enters
//! the normal review workflow. Used at the end of a session and to finish
//! a session a stopped process left open (`recovery`).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use yanxiu_control::ControlPlane;
use yanxiu_control::recordings::RecordingFacts;
use yanxiu_packager::hls::MediaPlaylistState;
use yanxiu_packager::storage::{PutOptions, Storage, StorageError};

use super::master::{MasterEntry, render_master};

/// Why a recording could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// No video segment of the session reached storage.
    #[error("no segment of the session was stored")]
    Empty,
    /// A playlist could not be written.
    #[error("cannot write the recording's playlists: {0}")]
    Storage(#[from] StorageError),
    /// The control plane refused or failed.
    #[error("cannot register the recording: {0}")]
    Control(#[from] yanxiu_control::ControlError),
}

/// What the recording needs of the session.
#[derive(Debug)]
pub struct EndedSession<'a> {
    /// The channel.
    pub channel_id: &'a str,
    /// The session id.
    pub session_id: String,
    /// Storage prefix (ends in `/`).
    pub prefix: &'a str,
    /// Each rendition and its playlist over the stored segments.
    pub renditions: Vec<(MasterEntry, MediaPlaylistState)>,
    /// Frame rate for the master playlist.
    pub frame_rate: f64,
    /// Session start (ms).
    pub started_at: i64,
    /// Session end (ms).
    pub ended_at: i64,
}

/// Writes the recording's playlists and registers the draft resource;
/// returns its id. Renditions without a stored segment are left out.
pub async fn record(
    storage: &Arc<dyn Storage>,
    control: &ControlPlane,
    session: EndedSession<'_>,
) -> Result<String, RecordingError> {
    let recorded: Vec<(MasterEntry, MediaPlaylistState)> = session
        .renditions
        .into_iter()
        .filter(|(_, playlist)| !playlist.segments().is_empty())
        .collect();
    if !recorded.iter().any(|(entry, _)| entry.is_video()) {
        return Err(RecordingError::Empty);
    }
    let mut duration_seconds: f64 = 0.0;
    let mut summaries = Vec::new();
    for (entry, playlist) in &recorded {
        let key = format!("{}{}/index.m3u8", session.prefix, entry.name);
        storage
            .put(
                &key,
                Bytes::from(playlist.render_vod()),
                &PutOptions::for_key(&key),
            )
            .await?;
        let seconds = playlist.duration_seconds();
        if entry.is_video() {
            duration_seconds = duration_seconds.max(seconds);
        }
        summaries.push(json!({
            "name": entry.name,
            "codec": entry.codec,
            "width": entry.picture.map(|p| p.0),
            "height": entry.picture.map(|p| p.1),
            "segments": playlist.segments().len(),
            "peak_bitrate": playlist.peak_bitrate(),
            "average_bitrate": playlist.average_bitrate(),
            "duration_seconds": seconds,
        }));
    }
    let with_bitrates: Vec<_> = recorded
        .iter()
        .map(|(entry, playlist)| {
            let bitrates = (playlist.peak_bitrate(), playlist.average_bitrate());
            (entry.clone(), bitrates)
        })
        .collect();
    let master = render_master(&with_bitrates, session.frame_rate);
    let key = format!("{}master.m3u8", session.prefix);
    storage
        .put(&key, Bytes::from(master), &PutOptions::for_key(&key))
        .await?;
    let resource = control
        .record_live_recording(
            session.channel_id,
            RecordingFacts {
                session_id: session.session_id,
                started_at: session.started_at,
                ended_at: session.ended_at,
                duration_seconds,
                ladder_prefix: session.prefix.to_owned(),
                renditions: summaries,
                poster_key: None,
            },
            session.ended_at,
        )
        .await?;
    Ok(resource.id)
}
