//! Finishing sessions a stopped process left open. While a session runs,
//! an open-session marker (`live/open/{channel}/{session}.json`: where it
//! is stored, whether it records, its renditions) sits in storage; a
//! session that ends normally removes it. At start-up, `serve` finishes
//! every marked session nobody is writing any more (nothing stored for a
//! reconnect window plus five segment targets): the recording is made
//! from the stored EVENT playlists (or the stored session deleted for a
//! channel that does not record), a `stopped` event says why, and the
//! channel goes idle. Sessions still written (by another node) are left
//! alone and checked again later.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use yanxiu_control::channel_events::ChannelEventKind;
use yanxiu_control::channels::PublishAuthorizer;
use yanxiu_control::now_ms;
use yanxiu_packager::hls::MediaPlaylistState;
use yanxiu_packager::storage::{PutOptions, Storage, StorageError};

use super::master::MasterEntry;
use super::recording::{self, EndedSession, RecordingError};
use super::service::LiveService;

/// Where the markers are.
const MARKERS: &str = "live/open/";

/// What an interrupted session's recording needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSession {
    /// The channel.
    pub channel_id: String,
    /// The session.
    pub session_id: String,
    /// Storage prefix of the session (ends in `/`).
    pub prefix: String,
    /// Session start (ms).
    pub started_at: i64,
    /// Whether the channel records.
    pub record: bool,
    /// Frame rate for the master playlist.
    pub frame_rate: f64,
    /// The renditions, once known.
    pub renditions: Vec<MasterEntry>,
}

impl OpenSession {
    fn key(&self) -> String {
        format!("{MARKERS}{}/{}.json", self.channel_id, self.session_id)
    }
}

/// Writes (or rewrites) the marker of a running session.
pub async fn mark(storage: &Arc<dyn Storage>, open: &OpenSession) -> Result<(), StorageError> {
    let key = open.key();
    let body = serde_json::to_vec(open).unwrap_or_default();
    storage
        .put(&key, Bytes::from(body), &PutOptions::for_key(&key))
        .await
}

/// Removes the marker of a session that ended.
pub async fn unmark(storage: &Arc<dyn Storage>, open: &OpenSession) {
    if let Err(e) = storage.delete(&open.key()).await {
        tracing::warn!(channel = %open.channel_id, error = %e, "open-session marker not removed");
    }
}

/// Finishes every interrupted session; rechecks sessions still written
/// until none is left or the service stops.
pub async fn recover(service: Arc<LiveService>) {
    let settings = service.settings.clone();
    let stale_after = settings.reconnect_window + settings.segment_target * 5;
    loop {
        let markers = match service.storage.list(MARKERS).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list open live sessions");
                return;
            }
        };
        let mut waiting = false;
        for marker in markers.iter().filter(|m| m.key.ends_with(".json")) {
            let open: OpenSession = match service.storage.get(&marker.key).await {
                Ok(body) => match serde_json::from_slice(&body) {
                    Ok(open) => open,
                    Err(e) => {
                        tracing::warn!(key = %marker.key, error = %e, "unreadable open-session marker");
                        continue;
                    }
                },
                Err(_) => continue,
            };
            if service
                .session(&open.channel_id)
                .is_some_and(|v| v.session_id.to_string() == open.session_id)
            {
                continue;
            }
            match written_within(&service.storage, &open.prefix, stale_after).await {
                Ok(true) => waiting = true,
                Ok(false) => finish(&service, &open).await,
                Err(e) => {
                    tracing::warn!(channel = %open.channel_id, error = %e, "cannot check an open live session")
                }
            }
        }
        if !waiting {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(stale_after) => {}
            () = service.shutdown.cancelled() => return,
        }
    }
}

/// Whether anything of the session was stored within `within`.
async fn written_within(
    storage: &Arc<dyn Storage>,
    prefix: &str,
    within: Duration,
) -> Result<bool, StorageError> {
    let newest = storage
        .list(prefix)
        .await?
        .into_iter()
        .filter_map(|o| o.last_modified)
        .max();
    Ok(newest.is_some_and(|at| {
        SystemTime::now()
            .duration_since(at)
            .map_or(true, |age| age < within)
    }))
}

/// Makes the recording (or deletes the unrecorded session), records the
/// stop and frees the channel.
async fn finish(service: &Arc<LiveService>, open: &OpenSession) {
    let now = now_ms();
    let mut recording = None;
    if open.record {
        match record(service, open, now).await {
            Ok(id) => recording = Some(id),
            Err(RecordingError::Empty) => {}
            Err(e) => {
                tracing::error!(channel = %open.channel_id, error = %e, "interrupted live recording not made");
                return;
            }
        }
    } else if let Err(e) = service.storage.delete_prefix(&open.prefix).await {
        tracing::warn!(channel = %open.channel_id, error = %e, "interrupted unrecorded session not removed");
    }
    tracing::info!(channel = %open.channel_id, session = %open.session_id, recording = ?recording, "interrupted live session finished");
    let detail = json!({
        "session_id": open.session_id,
        "reason": "the server stopped during the session; finished after its restart",
        "recording_resource_id": recording,
    });
    if let Err(e) = service
        .control
        .record_channel_event(&open.channel_id, ChannelEventKind::Stopped, detail, now)
        .await
    {
        tracing::warn!(channel = %open.channel_id, error = %e, "channel event not recorded");
    }
    if service.session(&open.channel_id).is_none() {
        // A channel already idle answers "unknown channel": nothing to do then.
        if let Err(e) = service.control.publish_ended(&open.channel_id, now).await {
            tracing::debug!(channel = %open.channel_id, error = ?e, "channel not marked idle");
        }
    }
    unmark(&service.storage, open).await;
}

/// The recording from the stored EVENT playlists and segment sizes.
async fn record(
    service: &Arc<LiveService>,
    open: &OpenSession,
    now: i64,
) -> Result<String, RecordingError> {
    let stored = service.storage.list(&open.prefix).await?;
    // The session ended when its last object was stored.
    let ended_at = stored
        .iter()
        .filter_map(|o| o.last_modified)
        .max()
        .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(now);
    let sizes: HashMap<String, u64> = stored.into_iter().map(|o| (o.key, o.size)).collect();
    let mut renditions = Vec::new();
    for entry in &open.renditions {
        let dir = format!("{}{}/", open.prefix, entry.name);
        let Ok(text) = service.storage.get(&format!("{dir}index.m3u8")).await else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        let size = |uri: &str| sizes.get(&format!("{dir}{uri}")).copied().unwrap_or(0);
        if let Some(playlist) = MediaPlaylistState::parse(&text, size) {
            renditions.push((entry.clone(), playlist));
        }
    }
    recording::record(
        &service.storage,
        &service.control,
        EndedSession {
            channel_id: &open.channel_id,
            session_id: open.session_id.clone(),
            prefix: &open.prefix,
            renditions,
            frame_rate: open.frame_rate,
            started_at: open.started_at,
            ended_at,
        },
    )
    .await
}
