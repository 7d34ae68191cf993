//! The demux-and-decode stage: reads the source once, decodes video (with
//! libav's frame threads) and audio, runs the picture stage planned in
//! [`crate::picture`] (deinterlacing, HDR → SDR tone mapping, rotation) once
//! for every rung, stamps every picture with a strictly increasing output
//! time and the keyframe decision, and hands each picture to every rung
//! (by reference, not by copy).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::SyncSender;

use ffmpeg_next::{Rational, codec, filter, format, frame};

use super::ffi;
use crate::TranscodeError;
use crate::chunk::{FrameWindow, Keep};
use crate::qc::tap::QcInput;
use crate::timing::{KeyframeGrid, MonotonicClock, VIDEO_TIMESCALE};

/// A decoded picture on its way to a rung.
pub struct RungFrame {
    /// The picture; `pts` in [`VIDEO_TIMESCALE`] ticks from the origin.
    pub picture: frame::Video,
    /// Whether this frame must start a closed GOP.
    pub keyframe: bool,
}

/// Decoded audio on its way to the audio encoder; `pts` in samples of the
/// frame's own rate, from the origin.
pub struct AudioFrame(pub frame::Audio);

/// What the decode stage needs.
#[derive(Debug)]
pub struct DecodeSpec {
    /// The source file.
    pub input: PathBuf,
    /// Index of the video stream to decode.
    pub video_stream: usize,
    /// Index of the audio stream, if audio is wanted.
    pub audio_stream: Option<usize>,
    /// The libavfilter chain of the picture stage
    /// ([`crate::picture::PicturePlan::filter_chain`]), if any.
    pub filter_chain: Option<String>,
    /// The source's frame rate (fills gaps in the decoded times).
    pub source_frame_rate: f64,
    /// Nominal output frame rate (for gaps and the keyframe tolerance).
    pub frame_rate: f64,
    /// GOP length in seconds.
    pub gop_seconds: f64,
    /// Only the pictures of one chunk (see [`crate::chunk`]): seek to the
    /// keyframe at or before its start, drop what comes before, stop at its
    /// end. `None`: the whole source.
    pub window: Option<FrameWindow>,
}

/// Consecutive unreadable packets tolerated before the source is declared
/// broken.
const MAX_CONSECUTIVE_READ_ERRORS: u32 = 64;

/// Runs the stage until the end of the source or until every consumer has
/// gone. `position` receives the latest video time (ticks) for progress.
/// With `qc`, the QC thread gets a second reference to every picture.
pub fn run(
    spec: DecodeSpec,
    rungs: Vec<SyncSender<RungFrame>>,
    audio: Option<SyncSender<AudioFrame>>,
    qc: Option<SyncSender<QcInput>>,
    position: Arc<AtomicI64>,
) -> Result<DecodeReport, TranscodeError> {
    let mut input = format::input(&spec.input).map_err(|e| TranscodeError::open(&spec.input, e))?;
    let origin_us = origin_microseconds(&input, Some(spec.video_stream), spec.audio_stream);
    if let Some(window) = spec.window {
        if spec.audio_stream.is_none() {
            ffi::discard_all_but(&mut input, spec.video_stream);
        }
        if let Some(at) = window.seek_microseconds() {
            // The keyframe at or before the chunk's start.
            let ts = origin_us + at;
            input
                .seek(ts, ..ts)
                .map_err(|e| TranscodeError::decoder("seek", e))?;
        }
    }

    let vstream = input
        .stream(spec.video_stream)
        .ok_or(TranscodeError::NoVideo)?;
    let video_tb = vstream.time_base();
    let mut vctx = codec::context::Context::from_parameters(vstream.parameters())
        .map_err(|e| TranscodeError::decoder("video", e))?;
    vctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    let mut vdec = vctx
        .decoder()
        .video()
        .map_err(|e| TranscodeError::decoder("video", e))?;

    let mut adec = None;
    let mut audio_tb = Rational(1, 1);
    if let (Some(index), Some(_)) = (spec.audio_stream, &audio) {
        let astream = input.stream(index).ok_or(TranscodeError::NoAudio)?;
        audio_tb = astream.time_base();
        let actx = codec::context::Context::from_parameters(astream.parameters())
            .map_err(|e| TranscodeError::decoder("audio", e))?;
        adec = Some(
            actx.decoder()
                .audio()
                .map_err(|e| TranscodeError::decoder("audio", e))?,
        );
    }

    let nominal = |rate: f64| (f64::from(VIDEO_TIMESCALE) / rate.max(1.0)).round() as i64;
    let mut stage = VideoStage {
        rungs,
        qc,
        clock: MonotonicClock::new(nominal(spec.source_frame_rate)),
        filtered_clock: MonotonicClock::new(nominal(spec.frame_rate)),
        grid: KeyframeGrid::new(spec.gop_seconds, spec.frame_rate, VIDEO_TIMESCALE),
        graph: None,
        chain: spec.filter_chain,
        position,
        frames: 0,
        closed: false,
        window: spec.window,
        past_end: false,
        captions: CaptionsOnce::default(),
    };
    let mut audio_out = audio;
    let mut report = DecodeReport::default();
    let mut consecutive_errors = 0;
    let mut packet = codec::packet::Packet::empty();
    let mut decoded = frame::Video::empty();
    let mut decoded_audio = frame::Audio::empty();

    loop {
        match packet.read(&mut input) {
            Ok(()) => consecutive_errors = 0,
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => {
                consecutive_errors += 1;
                report.read_errors += 1;
                if consecutive_errors > MAX_CONSECUTIVE_READ_ERRORS {
                    return Err(TranscodeError::decoder("demux", e));
                }
                continue;
            }
        }
        if packet.stream() == spec.video_stream {
            if vdec.send_packet(&packet).is_err() {
                report.corrupt_packets += 1;
                continue;
            }
            while vdec.receive_frame(&mut decoded).is_ok() {
                let t = to_ticks(decoded.timestamp(), video_tb, origin_us);
                stage.push(&mut decoded, t)?;
            }
            if stage.closed {
                return Ok(report);
            }
            if stage.past_end {
                break;
            }
        } else if Some(packet.stream()) == spec.audio_stream
            && let (Some(dec), Some(out)) = (adec.as_mut(), audio_out.as_ref())
        {
            if dec.send_packet(&packet).is_err() {
                report.corrupt_packets += 1;
                continue;
            }
            if drain_audio(dec, &mut decoded_audio, out, audio_tb, origin_us).is_err() {
                // The audio encoder has gone; its own error is reported.
                audio_out = None;
            }
        }
    }

    // End of input: flush decoders, then the picture filters.
    if vdec.send_eof().is_ok() {
        while vdec.receive_frame(&mut decoded).is_ok() {
            let t = to_ticks(decoded.timestamp(), video_tb, origin_us);
            stage.push(&mut decoded, t)?;
        }
    }
    stage.finish()?;
    if let (Some(dec), Some(out)) = (adec.as_mut(), audio_out.as_ref())
        && dec.send_eof().is_ok()
        && drain_audio(dec, &mut decoded_audio, out, audio_tb, origin_us).is_err()
    {
        // The audio encoder has gone; its own error is reported.
        tracing::debug!("audio consumer gone before the last audio frames");
    }
    report.video_frames = stage.frames;
    Ok(report)
}

/// What the decode stage saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct DecodeReport {
    /// Pictures handed to the rungs.
    pub video_frames: u64,
    /// Audio frames handed to the audio encoder (counted by the audio-only
    /// decode).
    pub audio_frames: u64,
    /// Packets the decoders refused.
    pub corrupt_packets: u64,
    /// Reads that failed and were skipped.
    pub read_errors: u64,
}

/// The origin of the output timeline: the earliest start of the selected
/// streams, in microseconds.
pub(crate) fn origin_microseconds(
    input: &format::context::Input,
    video: Option<usize>,
    audio: Option<usize>,
) -> i64 {
    [video, audio]
        .into_iter()
        .flatten()
        .filter_map(|i| input.stream(i))
        .filter(|s| s.start_time() != ffmpeg_next::ffi::AV_NOPTS_VALUE)
        .map(|s| rescale(s.start_time(), s.time_base(), Rational(1, 1_000_000)))
        .min()
        .unwrap_or(0)
}

fn rescale(value: i64, from: Rational, to: Rational) -> i64 {
    let mut num = i128::from(value) * i128::from(from.0) * i128::from(to.1);
    let mut den = i128::from(from.1) * i128::from(to.0);
    if den == 0 {
        return 0;
    }
    if den < 0 {
        (num, den) = (-num, -den);
    }
    // Round half away from zero.
    let q = if num >= 0 {
        (2 * num + den) / (2 * den)
    } else {
        -((-2 * num + den) / (2 * den))
    };
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn to_ticks(ts: Option<i64>, tb: Rational, origin_us: i64) -> Option<i64> {
    ts.map(|t| {
        rescale(t, tb, Rational(1, VIDEO_TIMESCALE as i32))
            - rescale(
                origin_us,
                Rational(1, 1_000_000),
                Rational(1, VIDEO_TIMESCALE as i32),
            )
    })
}

/// Sends every decoded audio frame `dec` has ready to `out`, timed in
/// samples from the origin; how many, or an error when the consumer has
/// gone.
pub(crate) fn drain_audio(
    dec: &mut ffmpeg_next::decoder::Audio,
    buf: &mut frame::Audio,
    out: &SyncSender<AudioFrame>,
    tb: Rational,
    origin_us: i64,
) -> Result<u64, ()> {
    let mut sent = 0;
    while dec.receive_frame(buf).is_ok() {
        let rate = buf.rate().max(1) as i32;
        let pts = buf.timestamp().map(|t| {
            rescale(t, tb, Rational(1, rate))
                - rescale(origin_us, Rational(1, 1_000_000), Rational(1, rate))
        });
        let mut f = std::mem::replace(buf, frame::Audio::empty());
        f.set_pts(pts);
        out.send(AudioFrame(f)).map_err(|_| ())?;
        sent += 1;
    }
    Ok(sent)
}

/// Demuxes and decodes only the audio stream of the whole source, timed
/// from the same origin as the video when there is one (so it lines up
/// with every chunk); `position` follows the audio in video ticks. The
/// report counts the audio frames decoded.
pub(crate) fn decode_audio(
    path: &std::path::Path,
    video_stream: Option<usize>,
    stream: usize,
    out: SyncSender<AudioFrame>,
    position: &AtomicI64,
) -> Result<DecodeReport, TranscodeError> {
    let mut input = format::input(path).map_err(|e| TranscodeError::open(path, e))?;
    let origin_us = origin_microseconds(&input, video_stream, Some(stream));
    ffi::discard_all_but(&mut input, stream);
    let astream = input.stream(stream).ok_or(TranscodeError::NoAudio)?;
    let tb = astream.time_base();
    let mut dec = codec::context::Context::from_parameters(astream.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(|e| TranscodeError::decoder("audio", e))?;
    let mut packet = codec::packet::Packet::empty();
    let mut buf = frame::Audio::empty();
    let mut errors = 0u32;
    let mut report = DecodeReport::default();
    loop {
        match packet.read(&mut input) {
            Ok(()) => errors = 0,
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => {
                errors += 1;
                report.read_errors += 1;
                if errors > MAX_CONSECUTIVE_READ_ERRORS {
                    return Err(TranscodeError::decoder("demux", e));
                }
                continue;
            }
        }
        if packet.stream() != stream {
            continue;
        }
        if dec.send_packet(&packet).is_err() {
            report.corrupt_packets += 1;
            continue;
        }
        if let Some(ts) = packet.pts() {
            let ticks = i64::from(VIDEO_TIMESCALE);
            let t = ts * i64::from(tb.0) * ticks / i64::from(tb.1.max(1));
            position.store(t - origin_us * ticks / 1_000_000, Ordering::Relaxed);
        }
        match drain_audio(&mut dec, &mut buf, &out, tb, origin_us) {
            Ok(frames) => report.audio_frames += frames,
            // The encoder has gone; it reports why.
            Err(()) => return Ok(report),
        }
    }
    if dec.send_eof().is_ok()
        && let Ok(frames) = drain_audio(&mut dec, &mut buf, &out, tb, origin_us)
    {
        report.audio_frames += frames;
    }
    Ok(report)
}

/// Video after decoding: picture filters, timing, keyframes, fan-out.
struct VideoStage {
    rungs: Vec<SyncSender<RungFrame>>,
    /// The QC thread, while it listens.
    qc: Option<SyncSender<QcInput>>,
    /// Decoded times, made strictly increasing.
    clock: MonotonicClock,
    /// Times out of the filters (a picture per field halves the spacing).
    filtered_clock: MonotonicClock,
    grid: KeyframeGrid,
    /// The picture filters, built on the first picture.
    graph: Option<filter::Graph>,
    chain: Option<String>,
    position: Arc<AtomicI64>,
    frames: u64,
    /// Every rung has gone (one failed); stop reading.
    closed: bool,
    /// The chunk being decoded, if only one.
    window: Option<FrameWindow>,
    /// A picture at or past the chunk's end arrived: stop reading.
    past_end: bool,
    /// Caption bytes out of the picture filters, sent once per source picture.
    captions: CaptionsOnce,
}

impl VideoStage {
    fn push(&mut self, decoded: &mut frame::Video, t: Option<i64>) -> Result<(), TranscodeError> {
        match self.window.map_or(Keep::Take, |w| w.keep(t)) {
            Keep::Take if !self.past_end => {}
            Keep::Drop | Keep::Take => return Ok(()),
            Keep::Stop => {
                self.past_end = true;
                return Ok(());
            }
        }
        let pts = self.clock.next(t);
        decoded.set_pts(Some(pts));
        let Some(chain) = self.chain.as_deref() else {
            let picture = std::mem::replace(decoded, frame::Video::empty());
            return self.fan_out(picture);
        };
        if self.graph.is_none() {
            self.graph = Some(picture_graph(decoded, chain)?);
        }
        let graph = self
            .graph
            .as_mut()
            .ok_or(TranscodeError::Internal("picture graph"))?;
        graph
            .get("in")
            .ok_or(TranscodeError::Internal("picture source"))?
            .source()
            .add(decoded)
            .map_err(TranscodeError::Filter)?;
        self.pull_filtered()
    }

    fn pull_filtered(&mut self) -> Result<(), TranscodeError> {
        loop {
            let mut filtered = frame::Video::empty();
            let got = match self.graph.as_mut().and_then(|g| g.get("out")) {
                Some(mut sink) => sink.sink().frame(&mut filtered).is_ok(),
                None => false,
            };
            if !got {
                return Ok(());
            }
            let pts = self.filtered_clock.next(filtered.pts());
            filtered.set_pts(Some(pts));
            self.captions.keep_once(&mut filtered);
            self.fan_out(filtered)?;
        }
    }

    fn finish(&mut self) -> Result<(), TranscodeError> {
        if let Some(graph) = self.graph.as_mut()
            && let Some(mut src) = graph.get("in")
        {
            src.source().flush().map_err(TranscodeError::Filter)?;
            self.pull_filtered()?;
        }
        Ok(())
    }

    fn fan_out(&mut self, picture: frame::Video) -> Result<(), TranscodeError> {
        if self.closed {
            return Ok(());
        }
        let pts = picture.pts().unwrap_or(0);
        if let Some(qc) = self.qc.as_ref() {
            let shared =
                ffi::share(&picture).map_err(|e| TranscodeError::decoder("frame reference", e))?;
            if qc.send(QcInput::Picture(shared)).is_err() {
                // The QC stopped (it reports why); the transcode goes on.
                self.qc = None;
            }
        }
        let keyframe = self.grid.is_keyframe(pts);
        self.frames += 1;
        self.position.store(pts, Ordering::Relaxed);
        let last = self.rungs.len().saturating_sub(1);
        let mut alive = 0;
        let mut own = Some(picture);
        for (i, tx) in self.rungs.iter().enumerate() {
            let picture = if i == last {
                own.take()
                    .ok_or(TranscodeError::Internal("frame fan-out"))?
            } else {
                let source = own
                    .as_ref()
                    .ok_or(TranscodeError::Internal("frame fan-out"))?;
                ffi::share(source).map_err(|e| TranscodeError::decoder("frame reference", e))?
            };
            if tx.send(RungFrame { picture, keyframe }).is_ok() {
                alive += 1;
            }
        }
        if alive < self.rungs.len() {
            // A rung stopped (it reports why); stop decoding.
            self.closed = true;
        }
        Ok(())
    }
}

/// Deinterlacing to one picture per field (`bwdif=send_field`) gives both
/// pictures of a source frame that frame's side data: its CEA-608 caption
/// bytes would be encoded twice and every letter shown twice. Keeps them on
/// the first picture of each source frame only (the two share the source
/// packet's position and decode time; other filters make one picture per
/// frame and are left alone).
#[derive(Debug, Default)]
struct CaptionsOnce {
    /// Source packet (position, decode time) of the last picture that kept
    /// its caption bytes.
    last: Option<(i64, i64)>,
}

impl CaptionsOnce {
    fn keep_once(&mut self, picture: &mut frame::Video) {
        let kind = frame::side_data::Type::A53CC;
        if picture.side_data(kind).is_none() {
            return;
        }
        let packet = picture.packet();
        // Without a known source position pictures cannot be told apart.
        let source = (packet.position >= 0).then_some((packet.position, packet.dts));
        if source.is_some() && source == self.last {
            picture.remove_side_data(kind);
        } else {
            self.last = source;
        }
    }
}

/// The filter graph `buffer → chain → buffersink` for pictures like `first`
/// timed in [`VIDEO_TIMESCALE`] ticks.
fn picture_graph(first: &frame::Video, chain: &str) -> Result<filter::Graph, TranscodeError> {
    let mut graph = filter::Graph::new();
    let sar = first.aspect_ratio();
    let sar = if sar.0 <= 0 || sar.1 <= 0 {
        Rational(1, 1)
    } else {
        sar
    };
    let pix: ffmpeg_next::ffi::AVPixelFormat = first.format().into();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base=1/{}:pixel_aspect={}/{}",
        first.width(),
        first.height(),
        pix as i32,
        VIDEO_TIMESCALE,
        sar.0,
        sar.1
    );
    let buffer = filter::find("buffer").ok_or(TranscodeError::Internal("buffer filter"))?;
    let sink = filter::find("buffersink").ok_or(TranscodeError::Internal("buffersink filter"))?;
    graph
        .add(&buffer, "in", &args)
        .map_err(TranscodeError::Filter)?;
    graph
        .add(&sink, "out", "")
        .map_err(TranscodeError::Filter)?;
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(chain))
        .map_err(TranscodeError::Filter)?;
    graph.validate().map_err(TranscodeError::Filter)?;
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescaling_rounds_to_nearest() {
        assert_eq!(rescale(1, Rational(1, 3), Rational(1, 90_000)), 30_000);
        assert_eq!(
            rescale(1001, Rational(1, 30_000), Rational(1, 90_000)),
            3003
        );
        assert_eq!(rescale(-1, Rational(1, 48_000), Rational(1, 90_000)), -2);
        assert_eq!(rescale(5, Rational(1, 0), Rational(1, 90_000)), 0);
    }
}
