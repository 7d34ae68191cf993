//! The audio rendition: resamples the decoded audio to the planned rate and
//! channel count, cuts it into AAC frames and encodes it once for the
//! whole ladder.

use std::collections::VecDeque;
use std::sync::mpsc::Receiver;

use bytes::Bytes;
use ffmpeg_next::{ChannelLayout, Rational, codec, encoder, format, frame, software};
use tokio::sync::mpsc::Sender;
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::media::{AudioCodecConfig, TrackConfig, TrackInput, TrackKind};
use yanxiu_packager::vod::RenditionId;

use super::decode::AudioFrame;
use super::rung::{drain, send};
use super::{Output, ffi};
use crate::TranscodeError;
use crate::ladder::PlannedAudio;
use crate::timing::SampleShaper;

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

/// Runs the audio rendition until its input ends or the packager goes.
pub fn run(
    plan: PlannedAudio,
    delay_seconds: f64,
    rendition: RenditionId,
    frames: Receiver<AudioFrame>,
    out: Sender<Output>,
) -> Result<u64, TranscodeError> {
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
    let layout = ChannelLayout::default(i32::from(plan.channels));
    let mut resampler: Option<software::resampling::Context> = None;
    let mut queue = SampleQueue::new(usize::from(plan.channels));
    let mut next_pts: Option<i64> = None;
    let shift = (delay_seconds * f64::from(plan.sample_rate)).round() as i64;
    let mut shaper = SampleShaper::new(frame_size as u32, shift);
    let mut packet = codec::packet::Packet::empty();
    let mut encoded = 0u64;
    let err = |e| TranscodeError::encoder(STAGE, e);

    for AudioFrame(mut input) in frames {
        if input.channel_layout().is_empty()
            || input.channel_layout().channels() != i32::from(input.channels())
        {
            input.set_channel_layout(ChannelLayout::default(i32::from(input.channels())));
        }
        if next_pts.is_none() {
            // Start where the source's audio starts, in output samples.
            let start = input.pts().unwrap_or(0).max(0);
            next_pts = Some(start * i64::from(plan.sample_rate) / i64::from(input.rate().max(1)));
        }
        let stale = resampler.as_ref().is_none_or(|r| {
            let i = r.input();
            i.format != input.format()
                || i.rate != input.rate()
                || i.channel_layout != input.channel_layout()
        });
        if stale {
            resampler = Some(
                software::resampling::Context::get(
                    input.format(),
                    input.channel_layout(),
                    input.rate(),
                    format::Sample::F32(format::sample::Type::Planar),
                    layout,
                    plan.sample_rate,
                )
                .map_err(|e| TranscodeError::encoder("audio resampler", e))?,
            );
        }
        let r = resampler
            .as_mut()
            .ok_or(TranscodeError::Internal("resampler"))?;
        let capacity =
            input.samples() * plan.sample_rate as usize / input.rate().max(1) as usize + 256;
        let mut converted = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            capacity,
            layout,
        );
        r.run(&input, &mut converted)
            .map_err(|e| TranscodeError::encoder("audio resampler", e))?;
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
    if let Some(r) = resampler.as_mut() {
        loop {
            let mut tail = frame::Audio::new(
                format::Sample::F32(format::sample::Type::Planar),
                4096,
                layout,
            );
            if r.flush(&mut tail).is_err() || tail.samples() == 0 {
                break;
            }
            queue.push(&tail);
        }
    }
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
