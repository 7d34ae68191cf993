//! One video rung: scales the shared decoded pictures to the rung's size,
//! encodes them with libx264 (forced, aligned keyframes; CRF capped by VBV),
//! and sends CMAF samples to the packager. One thread per rung, so scaling
//! and every encoder run side by side.

use std::sync::mpsc::Receiver;

use bytes::Bytes;
use ffmpeg_next::{codec, encoder, format, frame, picture, software};
use tokio::sync::mpsc::Sender;
use yanxiu_packager::h264::{AvcDecoderConfig, annexb_to_length_prefixed};
use yanxiu_packager::media::{TrackConfig, TrackInput, TrackKind, VideoCodecConfig};
use yanxiu_packager::vod::RenditionId;

use super::decode::RungFrame;
use super::poster::{self, PosterGrabber};
use super::storyboard::{self, StoryboardBuilder};
use super::{Output, ffi};
use crate::TranscodeError;
use crate::ladder::{LadderPlan, PlannedRung};
use crate::storyboard::StoryboardLayout;
use crate::timing::{SampleShaper, VIDEO_TIMESCALE, presentation_delay};
use crate::x264::{self, X264Error, X264Settings};

/// Everything one rung thread needs.
#[derive(Debug)]
pub struct RungSpec {
    /// The rung's settings.
    pub rung: PlannedRung,
    /// Where its samples go.
    pub rendition: RenditionId,
    /// x264 preset.
    pub preset: String,
    /// Output frame rate.
    pub frame_rate: f64,
    /// Frames per GOP.
    pub gop_frames: u32,
    /// Takes the poster from this rung's pictures, if set.
    pub poster: Option<PosterGrabber>,
    /// The ladder's presentation delay in seconds.
    pub delay_seconds: f64,
    /// Builds the storyboard (layout, source duration) from this rung's
    /// pictures, if set.
    pub storyboard: Option<(StoryboardLayout, f64)>,
}

impl RungSpec {
    /// The spec for `rung` of `plan`.
    pub fn new(plan: &LadderPlan, rung: &PlannedRung, rendition: RenditionId) -> Self {
        Self {
            rung: rung.clone(),
            rendition,
            preset: plan.preset.clone(),
            frame_rate: plan.frame_rate,
            gop_frames: plan.gop_frames(),
            poster: None,
            delay_seconds: presentation_delay(plan.frame_rate),
            storyboard: None,
        }
    }
}

/// Opens libx264 for a rung.
fn open_encoder(spec: &RungSpec) -> Result<encoder::Video, TranscodeError> {
    let settings = X264Settings {
        preset: &spec.preset,
        frame_rate: spec.frame_rate,
        gop_frames: spec.gop_frames,
        zero_latency: false,
    };
    x264::open(&spec.rung, settings).map_err(|e| match e {
        X264Error::Missing => TranscodeError::MissingEncoder("libx264"),
        X264Error::Open(e) => TranscodeError::encoder(&spec.rung.name, e),
    })
}

/// Runs the rung until its input ends or the packager goes away.
pub fn run(
    mut spec: RungSpec,
    frames: Receiver<RungFrame>,
    out: Sender<Output>,
) -> Result<u64, TranscodeError> {
    let mut enc = open_encoder(&spec)?;
    let config = AvcDecoderConfig::from_extradata(&ffi::extradata(&enc))
        .map_err(|e| TranscodeError::Bitstream(format!("{}: {e}", spec.rung.name)))?;
    let track = TrackConfig {
        timescale: VIDEO_TIMESCALE,
        kind: TrackKind::Video {
            width: spec.rung.width,
            height: spec.rung.height,
            codec: VideoCodecConfig::H264(config),
        },
    };
    let id = spec.rendition;
    send(&out, Output::Track(id, TrackInput::Config(track)))?;

    let nominal = (f64::from(VIDEO_TIMESCALE) / spec.frame_rate).round() as u32;
    let shift = (spec.delay_seconds * f64::from(VIDEO_TIMESCALE)).round() as i64;
    let mut shaper = SampleShaper::new(nominal, shift);
    let mut scaler: Option<software::scaling::Context> = None;
    let mut packet = codec::packet::Packet::empty();
    let mut encoded = 0u64;
    let mut board = spec
        .storyboard
        .map(|(layout, duration)| StoryboardBuilder::new(layout, duration));

    for RungFrame { picture, keyframe } in frames {
        let mut scaled = scale(&mut scaler, &picture, &spec)?;
        scaled.set_pts(picture.pts());
        scaled.set_kind(if keyframe {
            picture::Type::I
        } else {
            picture::Type::None
        });
        if let Some(grabber) = spec.poster.as_mut()
            && let Some(jpeg) = grabber.offer(&scaled)?
        {
            send(&out, Output::File(poster::FILE.to_owned(), jpeg))?;
        }
        if let Some(board) = board.as_mut()
            && let Some((name, sheet)) = board.offer(&scaled)?
        {
            send(&out, Output::File(name, sheet))?;
        }
        enc.send_frame(&scaled)
            .map_err(|e| TranscodeError::encoder(&spec.rung.name, e))?;
        encoded += drain(&mut enc, &mut packet, &mut shaper, id, &out, h264_sample)?;
    }
    enc.send_eof()
        .map_err(|e| TranscodeError::encoder(&spec.rung.name, e))?;
    encoded += drain(&mut enc, &mut packet, &mut shaper, id, &out, h264_sample)?;
    if let Some(sample) = shaper.finish() {
        send(&out, Output::Track(id, TrackInput::Sample(sample)))?;
    }
    if let Some(grabber) = spec.poster.as_mut()
        && let Some(jpeg) = grabber.finish()?
    {
        send(&out, Output::File(poster::FILE.to_owned(), jpeg))?;
    }
    if let Some(board) = board.as_mut() {
        let (last, vtt) = board.finish()?;
        if let Some((name, sheet)) = last {
            send(&out, Output::File(name, sheet))?;
        }
        send(&out, Output::File(storyboard::VTT.to_owned(), vtt))?;
    }
    send(&out, Output::Track(id, TrackInput::End))?;
    Ok(encoded)
}

/// The picture at the rung's size in YUV 4:2:0, with the decoded picture's
/// captions; the decoded picture itself when it already is.
fn scale(
    scaler: &mut Option<software::scaling::Context>,
    picture: &frame::Video,
    spec: &RungSpec,
) -> Result<frame::Video, TranscodeError> {
    let (w, h) = (spec.rung.width, spec.rung.height);
    if picture.width() == w && picture.height() == h && picture.format() == format::Pixel::YUV420P {
        return ffi::share(picture).map_err(|e| TranscodeError::scaler(&spec.rung.name, e));
    }
    let stale = scaler.as_ref().is_none_or(|s| {
        let i = s.input();
        i.width != picture.width() || i.height != picture.height() || i.format != picture.format()
    });
    if stale {
        *scaler = Some(
            software::scaling::Context::get(
                picture.format(),
                picture.width(),
                picture.height(),
                format::Pixel::YUV420P,
                w,
                h,
                software::scaling::Flags::BICUBIC,
            )
            .map_err(|e| TranscodeError::scaler(&spec.rung.name, e))?,
        );
    }
    let mut out = frame::Video::new(format::Pixel::YUV420P, w, h);
    scaler
        .as_mut()
        .ok_or(TranscodeError::Internal("scaler"))?
        .run(picture, &mut out)
        .map_err(|e| TranscodeError::scaler(&spec.rung.name, e))?;
    // The caption bytes of the picture (CEA-608 in A/53 user data), which
    // libx264 writes into this rung's stream as SEI.
    ffi::copy_side_data(picture, &mut out, frame::side_data::Type::A53CC)
        .map_err(|e| TranscodeError::scaler(&spec.rung.name, e))?;
    Ok(out)
}

/// Moves every packet the encoder has ready through `shaper` to the
/// packager; `split` gives a packet's (dts, pts, is_sync, sample data).
pub(super) fn drain(
    enc: &mut encoder::Encoder,
    packet: &mut codec::packet::Packet,
    shaper: &mut SampleShaper,
    id: RenditionId,
    out: &Sender<Output>,
    split: impl Fn(&codec::packet::Packet) -> (i64, i64, bool, Bytes),
) -> Result<u64, TranscodeError> {
    let mut n = 0;
    while enc.receive_packet(packet).is_ok() {
        let (dts, pts, is_sync, data) = split(packet);
        if let Some(sample) = shaper.push(dts, pts, is_sync, data) {
            send(out, Output::Track(id, TrackInput::Sample(sample)))?;
        }
        n += 1;
    }
    Ok(n)
}

/// An H.264 packet as a sample: AVCC data, decode and presentation times.
fn h264_sample(packet: &codec::packet::Packet) -> (i64, i64, bool, Bytes) {
    let avcc = Bytes::from(annexb_to_length_prefixed(packet.data().unwrap_or_default()));
    let dts = packet.dts().or(packet.pts()).unwrap_or(0);
    let pts = packet.pts().unwrap_or(dts);
    (dts, pts, packet.is_key(), avcc)
}

/// Sends to the packager; fails when it has gone (it reports why).
pub(super) fn send(out: &Sender<Output>, message: Output) -> Result<(), TranscodeError> {
    out.blocking_send(message)
        .map_err(|_| TranscodeError::PackagerGone)
}
