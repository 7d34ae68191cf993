//! Turns an ended live session into a recording: every rendition's VOD
//! playlist over the segments persisted while live (overwriting the growing
//! EVENT playlist), then the master playlist last, then a draft resource
//! owned by the channel's organiser through the control plane, which enters
//! the normal review workflow.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use yanxiu_control::ControlPlane;
use yanxiu_control::recordings::RecordingFacts;
use yanxiu_packager::media::TrackKind;
use yanxiu_packager::storage::{PutOptions, Storage, StorageError};

use super::master::render_master;
use super::persist::PersistedRendition;
use super::pipeline::RenditionInfo;

/// Why a recording could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// Nothing of the session reached storage.
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
    /// The renditions offered.
    pub renditions: &'a [RenditionInfo],
    /// What was persisted per rendition.
    pub persisted: &'a BTreeMap<String, PersistedRendition>,
    /// Frame rate for the master playlist.
    pub frame_rate: f64,
    /// Session start and end (ms).
    pub started_at: i64,
    /// Session end (ms).
    pub ended_at: i64,
}

/// Writes the recording's playlists and registers the draft resource;
/// returns its id.
pub async fn record(
    storage: &Arc<dyn Storage>,
    control: &ControlPlane,
    session: EndedSession<'_>,
) -> Result<String, RecordingError> {
    let recorded: Vec<&RenditionInfo> = session
        .renditions
        .iter()
        .filter(|r| {
            session
                .persisted
                .get(&r.name)
                .is_some_and(|p| !p.playlist.segments().is_empty())
        })
        .collect();
    let has_video = recorded
        .iter()
        .any(|r| matches!(r.config.kind, TrackKind::Video { .. }));
    if !has_video {
        return Err(RecordingError::Empty);
    }
    let mut duration_seconds: f64 = 0.0;
    let mut summaries = Vec::new();
    for rendition in &recorded {
        let Some(persisted) = session.persisted.get(&rendition.name) else {
            continue;
        };
        let key = format!("{}{}/index.m3u8", session.prefix, rendition.name);
        storage
            .put(
                &key,
                Bytes::from(persisted.playlist.render_vod()),
                &PutOptions::for_key(&key),
            )
            .await?;
        let seconds = persisted.playlist.duration_seconds();
        if matches!(rendition.config.kind, TrackKind::Video { .. }) {
            duration_seconds = duration_seconds.max(seconds);
        }
        let (width, height) = match rendition.config.kind {
            TrackKind::Video { width, height, .. } => (Some(width), Some(height)),
            TrackKind::Audio { .. } => (None, None),
        };
        summaries.push(json!({
            "name": rendition.name,
            "codec": rendition.config.codec_string(),
            "width": width,
            "height": height,
            "segments": persisted.playlist.segments().len(),
            "peak_bitrate": persisted.playlist.peak_bitrate(),
            "average_bitrate": persisted.playlist.average_bitrate(),
            "duration_seconds": seconds,
        }));
    }
    let owned: Vec<RenditionInfo> = recorded.into_iter().cloned().collect();
    let master = render_master(&owned, session.frame_rate, |r| {
        session.persisted.get(&r.name).map_or((0, 0), |p| {
            (p.playlist.peak_bitrate(), p.playlist.average_bitrate())
        })
    });
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
