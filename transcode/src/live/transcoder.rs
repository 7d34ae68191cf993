//! The live transcode driver: one decode thread that repairs timestamps,
//! decodes H.264 and AAC once and fans pictures out to one thread per rung
//! (and audio to the AAC thread), with bounded channels everywhere.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use ffmpeg_next::{codec, decoder, frame};
use tokio::sync::{mpsc, oneshot};
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::h264::AvcDecoderConfig;
use yanxiu_packager::media::{TrackConfig, TrackInput, TrackKind, VideoCodecConfig};

use super::encode::{self, LiveAudioFrame, LiveFrame, RungJob};
use super::{
    LiveConfig, LiveError, LiveInput, LiveRendition, LiveRenditionKind, LiveReport, RepairEvent,
    TimestampRepair, ffi, plan_live_ladder,
};
use crate::pipeline::ffi::share;
use crate::timing::presentation_delay;
use crate::timing::{KeyframeGrid, MonotonicClock, SampleShaper, VIDEO_TIMESCALE};

/// Pictures queued between the decoder and each rung.
const FRAMES_IN_FLIGHT: usize = 4;
/// Audio frames queued between the decoder and the AAC encoder.
const AUDIO_FRAMES_IN_FLIGHT: usize = 64;
/// Repair events kept for a reader that falls behind (then dropped).
const EVENTS_IN_FLIGHT: usize = 1024;

/// A running live transcode. Feed [`LiveInput`]s through [`Self::input`];
/// once the first picture arrives the ladder is known and
/// [`Self::renditions`] gives one channel per rendition.
#[derive(Debug)]
pub struct LiveTranscoder {
    input: mpsc::Sender<LiveInput>,
    ladder: Option<oneshot::Receiver<Vec<LiveRendition>>>,
    events: Option<mpsc::Receiver<RepairEvent>>,
    thread: Option<JoinHandle<Result<LiveReport, LiveError>>>,
}

impl LiveTranscoder {
    /// Starts the decode thread; encoders start with the first picture.
    pub fn start(config: LiveConfig) -> Result<Self, LiveError> {
        ffmpeg_next::init().map_err(|e| LiveError::codec("init", e))?;
        let (input, input_rx) = mpsc::channel(config.channel_capacity.max(1));
        let (ladder_tx, ladder) = oneshot::channel();
        let (events_tx, events) = mpsc::channel(EVENTS_IN_FLIGHT);
        let session = Session::new(config, ladder_tx, events_tx);
        let thread = std::thread::Builder::new()
            .name("yanxiu-live-decode".to_owned())
            .spawn(move || session.run(input_rx))
            .map_err(LiveError::Thread)?;
        Ok(Self {
            input,
            ladder: Some(ladder),
            events: Some(events),
            thread: Some(thread),
        })
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
    /// sender is dropped) and returns the figures.
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
    passthrough: Option<(SampleShaper, mpsc::Sender<TrackInput>)>,
    threads: Vec<JoinHandle<Result<u64, LiveError>>>,
}

struct Session {
    config: LiveConfig,
    repair: TimestampRepair,
    ladder_tx: Option<oneshot::Sender<Vec<LiveRendition>>>,
    events: mpsc::Sender<RepairEvent>,
    avcc: Option<Bytes>,
    asc: Option<AudioSpecificConfig>,
    vdec: Option<decoder::Video>,
    adec: Option<decoder::Audio>,
    running: Option<Running>,
    clock: MonotonicClock,
    grid: KeyframeGrid,
    report: LiveReport,
}

impl Session {
    fn new(
        config: LiveConfig,
        ladder_tx: oneshot::Sender<Vec<LiveRendition>>,
        events: mpsc::Sender<RepairEvent>,
    ) -> Self {
        let nominal = (f64::from(VIDEO_TIMESCALE) / config.frame_rate.max(1.0)).round() as i64;
        Self {
            repair: TimestampRepair::new(config.repair),
            grid: KeyframeGrid::new(
                config.ladder.gop_seconds,
                config.frame_rate,
                VIDEO_TIMESCALE,
            ),
            clock: MonotonicClock::new(nominal),
            config,
            ladder_tx: Some(ladder_tx),
            events,
            avcc: None,
            asc: None,
            vdec: None,
            adec: None,
            running: None,
            report: LiveReport::default(),
        }
    }

    fn run(mut self, mut input: mpsc::Receiver<LiveInput>) -> Result<LiveReport, LiveError> {
        let result = self.consume(&mut input);
        // Stop the encoders (closing their inputs) and collect their errors.
        let flushed = self.flush();
        let mut stage_error = None;
        if let Some(running) = self.running.take() {
            drop(running.rungs);
            drop(running.audio);
            if let Some((mut shaper, tx)) = running.passthrough
                && let Some(last) = shaper.finish()
            {
                let _ = encode::send(&tx, TrackInput::Sample(last));
                let _ = encode::send(&tx, TrackInput::End);
            }
            for t in running.threads {
                match t.join() {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => stage_error = stage_error.or(Some(e)),
                    Err(_) => stage_error = stage_error.or(Some(LiveError::Panicked)),
                }
            }
        }
        result?;
        flushed?;
        if let Some(e) = stage_error {
            return Err(e);
        }
        if self.report.video_frames == 0 {
            return Err(LiveError::NoFrames);
        }
        Ok(self.report)
    }

    fn consume(&mut self, input: &mut mpsc::Receiver<LiveInput>) -> Result<(), LiveError> {
        while let Some(unit) = input.blocking_recv() {
            match unit {
                LiveInput::VideoConfig { avcc } => self.video_config(avcc)?,
                LiveInput::AudioConfig { asc } => self.audio_config(&asc)?,
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
            self.report.repairs += 1;
            if matches!(event, RepairEvent::DroppedBeforeStart { .. }) {
                self.report.dropped_units += 1;
            }
            let _ = self.events.try_send(event);
        }
    }

    fn video_config(&mut self, avcc: Bytes) -> Result<(), LiveError> {
        if self.avcc.as_ref() == Some(&avcc) {
            return Ok(());
        }
        // A new sequence header (reconnect with other settings): drain the
        // old decoder, then start a new one.
        self.flush_video()?;
        let codec = decoder::find(codec::Id::H264).ok_or(LiveError::MissingCodec("h264"))?;
        let mut ctx = codec::context::Context::new_with_codec(codec);
        ffi::set_extradata(&mut ctx, &avcc).map_err(|e| LiveError::codec("video decoder", e))?;
        self.vdec = Some(
            ctx.decoder()
                .video()
                .map_err(|e| LiveError::codec("video decoder", e))?,
        );
        self.avcc = Some(avcc);
        Ok(())
    }

    fn audio_config(&mut self, asc: &[u8]) -> Result<(), LiveError> {
        let parsed = AudioSpecificConfig::from_bytes(asc)
            .map_err(|e| LiveError::Bitstream(format!("audio: {e}")))?;
        if self.asc.as_ref() == Some(&parsed) {
            return Ok(());
        }
        let codec = decoder::find(codec::Id::AAC).ok_or(LiveError::MissingCodec("aac"))?;
        let mut ctx = codec::context::Context::new_with_codec(codec);
        ffi::set_extradata(&mut ctx, asc).map_err(|e| LiveError::codec("audio decoder", e))?;
        self.adec = Some(
            ctx.decoder()
                .audio()
                .map_err(|e| LiveError::codec("audio decoder", e))?,
        );
        self.asc = Some(parsed);
        Ok(())
    }

    fn video(&mut self, dts: u32, pts: u32, keyframe: bool, data: Bytes) -> Result<(), LiveError> {
        if self.vdec.is_none() {
            self.report.dropped_units += 1;
            return Ok(());
        }
        let time = self.repair.video(dts, pts);
        self.publish_events();
        let Some(time) = time else { return Ok(()) };
        if self.running.is_none() {
            if !keyframe {
                // Nothing decodes before the first keyframe.
                self.report.dropped_units += 1;
                return Ok(());
            }
            self.start_ladder()?;
        }
        if let Some((shaper, tx)) = self.running.as_mut().and_then(|r| r.passthrough.as_mut())
            && let Some(sample) = shaper.push(time.dts, time.pts, keyframe, data.clone())
        {
            encode::send(tx, TrackInput::Sample(sample))?;
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
            self.report.corrupt_units += 1;
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
            let keyframe = self.grid.is_keyframe(pts);
            self.report.video_frames += 1;
            let picture = std::mem::replace(&mut decoded, frame::Video::empty());
            self.fan_out(picture, keyframe)?;
        }
        Ok(())
    }

    fn fan_out(&mut self, picture: frame::Video, keyframe: bool) -> Result<(), LiveError> {
        let Some(running) = self.running.as_ref() else {
            return Ok(());
        };
        for tx in &running.rungs {
            let copy = share(&picture).map_err(|e| LiveError::codec("frame reference", e))?;
            tx.send(LiveFrame {
                picture: copy,
                keyframe,
            })
            .map_err(|_| LiveError::ConsumerGone)?;
        }
        Ok(())
    }

    fn audio(&mut self, pts: u32, data: Bytes) -> Result<(), LiveError> {
        let Some(asc) = self.asc.as_ref() else {
            self.report.dropped_units += 1;
            return Ok(());
        };
        let rate = asc.output_sampling_frequency();
        let frame = 1024 * rate / asc.sampling_frequency().max(1);
        let time = self.repair.audio(pts, rate, Some(frame));
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
            self.report.corrupt_units += 1;
            return Ok(());
        }
        drain_audio(dec, &out)
    }

    /// Plans the ladder from the sequence headers and starts the encoders.
    fn start_ladder(&mut self) -> Result<(), LiveError> {
        let avcc = self
            .avcc
            .as_ref()
            .ok_or(LiveError::Internal("no video config"))?;
        let source = AvcDecoderConfig::from_avcc(avcc)
            .map_err(|e| LiveError::Bitstream(format!("video: {e}")))?;
        let (width, height) = (source.parsed_sps().width, source.parsed_sps().height);
        let audio = self
            .asc
            .as_ref()
            .map(|a| (a.channels().unwrap_or(2), a.output_sampling_frequency()));
        let plan = plan_live_ladder(&self.config, width, height, audio)?;
        let delay = presentation_delay(self.config.frame_rate);
        let shift = (delay * f64::from(VIDEO_TIMESCALE)).round() as i64;
        let capacity = self.config.channel_capacity.max(1);
        let mut renditions = Vec::new();
        let mut running = Running {
            rungs: Vec::new(),
            audio: None,
            passthrough: None,
            threads: Vec::new(),
        };
        if self.config.passthrough {
            let (tx, rx) = mpsc::channel(capacity);
            encode::send(
                &tx,
                TrackInput::Config(TrackConfig {
                    timescale: VIDEO_TIMESCALE,
                    kind: TrackKind::Video {
                        width,
                        height,
                        codec: VideoCodecConfig::H264(source),
                    },
                }),
            )?;
            let nominal = (f64::from(VIDEO_TIMESCALE) / self.config.frame_rate).round() as u32;
            running.passthrough = Some((SampleShaper::new(nominal, shift), tx));
            renditions.push(LiveRendition {
                name: "source".to_owned(),
                kind: LiveRenditionKind::Passthrough { width, height },
                bitrate: 0,
                samples: rx,
            });
        }
        for rung in &plan.rungs {
            let (tx, rx) = mpsc::channel(capacity);
            let (frames_tx, frames_rx) = sync_channel(FRAMES_IN_FLIGHT);
            let job = RungJob {
                rung: rung.clone(),
                preset: plan.preset.clone(),
                zero_latency: self.config.zero_latency,
                frame_rate: plan.frame_rate,
                gop_frames: plan.gop_frames(),
                shift,
            };
            running.threads.push(
                std::thread::Builder::new()
                    .name(format!("yanxiu-live-{}", rung.name))
                    .spawn(move || encode::run_rung(job, frames_rx, tx))
                    .map_err(LiveError::Thread)?,
            );
            running.rungs.push(frames_tx);
            renditions.push(LiveRendition {
                name: rung.name.clone(),
                kind: LiveRenditionKind::Video {
                    width: rung.width,
                    height: rung.height,
                },
                bitrate: u64::from(rung.max_bitrate_kbps) * 1000,
                samples: rx,
            });
        }
        if let Some(a) = plan.audio.clone() {
            let (tx, rx) = mpsc::channel(capacity);
            let (frames_tx, frames_rx) = sync_channel(AUDIO_FRAMES_IN_FLIGHT);
            let bitrate = u64::from(a.bitrate);
            running.threads.push(
                std::thread::Builder::new()
                    .name("yanxiu-live-audio".to_owned())
                    .spawn(move || encode::run_audio(a, delay, frames_rx, tx))
                    .map_err(LiveError::Thread)?,
            );
            running.audio = Some(frames_tx);
            renditions.push(LiveRendition {
                name: "audio".to_owned(),
                kind: LiveRenditionKind::Audio,
                bitrate,
                samples: rx,
            });
        }
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
