//! The QC driver (thin, not pure): a thread that takes the pictures the
//! transcode's decode stage hands to the rungs (a second reference to the
//! same frame, no copy) and the float samples the audio stage resamples
//! anyway, and feeds them to the pure [`QcAnalyser`]. [`analyse_file`]
//! runs the same decode stage without any rung for `yanxiu qc FILE`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use ffmpeg_next::{format, frame, software};

use super::analyser::QcAnalyser;
use super::picture::Luma;
use super::report::QcReport;
use super::thresholds::QcThresholds;
use crate::TranscodeError;
use crate::pipeline::audio::ToPlanarF32;
use crate::pipeline::decode::{self, AudioFrame, DecodeSpec};
use crate::source::Rotation;
use crate::timing::VIDEO_TIMESCALE;

/// Messages queued between the pipeline and the QC thread.
pub const QC_IN_FLIGHT: usize = 16;

/// What the QC thread is fed.
pub enum QcInput {
    /// A decoded, upright picture; `pts` in [`VIDEO_TIMESCALE`] ticks.
    Picture(frame::Video),
    /// Planar float samples at `rate` Hz starting `start` seconds in.
    Sound {
        /// Time of the first sample, seconds.
        start: f64,
        /// Sample rate, Hz.
        rate: u32,
        /// One vector per channel.
        planes: Vec<Vec<f32>>,
    },
}

impl std::fmt::Debug for QcInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QcInput::Picture(p) => f.debug_tuple("Picture").field(&p.pts()).finish(),
            QcInput::Sound {
                start,
                rate,
                planes,
            } => f
                .debug_struct("Sound")
                .field("start", start)
                .field("rate", rate)
                .field("channels", &planes.len())
                .finish(),
        }
    }
}

/// Pixel formats whose first plane is 8-bit luma at full size.
fn luma_first(format: format::Pixel) -> bool {
    use format::Pixel as P;
    matches!(
        format,
        P::YUV420P
            | P::YUVJ420P
            | P::YUV422P
            | P::YUVJ422P
            | P::YUV444P
            | P::YUVJ444P
            | P::YUV440P
            | P::YUVJ440P
            | P::YUV411P
            | P::YUV410P
            | P::YUVA420P
            | P::NV12
            | P::NV21
            | P::GRAY8
    )
}

/// Converts pictures without an 8-bit luma plane (10-bit, RGB) to grey.
#[derive(Default)]
struct Grey {
    scaler: Option<software::scaling::Context>,
}

impl std::fmt::Debug for Grey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grey").finish_non_exhaustive()
    }
}

impl Grey {
    fn convert(&mut self, picture: &frame::Video) -> Option<frame::Video> {
        let stale = self.scaler.as_ref().is_none_or(|s| {
            let i = s.input();
            i.width != picture.width()
                || i.height != picture.height()
                || i.format != picture.format()
        });
        if stale {
            self.scaler = software::scaling::Context::get(
                picture.format(),
                picture.width(),
                picture.height(),
                format::Pixel::GRAY8,
                picture.width(),
                picture.height(),
                software::scaling::Flags::FAST_BILINEAR,
            )
            .ok();
        }
        let mut grey = frame::Video::new(format::Pixel::GRAY8, picture.width(), picture.height());
        self.scaler.as_mut()?.run(picture, &mut grey).ok()?;
        Some(grey)
    }
}

fn view(picture: &frame::Video) -> Luma<'_> {
    Luma {
        width: picture.width() as usize,
        height: picture.height() as usize,
        stride: picture.stride(0),
        data: picture.data(0),
    }
}

/// The QC thread's body: analyses everything it is sent until every
/// sender has gone, then reports.
pub fn run(thresholds: QcThresholds, frame_rate: f64, input: Receiver<QcInput>) -> QcReport {
    let mut qc = QcAnalyser::new(thresholds, frame_rate);
    let mut grey = Grey::default();
    for message in input {
        match message {
            QcInput::Picture(picture) => {
                let t = picture.pts().unwrap_or(0) as f64 / f64::from(VIDEO_TIMESCALE);
                if luma_first(picture.format()) {
                    qc.push_picture(t, &view(&picture));
                } else if let Some(g) = grey.convert(&picture) {
                    qc.push_picture(t, &view(&g));
                }
            }
            QcInput::Sound {
                start,
                rate,
                planes,
            } => {
                let refs: Vec<&[f32]> = planes.iter().map(Vec::as_slice).collect();
                qc.push_sound(start, rate, &refs);
            }
        }
    }
    qc.finish()
}

/// The planes of a planar float frame, copied.
pub(crate) fn planes_of(f: &frame::Audio) -> Vec<Vec<f32>> {
    let n = f.samples();
    (0..f.planes())
        .map(|c| f.plane::<f32>(c).iter().take(n).copied().collect())
        .collect()
}

/// What `yanxiu qc FILE` analyses.
#[derive(Debug, Clone)]
pub struct QcFileSpec {
    /// The source file.
    pub input: PathBuf,
    /// Index of the video stream; `None` for a file without picture (the sound alone is
    /// checked).
    pub video_stream: Option<usize>,
    /// Index of the audio stream, if any.
    pub audio_stream: Option<usize>,
    /// Rotation to apply to pictures.
    pub rotation: Rotation,
    /// Nominal frame rate.
    pub frame_rate: f64,
    /// Channels the sound is measured in (mixed down to at most this).
    pub audio_channels: u16,
    /// The thresholds.
    pub thresholds: QcThresholds,
}

/// Decodes `spec.input` once (no encoding) and returns its QC report.
pub fn analyse_file(spec: QcFileSpec) -> Result<QcReport, TranscodeError> {
    ffmpeg_next::init().map_err(|e| TranscodeError::decoder("init", e))?;
    let (qc_tx, qc_rx) = sync_channel(QC_IN_FLIGHT);
    let mut converter = None;
    let mut audio_tx = None;
    if spec.audio_stream.is_some() {
        let (tx, rx) = sync_channel::<AudioFrame>(64);
        audio_tx = Some(tx);
        let out = qc_tx.clone();
        let channels = spec.audio_channels.max(1);
        converter = Some(
            std::thread::Builder::new()
                .name("yanxiu-qc-audio".to_owned())
                .spawn(move || convert_audio(rx, out, channels))
                .map_err(TranscodeError::Thread)?,
        );
    }
    let Some(video_stream) = spec.video_stream else {
        return analyse_sound(spec, qc_tx, qc_rx, audio_tx, converter);
    };
    let decode_spec = DecodeSpec {
        input: spec.input.clone(),
        video_stream,
        audio_stream: spec.audio_stream,
        filter_chain: crate::picture::PicturePlan::default()
            .filter_chain(spec.rotation, crate::timing::VIDEO_TIMESCALE),
        source_frame_rate: spec.frame_rate,
        frame_rate: spec.frame_rate,
        gop_seconds: 2.0,
        window: None,
    };
    let video_tx = qc_tx.clone();
    drop(qc_tx);
    let decoder = std::thread::Builder::new()
        .name("yanxiu-qc-decode".to_owned())
        .spawn(move || {
            decode::run(
                decode_spec,
                Vec::new(),
                audio_tx,
                Some(video_tx),
                Arc::new(AtomicI64::new(0)),
            )
        })
        .map_err(TranscodeError::Thread)?;
    let report = run(spec.thresholds, spec.frame_rate, qc_rx);
    let decoded = decoder.join().map_err(|_| TranscodeError::Panicked)??;
    if let Some(c) = converter {
        c.join().map_err(|_| TranscodeError::Panicked)??;
    }
    if decoded.video_frames == 0 {
        return Err(TranscodeError::NoFrames);
    }
    Ok(report)
}

/// [`analyse_file`] for a file without picture: the sound stream alone is decoded.
fn analyse_sound(
    spec: QcFileSpec,
    qc_tx: SyncSender<QcInput>,
    qc_rx: Receiver<QcInput>,
    audio_tx: Option<SyncSender<AudioFrame>>,
    converter: Option<std::thread::JoinHandle<Result<(), TranscodeError>>>,
) -> Result<QcReport, TranscodeError> {
    drop(qc_tx);
    let (Some(stream), Some(out), Some(converter)) = (spec.audio_stream, audio_tx, converter)
    else {
        return Err(TranscodeError::NoAudio);
    };
    let input = spec.input.clone();
    let decoder = std::thread::Builder::new()
        .name("yanxiu-qc-decode".to_owned())
        .spawn(move || decode::decode_audio(&input, None, stream, out, &AtomicI64::new(0)))
        .map_err(TranscodeError::Thread)?;
    let report = run(spec.thresholds, 0.0, qc_rx);
    let decoded = decoder.join().map_err(|_| TranscodeError::Panicked)??;
    converter.join().map_err(|_| TranscodeError::Panicked)??;
    if decoded.audio_frames == 0 {
        return Err(TranscodeError::NoSound);
    }
    Ok(report)
}

/// Resamples decoded audio to planar float (same rate, at most `channels`
/// channels) for the QC thread.
fn convert_audio(
    frames: Receiver<AudioFrame>,
    out: SyncSender<QcInput>,
    channels: u16,
) -> Result<(), TranscodeError> {
    let mut to_f32: Option<ToPlanarF32> = None;
    let mut next: Option<f64> = None;
    for AudioFrame(mut input) in frames {
        let rate = input.rate().max(1);
        let convert = to_f32
            .get_or_insert_with(|| ToPlanarF32::new(rate, channels.min(input.channels().max(1))));
        let start =
            *next.get_or_insert_with(|| input.pts().unwrap_or(0).max(0) as f64 / f64::from(rate));
        let converted = convert.convert(&mut input)?;
        let n = converted.samples();
        let planes = planes_of(&converted);
        next = Some(start + n as f64 / f64::from(convert.rate()));
        if n > 0
            && out
                .send(QcInput::Sound {
                    start,
                    rate: convert.rate(),
                    planes,
                })
                .is_err()
        {
            return Ok(());
        }
    }
    Ok(())
}
