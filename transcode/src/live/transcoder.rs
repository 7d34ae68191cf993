//! The live transcode driver: one decode thread that repairs timestamps,
//! decodes the video (H.264, VP8, VP9) and audio (AAC, Opus) once and fans
//! pictures out to one thread per rung (and audio to the AAC thread), with
//! bounded channels everywhere.
//!
//! Sources: the ladder is planned when the first picture's configuration
//! is known. An H.264 source gets the passthrough rendition (when
//! configured) as the ladder's top, and rung keyframes on its own; an HEVC
//! source gets one too where the channel allows it, beside a whole H.264
//! ladder (rungs up to the source size) whose keyframes are its own; a
//! VP8/VP9 source never has a passthrough (rungs up to the source size,
//! keyframes on the GOP grid). A
//! later configuration of another codec or size (a publisher that
//! reconnects with other settings) gets a new decoder, waits for its
//! keyframe and restarts the rungs there (a `Config` again, a new scaler).
//! When a publisher in another codec (VP8/VP9, or HEVC after H.264 and the
//! other way round) continues a session that started with a passthrough,
//! the passthrough rendition simply gets no new samples (and the rungs'
//! keyframes follow the grid) until a publisher in its codec is back.
//! Audio is always encoded to AAC; an Opus or AAC configuration switches
//! the decoder.
//!
//! Failure: the first stage to fail (a codec, or a consumer that dropped
//! its rendition receiver) ends the whole transcode. Every other rendition
//! then closes *without* a `TrackInput::End`, the input channel closes, and
//! [`LiveTranscoder::finish`] returns the error (an encoder's own error is
//! preferred over the `ConsumerGone` the decode thread sees when that
//! encoder stops). On success every rendition ends with `TrackInput::End`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use ffmpeg_next::{codec, decoder, frame};
use tokio::sync::{mpsc, oneshot};
use yanxiu_packager::media::{TrackConfig, TrackInput, TrackKind, VideoCodecConfig};

use super::decoders::{AudioSource, VideoSource};
use super::encode::{self, LiveAudioFrame, LiveFrame, RungJob};
use super::keyframes::RungKeyframes;
use super::output::RenditionOut;
use super::passthrough::Passthrough;
use super::stats::{LiveCounters, LiveStats, LiveStatsHandle, bump};
use super::{
    LiveConfig, LiveError, LiveInput, LiveRendition, LiveRenditionKind, LiveReport, RepairEvent,
    TimestampRepair, plan_live_ladder,
};
use crate::ladder::PlannedAudio;
use crate::pipeline::ffi::share;
use crate::timing::presentation_delay;
use crate::timing::{MonotonicClock, VIDEO_TIMESCALE};

/// Pictures queued between the decoder and each rung.
const FRAMES_IN_FLIGHT: usize = 4;
/// Audio frames queued between the decoder and the AAC encoder.
const AUDIO_FRAMES_IN_FLIGHT: usize = 64;
/// Repair events kept for a reader that falls behind (then dropped).
const EVENTS_IN_FLIGHT: usize = 1024;
/// With passthrough the rungs' keyframes follow the source's; x264's own
/// keyframe interval is then this many GOPs, only a backstop (the decode
/// thread forces a keyframe at most two GOPs after the last one).
const ALIGNED_KEYINT_GOPS: u32 = 4;

/// A running live transcode. Feed [`LiveInput`]s through [`Self::input`];
/// once the first picture arrives the ladder is known and
/// [`Self::renditions`] gives one channel per rendition.
#[derive(Debug)]
pub struct LiveTranscoder {
    input: mpsc::Sender<LiveInput>,
    ladder: Option<oneshot::Receiver<Vec<LiveRendition>>>,
    events: Option<mpsc::Receiver<RepairEvent>>,
    stats: LiveStatsHandle,
    thread: Option<JoinHandle<Result<LiveReport, LiveError>>>,
}

impl LiveTranscoder {
    /// Starts the decode thread; encoders start with the first picture.
    pub fn start(config: LiveConfig) -> Result<Self, LiveError> {
        ffmpeg_next::init().map_err(|e| LiveError::codec("init", e))?;
        let (input, input_rx) = mpsc::channel(config.channel_capacity.max(1));
        let (ladder_tx, ladder) = oneshot::channel();
        let (events_tx, events) = mpsc::channel(EVENTS_IN_FLIGHT);
        let counters = LiveCounters::new();
        let stats = LiveStatsHandle(Arc::clone(&counters));
        let session = Session::new(config, ladder_tx, events_tx, counters);
        let thread = std::thread::Builder::new()
            .name("yanxiu-live-decode".to_owned())
            .spawn(move || session.run(input_rx))
            .map_err(LiveError::Thread)?;
        Ok(Self {
            input,
            ladder: Some(ladder),
            events: Some(events),
            stats,
            thread: Some(thread),
        })
    }

    /// The running figures (lock-free; cheap enough for every status
    /// request).
    pub fn stats(&self) -> LiveStats {
        self.stats.snapshot()
    }

    /// A reader of the running figures that can be kept (for the channel
    /// status) after the transcoder is moved or finished.
    pub fn stats_handle(&self) -> LiveStatsHandle {
        self.stats.clone()
    }

    /// The bounded input channel.
    pub fn input(&self) -> mpsc::Sender<LiveInput> {
        self.input.clone()
    }

    /// The renditions, once the ladder is planned (first picture). Fails
    /// with the transcode's error when it stops before that.
    pub async fn renditions(&mut self) -> Result<Vec<LiveRendition>, LiveError> {
        let rx = self
            .ladder
            .take()
            .ok_or(LiveError::Internal("renditions already taken"))?;
        match rx.await {
            Ok(list) => Ok(list),
            Err(_) => match self.join().await? {
                Ok(_) => Err(LiveError::NoFrames),
                Err(e) => Err(e),
            },
        }
    }

    /// Timestamp repairs as they happen (for channel events and metrics),
    /// for one reader (`None` once taken); a reader that falls behind
    /// misses some (they are still counted in the report).
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<RepairEvent>> {
        self.events.take()
    }

    /// Waits for the end (after [`LiveInput::End`] or when every input
    /// sender is dropped) and returns the figures, or the error that ended
    /// the transcode. Consumers must keep reading every rendition (or drop
    /// its receiver) meanwhile: the outputs are bounded.
    pub async fn finish(mut self) -> Result<LiveReport, LiveError> {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.input, closed));
        self.join().await?
    }

    async fn join(&mut self) -> Result<Result<LiveReport, LiveError>, LiveError> {
        let handle = self
            .thread
            .take()
            .ok_or(LiveError::Internal("already joined"))?;
        tokio::task::spawn_blocking(move || handle.join().map_err(|_| LiveError::Panicked))
            .await
            .map_err(|_| LiveError::Internal("join"))?
    }
}

/// The encoders, once the ladder is known.
struct Running {
    rungs: Vec<SyncSender<LiveFrame>>,
    audio: Option<SyncSender<LiveAudioFrame>>,
    passthrough: Option<Passthrough>,
    threads: Vec<JoinHandle<Result<u64, LiveError>>>,
}

struct Session {
    config: LiveConfig,
    repair: TimestampRepair,
    ladder_tx: Option<oneshot::Sender<Vec<LiveRendition>>>,
    events: mpsc::Sender<RepairEvent>,
    /// The current publisher's video and audio.
    video_source: Option<VideoSource>,
    audio_source: Option<AudioSource>,
    vdec: Option<decoder::Video>,
    adec: Option<decoder::Audio>,
    running: Option<Running>,
    clock: MonotonicClock,
    keyframes: RungKeyframes,
    /// Whether `keyframes` follows the source's (an H.264 source with a
    /// passthrough rendition) rather than the GOP grid.
    aligned_keyframes: bool,
    /// Video units are dropped until a keyframe after each sequence header
    /// (a new publisher).
    awaiting_keyframe: bool,
    /// The next decoded picture starts a new source configuration.
    restart_rungs: bool,
    counters: Arc<LiveCounters>,
    /// Set when the transcode fails: renditions then close without an end.
    failed: Arc<AtomicBool>,
}

impl Session {
    fn new(
        config: LiveConfig,
        ladder_tx: oneshot::Sender<Vec<LiveRendition>>,
        events: mpsc::Sender<RepairEvent>,
        counters: Arc<LiveCounters>,
    ) -> Self {
        let nominal = (f64::from(VIDEO_TIMESCALE) / config.frame_rate.max(1.0)).round() as i64;
        Self {
            repair: TimestampRepair::new(config.repair),
            // Chosen when the ladder starts, from the source.
            keyframes: RungKeyframes::grid(config.ladder.gop_seconds, config.frame_rate),
            aligned_keyframes: false,
            awaiting_keyframe: true,
            restart_rungs: false,
            clock: MonotonicClock::new(nominal),
            config,
            ladder_tx: Some(ladder_tx),
            events,
            video_source: None,
            audio_source: None,
            vdec: None,
            adec: None,
            running: None,
            counters,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    fn run(mut self, mut input: mpsc::Receiver<LiveInput>) -> Result<LiveReport, LiveError> {
        let mut result = self.consume(&mut input);
        // No more input: a feeder blocked on a full channel gets an error.
        drop(input);
        if result.is_ok() {
            result = self.flush();
        }
        if result.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        // Stop the encoders (closing their inputs) and collect their errors.
        let mut stage_errors = Vec::new();
        if let Some(running) = self.running.take() {
            drop(running.rungs);
            drop(running.audio);
            if let Some(passthrough) = running.passthrough
                && let Err(e) = passthrough.finish()
            {
                stage_errors.push(e);
            }
            for t in running.threads {
                match t.join() {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => stage_errors.push(e),
                    Err(_) => stage_errors.push(LiveError::Panicked),
                }
            }
        }
        if let Some(e) = first_cause(result.err().into_iter().chain(stage_errors)) {
            return Err(e);
        }
        let report = self.counters.report();
        if report.video_frames == 0 {
            return Err(LiveError::NoFrames);
        }
        Ok(report)
    }

    fn consume(&mut self, input: &mut mpsc::Receiver<LiveInput>) -> Result<(), LiveError> {
        while let Some(unit) = input.blocking_recv() {
            match unit {
                LiveInput::VideoConfig { avcc } => self.video_config(VideoSource::h264(avcc)?)?,
                LiveInput::HevcConfig { hvcc } => self.video_config(VideoSource::hevc(hvcc)?)?,
                LiveInput::VpxConfig {
                    codec,
                    width,
                    height,
                } => self.video_config(VideoSource::Vpx {
                    codec,
                    width,
                    height,
                })?,
                LiveInput::AudioConfig { asc } => self.audio_config(AudioSource::aac(&asc)?)?,
                LiveInput::OpusConfig { channels } => {
                    self.audio_config(AudioSource::opus(channels)?)?
                }
                LiveInput::Video {
                    pts,
                    dts,
                    keyframe,
                    data,
                } => self.video(dts, pts, keyframe, data)?,
                LiveInput::Audio { pts, data } => self.audio(pts, data)?,
                LiveInput::End => break,
            }
        }
        Ok(())
    }

    fn publish_events(&mut self) {
        for event in self.repair.take_events() {
            bump(&self.counters.repairs);
            if matches!(event, RepairEvent::DroppedBeforeStart { .. }) {
                bump(&self.counters.dropped_units);
            }
            let _ = self.events.try_send(event);
        }
    }

    fn video_config(&mut self, source: VideoSource) -> Result<(), LiveError> {
        // Every sequence header may start a new publisher (a reconnect):
        // nothing of it is used before its first keyframe.
        self.awaiting_keyframe = true;
        if self.video_source.as_ref() == Some(&source) {
            return Ok(());
        }
        // Other settings: drain the old decoder, then start a new one.
        self.flush_video()?;
        self.vdec = Some(source.open_decoder()?);
        let previous = self.video_source.replace(source);
        self.switch_source(previous.as_ref())
    }

    /// A running ladder gets another source: the rungs restart at its
    /// first picture when the codec, the size or the passthrough's
    /// configuration changed; the passthrough pauses while the source is
    /// not in its codec, and the rungs' keyframes follow the source's only
    /// while there is a source to pass through.
    fn switch_source(&mut self, previous: Option<&VideoSource>) -> Result<(), LiveError> {
        let (Some(running), Some(source)) = (self.running.as_mut(), self.video_source.as_ref())
        else {
            return Ok(());
        };
        let mut restart = previous.is_none_or(|p| p.shape_differs(source));
        let mut aligned = false;
        if let Some(passthrough) = running.passthrough.as_mut() {
            match source
                .passthrough_track()
                .filter(|t| passthrough.accepts(t))
            {
                Some(track) => {
                    restart |= passthrough.reconfigure(track.clone());
                    aligned = true;
                }
                None => passthrough.pause()?,
            }
        }
        self.restart_rungs |= restart;
        self.follow_source_keyframes(aligned);
        Ok(())
    }

    /// Puts the rungs' keyframes on the source's (`aligned`) or on the GOP
    /// grid, when that is not already so.
    fn follow_source_keyframes(&mut self, aligned: bool) {
        if self.aligned_keyframes == aligned {
            return;
        }
        let (gop, rate) = (self.config.ladder.gop_seconds, self.config.frame_rate);
        self.keyframes = if aligned {
            RungKeyframes::aligned(gop, rate)
        } else {
            RungKeyframes::grid(gop, rate)
        };
        self.aligned_keyframes = aligned;
    }

    fn audio_config(&mut self, source: AudioSource) -> Result<(), LiveError> {
        if self.audio_source.as_ref() == Some(&source) {
            return Ok(());
        }
        self.flush_audio()?;
        self.adec = Some(source.open_decoder()?);
        self.audio_source = Some(source);
        Ok(())
    }

    fn video(&mut self, dts: u32, pts: u32, keyframe: bool, data: Bytes) -> Result<(), LiveError> {
        let counters = &self.counters;
        bump(&counters.video_units);
        counters
            .video_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        counters
            .last_input_dts
            .store(i64::from(dts), Ordering::Relaxed);
        if self.vdec.is_none() || (self.awaiting_keyframe && !keyframe) {
            // Before the configuration, or a publisher's first keyframe:
            // nothing decodes.
            bump(&counters.dropped_units);
            return Ok(());
        }
        let time = self.repair.video(dts, pts);
        self.publish_events();
        let Some(time) = time else { return Ok(()) };
        self.awaiting_keyframe = false;
        self.counters
            .last_repaired_dts
            .store(time.dts, Ordering::Relaxed);
        if self.running.is_none() {
            self.start_ladder()?;
        }
        if keyframe {
            self.keyframes.source_keyframe(time.pts);
        }
        let current = self
            .video_source
            .as_ref()
            .and_then(VideoSource::passthrough_track);
        if let Some(passthrough) = self.running.as_mut().and_then(|r| r.passthrough.as_mut())
            && current.is_some_and(|track| passthrough.accepts(track))
        {
            passthrough.push(time.dts, time.pts, keyframe, data.clone())?;
        }
        let mut packet = codec::packet::Packet::copy(&data);
        packet.set_dts(Some(time.dts));
        packet.set_pts(Some(time.pts));
        if keyframe {
            packet.set_flags(codec::packet::Flags::KEY);
        }
        let Some(dec) = self.vdec.as_mut() else {
            return Ok(());
        };
        if dec.send_packet(&packet).is_err() {
            bump(&self.counters.corrupt_units);
            return Ok(());
        }
        self.receive_pictures()
    }

    fn receive_pictures(&mut self) -> Result<(), LiveError> {
        let mut decoded = frame::Video::empty();
        while let Some(dec) = self.vdec.as_mut()
            && dec.receive_frame(&mut decoded).is_ok()
        {
            let pts = self.clock.next(decoded.timestamp());
            decoded.set_pts(Some(pts));
            let keyframe = self.keyframes.decide(pts).is_keyframe();
            let restart = std::mem::take(&mut self.restart_rungs);
            bump(&self.counters.video_frames);
            let picture = std::mem::replace(&mut decoded, frame::Video::empty());
            self.fan_out(picture, keyframe, restart)?;
        }
        Ok(())
    }

    fn fan_out(
        &mut self,
        picture: frame::Video,
        keyframe: bool,
        restart: bool,
    ) -> Result<(), LiveError> {
        let Some(running) = self.running.as_ref() else {
            return Ok(());
        };
        for tx in &running.rungs {
            let copy = share(&picture).map_err(|e| LiveError::codec("frame reference", e))?;
            tx.send(LiveFrame {
                picture: copy,
                keyframe,
                restart,
            })
            .map_err(|_| LiveError::ConsumerGone)?;
        }
        Ok(())
    }

    fn audio(&mut self, pts: u32, data: Bytes) -> Result<(), LiveError> {
        bump(&self.counters.audio_units);
        self.counters
            .audio_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let Some(source) = self.audio_source.as_ref() else {
            bump(&self.counters.dropped_units);
            return Ok(());
        };
        let (rate, frame) = (source.sample_rate(), source.frame_samples(&data));
        let time = self.repair.audio(pts, rate, frame);
        self.publish_events();
        let (Some(time), Some(running)) = (time, self.running.as_ref()) else {
            // Audio before the first picture is not encoded.
            return Ok(());
        };
        let Some(out) = running.audio.clone() else {
            return Ok(());
        };
        let mut packet = codec::packet::Packet::copy(&data);
        packet.set_pts(Some(time.pts));
        packet.set_dts(Some(time.dts));
        let Some(dec) = self.adec.as_mut() else {
            return Ok(());
        };
        if dec.send_packet(&packet).is_err() {
            bump(&self.counters.corrupt_units);
            return Ok(());
        }
        drain_audio(dec, &out)
    }

    /// Plans the ladder from the sequence headers and starts the encoders.
    /// The source's codec decides whether there is a passthrough rendition
    /// (H.264, or HEVC where allowed) for the whole session, and in which
    /// codec.
    fn start_ladder(&mut self) -> Result<(), LiveError> {
        let video = self
            .video_source
            .as_ref()
            .ok_or(LiveError::Internal("no video config"))?;
        let (width, height) = video.size();
        let source = video
            .passthrough_track()
            .filter(|track| self.config.passes_through(track))
            .cloned();
        let passthrough = source.is_some();
        let audio = self
            .audio_source
            .as_ref()
            .map(|a| (a.channels(), a.sample_rate()));
        // An H.264 passthrough is the ladder's top; an HEVC one is offered
        // beside a whole H.264 ladder, for the players that lack HEVC.
        let on_top = source.as_ref().is_some_and(is_h264);
        let plan = plan_live_ladder(&self.config, width, height, audio, on_top)?;
        self.follow_source_keyframes(passthrough);
        let delay = presentation_delay(self.config.frame_rate);
        let shift = (delay * f64::from(VIDEO_TIMESCALE)).round() as i64;
        let mut names = Vec::new();
        if passthrough {
            names.push("source".to_owned());
        }
        names.extend(plan.rungs.iter().map(|r| r.name.clone()));
        if plan.audio.is_some() {
            names.push("audio".to_owned());
        }
        self.counters.set_renditions(names);
        let mut launch = Launch::new(self);
        if let Some(source) = source {
            let nominal = (f64::from(VIDEO_TIMESCALE) / self.config.frame_rate).round() as u32;
            launch.passthrough(source, (width, height), nominal, shift)?;
        }
        // With passthrough the decode thread forces every keyframe (on the
        // source's); x264's own interval is only a backstop.
        let gop_frames = if passthrough {
            plan.gop_frames().saturating_mul(ALIGNED_KEYINT_GOPS)
        } else {
            plan.gop_frames()
        };
        for rung in &plan.rungs {
            launch.rung(RungJob {
                rung: rung.clone(),
                preset: plan.preset.clone(),
                zero_latency: self.config.zero_latency,
                frame_rate: plan.frame_rate,
                gop_frames,
                shift,
            })?;
        }
        if let Some(a) = plan.audio.clone() {
            launch.audio(a, delay)?;
        }
        let (running, renditions) = launch.finish();
        self.running = Some(running);
        if let Some(tx) = self.ladder_tx.take() {
            tx.send(renditions).map_err(|_| LiveError::ConsumerGone)?;
        }
        Ok(())
    }

    fn flush_video(&mut self) -> Result<(), LiveError> {
        if let Some(dec) = self.vdec.as_mut()
            && dec.send_eof().is_ok()
        {
            self.receive_pictures()?;
        }
        Ok(())
    }

    /// Drains both decoders at the end of the input.
    fn flush(&mut self) -> Result<(), LiveError> {
        self.flush_video()?;
        self.flush_audio()
    }

    /// Drains the audio decoder (at the end, or before another replaces it).
    fn flush_audio(&mut self) -> Result<(), LiveError> {
        if let (Some(dec), Some(out)) = (
            self.adec.as_mut(),
            self.running.as_ref().and_then(|r| r.audio.clone()),
        ) && dec.send_eof().is_ok()
        {
            drain_audio(dec, &out)?;
        }
        Ok(())
    }
}

/// Whether a track is H.264.
fn is_h264(track: &TrackConfig) -> bool {
    matches!(
        track.kind,
        TrackKind::Video {
            codec: VideoCodecConfig::H264(_),
            ..
        }
    )
}

/// Starting the renditions of a ladder, in order: each gets the bounded
/// channel to its consumer and its place in the running figures.
struct Launch {
    counters: Arc<LiveCounters>,
    failed: Arc<AtomicBool>,
    capacity: usize,
    running: Running,
    renditions: Vec<LiveRendition>,
}

impl Launch {
    fn new(session: &Session) -> Self {
        Self {
            counters: Arc::clone(&session.counters),
            failed: Arc::clone(&session.failed),
            capacity: session.config.channel_capacity.max(1),
            running: Running {
                rungs: Vec::new(),
                audio: None,
                passthrough: None,
                threads: Vec::new(),
            },
            renditions: Vec::new(),
        }
    }

    /// The next rendition's output and its consumer's receiver.
    fn output(&self) -> (RenditionOut, mpsc::Receiver<TrackInput>) {
        let (tx, rx) = mpsc::channel(self.capacity);
        let index = self.renditions.len();
        let out = RenditionOut::new(
            tx,
            Arc::clone(&self.counters),
            index,
            Arc::clone(&self.failed),
        );
        (out, rx)
    }

    fn passthrough(
        &mut self,
        source: TrackConfig,
        (width, height): (u32, u32),
        nominal: u32,
        shift: i64,
    ) -> Result<(), LiveError> {
        let (out, rx) = self.output();
        self.running.passthrough = Some(Passthrough::start(out, source, nominal, shift)?);
        self.renditions.push(LiveRendition {
            name: "source".to_owned(),
            kind: LiveRenditionKind::Passthrough { width, height },
            bitrate: 0,
            samples: rx,
        });
        Ok(())
    }

    /// An encoded rung in its own thread.
    fn rung(&mut self, job: RungJob) -> Result<(), LiveError> {
        let (out, rx) = self.output();
        let (frames_tx, frames_rx) = sync_channel(FRAMES_IN_FLIGHT);
        let rung = job.rung.clone();
        self.running.threads.push(
            std::thread::Builder::new()
                .name(format!("yanxiu-live-{}", rung.name))
                .spawn(move || encode::run_rung(job, frames_rx, out))
                .map_err(LiveError::Thread)?,
        );
        self.running.rungs.push(frames_tx);
        self.renditions.push(LiveRendition {
            name: rung.name,
            kind: LiveRenditionKind::Video {
                width: rung.width,
                height: rung.height,
            },
            bitrate: u64::from(rung.max_bitrate_kbps) * 1000,
            samples: rx,
        });
        Ok(())
    }

    /// The AAC rendition in its own thread.
    fn audio(&mut self, plan: PlannedAudio, delay: f64) -> Result<(), LiveError> {
        let (out, rx) = self.output();
        let (frames_tx, frames_rx) = sync_channel(AUDIO_FRAMES_IN_FLIGHT);
        let bitrate = u64::from(plan.bitrate);
        self.running.threads.push(
            std::thread::Builder::new()
                .name("yanxiu-live-audio".to_owned())
                .spawn(move || encode::run_audio(plan, delay, frames_rx, out))
                .map_err(LiveError::Thread)?,
        );
        self.running.audio = Some(frames_tx);
        self.renditions.push(LiveRendition {
            name: "audio".to_owned(),
            kind: LiveRenditionKind::Audio,
            bitrate,
            samples: rx,
        });
        Ok(())
    }

    fn finish(self) -> (Running, Vec<LiveRendition>) {
        (self.running, self.renditions)
    }
}

fn drain_audio(
    dec: &mut decoder::Audio,
    out: &SyncSender<LiveAudioFrame>,
) -> Result<(), LiveError> {
    let mut decoded = frame::Audio::empty();
    while dec.receive_frame(&mut decoded).is_ok() {
        let pts = decoded.timestamp();
        let mut f = std::mem::replace(&mut decoded, frame::Audio::empty());
        f.set_pts(pts);
        out.send(LiveAudioFrame(f))
            .map_err(|_| LiveError::ConsumerGone)?;
    }
    Ok(())
}

/// The error that explains a failed transcode: the first that is not
/// `ConsumerGone` (an encoder's own failure explains the `ConsumerGone` the
/// decode thread sees when that encoder stops taking pictures), else the
/// first.
fn first_cause(errors: impl IntoIterator<Item = LiveError>) -> Option<LiveError> {
    let mut first = None;
    for e in errors {
        if !matches!(e, LiveError::ConsumerGone) {
            return Some(e);
        }
        first = first.or(Some(e));
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoder_failure_is_reported_rather_than_the_consumer_gone_it_caused() {
        let errors = [
            LiveError::ConsumerGone,
            LiveError::codec("480p", ffmpeg_next::Error::InvalidData),
            LiveError::Panicked,
        ];
        let cause = first_cause(errors);
        assert!(
            matches!(&cause, Some(LiveError::Codec { stage, .. }) if stage == "480p"),
            "{cause:?}"
        );
    }

    #[test]
    fn a_consumer_that_went_away_is_the_cause_when_nothing_else_failed() {
        let cause = first_cause([LiveError::ConsumerGone, LiveError::ConsumerGone]);
        assert!(matches!(cause, Some(LiveError::ConsumerGone)));
        assert!(first_cause([]).is_none());
    }
}
