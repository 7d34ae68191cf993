//! Persists a live session to the storage backend while it runs: every
//! init section and complete segment of every rendition, each followed by
//! that rendition's growing (EVENT) playlist, so storage never lists a
//! segment it does not hold. Puts are retried with backoff; a segment that
//! still fails is left out and the playlists mark the gap with a
//! discontinuity. The queue is bounded: storage slower than the stream for
//! long slows the stream down rather than growing memory.
//!
//! Layout under `live/{channel}/{session}/`: `{rendition}/init-{g}.mp4`,
//! `{rendition}/seg-{msn}.m4s`, `{rendition}/index.m3u8`; the recording adds
//! `master.m3u8` at the end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use yanxiu_packager::hls::live_playlist::{init_uri, segment_uri};
use yanxiu_packager::hls::{ListedSegment, MediaPlaylistState, SegmentEntry};
use yanxiu_packager::storage::{PutOptions, Storage};

/// Items queued per session before the producer waits.
const QUEUE: usize = 256;
/// First retry delay; doubled per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// What the packaging tasks hand over for storage.
#[derive(Debug)]
pub enum PersistItem {
    /// An init section of a rendition.
    Init {
        /// Rendition name.
        rendition: String,
        /// Init generation.
        generation: u64,
        /// The bytes.
        bytes: Bytes,
    },
    /// A complete segment.
    Segment {
        /// Rendition name.
        rendition: String,
        /// Its playlist facts.
        facts: ListedSegment,
        /// The bytes.
        bytes: Bytes,
    },
}

/// Running figures of a persister, readable while it runs.
#[derive(Debug, Default)]
pub struct PersistStats {
    /// Segments stored.
    pub segments: AtomicU64,
    /// Bytes stored.
    pub bytes: AtomicU64,
    /// Puts that failed (each attempt).
    pub failed_attempts: AtomicU64,
    /// Segments given up after every attempt failed.
    pub lost_segments: AtomicU64,
}

/// One rendition as persisted.
#[derive(Debug, Clone)]
pub struct PersistedRendition {
    /// Its playlist over the stored segments.
    pub playlist: MediaPlaylistState,
}

/// Hands items to the storage task.
#[derive(Debug, Clone)]
pub struct PersistQueue {
    tx: mpsc::Sender<PersistItem>,
}

impl PersistQueue {
    /// Queues an item; waits while the queue is full. `false` when the
    /// persister is gone.
    pub async fn push(&self, item: PersistItem) -> bool {
        self.tx.send(item).await.is_ok()
    }
}

/// The storage task of one session.
#[derive(Debug)]
pub struct Persister {
    queue: PersistQueue,
    task: JoinHandle<BTreeMap<String, PersistedRendition>>,
    stats: Arc<PersistStats>,
}

impl Persister {
    /// Starts persisting under `prefix` (ending in `/`).
    pub fn start(
        storage: Arc<dyn Storage>,
        prefix: String,
        attempts: u32,
        segment_target: Duration,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(PersistStats::default());
        let writer = Writer {
            storage,
            prefix,
            attempts: attempts.max(1),
            min_target_duration: segment_target.as_secs_f64().ceil().max(1.0) as u64,
            stats: stats.clone(),
            renditions: BTreeMap::new(),
        };
        let task = tokio::spawn(writer.run(rx));
        Self {
            queue: PersistQueue { tx },
            task,
            stats,
        }
    }

    /// A handle for the packaging tasks.
    pub fn queue(&self) -> PersistQueue {
        self.queue.clone()
    }

    /// The running figures.
    pub fn stats(&self) -> Arc<PersistStats> {
        self.stats.clone()
    }

    /// Waits until everything queued is stored (every queue handle must be
    /// dropped) and returns what each rendition's recording holds.
    pub async fn finish(self) -> BTreeMap<String, PersistedRendition> {
        drop(self.queue);
        self.task.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "live persister task failed");
            BTreeMap::new()
        })
    }
}

#[derive(Debug)]
struct RenditionState {
    playlist: MediaPlaylistState,
    /// Init generation of the last stored segment.
    generation: Option<u64>,
    /// Init generations stored.
    inits: Vec<u64>,
    /// The next stored segment must be marked as a discontinuity.
    gap: bool,
}

#[derive(Debug)]
struct Writer {
    storage: Arc<dyn Storage>,
    prefix: String,
    attempts: u32,
    min_target_duration: u64,
    stats: Arc<PersistStats>,
    renditions: BTreeMap<String, RenditionState>,
}

impl Writer {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<PersistItem>,
    ) -> BTreeMap<String, PersistedRendition> {
        while let Some(item) = rx.recv().await {
            match item {
                PersistItem::Init {
                    rendition,
                    generation,
                    bytes,
                } => self.init(rendition, generation, bytes).await,
                PersistItem::Segment {
                    rendition,
                    facts,
                    bytes,
                } => self.segment(rendition, facts, bytes).await,
            }
        }
        self.renditions
            .into_iter()
            .map(|(name, state)| {
                let playlist = state.playlist;
                (name, PersistedRendition { playlist })
            })
            .collect()
    }

    fn state(&mut self, rendition: &str) -> &mut RenditionState {
        self.renditions
            .entry(rendition.to_owned())
            .or_insert_with(|| RenditionState {
                playlist: MediaPlaylistState::new(init_uri(0)),
                generation: None,
                inits: Vec::new(),
                gap: false,
            })
    }

    async fn init(&mut self, rendition: String, generation: u64, bytes: Bytes) {
        let key = format!("{}{rendition}/{}", self.prefix, init_uri(generation));
        if self.put(&key, bytes).await {
            self.state(&rendition).inits.push(generation);
        }
    }

    async fn segment(&mut self, rendition: String, facts: ListedSegment, bytes: Bytes) {
        let size = bytes.len() as u64;
        let key = format!("{}{rendition}/{}", self.prefix, segment_uri(facts.msn));
        let stored = self.put(&key, bytes).await;
        let stats = self.stats.clone();
        let min_target_duration = self.min_target_duration;
        let state = self.state(&rendition);
        if !stored || !state.inits.contains(&facts.init_generation) {
            // Without the segment (or its init section) the recording skips it.
            state.gap = true;
            stats.lost_segments.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let new_init = state.generation.is_some_and(|g| g != facts.init_generation)
            || (state.generation.is_none() && facts.init_generation != 0);
        if facts.discontinuity || state.gap || new_init {
            state
                .playlist
                .start_discontinuity(new_init.then(|| init_uri(facts.init_generation)));
        }
        state.gap = false;
        state.generation = Some(facts.init_generation);
        state.playlist.push(SegmentEntry {
            uri: segment_uri(facts.msn),
            duration_ticks: facts.duration_ticks,
            timescale: facts.timescale,
            bytes: size,
        });
        stats.segments.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(size, Ordering::Relaxed);
        let playlist = Bytes::from(state.playlist.render_event(min_target_duration));
        let key = format!("{}{rendition}/index.m3u8", self.prefix);
        self.put(&key, playlist).await;
    }

    /// Puts with retries; `false` once every attempt failed.
    async fn put(&self, key: &str, bytes: Bytes) -> bool {
        let options = PutOptions::for_key(key);
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=self.attempts {
            match self.storage.put(key, bytes.clone(), &options).await {
                Ok(()) => return true,
                Err(e) => {
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%key, attempt, error = %e, "live segment not stored yet");
                    if attempt < self.attempts {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        tracing::error!(%key, attempts = self.attempts, "live segment given up");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yanxiu_packager::storage::MemoryStorage;

    fn facts(msn: u64, generation: u64, discontinuity: bool) -> ListedSegment {
        ListedSegment {
            msn,
            duration_ticks: 180_000,
            timescale: 90_000,
            discontinuity,
            init_generation: generation,
            program_date_time: None,
        }
    }

    #[tokio::test]
    async fn segments_are_stored_with_a_playlist_written_after_each() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let persister = Persister::start(
            storage.clone(),
            "live/c/s/".into(),
            3,
            Duration::from_secs(2),
        );
        let queue = persister.queue();
        queue
            .push(PersistItem::Init {
                rendition: "480p".into(),
                generation: 0,
                bytes: Bytes::from_static(b"init"),
            })
            .await;
        for msn in 0..3 {
            queue
                .push(PersistItem::Segment {
                    rendition: "480p".into(),
                    facts: facts(msn, 0, false),
                    bytes: Bytes::from_static(b"segment"),
                })
                .await;
        }
        drop(queue);
        let stats = persister.stats();
        let renditions = persister.finish().await;
        assert_eq!(stats.segments.load(Ordering::Relaxed), 3);
        let recorded = &renditions["480p"];
        assert_eq!(recorded.playlist.segments().len(), 3);
        let stored = storage.get("live/c/s/480p/index.m3u8").await.unwrap();
        let text = String::from_utf8(stored.to_vec()).unwrap();
        assert!(
            text.contains("seg-2.m4s") && text.contains("PLAYLIST-TYPE:EVENT"),
            "{text}"
        );
        assert!(storage.get("live/c/s/480p/seg-0.m4s").await.is_ok());
        assert!(storage.get("live/c/s/480p/init-0.mp4").await.is_ok());
    }

    #[tokio::test]
    async fn a_reconnect_with_a_new_init_section_is_a_discontinuity_in_the_recording() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let persister = Persister::start(storage, "p/".into(), 1, Duration::from_secs(2));
        let queue = persister.queue();
        for generation in [0, 1] {
            queue
                .push(PersistItem::Init {
                    rendition: "source".into(),
                    generation,
                    bytes: Bytes::from_static(b"init"),
                })
                .await;
        }
        queue
            .push(PersistItem::Segment {
                rendition: "source".into(),
                facts: facts(0, 0, false),
                bytes: Bytes::from_static(b"a"),
            })
            .await;
        queue
            .push(PersistItem::Segment {
                rendition: "source".into(),
                facts: facts(1, 1, true),
                bytes: Bytes::from_static(b"b"),
            })
            .await;
        drop(queue);
        let renditions = persister.finish().await;
        let text = renditions["source"].playlist.render_vod();
        assert!(text.contains("#EXT-X-DISCONTINUITY"), "{text}");
        assert!(text.contains("init-1.mp4"), "{text}");
    }
}
