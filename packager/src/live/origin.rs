//! The in-memory live origin: per channel and rendition, the init sections,
//! the bytes of the listed segments and parts, and the playlist state.
//! Readers block on a `tokio::sync::watch` of the playlist position, so HTTP
//! handlers can hold blocking playlist reloads and preload-hint requests.
//!
//! Memory is bounded twice: nothing outside the playlist window is kept,
//! and per rendition at most `max_rendition_bytes` of segment bytes stay in
//! memory (older listed segments and parts must then come from storage; the
//! newest segment and the newest part are always kept).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use time::OffsetDateTime;
use tokio::sync::watch;

use super::LiveError;
use crate::hls::live_playlist::{
    ListedSegment, LiveMediaPlaylist, LivePart, LivePlaylistConfig, LivePlaylistMode, LiveResource,
    RenditionReport,
};
use crate::hls::live_reload::{
    PartId, PlaylistPosition, ReloadDecision, ReloadRequest, decide_reload,
};

/// Limits of a live origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOriginConfig {
    /// Segment bytes kept in memory per rendition.
    pub max_rendition_bytes: usize,
}

impl Default for LiveOriginConfig {
    /// 64 MiB per rendition: a minute of 8 Mbit/s video.
    fn default() -> Self {
        Self {
            max_rendition_bytes: 64 << 20,
        }
    }
}

/// Names one rendition of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RenditionKey {
    /// The channel.
    pub channel: String,
    /// The rendition within the channel, e.g. `720p` or `audio`.
    pub rendition: String,
}

/// Every live rendition served from memory.
#[derive(Debug, Default)]
pub struct LiveOrigin {
    config: LiveOriginConfig,
    renditions: Mutex<HashMap<RenditionKey, Arc<LiveRendition>>>,
}

impl LiveOrigin {
    /// An empty origin.
    pub fn new(config: LiveOriginConfig) -> Self {
        Self {
            config,
            renditions: Mutex::new(HashMap::new()),
        }
    }

    /// The rendition under `key`, created with `playlist` (validated) if
    /// absent. An existing rendition is returned unchanged, so a reconnecting
    /// publisher continues the same playlist.
    pub fn open(
        &self,
        key: RenditionKey,
        playlist: LivePlaylistConfig,
    ) -> Result<Arc<LiveRendition>, LiveError> {
        playlist.validate()?;
        let mut renditions = self
            .renditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(Arc::clone(renditions.entry(key).or_insert_with(|| {
            Arc::new(LiveRendition::new(playlist, self.config))
        })))
    }

    /// The rendition under `key`, if open.
    pub fn get(&self, key: &RenditionKey) -> Option<Arc<LiveRendition>> {
        let renditions = self
            .renditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        renditions.get(key).cloned()
    }

    /// Removes a rendition and frees its memory once no reader holds it.
    pub fn close(&self, key: &RenditionKey) -> Option<Arc<LiveRendition>> {
        let mut renditions = self
            .renditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        renditions.remove(key)
    }

    /// The LL-HLS (or standard) playlist of `key`; in LL-HLS mode with an
    /// `EXT-X-RENDITION-REPORT` for every other rendition of the channel,
    /// whose playlist URI (relative to this one) `report_uri` builds from its
    /// rendition name. `None` when the rendition is not open.
    pub fn playlist(
        &self,
        key: &RenditionKey,
        mode: LivePlaylistMode,
        report_uri: impl Fn(&str) -> String,
    ) -> Option<String> {
        let (rendition, reports) = {
            let renditions = self
                .renditions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let rendition = renditions.get(key).cloned()?;
            let mut others: Vec<(&RenditionKey, &Arc<LiveRendition>)> = renditions
                .iter()
                .filter(|(other, _)| other.channel == key.channel && *other != key)
                .collect();
            others.sort_by(|a, b| a.0.cmp(b.0));
            let reports: Vec<RenditionReport> = others
                .into_iter()
                .map(|(other, other_rendition)| RenditionReport {
                    uri: report_uri(&other.rendition),
                    position: other_rendition.position(),
                })
                .collect();
            (rendition, reports)
        };
        Some(rendition.read(|store| store.playlist.render_with_reports(mode, &reports)))
    }

    /// The renditions of a channel, sorted.
    pub fn renditions_of(&self, channel: &str) -> Vec<String> {
        let renditions = self
            .renditions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = renditions
            .keys()
            .filter(|key| key.channel == channel)
            .map(|key| key.rendition.clone())
            .collect();
        names.sort();
        names
    }
}

/// The end of a segment, published with its last part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentEnd {
    /// Wall-clock time of the segment's first sample (`EXT-X-PROGRAM-DATE-TIME`).
    pub program_date_time: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct RenditionStore {
    playlist: LiveMediaPlaylist,
    inits: BTreeMap<u64, Bytes>,
    segments: BTreeMap<u64, Bytes>,
    parts: BTreeMap<PartId, Bytes>,
    segment_bytes: usize,
}

/// One rendition of a live channel: its bytes and playlist state.
#[derive(Debug)]
pub struct LiveRendition {
    store: RwLock<RenditionStore>,
    position: watch::Sender<PlaylistPosition>,
    max_bytes: usize,
}

impl LiveRendition {
    fn new(playlist: LivePlaylistConfig, config: LiveOriginConfig) -> Self {
        let playlist = LiveMediaPlaylist::new(playlist);
        let (position, _) = watch::channel(playlist.position());
        Self {
            store: RwLock::new(RenditionStore {
                playlist,
                inits: BTreeMap::new(),
                segments: BTreeMap::new(),
                parts: BTreeMap::new(),
                segment_bytes: 0,
            }),
            position,
            max_bytes: config.max_rendition_bytes,
        }
    }

    /// Sets the init section new parts use (the current init generation).
    pub fn set_init(&self, init: Bytes) {
        self.update(|store| {
            let generation = store.playlist.current_init_generation();
            store.inits.insert(generation, init);
            Ok(())
        })
        .unwrap_or_else(|error: LiveError| unreachable!("setting an init cannot fail: {error}"));
    }

    /// Publishes a part; with `segment_end`, it is the last part of its
    /// segment and the segment is completed in the same update (so no reader
    /// ever sees a preload hint for a part that will not come).
    pub fn publish_part(
        &self,
        bytes: Bytes,
        part: LivePart,
        segment_end: Option<SegmentEnd>,
    ) -> Result<PartId, LiveError> {
        self.update(|store| {
            let id = store.playlist.push_part(part)?;
            store.parts.insert(id, bytes);
            if let Some(end) = segment_end {
                let msn = store.playlist.complete_segment(end.program_date_time)?;
                store.assemble_segment(msn);
            }
            Ok(id)
        })
    }

    /// The next segment follows a discontinuity; with `new_init`, it uses a
    /// new init section. The open segment must have been completed.
    pub fn start_discontinuity(&self, new_init: Option<Bytes>) -> Result<(), LiveError> {
        self.update(|store| {
            let generation = store.playlist.start_discontinuity(new_init.is_some())?;
            if let Some(init) = new_init {
                store.inits.insert(generation, init);
            }
            Ok(())
        })
    }

    /// Ends the stream (`EXT-X-ENDLIST`); every waiting reader is answered.
    pub fn end(&self) -> Result<(), LiveError> {
        self.update(|store| Ok(store.playlist.end()?))
    }

    /// The rendered playlist.
    pub fn playlist(&self, mode: LivePlaylistMode) -> String {
        self.read(|store| store.playlist.render(mode))
    }

    /// Where the playlist stands.
    pub fn position(&self) -> PlaylistPosition {
        *self.position.borrow()
    }

    /// The bytes of a resource named in the playlist, if still in memory.
    pub fn resource(&self, resource: LiveResource) -> Option<Bytes> {
        self.read(|store| match resource {
            LiveResource::Init(generation) => store.inits.get(&generation).cloned(),
            LiveResource::Segment(msn) => store.segments.get(&msn).cloned(),
            LiveResource::Part(id) => store.parts.get(&id).cloned(),
        })
    }

    /// The facts of complete segment `msn` while it is listed.
    pub fn listed_segment(&self, msn: u64) -> Option<ListedSegment> {
        self.read(|store| store.playlist.listed_segment(msn))
    }

    /// Segment bytes currently held in memory (complete segments and the open one's parts).
    pub fn bytes_in_memory(&self) -> usize {
        self.read(|store| store.segment_bytes)
    }

    /// Blocks until the playlist satisfies `_HLS_msn=msn` (and `_HLS_part`),
    /// at most `timeout`; a request too far ahead fails at once with
    /// [`LiveError::BadRequest`].
    pub async fn wait_for(
        &self,
        msn: u64,
        part: Option<u64>,
        timeout: Duration,
    ) -> Result<(), LiveError> {
        let request = ReloadRequest {
            msn: Some(msn),
            part,
        };
        let (segment_target, part_target) = self.read(|store| {
            let config = store.playlist.config();
            (config.segment_target, config.part_target)
        });
        let decide = |position: &PlaylistPosition| {
            decide_reload(*position, request, segment_target, part_target)
        };
        let mut receiver = self.position.subscribe();
        let decision = decide(&receiver.borrow_and_update());
        match decision {
            ReloadDecision::Ready => return Ok(()),
            ReloadDecision::BadRequest(reason) => return Err(reason.into()),
            ReloadDecision::Wait => {}
        }
        match tokio::time::timeout(
            timeout,
            receiver.wait_for(|p| decide(p) != ReloadDecision::Wait),
        )
        .await
        {
            Ok(Ok(position)) => match decide(&position) {
                ReloadDecision::BadRequest(reason) => Err(reason.into()),
                _ => Ok(()),
            },
            // The sender lives as long as `self`.
            Ok(Err(_)) | Err(_) => Err(LiveError::Timeout),
        }
    }

    /// Blocks until part `id` is published (a request for the preload hint)
    /// and returns its bytes; [`LiveError::NoSuchPart`] when its segment
    /// ended without it or the stream ended.
    pub async fn wait_for_part(&self, id: PartId, timeout: Duration) -> Result<Bytes, LiveError> {
        self.wait_for(id.msn, Some(id.part), timeout).await?;
        self.resource(LiveResource::Part(id))
            .ok_or(LiveError::NoSuchPart)
    }

    fn read<T>(&self, read: impl FnOnce(&RenditionStore) -> T) -> T {
        read(&self.store.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies an update, evicts what left the window or the budget, then
    /// wakes readers with the new position.
    fn update<T>(
        &self,
        apply: impl FnOnce(&mut RenditionStore) -> Result<T, LiveError>,
    ) -> Result<T, LiveError> {
        let mut store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        let result = apply(&mut store)?;
        store.evict(self.max_bytes);
        self.position.send_replace(store.playlist.position());
        Ok(result)
    }
}

impl RenditionStore {
    /// Concatenates the parts of segment `msn` into one buffer (a CMAF
    /// segment of several chunks) and re-points the parts into it, so the
    /// bytes are held once.
    fn assemble_segment(&mut self, msn: u64) {
        let range = PartId { msn, part: 0 }..PartId {
            msn: msn + 1,
            part: 0,
        };
        let total: usize = self.parts.range(range.clone()).map(|(_, b)| b.len()).sum();
        let mut segment = BytesMut::with_capacity(total);
        for (_, bytes) in self.parts.range(range.clone()) {
            segment.extend_from_slice(bytes);
        }
        let segment = segment.freeze();
        let mut offset = 0;
        for (_, bytes) in self.parts.range_mut(range) {
            let length = bytes.len();
            *bytes = segment.slice(offset..offset + length);
            offset += length;
        }
        self.segments.insert(msn, segment);
    }

    fn evict(&mut self, max_bytes: usize) {
        let first_listed = self.playlist.media_sequence();
        self.segments.retain(|&msn, _| msn >= first_listed);
        let playlist = &self.playlist;
        self.parts.retain(|&id, _| playlist.lists_part(id));
        let oldest_init = self.playlist.oldest_init_generation();
        self.inits
            .retain(|&generation, _| generation >= oldest_init);
        // Over budget: drop the oldest segments from memory (still listed;
        // served from storage), always keeping the newest one.
        let open_from = PartId {
            msn: self.playlist.next_part().msn,
            part: 0,
        };
        let mut open_bytes: usize = self.parts.range(open_from..).map(|(_, b)| b.len()).sum();
        let mut complete_bytes: usize = self.segments.values().map(Bytes::len).sum();
        while complete_bytes + open_bytes > max_bytes && self.segments.len() > 1 {
            let Some((msn, bytes)) = self.segments.pop_first() else {
                break;
            };
            complete_bytes -= bytes.len();
            self.parts.retain(|id, _| id.msn != msn);
        }
        // Still over budget (a stream without keyframes never closes its
        // segment): drop the open segment's oldest parts, keeping the newest.
        while complete_bytes + open_bytes > max_bytes && self.parts.range(open_from..).count() > 1 {
            let Some((&oldest, _)) = self.parts.range(open_from..).next() else {
                break;
            };
            if let Some(bytes) = self.parts.remove(&oldest) {
                open_bytes -= bytes.len();
            }
        }
        self.segment_bytes = complete_bytes + open_bytes;
    }
}
