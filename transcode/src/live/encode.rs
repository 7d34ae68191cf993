//! The live encoder threads: one per video rung (scale, x264 with the
//! keyframes the decode thread decides, optional `zerolatency` tuning) and
//! one for AAC audio. Each sends `TrackInput`s for its rendition on its own
//! bounded channel through a [`RenditionOut`].

use std::sync::mpsc::Receiver;

use bytes::Bytes;
use ffmpeg_next::{ChannelLayout, codec, encoder, format, frame, picture};
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::h264::{AvcDecoderConfig, annexb_to_length_prefixed};
use yanxiu_packager::media::{AudioCodecConfig, TrackConfig, TrackKind, VideoCodecConfig};

use super::LiveError;
use super::output::RenditionOut;
use crate::ladder::{PlannedAudio, PlannedRung};
use crate::pipeline::audio::{SampleQueue, aac_sample, open_encoder as open_aac};
use crate::pipeline::ffi;
use crate::timing::{SampleShaper, VIDEO_TIMESCALE};
use crate::x264::{self, X264Error, X264Settings};

/// A decoded picture for a rung; `pts` in 90 kHz ticks.
pub struct LiveFrame {
    /// The shared picture.
    pub picture: frame::Video,
    /// Whether it must start a closed GOP.
    pub keyframe: bool,
    /// The first picture of a new source configuration (a publisher with
    /// other settings): the rung announces its (unchanged) configuration
    /// again right before this picture's sample, so every video rendition
    /// marks the change at the same instant.
    pub restart: bool,
}

/// What one rung thread needs.
#[derive(Debug, Clone)]
pub struct RungJob {
    /// Size and rate settings.
    pub rung: PlannedRung,
    /// x264 preset.
    pub preset: String,
    /// x264 `tune=zerolatency` (no B-frames, no lookahead).
    pub zero_latency: bool,
    /// Nominal frame rate.
    pub frame_rate: f64,
    /// x264's own keyframe interval in frames; the decode thread forces
    /// the real keyframes, this is only the encoder's upper bound.
    pub gop_frames: u32,
    /// Presentation delay in ticks added to every time.
    pub shift: i64,
}

fn open_x264(job: &RungJob) -> Result<encoder::Video, LiveError> {
    let settings = X264Settings {
        preset: &job.preset,
        frame_rate: job.frame_rate,
        gop_frames: job.gop_frames,
        zero_latency: job.zero_latency,
    };
    x264::open(&job.rung, settings).map_err(|e| match e {
        X264Error::Missing => LiveError::MissingCodec("libx264"),
        X264Error::Open(e) => LiveError::codec(&job.rung.name, e),
    })
}

/// A rung's encoder output: its samples, and where a configuration
/// announcement is due.
struct RungOutput<'a> {
    out: &'a RenditionOut,
    track: &'a TrackConfig,
    shaper: SampleShaper,
    /// Announce the configuration again before the first keyframe at or
    /// after this presentation time.
    restart_at: Option<i64>,
}

impl RungOutput<'_> {
    fn drain(
        &mut self,
        enc: &mut encoder::Encoder,
        packet: &mut codec::packet::Packet,
    ) -> Result<u64, LiveError> {
        let mut n = 0;
        while enc.receive_packet(packet).is_ok() {
            let (dts, pts, is_sync, data) = h264_sample(packet);
            if is_sync && self.restart_at.is_some_and(|at| pts >= at) {
                self.restart_at = None;
                if let Some(last) = self.shaper.finish() {
                    self.out.sample(last)?;
                }
                self.out.config(self.track.clone())?;
            }
            if let Some(sample) = self.shaper.push(dts, pts, is_sync, data) {
                self.out.sample(sample)?;
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Runs one rung until its frames end; returns the packets encoded.
pub fn run_rung(
    job: RungJob,
    frames: Receiver<LiveFrame>,
    out: RenditionOut,
) -> Result<u64, LiveError> {
    let name = job.rung.name.clone();
    let err = |e| LiveError::codec(&name, e);
    let mut enc = open_x264(&job)?;
    let config = AvcDecoderConfig::from_extradata(&ffi::extradata(&enc))
        .map_err(|e| LiveError::Bitstream(format!("{name}: {e}")))?;
    let track = TrackConfig {
        timescale: VIDEO_TIMESCALE,
        kind: TrackKind::Video {
            width: job.rung.width,
            height: job.rung.height,
            codec: VideoCodecConfig::H264(config),
        },
    };
    out.config(track.clone())?;
    let nominal = (f64::from(VIDEO_TIMESCALE) / job.frame_rate).round() as u32;
    let mut output = RungOutput {
        out: &out,
        track: &track,
        shaper: SampleShaper::new(nominal, job.shift),
        restart_at: None,
    };
    let mut scaler: Option<ffmpeg_next::software::scaling::Context> = None;
    let mut packet = codec::packet::Packet::empty();
    let mut encoded = 0;
    for LiveFrame {
        picture,
        keyframe,
        restart,
    } in frames
    {
        if restart {
            // A new source (another codec or size): a new scaler for it.
            scaler = None;
        }
        let mut scaled = scale(&mut scaler, &picture, &job.rung)?;
        scaled.set_pts(picture.pts());
        if restart {
            output.restart_at = picture.pts();
        }
        scaled.set_kind(if keyframe || restart {
            picture::Type::I
        } else {
            picture::Type::None
        });
        enc.send_frame(&scaled).map_err(err)?;
        encoded += output.drain(&mut enc, &mut packet)?;
    }
    enc.send_eof().map_err(err)?;
    encoded += output.drain(&mut enc, &mut packet)?;
    if let Some(sample) = output.shaper.finish() {
        out.sample(sample)?;
    }
    out.end()?;
    Ok(encoded)
}

fn scale(
    scaler: &mut Option<ffmpeg_next::software::scaling::Context>,
    picture: &frame::Video,
    rung: &PlannedRung,
) -> Result<frame::Video, LiveError> {
    use ffmpeg_next::software::scaling::{Context, Flags};
    let err = |e| LiveError::codec(&rung.name, e);
    let stale = scaler.as_ref().is_none_or(|s| {
        let i = s.input();
        i.width != picture.width() || i.height != picture.height() || i.format != picture.format()
    });
    if stale {
        *scaler = Some(
            Context::get(
                picture.format(),
                picture.width(),
                picture.height(),
                format::Pixel::YUV420P,
                rung.width,
                rung.height,
                Flags::BICUBIC,
            )
            .map_err(err)?,
        );
    }
    let mut out = frame::Video::new(format::Pixel::YUV420P, rung.width, rung.height);
    scaler
        .as_mut()
        .ok_or(LiveError::Internal("scaler"))?
        .run(picture, &mut out)
        .map_err(err)?;
    Ok(out)
}

/// Decoded audio for the AAC encoder; `pts` in samples of its own rate on
/// the repaired timeline.
pub struct LiveAudioFrame(pub frame::Audio);

/// Runs the AAC encoder until its frames end. Output times follow the
/// input: a gap in the input (bridged jump) becomes a gap in the output.
pub fn run_audio(
    plan: PlannedAudio,
    shift_seconds: f64,
    frames: Receiver<LiveAudioFrame>,
    out: RenditionOut,
) -> Result<u64, LiveError> {
    let err = |e| LiveError::codec("audio", e);
    let mut enc = open_aac(&plan)?;
    let asc = AudioSpecificConfig::from_bytes(&ffi::extradata(&enc))
        .map_err(|e| LiveError::Bitstream(format!("audio: {e}")))?;
    out.config(TrackConfig {
        timescale: plan.sample_rate,
        kind: TrackKind::Audio {
            sample_rate: plan.sample_rate,
            channels: plan.channels,
            codec: AudioCodecConfig::Aac(asc),
        },
    })?;
    let frame_size = (enc.frame_size() as usize).max(1);
    let layout = ChannelLayout::default(i32::from(plan.channels));
    let planar = format::Sample::F32(format::sample::Type::Planar);
    let mut resampler: Option<ffmpeg_next::software::resampling::Context> = None;
    let mut queue = SampleQueue::new(usize::from(plan.channels));
    // Output time of the first sample in the queue.
    let mut queue_pts: Option<i64> = None;
    let shift = (shift_seconds * f64::from(plan.sample_rate)).round() as i64;
    let mut shaper = SampleShaper::new(frame_size as u32, shift);
    let mut packet = codec::packet::Packet::empty();
    let mut encoded = 0;
    for LiveAudioFrame(mut input) in frames {
        if input.channel_layout().is_empty()
            || input.channel_layout().channels() != i32::from(input.channels())
        {
            input.set_channel_layout(ChannelLayout::default(i32::from(input.channels())));
        }
        let in_rate = i64::from(input.rate().max(1));
        let at = input.pts().unwrap_or(0) * i64::from(plan.sample_rate) / in_rate;
        let expected = queue_pts.map(|p| p + queue.len() as i64);
        // Resynchronise after a gap of more than one frame (a bridged jump
        // or lost audio); small differences are resampler rounding.
        if expected.is_none_or(|e| at - e > frame_size as i64) {
            queue_pts = Some(at - queue.len() as i64);
        }
        let stale = resampler.as_ref().is_none_or(|r| {
            let i = r.input();
            i.format != input.format()
                || i.rate != input.rate()
                || i.channel_layout != input.channel_layout()
        });
        if stale {
            resampler = Some(
                ffmpeg_next::software::resampling::Context::get(
                    input.format(),
                    input.channel_layout(),
                    input.rate(),
                    planar,
                    layout,
                    plan.sample_rate,
                )
                .map_err(|e| LiveError::codec("audio resampler", e))?,
            );
        }
        let capacity = input.samples() * plan.sample_rate as usize / in_rate as usize + 256;
        let mut converted = frame::Audio::new(planar, capacity, layout);
        resampler
            .as_mut()
            .ok_or(LiveError::Internal("resampler"))?
            .run(&input, &mut converted)
            .map_err(|e| LiveError::codec("audio resampler", e))?;
        queue.push(&converted);
        while queue.len() >= frame_size {
            let mut f = queue.pop_frame(frame_size, layout, plan.sample_rate);
            let pts = queue_pts.unwrap_or(0);
            f.set_pts(Some(pts));
            queue_pts = Some(pts + frame_size as i64);
            enc.send_frame(&f).map_err(err)?;
            encoded += drain(&mut enc, &mut packet, &mut shaper, &out, aac_sample)?;
        }
    }
    if queue.len() > 0 {
        let n = queue.len();
        let mut f = queue.pop_frame(n, layout, plan.sample_rate);
        f.set_pts(queue_pts);
        enc.send_frame(&f).map_err(err)?;
    }
    enc.send_eof().map_err(err)?;
    encoded += drain(&mut enc, &mut packet, &mut shaper, &out, aac_sample)?;
    if let Some(sample) = shaper.finish() {
        out.sample(sample)?;
    }
    out.end()?;
    Ok(encoded)
}

fn drain(
    enc: &mut encoder::Encoder,
    packet: &mut codec::packet::Packet,
    shaper: &mut SampleShaper,
    out: &RenditionOut,
    split: impl Fn(&codec::packet::Packet) -> (i64, i64, bool, Bytes),
) -> Result<u64, LiveError> {
    let mut n = 0;
    while enc.receive_packet(packet).is_ok() {
        let (dts, pts, is_sync, data) = split(packet);
        if let Some(sample) = shaper.push(dts, pts, is_sync, data) {
            out.sample(sample)?;
        }
        n += 1;
    }
    Ok(n)
}

fn h264_sample(packet: &codec::packet::Packet) -> (i64, i64, bool, Bytes) {
    let avcc = Bytes::from(annexb_to_length_prefixed(packet.data().unwrap_or_default()));
    let dts = packet.dts().or(packet.pts()).unwrap_or(0);
    let pts = packet.pts().unwrap_or(dts);
    (dts, pts, packet.is_key(), avcc)
}
