//! The audio rendition: resamples the decoded audio to the planned rate and
//! channel count, cuts it into AAC frames and encodes it once for the
//! whole ladder.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender};

use bytes::Bytes;
use ffmpeg_next::{ChannelLayout, Rational, codec, encoder, format, frame, software};
use tokio::sync::mpsc::Sender;
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::media::{AudioCodecConfig, TrackConfig, TrackInput, TrackKind};
use yanxiu_packager::vod::RenditionId;

use super::decode::AudioFrame;
use super::rung::{drain, send};
use super::{Output, ffi, poster};
use crate::TranscodeError;
use crate::ladder::PlannedAudio;
use crate::qc::tap::{QcInput, planes_of};
use crate::timing::SampleShaper;
use crate::waveform::{POSTER_SIZE, Waveform};

const STAGE: &str = "audio";

pub(crate) fn open_encoder(plan: &PlannedAudio) -> Result<encoder::Audio, TranscodeError> {
    let err = |e| TranscodeError::encoder(STAGE, e);
    let codec = encoder::find(codec::Id::AAC).ok_or(TranscodeError::MissingEncoder("aac"))?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    ctx.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut audio = ctx.encoder().audio().map_err(err)?;
    audio.set_rate(plan.sample_rate as i32);
    audio.set_channel_layout(ChannelLayout::default(i32::from(plan.channels)));
    audio.set_format(format::Sample::F32(format::sample::Type::Planar));
    audio.set_bit_rate(plan.bitrate as usize);
    audio.set_time_base(Rational(1, plan.sample_rate as i32));
    audio.open().map_err(err)
}

/// Planar float samples waiting to fill an encoder frame.
#[derive(Debug)]
pub(crate) struct SampleQueue {
    channels: Vec<VecDeque<f32>>,
}

impl SampleQueue {
    pub(crate) fn new(channels: usize) -> Self {
        Self {
            channels: vec![VecDeque::new(); channels],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.channels.first().map_or(0, VecDeque::len)
    }

    pub(crate) fn push(&mut self, f: &frame::Audio) {
        let n = f.samples();
        for (c, queue) in self.channels.iter_mut().enumerate() {
            queue.extend(f.plane::<f32>(c).iter().take(n).copied());
        }
    }

    pub(crate) fn pop_frame(&mut self, n: usize, layout: ChannelLayout, rate: u32) -> frame::Audio {
        let mut f = frame::Audio::new(format::Sample::F32(format::sample::Type::Planar), n, layout);
        f.set_rate(rate);
        for (c, queue) in self.channels.iter_mut().enumerate() {
            for (dst, src) in f.plane_mut::<f32>(c).iter_mut().zip(queue.drain(..n)) {
                *dst = src;
            }
        }
        f
    }
}

/// Converts decoded audio of any format, rate and layout to planar float
/// at one rate and channel count (the resampler is rebuilt whenever the
/// input changes).
pub(crate) struct ToPlanarF32 {
    rate: u32,
    layout: ChannelLayout,
    resampler: Option<software::resampling::Context>,
}

impl std::fmt::Debug for ToPlanarF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToPlanarF32")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl ToPlanarF32 {
    /// A converter to `channels` channels at `rate` Hz.
    pub(crate) fn new(rate: u32, channels: u16) -> Self {
        Self {
            rate: rate.max(1),
            layout: ChannelLayout::default(i32::from(channels.max(1))),
            resampler: None,
        }
    }

    /// The output rate.
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// The output layout.
    pub(crate) fn layout(&self) -> ChannelLayout {
        self.layout
    }

    /// Converts `input` (its layout is repaired when it does not match its
    /// channel count).
    pub(crate) fn convert(
        &mut self,
        input: &mut frame::Audio,
    ) -> Result<frame::Audio, TranscodeError> {
        if input.channel_layout().is_empty()
            || input.channel_layout().channels() != i32::from(input.channels())
        {
            input.set_channel_layout(ChannelLayout::default(i32::from(input.channels())));
        }
        let stale = self.resampler.as_ref().is_none_or(|r| {
            let i = r.input();
            i.format != input.format()
                || i.rate != input.rate()
                || i.channel_layout != input.channel_layout()
        });
        if stale {
            self.resampler = Some(
                software::resampling::Context::get(
                    input.format(),
                    input.channel_layout(),
                    input.rate(),
                    format::Sample::F32(format::sample::Type::Planar),
                    self.layout,
                    self.rate,
                )
                .map_err(|e| TranscodeError::encoder("audio resampler", e))?,
            );
        }
        let r = self
            .resampler
            .as_mut()
            .ok_or(TranscodeError::Internal("resampler"))?;
        let capacity = input.samples() * self.rate as usize / input.rate().max(1) as usize + 256;
        let mut converted = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            capacity,
            self.layout,
        );
        r.run(input, &mut converted)
            .map_err(|e| TranscodeError::encoder("audio resampler", e))?;
        Ok(converted)
    }

    /// What the resampler still holds, a frame at a time; `None` at the end.
    pub(crate) fn flush(&mut self) -> Option<frame::Audio> {
        let r = self.resampler.as_mut()?;
        let mut tail = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            4096,
            self.layout,
        );
        if r.flush(&mut tail).is_err() || tail.samples() == 0 {
            return None;
        }
        Some(tail)
    }
}

/// The QC's share of the resampled audio: the samples as the rendition
/// gets them, stamped with their time.
struct QcTap {
    sender: SyncSender<QcInput>,
    rate: u32,
    /// Output samples tapped so far, from the origin.
    position: i64,
}

impl QcTap {
    /// Sends a copy of `f`; false once the QC thread has gone.
    fn send(&mut self, f: &frame::Audio) -> bool {
        let n = f.samples();
        if n == 0 {
            return true;
        }
        let start = self.position as f64 / f64::from(self.rate);
        self.position += n as i64;
        self.sender
            .send(QcInput::Sound {
                start,
                rate: self.rate,
                planes: planes_of(f),
            })
            .is_ok()
    }
}

/// Multiplies every sample of a planar float frame by `factor`.
fn apply_gain(f: &mut frame::Audio, factor: f32) {
    let n = f.samples();
    for c in 0..f.planes() {
        for x in f.plane_mut::<f32>(c).iter_mut().take(n) {
            *x *= factor;
        }
    }
}

/// What the audio thread makes: the rendition, and for an audio-only
/// source the poster.
#[derive(Debug)]
pub struct AudioStage {
    /// The rendition's encoding.
    pub plan: PlannedAudio,
    /// The ladder's presentation delay, seconds.
    pub delay_seconds: f64,
    /// The rendition in the packager.
    pub rendition: RenditionId,
    /// Multiplies the rendition's samples (1 leaves them untouched).
    pub gain: f32,
    /// Draws the sound's waveform as the ladder's poster (a source without
    /// picture), sized for the expected duration.
    pub waveform: Option<Waveform>,
}

/// Runs the audio rendition until its input ends or the packager goes;
/// a copy of the resampled samples goes to the QC when `qc` is set (as the
/// source has them: the QC judges the recording), and to the waveform
/// poster when the stage draws one.
pub fn run(
    stage: AudioStage,
    frames: Receiver<AudioFrame>,
    out: Sender<Output>,
    qc: Option<SyncSender<QcInput>>,
) -> Result<u64, TranscodeError> {
    let AudioStage {
        plan,
        delay_seconds,
        rendition,
        gain,
        mut waveform,
    } = stage;
    let normalise = |f: &mut frame::Audio| {
        if gain != 1.0 {
            apply_gain(f, gain);
        }
    };
    let mut draw = |f: &frame::Audio| {
        if let Some(w) = waveform.as_mut() {
            let n = f.samples();
            let planes: Vec<&[f32]> = (0..f.planes()).map(|c| &f.plane::<f32>(c)[..n]).collect();
            w.push(&planes);
        }
    };
    let mut enc = open_encoder(&plan)?;
    let asc = AudioSpecificConfig::from_bytes(&ffi::extradata(&enc))
        .map_err(|e| TranscodeError::Bitstream(format!("audio: {e}")))?;
    send(
        &out,
        Output::Track(
            rendition,
            TrackInput::Config(TrackConfig {
                timescale: plan.sample_rate,
                kind: TrackKind::Audio {
                    sample_rate: plan.sample_rate,
                    channels: plan.channels,
                    codec: AudioCodecConfig::Aac(asc),
                },
            }),
        ),
    )?;

    let frame_size = (enc.frame_size() as usize).max(1);
    let mut to_f32 = ToPlanarF32::new(plan.sample_rate, plan.channels);
    let layout = to_f32.layout();
    let mut queue = SampleQueue::new(usize::from(plan.channels));
    let mut next_pts: Option<i64> = None;
    let mut tap = qc.map(|sender| QcTap {
        sender,
        rate: plan.sample_rate,
        position: 0,
    });
    let shift = (delay_seconds * f64::from(plan.sample_rate)).round() as i64;
    let mut shaper = SampleShaper::new(frame_size as u32, shift);
    let mut packet = codec::packet::Packet::empty();
    let mut encoded = 0u64;
    let err = |e| TranscodeError::encoder(STAGE, e);

    for AudioFrame(mut input) in frames {
        if next_pts.is_none() {
            // Start where the source's audio starts, in output samples.
            let start = input.pts().unwrap_or(0).max(0);
            let start = start * i64::from(plan.sample_rate) / i64::from(input.rate().max(1));
            next_pts = Some(start);
            if let Some(t) = tap.as_mut() {
                t.position = start;
            }
        }
        let mut converted = to_f32.convert(&mut input)?;
        if let Some(t) = tap.as_mut()
            && !t.send(&converted)
        {
            tap = None;
        }
        draw(&converted);
        normalise(&mut converted);
        queue.push(&converted);
        while queue.len() >= frame_size {
            let mut f = queue.pop_frame(frame_size, layout, plan.sample_rate);
            let pts = next_pts.unwrap_or(0);
            f.set_pts(Some(pts));
            next_pts = Some(pts + frame_size as i64);
            enc.send_frame(&f).map_err(err)?;
            encoded += drain(
                &mut enc,
                &mut packet,
                &mut shaper,
                rendition,
                &out,
                aac_sample,
            )?;
        }
    }
    // Whatever the resampler still holds, then the short last frame.
    while let Some(mut tail) = to_f32.flush() {
        if let Some(t) = tap.as_mut()
            && !t.send(&tail)
        {
            tap = None;
        }
        draw(&tail);
        normalise(&mut tail);
        queue.push(&tail);
    }
    drop(tap);
    while queue.len() > 0 {
        let n = queue.len().min(frame_size);
        let mut f = queue.pop_frame(n, layout, plan.sample_rate);
        let pts = next_pts.unwrap_or(0);
        f.set_pts(Some(pts));
        next_pts = Some(pts + n as i64);
        enc.send_frame(&f).map_err(err)?;
        encoded += drain(
            &mut enc,
            &mut packet,
            &mut shaper,
            rendition,
            &out,
            aac_sample,
        )?;
    }
    enc.send_eof().map_err(err)?;
    encoded += drain(
        &mut enc,
        &mut packet,
        &mut shaper,
        rendition,
        &out,
        aac_sample,
    )?;
    if let Some(sample) = shaper.finish() {
        send(&out, Output::Track(rendition, TrackInput::Sample(sample)))?;
    }
    send(&out, Output::Track(rendition, TrackInput::End))?;
    if let Some(w) = waveform.filter(|w| w.samples() > 0) {
        let jpeg = poster::encode_rgb_jpeg(&w.render(POSTER_SIZE.0, POSTER_SIZE.1), POSTER_SIZE)?;
        send(&out, Output::File(poster::FILE.to_owned(), jpeg))?;
    }
    Ok(encoded)
}

/// An AAC packet as a sample: every frame is a sync sample, dts = pts.
pub(crate) fn aac_sample(packet: &codec::packet::Packet) -> (i64, i64, bool, Bytes) {
    let pts = packet.pts().unwrap_or(0);
    (
        pts,
        pts,
        true,
        Bytes::copy_from_slice(packet.data().unwrap_or_default()),
    )
}
