//! The runner of one channel: takes the channel's publishes, drives the
//! [`SessionLifecycle`] (reconnect window), feeds the publisher's media into
//! the session's pipeline, keeps the status board current, records the
//! channel's events, and when the session ends finishes the pipeline, the
//! persister and the recording.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;
use yanxiu_control::channel_events::ChannelEventKind;
use yanxiu_control::channels::PublishAuthorizer;
use yanxiu_control::live_status::LiveInputInfo;
use yanxiu_control::now_ms;
use yanxiu_ingest::publish::VpxCodec;
use yanxiu_ingest::rtmp::{EndReason, LiveEvent, LiveSession, StreamMetadata};
use yanxiu_ingest::whep::{FeedConverter, FeedFrame, LiveFeed};
use yanxiu_packager::h264::AvcDecoderConfig;
use yanxiu_transcode::live::{AacToOpus, LiveInput};

use super::lifecycle::{SessionLifecycle, Step};
use super::master::MasterEntry;
use super::persist::Persister;
use super::pipeline::{LivePipeline, PackagingStats, PipelineContext, SessionView};
use super::recording::{self, EndedSession};
use super::recovery::{self, OpenSession};
use super::service::LiveService;
use super::status::RateMeter;

/// What people read when the live transcode ended with an error (code, zh-CN, English).
const TRANSCODE_ENDED_BADLY: (&str, &str, &str) = (
    "live.transcode_failed",
    "直播转码异常结束，回放可能不完整",
    "the live transcode ended with an error; the replay may be incomplete",
);

/// What people read when a live session cannot start (code, zh-CN, English).
const START_FAILED: (&str, &str, &str) = (
    "live.start_failed",
    "直播会话无法启动，请稍后重新推流",
    "the live session could not start; publish again in a moment",
);

/// How long an ended session's playlists stay served (players polling
/// every target duration see the end), in segment targets.
const ENDED_GRACE_TARGETS: u32 = 5;
/// How often a live channel is checked for being disabled or ended by its
/// organiser (which cuts the publisher off).
const RECHECK_EVERY: Duration = Duration::from_secs(5);
/// How often the status figures are refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// A running session's parts.
struct Active {
    view: Arc<SessionView>,
    pipeline: LivePipeline,
    persister: Persister,
    record: bool,
    started_at: i64,
    meter: RateMeter,
    metadata: StreamMetadata,
    picture: Option<(u32, u32)>,
    /// The input's codecs, for the status (`h264`, `vp8`, `vp9`; `aac`, `opus`).
    video_codec: Option<&'static str>,
    audio_codec: Option<&'static str>,
    /// The open-session marker (complete once the ladder is known).
    marker: OpenSession,
    marked_ready: bool,
}

/// The runner of one channel.
pub struct ChannelRunner {
    service: Arc<LiveService>,
    channel_id: String,
    sessions: mpsc::Receiver<LiveSession>,
    sender: mpsc::Sender<LiveSession>,
    lifecycle: SessionLifecycle,
    publisher: Option<(Uuid, mpsc::Receiver<LiveEvent>)>,
    active: Option<Active>,
    last_end_reason: Option<String>,
    /// The channel's source for WHEP viewers, and the publish's conversion.
    feed: Arc<LiveFeed>,
    converter: FeedConverter,
    /// An AAC source's audio as Opus for the viewers (converted only while
    /// someone watches).
    aac_to_opus: Option<AacToOpus>,
}

impl ChannelRunner {
    /// A runner for `channel_id` taking publishes from `sessions`.
    pub fn new(
        service: Arc<LiveService>,
        channel_id: String,
        sessions: mpsc::Receiver<LiveSession>,
        sender: mpsc::Sender<LiveSession>,
    ) -> Self {
        let window_ms =
            i64::try_from(service.settings.reconnect_window.as_millis()).unwrap_or(i64::MAX);
        let feed = service.feeds.feed(&channel_id);
        Self {
            feed,
            converter: FeedConverter::new(),
            aac_to_opus: None,
            service,
            channel_id,
            sessions,
            sender,
            lifecycle: SessionLifecycle::new(window_ms),
            publisher: None,
            active: None,
            last_end_reason: None,
        }
    }

    /// Runs until the session ends.
    pub async fn run(mut self) {
        let mut status = tokio::time::interval(STATUS_EVERY);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let shutdown = self.service.shutdown.clone();
        loop {
            let deadline = match self.lifecycle.phase() {
                super::lifecycle::Phase::Reconnecting { deadline_ms } => Some(deadline_ms),
                _ => None,
            };
            let step = tokio::select! {
                () = shutdown.cancelled() => {
                    self.last_end_reason.get_or_insert_with(|| "server shutting down".to_owned());
                    self.lifecycle.shutdown()
                }
                incoming = self.sessions.recv() => match incoming {
                    Some(session) => self.publish(session).await,
                    None => self.lifecycle.shutdown(),
                },
                event = next_event(&mut self.publisher) => self.on_event(event).await,
                () = sleep_until_ms(deadline), if deadline.is_some() => self.lifecycle.tick(now_ms()),
                _ = status.tick() => {
                    self.refresh_status();
                    self.mark_ladder().await;
                    Step::Nothing
                }
                _ = recheck.tick() => self.recheck_channel().await,
            };
            if step == Step::End || self.lifecycle.phase() == super::lifecycle::Phase::Ended {
                break;
            }
        }
        self.end().await;
        let service = self.service.clone();
        service.runner_done(&self.channel_id, &self.sender, self.sessions);
    }

    async fn publish(&mut self, session: LiveSession) -> Step {
        let now = now_ms();
        let step = self.lifecycle.published(session.session_id, now);
        let peer = session.peer.to_string();
        match step {
            Step::Start => {
                if let Err(e) = self.start(&session, now).await {
                    tracing::error!(channel = %self.channel_id, error = %e, "live session could not start");
                    // People read the event and the dashboard: a code and safe words; the
                    // detail (paths, storage errors) is in the log line above.
                    let (code, zh, en) = START_FAILED;
                    self.event(
                        ChannelEventKind::Error,
                        json!({ "code": code, "message_zh": zh, "message_en": en }),
                    )
                    .await;
                    self.service.board.error(&self.channel_id, en);
                    return Step::End;
                }
                tracing::info!(channel = %self.channel_id, session = %session.session_id, %peer, "live session started");
                self.event(
                    ChannelEventKind::Started,
                    json!({ "session_id": self.session_id(), "peer": peer }),
                )
                .await;
            }
            Step::Continue { gap_ms } => {
                tracing::info!(channel = %self.channel_id, gap_ms, %peer, "live publisher reconnected");
                self.service.board.reconnected(&self.channel_id);
                self.event(
                    ChannelEventKind::Reconnected,
                    json!({ "session_id": self.session_id(), "peer": peer, "gap_ms": gap_ms }),
                )
                .await;
            }
            _ => return step,
        }
        // Dropping the previous receiver ends a replaced publisher for good.
        self.publisher = Some((session.session_id, session.events));
        step
    }

    async fn start(&mut self, session: &LiveSession, now: i64) -> anyhow::Result<()> {
        let channel = self.service.control.channel(&self.channel_id).await?;
        let low_latency = channel.latency_mode == yanxiu_control::channels::LatencyMode::LowLatency;
        let view = Arc::new(SessionView::new(
            &self.channel_id,
            session.session_id,
            low_latency,
        ));
        let settings = self.service.settings.clone();
        let persister = Persister::start(
            self.service.storage.clone(),
            view.storage_prefix.clone(),
            settings.persist_attempts,
            settings.segment_target,
        );
        let pipeline = LivePipeline::start(PipelineContext {
            view: view.clone(),
            origin: self.service.origin.clone(),
            settings,
            persist: persister.queue(),
            anchor_at: OffsetDateTime::now_utc(),
            stats: Arc::new(PackagingStats::default()),
            hevc_passthrough: channel.hevc_passthrough,
        })?;
        let marker = OpenSession {
            channel_id: self.channel_id.clone(),
            session_id: session.session_id.to_string(),
            prefix: view.storage_prefix.clone(),
            started_at: now,
            record: channel.record_to_vod,
            frame_rate: 30.0,
            renditions: Vec::new(),
        };
        if let Err(e) = recovery::mark(&self.service.storage, &marker).await {
            tracing::warn!(channel = %self.channel_id, error = %e, "open-session marker not stored");
        }
        self.service.show_session(view.clone());
        self.service
            .board
            .started(&self.channel_id, &session.session_id.to_string(), now);
        self.active = Some(Active {
            view,
            pipeline,
            persister,
            record: channel.record_to_vod,
            started_at: now,
            meter: RateMeter::default(),
            metadata: StreamMetadata::default(),
            picture: None,
            video_codec: None,
            audio_codec: None,
            marker,
            marked_ready: false,
        });
        Ok(())
    }

    async fn event(&mut self, kind: ChannelEventKind, detail: serde_json::Value) {
        if let Err(e) = self
            .service
            .control
            .record_channel_event(&self.channel_id, kind, detail, now_ms())
            .await
        {
            tracing::warn!(channel = %self.channel_id, error = %e, "channel event not recorded");
        }
    }

    fn session_id(&self) -> String {
        self.active
            .as_ref()
            .map(|a| a.view.session_id.to_string())
            .unwrap_or_default()
    }

    /// One event of the live publisher (`None`: its channel closed).
    async fn on_event(&mut self, event: Option<LiveEvent>) -> Step {
        let Some((publisher, _)) = &self.publisher else {
            return Step::Nothing;
        };
        let publisher = *publisher;
        let event = event.unwrap_or(LiveEvent::Ended {
            reason: EndReason::ClientClosed,
        });
        self.feed_viewers(&event);
        let Some(active) = self.active.as_mut() else {
            return Step::Nothing;
        };
        let unit = match event {
            LiveEvent::Started { .. } => return Step::Nothing,
            LiveEvent::Metadata(metadata) => {
                active.metadata = metadata;
                return Step::Nothing;
            }
            LiveEvent::Ended { reason } => {
                self.publisher = None;
                let why = reason.to_string();
                tracing::info!(channel = %self.channel_id, reason = %why, "live publisher gone");
                // A clean unpublish or a replacement is not an error.
                if !matches!(reason, EndReason::Unpublished | EndReason::Replaced) {
                    self.service.board.publisher_lost(&self.channel_id, &why);
                }
                self.last_end_reason = Some(why);
                return self.lifecycle.publisher_ended(publisher, now_ms());
            }
            LiveEvent::VideoConfig { avcc } => {
                if let Ok(config) = AvcDecoderConfig::from_avcc(&avcc) {
                    let sps = config.parsed_sps();
                    active.picture = Some((sps.width, sps.height));
                }
                active.video_codec = Some("h264");
                LiveInput::VideoConfig { avcc }
            }
            LiveEvent::HevcConfig { hvcc } => {
                active.picture = yanxiu_transcode::live::hevc_picture_size(&hvcc).ok();
                active.video_codec = Some("hevc");
                LiveInput::HevcConfig { hvcc }
            }
            LiveEvent::VpxConfig {
                codec,
                width,
                height,
            } => {
                active.picture = Some((width, height));
                active.video_codec = Some(vpx_name(codec));
                LiveInput::VpxConfig {
                    codec: match codec {
                        VpxCodec::Vp8 => yanxiu_transcode::live::VpxCodec::Vp8,
                        VpxCodec::Vp9 => yanxiu_transcode::live::VpxCodec::Vp9,
                    },
                    width,
                    height,
                }
            }
            LiveEvent::AudioConfig { asc } => {
                active.audio_codec = Some("aac");
                LiveInput::AudioConfig { asc }
            }
            LiveEvent::OpusConfig { channels } => {
                active.audio_codec = Some("opus");
                LiveInput::OpusConfig { channels }
            }
            LiveEvent::Video {
                dts_ms,
                cts_ms,
                keyframe,
                data,
            } => {
                active.meter.add(Instant::now(), data.len() as u64, true);
                let _ = active.view.first_media_at.set(OffsetDateTime::now_utc());
                LiveInput::Video {
                    pts: dts_ms.wrapping_add(cts_ms as u32),
                    dts: dts_ms,
                    keyframe,
                    data,
                }
            }
            LiveEvent::Audio { dts_ms, data } => {
                active.meter.add(Instant::now(), data.len() as u64, false);
                let _ = active.view.first_media_at.set(OffsetDateTime::now_utc());
                LiveInput::Audio { pts: dts_ms, data }
            }
        };
        if active.pipeline.feed(unit).await {
            return Step::Nothing;
        }
        // The transcoder stopped: the session cannot go on.
        self.last_end_reason = Some("the live transcoder stopped".to_owned());
        self.service
            .board
            .error(&self.channel_id, "the live transcoder stopped");
        self.lifecycle.shutdown()
    }

    /// Passes the publisher's event on to the channel's WHEP viewers
    /// (before the transcoder, which may hold it up). An AAC source's
    /// audio is converted to Opus while anyone watches.
    fn feed_viewers(&mut self, event: &LiveEvent) {
        match event {
            LiveEvent::Started { .. } => {
                self.converter = FeedConverter::new();
                self.aac_to_opus = None;
            }
            LiveEvent::AudioConfig { asc } => {
                self.aac_to_opus = AacToOpus::new(asc)
                    .inspect_err(|e| {
                        tracing::warn!(channel = %self.channel_id, error = %e,
                            "the AAC audio cannot be converted for WebRTC viewers; they get no sound");
                    })
                    .ok();
            }
            LiveEvent::OpusConfig { .. } => self.aac_to_opus = None,
            _ => {}
        }
        let frame = self.converter.convert(event);
        self.converter.set_aac_converted(self.aac_to_opus.is_some());
        if let LiveEvent::Audio { dts_ms, data } = event {
            self.convert_aac(*dts_ms, data);
        }
        match frame {
            Some(FeedFrame::Ended) => {
                self.feed.publish(FeedFrame::Ended, self.converter.media());
                self.converter = FeedConverter::new();
                self.aac_to_opus = None;
            }
            Some(frame) => self.feed.publish(frame, self.converter.media()),
            None => self.feed.describe(self.converter.media()),
        }
    }

    /// Converts one AAC frame for the viewers when the source is AAC and
    /// someone watches; a codec failure stops the conversion (the viewers
    /// keep the picture).
    fn convert_aac(&mut self, dts_ms: u32, data: &[u8]) {
        if !self.converter.aac_source() || self.feed.receivers() == 0 {
            return;
        }
        let Some(conv) = self.aac_to_opus.as_mut() else {
            return;
        };
        match conv.push(dts_ms, data) {
            Ok(packets) => {
                for packet in packets {
                    let frame = FeedFrame::Audio {
                        pts_ms: packet.pts_ms,
                        data: packet.data,
                    };
                    self.feed.publish(frame, self.converter.media());
                }
            }
            Err(e) => {
                tracing::warn!(channel = %self.channel_id, error = %e,
                    "converting the audio for WebRTC viewers failed; they get no sound");
                self.aac_to_opus = None;
                self.converter.set_aac_converted(false);
            }
        }
    }

    /// Completes the open-session marker once the ladder is known, so a
    /// recording can be finished even if this process stops.
    async fn mark_ladder(&mut self) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        if active.marked_ready || !active.view.is_ready() {
            return;
        }
        active.marked_ready = true;
        active.marker.renditions = active
            .view
            .renditions()
            .iter()
            .map(MasterEntry::of)
            .collect();
        let fps = active.view.input_frame_rate_milli.load(Ordering::Relaxed) as f64 / 1000.0;
        active.marker.frame_rate =
            active
                .metadata
                .frame_rate
                .unwrap_or(if fps > 0.0 { fps } else { 30.0 });
        if let Err(e) = recovery::mark(&self.service.storage, &active.marker).await {
            tracing::warn!(channel = %self.channel_id, error = %e, "open-session marker not stored");
        }
    }

    /// Ends the session when the channel was disabled, ended or deleted
    /// meanwhile; its publisher is cut off (a reconnect is then refused).
    async fn recheck_channel(&mut self) -> Step {
        if self.active.is_none() {
            return Step::Nothing;
        }
        let why = match self.service.control.channel(&self.channel_id).await {
            Ok(channel) if !channel.enabled => "the channel was disabled",
            Ok(channel) if channel.state == yanxiu_control::channels::ChannelState::Ended => {
                "the channel's event was ended"
            }
            Ok(_) => return Step::Nothing,
            Err(yanxiu_control::ControlError::NotFound(_)) => "the channel was deleted",
            Err(e) => {
                tracing::debug!(channel = %self.channel_id, error = %e, "channel not rechecked");
                return Step::Nothing;
            }
        };
        tracing::info!(channel = %self.channel_id, reason = why, "live session cut off");
        self.last_end_reason = Some(why.to_owned());
        self.lifecycle.shutdown()
    }

    fn refresh_status(&mut self) {
        let Some(active) = self.active.as_ref() else {
            return;
        };
        let (bitrate, measured_fps) = active.meter.rates(Instant::now());
        let (width, height) = match active.picture {
            Some((w, h)) => (Some(w), Some(h)),
            None => (active.metadata.width, active.metadata.height),
        };
        let frame_rate = if measured_fps > 0.0 {
            Some((measured_fps * 100.0).round() / 100.0)
        } else {
            active.metadata.frame_rate
        };
        // What playlists declare comes from a steady, live input only (not
        // the tail of a dropped publisher); the encoder's claim wins.
        if self.publisher.is_some() && active.meter.is_full(Instant::now()) {
            active
                .view
                .input_video_bitrate
                .store(bitrate, Ordering::Relaxed);
            let declared = active.metadata.frame_rate.or(frame_rate);
            active.view.input_frame_rate_milli.store(
                declared.map_or(0, |f| (f * 1000.0) as u64),
                Ordering::Relaxed,
            );
        }
        self.service.board.input(
            &self.channel_id,
            LiveInputInfo {
                video_codec: active.video_codec.map(str::to_owned),
                audio_codec: active.audio_codec.map(str::to_owned),
                width,
                height,
                frame_rate,
                bitrate_bps: Some(bitrate),
            },
        );
        self.service.board.renditions(
            &self.channel_id,
            active
                .view
                .renditions()
                .into_iter()
                .map(|r| r.name)
                .collect(),
        );
        let stats = active.persister.stats();
        self.service.board.counters(
            &self.channel_id,
            active.pipeline.dropped_frames(),
            stats.segments.load(Ordering::Relaxed),
        );
    }

    /// Ends the session: the pipeline drains into the origin and storage,
    /// the recording is made, the channel goes idle.
    async fn end(&mut self) {
        self.publisher = None;
        self.feed.publish(FeedFrame::Ended, self.converter.media());
        let Some(active) = self.active.take() else {
            // The session never started (the pipeline could not): the
            // publish still marked the channel live.
            if let Err(e) = self
                .service
                .control
                .publish_ended(&self.channel_id, now_ms())
                .await
            {
                tracing::warn!(channel = %self.channel_id, error = ?e, "cannot mark the channel idle");
            }
            self.service.board.ended(&self.channel_id);
            return;
        };
        let ended_at = now_ms();
        let outcome = active.pipeline.finish().await;
        let persisted = active.persister.finish().await;
        if let Err(e) = &outcome.report {
            tracing::warn!(channel = %self.channel_id, error = %e, "live transcode ended with an error");
            let (code, zh, en) = TRANSCODE_ENDED_BADLY;
            self.event(
                ChannelEventKind::Error,
                json!({ "code": code, "message_zh": zh, "message_en": en }),
            )
            .await;
        }
        let mut recording = None;
        if active.record {
            let frame_rate =
                active.view.input_frame_rate_milli.load(Ordering::Relaxed) as f64 / 1000.0;
            match recording::record(
                &self.service.storage,
                &self.service.control,
                EndedSession {
                    channel_id: &self.channel_id,
                    session_id: active.view.session_id.to_string(),
                    prefix: &active.view.storage_prefix,
                    renditions: outcome
                        .renditions
                        .iter()
                        .filter_map(|r| {
                            let stored = persisted.get(&r.name)?.playlist.clone();
                            Some((MasterEntry::of(r), stored))
                        })
                        .collect(),
                    frame_rate: if frame_rate > 0.0 { frame_rate } else { 30.0 },
                    started_at: active.started_at,
                    ended_at,
                },
            )
            .await
            {
                Ok(resource_id) => {
                    tracing::info!(channel = %self.channel_id, resource = %resource_id, "live recording is a draft resource");
                    recording = Some(resource_id);
                }
                Err(recording::RecordingError::Empty) => {
                    tracing::info!(channel = %self.channel_id, "nothing of the session was stored: no recording");
                }
                Err(e) => {
                    tracing::error!(channel = %self.channel_id, error = %e, "live recording not made");
                    self.event(
                        ChannelEventKind::Error,
                        json!({ "message": format!("recording: {e}") }),
                    )
                    .await;
                }
            }
        }
        let segments: usize = persisted
            .values()
            .map(|p| p.playlist.segments().len())
            .sum();
        self.event(
            ChannelEventKind::Stopped,
            json!({
                "session_id": active.view.session_id.to_string(),
                "reason": self.last_end_reason,
                "duration_ms": ended_at - active.started_at,
                "reconnects": self.lifecycle.reconnects(),
                "segments_stored": segments,
                "recording_resource_id": recording,
            }),
        )
        .await;
        if let Err(e) = self
            .service
            .control
            .publish_ended(&self.channel_id, ended_at)
            .await
        {
            tracing::debug!(channel = %self.channel_id, error = %e, "channel state not reset");
        }
        self.service.board.ended(&self.channel_id);
        tracing::info!(channel = %self.channel_id, "live session ended");
        recovery::unmark(&self.service.storage, &active.marker).await;
        let grace = self.service.settings.segment_target * ENDED_GRACE_TARGETS;
        self.service
            .retire_session(active.view, grace, !active.record);
    }
}

/// The status name of a VPX codec.
fn vpx_name(codec: VpxCodec) -> &'static str {
    match codec {
        VpxCodec::Vp8 => "vp8",
        VpxCodec::Vp9 => "vp9",
    }
}

async fn next_event(
    publisher: &mut Option<(Uuid, mpsc::Receiver<LiveEvent>)>,
) -> Option<LiveEvent> {
    match publisher {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_ms(deadline_ms: Option<i64>) {
    let Some(deadline) = deadline_ms else {
        return std::future::pending().await;
    };
    let wait = u64::try_from(deadline - now_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}
