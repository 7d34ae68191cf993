//! The media pipeline of one live session: the transcoder (decode once,
//! passthrough + rungs), one packaging task per rendition feeding the
//! in-memory origin, and the hand-over of every complete segment (and its
//! init section) to the persister. One pipeline lives as long as the
//! session, across publisher reconnects: the transcoder repairs the new
//! publisher's timestamps into the same timeline.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;
use yanxiu_packager::hls::live_playlist::LiveResource;
use yanxiu_packager::live::{LiveOrigin, LiveTrackPackager, RenditionKey, WallClockAnchor};
use yanxiu_packager::media::{TrackConfig, TrackInput};
use yanxiu_transcode::live::{
    LiveConfig, LiveInput, LiveRendition, LiveRenditionKind, LiveReport, LiveStatsHandle,
    LiveTranscoder,
};

use super::persist::{PersistItem, PersistQueue};
use super::settings::LiveSettings;

/// One rendition as offered in the master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionInfo {
    /// Name (also its directory), e.g. `source`, `480p`, `audio`.
    pub name: String,
    /// What it is.
    pub kind: LiveRenditionKind,
    /// Its track configuration (codec, size, rate).
    pub config: TrackConfig,
    /// Declared peak bitrate (0 when unknown: passthrough).
    pub bitrate: u64,
}

/// What the HTTP side needs of a running session.
#[derive(Debug)]
pub struct SessionView {
    /// The channel.
    pub channel_id: String,
    /// The session.
    pub session_id: Uuid,
    /// The channel name of the session's renditions in the origin.
    pub origin_channel: String,
    /// Where the session is persisted (ends in `/`).
    pub storage_prefix: String,
    /// Serve LL-HLS playlists (parts, preload hints).
    pub low_latency: bool,
    renditions: RwLock<Vec<RenditionInfo>>,
    expected: AtomicUsize,
    ready: watch::Sender<bool>,
    /// Input video bitrate last measured (for the passthrough's BANDWIDTH).
    pub input_video_bitrate: AtomicU64,
    /// Input frame rate last measured, in milli-frames per second.
    pub input_frame_rate_milli: AtomicU64,
    /// When the session's first media unit arrived: the wall-clock time of
    /// the timeline's origin (program date times derive from it).
    pub first_media_at: OnceLock<OffsetDateTime>,
}

impl SessionView {
    /// A session with no renditions yet.
    pub fn new(channel_id: &str, session_id: Uuid, low_latency: bool) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            session_id,
            origin_channel: format!("{channel_id}/{session_id}"),
            storage_prefix: format!("live/{channel_id}/{session_id}/"),
            low_latency,
            renditions: RwLock::new(Vec::new()),
            expected: AtomicUsize::new(usize::MAX),
            ready: watch::channel(false).0,
            input_video_bitrate: AtomicU64::new(0),
            input_frame_rate_milli: AtomicU64::new(0),
            first_media_at: OnceLock::new(),
        }
    }

    /// The origin key of rendition `name`.
    pub fn key(&self, name: &str) -> RenditionKey {
        RenditionKey {
            channel: self.origin_channel.clone(),
            rendition: name.to_owned(),
        }
    }

    /// The renditions known so far.
    pub fn renditions(&self) -> Vec<RenditionInfo> {
        self.renditions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether every rendition has its configuration.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits (at most `timeout`) until every rendition has its configuration.
    pub async fn wait_ready(&self, timeout: std::time::Duration) -> bool {
        let mut rx = self.ready.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|ready| *ready)).await,
            Ok(Ok(_))
        )
    }

    fn expect(&self, count: usize) {
        self.expected.store(count, Ordering::SeqCst);
        self.update_ready();
    }

    fn add(&self, info: RenditionInfo) {
        {
            let mut list = self
                .renditions
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            match list.iter_mut().find(|r| r.name == info.name) {
                Some(existing) => *existing = info,
                None => list.push(info),
            }
        }
        self.update_ready();
    }

    fn update_ready(&self) {
        let have = self
            .renditions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        if have >= self.expected.load(Ordering::SeqCst) {
            self.ready.send_replace(true);
        }
    }
}

/// Running figures of the packaging side.
#[derive(Debug, Default)]
pub struct PackagingStats {
    /// Samples dropped before a publisher's first keyframe, all renditions.
    pub dropped_before_keyframe: AtomicU64,
    /// Packaging errors (a rendition stopped).
    pub errors: AtomicU64,
}

/// How the pipeline ended.
#[derive(Debug)]
pub struct PipelineOutcome {
    /// The transcoder's figures, or why it failed.
    pub report: Result<LiveReport, String>,
    /// The renditions it offered.
    pub renditions: Vec<RenditionInfo>,
}

/// Everything the packaging tasks share.
#[derive(Debug, Clone)]
pub struct PipelineContext {
    /// The session.
    pub view: Arc<SessionView>,
    /// The in-memory origin.
    pub origin: Arc<LiveOrigin>,
    /// Live settings.
    pub settings: Arc<LiveSettings>,
    /// Where complete segments go.
    pub persist: PersistQueue,
    /// Wall-clock time of the session start, the fallback timeline origin
    /// until the first media unit arrived ([`SessionView::first_media_at`]).
    pub anchor_at: OffsetDateTime,
    /// Running figures.
    pub stats: Arc<PackagingStats>,
    /// The channel offers an HEVC source as it came, beside the H.264 ladder.
    pub hevc_passthrough: bool,
}

/// A running pipeline.
#[derive(Debug)]
pub struct LivePipeline {
    input: mpsc::Sender<LiveInput>,
    supervisor: JoinHandle<PipelineOutcome>,
    stats: Arc<PackagingStats>,
    transcode_stats: LiveStatsHandle,
}

impl LivePipeline {
    /// Starts the transcoder and the task that packages its renditions.
    pub fn start(context: PipelineContext) -> Result<Self, yanxiu_transcode::live::LiveError> {
        // Low-latency channels encode without B-frames or lookahead; the
        // others trade a few hundred milliseconds for better pictures per bit.
        let transcoder = LiveTranscoder::start(LiveConfig {
            zero_latency: context.view.low_latency,
            hevc_passthrough: context.hevc_passthrough,
            ..context.settings.transcode.clone()
        })?;
        let input = transcoder.input();
        let transcode_stats = transcoder.stats_handle();
        let stats = context.stats.clone();
        let supervisor = tokio::spawn(supervise(transcoder, context));
        Ok(Self {
            input,
            supervisor,
            stats,
            transcode_stats,
        })
    }

    /// Feeds one input unit; waits while the transcoder is busy (which
    /// slows the publisher down). `false` once the transcoder stopped.
    pub async fn feed(&self, unit: LiveInput) -> bool {
        self.input.send(unit).await.is_ok()
    }

    /// Input units lost so far: damaged (the decoder refused them),
    /// dropped by the timestamp repair or before a configuration, and
    /// samples dropped by the packagers before a publisher's first keyframe.
    pub fn dropped_frames(&self) -> u64 {
        let transcode = self.transcode_stats.snapshot();
        transcode.corrupt_units
            + transcode.dropped_units
            + self.stats.dropped_before_keyframe.load(Ordering::Relaxed)
    }

    /// Ends the input and waits until every rendition is packaged and handed
    /// to the persister.
    pub async fn finish(self) -> PipelineOutcome {
        let _ = self.input.send(LiveInput::End).await;
        drop(self.input);
        self.supervisor.await.unwrap_or_else(|e| PipelineOutcome {
            report: Err(format!("live pipeline task failed: {e}")),
            renditions: Vec::new(),
        })
    }
}

async fn supervise(mut transcoder: LiveTranscoder, context: PipelineContext) -> PipelineOutcome {
    let renditions = match transcoder.renditions().await {
        Ok(list) => list,
        Err(e) => {
            return PipelineOutcome {
                report: Err(e.to_string()),
                renditions: Vec::new(),
            };
        }
    };
    context.view.expect(renditions.len());
    let mut tasks = JoinSet::new();
    for rendition in renditions {
        tasks.spawn(package(rendition, context.clone()));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "live packaging task failed");
            context.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    let report = transcoder.finish().await.map_err(|e| e.to_string());
    PipelineOutcome {
        report,
        renditions: context.view.renditions(),
    }
}

/// Packages one rendition until its `End`, handing complete segments to the
/// persister. A packaging error stops this rendition (logged, counted) but
/// keeps draining its channel so the other renditions go on.
async fn package(rendition: LiveRendition, context: PipelineContext) {
    let LiveRendition {
        name,
        kind,
        bitrate,
        mut samples,
    } = rendition;
    let key = context.view.key(&name);
    let settings = &context.settings;
    let mut packager: Option<LiveTrackPackager> = None;
    let mut current: Option<TrackConfig> = None;
    let mut handed_over = Handover::default();
    let mut failed = false;
    while let Some(input) = samples.recv().await {
        if failed {
            continue;
        }
        let step = match input {
            TrackInput::Config(config) => {
                let anchor = Some(WallClockAnchor {
                    pts: 0,
                    at: context
                        .view
                        .first_media_at
                        .get()
                        .copied()
                        .unwrap_or(context.anchor_at),
                });
                let result = match packager.as_mut() {
                    // The same configuration again (an encoded rung when the
                    // source changed): the timeline goes on, nothing to mark.
                    Some(_) if current.as_ref() == Some(&config) => Ok(()),
                    Some(p) => p
                        .reconnect(config.clone(), anchor)
                        .map_err(|e| e.to_string()),
                    None => context
                        .origin
                        .open(key.clone(), settings.playlist(config.timescale))
                        .map(|out| {
                            packager = Some(LiveTrackPackager::new(
                                out,
                                config.clone(),
                                settings.segment_target,
                                settings.part_target,
                                anchor,
                            ));
                        })
                        .map_err(|e| e.to_string()),
                };
                current = Some(config.clone());
                context.view.add(RenditionInfo {
                    name: name.clone(),
                    kind: kind.clone(),
                    config,
                    bitrate,
                });
                result
            }
            TrackInput::Sample(sample) => match packager.as_mut() {
                Some(p) => p.push(sample).map(|_| ()).map_err(|e| e.to_string()),
                None => Err("a sample came before the track configuration".to_owned()),
            },
            TrackInput::End => break,
        };
        if let Err(e) = step {
            tracing::error!(rendition = %name, error = %e, "live rendition stopped");
            context.stats.errors.fetch_add(1, Ordering::Relaxed);
            failed = true;
            continue;
        }
        if let Some(p) = &packager {
            handed_over.new_segments(&name, p, &context).await;
        }
    }
    if let Some(p) = packager {
        let out = p.rendition().clone();
        context
            .stats
            .dropped_before_keyframe
            .fetch_add(p.dropped_before_keyframe(), Ordering::Relaxed);
        if let Err(e) = p.finish() {
            tracing::warn!(rendition = %name, error = %e, "live rendition did not end cleanly");
        }
        handed_over.after(&name, &out, &context).await;
    }
}

/// Which segments and init sections of a rendition went to the persister.
#[derive(Debug, Default)]
struct Handover {
    next_msn: u64,
    inits: HashSet<u64>,
}

impl Handover {
    async fn new_segments(
        &mut self,
        name: &str,
        packager: &LiveTrackPackager,
        context: &PipelineContext,
    ) {
        let out = packager.rendition().clone();
        self.after(name, &out, context).await;
    }

    /// Hands over every segment completed since the last call.
    async fn after(
        &mut self,
        name: &str,
        out: &Arc<yanxiu_packager::live::LiveRendition>,
        context: &PipelineContext,
    ) {
        let Some(last) = out.position().last_segment else {
            return;
        };
        while self.next_msn <= last {
            let msn = self.next_msn;
            self.next_msn += 1;
            let (Some(facts), Some(bytes)) = (
                out.listed_segment(msn),
                out.resource(LiveResource::Segment(msn)),
            ) else {
                tracing::warn!(rendition = %name, msn, "live segment left the origin before it was stored");
                continue;
            };
            if self.inits.insert(facts.init_generation)
                && let Some(init) = out.resource(LiveResource::Init(facts.init_generation))
            {
                context
                    .persist
                    .push(PersistItem::Init {
                        rendition: name.to_owned(),
                        generation: facts.init_generation,
                        bytes: init,
                    })
                    .await;
            }
            context
                .persist
                .push(PersistItem::Segment {
                    rendition: name.to_owned(),
                    facts,
                    bytes,
                })
                .await;
        }
    }
}
