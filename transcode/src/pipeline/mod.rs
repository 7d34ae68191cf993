//! The transcode driver: one decode thread, one thread per video rung, one
//! audio thread, bounded channels between them, and the async packager loop
//! that writes the ladder (master playlist last). A source without picture
//! runs the same way with no rung: the audio thread alone, which also draws
//! the waveform poster when the file carries no cover picture.

pub(crate) mod audio;
pub(crate) mod decode;
pub(crate) mod ffi;
mod loudness_scan;
pub(crate) mod poster;
pub(crate) mod rung;
mod storyboard;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use yanxiu_packager::media::TrackInput;
use yanxiu_packager::storage::{PutOptions, Storage};
use yanxiu_packager::vod::{RenditionId, RenditionKind, RenditionSpec, VodOptions, VodPackager};

use self::decode::{AudioFrame, RungFrame};
use crate::loudness::{Normalisation, normalisation};
use crate::qc::QcReport;
use crate::qc::tap::{self, QC_IN_FLIGHT, QcInput};
use crate::storyboard::StoryboardLayout;
use crate::timing::{AUDIO_PRIMING_SECONDS, VIDEO_TIMESCALE, presentation_delay};
use crate::waveform::{POSTER_SIZE, Waveform};
use crate::{Progress, TranscodeError, TranscodeJob, TranscodeOutcome};

/// Pictures queued between the decoder and each rung.
const FRAMES_IN_FLIGHT: usize = 4;
/// Audio frames queued between the decoder and the audio encoder.
const AUDIO_FRAMES_IN_FLIGHT: usize = 64;
/// Samples queued between the encoders and the packager.
const SAMPLES_IN_FLIGHT: usize = 256;

/// What the encoder threads send to the packager loop.
#[derive(Debug)]
pub enum Output {
    /// Input for one rendition.
    Track(RenditionId, TrackInput),
    /// A file of the ladder (poster, storyboard), named relative to the
    /// prefix.
    File(String, Bytes),
}

/// The encoder stages started for a job: their threads, the decoder's inputs to them.
struct Stages {
    threads: Vec<(String, JoinHandle<Result<u64, TranscodeError>>)>,
    rung_inputs: Vec<SyncSender<RungFrame>>,
    audio_input: Option<SyncSender<AudioFrame>>,
}

/// Runs a job to completion. See [`crate::transcode`].
pub async fn run(
    job: TranscodeJob,
    storage: Arc<dyn Storage>,
    progress: tokio::sync::watch::Sender<Progress>,
) -> Result<TranscodeOutcome, TranscodeError> {
    ffmpeg_next::init().map_err(|e| TranscodeError::decoder("init", e))?;
    let started = Instant::now();
    let options = VodOptions {
        segment_target: Duration::from_secs_f64(job.plan.segment_seconds),
        growing: job.growing,
        closed_captions: job.plan.master_closed_captions(),
        ..VodOptions::default()
    };
    let mut packager = VodPackager::start(storage.clone(), &job.prefix, options).await?;
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Output>(SAMPLES_IN_FLIGHT);
    let mut stages = start_video_rungs(&job, &mut packager, &out_tx)?;
    let loudness = measure_loudness(&job).await?;
    let qc = start_qc(&job)?;
    let qc_audio = qc.as_ref().map(|(tx, _)| tx.clone());
    let gain = loudness.as_ref().map_or(1.0, Normalisation::factor);
    let cover = store_cover_art(&job, &storage).await?;
    start_audio(
        &job,
        &mut packager,
        &out_tx,
        qc_audio,
        gain,
        &mut stages,
        !cover,
    )?;
    drop(out_tx);

    let position = Arc::new(AtomicI64::new(0));
    let (qc_video, qc_thread) = match qc {
        Some((tx, handle)) => (Some(tx), Some(handle)),
        None => (None, None),
    };
    let decoder = start_decoder(&job, &mut stages, qc_video, position.clone())?;
    let pumped = pump(
        &job,
        &storage,
        &mut packager,
        &mut out_rx,
        &position,
        &progress,
        started,
    )
    .await;
    // Closing the receiver stops every thread blocked on a send.
    drop(out_rx);
    let decoded = tokio::task::spawn_blocking(move || join(decoder))
        .await
        .map_err(|_| TranscodeError::Internal("decode join"))??;
    let stage_error = join_stages(stages.threads).await?;
    let mut files = pumped?;
    if cover {
        files.push(poster::FILE.to_owned());
    }
    if let Some(e) = stage_error {
        return Err(e);
    }
    check_decoded(&job, &decoded)?;
    let ladder = packager.finish().await?;
    let qc = finish_qc(qc_thread).await;
    Ok(TranscodeOutcome {
        qc,
        loudness,
        ladder,
        poster: written_key(&job, &files, poster::FILE),
        storyboard: written_key(&job, &files, storyboard::VTT),
        video_frames: decoded.video_frames,
        corrupt_packets: decoded.corrupt_packets,
        elapsed: started.elapsed(),
    })
}

/// Fails unless the decode gave what the job needs: pictures for a ladder
/// with video, sound for one without.
fn check_decoded(job: &TranscodeJob, decoded: &decode::DecodeReport) -> Result<(), TranscodeError> {
    match job.video {
        Some(_) if decoded.video_frames == 0 => Err(TranscodeError::NoFrames),
        None if decoded.audio_frames == 0 => Err(TranscodeError::NoSound),
        _ => Ok(()),
    }
}

/// The storage key of `name` under the job's prefix, when the run wrote it.
fn written_key(job: &TranscodeJob, files: &[String], name: &str) -> Option<String> {
    files
        .iter()
        .any(|f| f == name)
        .then(|| format!("{}{name}", job.prefix))
}

/// One encoder thread per video rung (the first also grabs the poster, the last draws the
/// storyboard), each declared to the packager.
fn start_video_rungs(
    job: &TranscodeJob,
    packager: &mut VodPackager,
    out_tx: &tokio::sync::mpsc::Sender<Output>,
) -> Result<Stages, TranscodeError> {
    let plan = &job.plan;
    let mut stages = Stages {
        threads: Vec::new(),
        rung_inputs: Vec::new(),
        audio_input: None,
    };
    let poster_pts = poster_time(job.duration_seconds);
    for (i, r) in plan.rungs.iter().enumerate() {
        let id = packager.add_rendition(RenditionSpec {
            name: r.name.clone(),
            kind: RenditionKind::Video {
                frame_rate: plan.frame_rate,
            },
        });
        packager.declare_bitrate(id, u64::from(r.max_bitrate_kbps) * 1000)?;
        let mut spec = rung::RungSpec::new(plan, r, id);
        if i == 0 && job.poster {
            spec.poster = Some(poster::PosterGrabber::new(poster_pts));
        }
        if i + 1 == plan.rungs.len() && job.storyboard {
            let aspect = f64::from(r.width) / f64::from(r.height.max(1));
            spec.storyboard = Some((
                StoryboardLayout::for_source(job.duration_seconds, aspect),
                job.duration_seconds,
            ));
        }
        let (tx, rx) = sync_channel(FRAMES_IN_FLIGHT);
        stages.rung_inputs.push(tx);
        let out = out_tx.clone();
        stages
            .threads
            .push(spawn(format!("rung-{}", r.name), move || {
                rung::run(spec, rx, out)
            })?);
    }
    Ok(stages)
}

/// The poster of a sound file that carries a cover picture: that picture, stored now (the
/// waveform then is not drawn). Whether one was stored.
async fn store_cover_art(
    job: &TranscodeJob,
    storage: &Arc<dyn Storage>,
) -> Result<bool, TranscodeError> {
    if job.video.is_some() || !job.poster {
        return Ok(false);
    }
    let input = job.input.clone();
    let found = tokio::task::spawn_blocking(move || poster::cover_art(&input, POSTER_SIZE))
        .await
        .map_err(|_| TranscodeError::Internal("cover art join"))?;
    let Some(jpeg) = found else {
        return Ok(false);
    };
    let key = format!("{}{}", job.prefix, poster::FILE);
    storage.put(&key, jpeg, &PutOptions::for_key(&key)).await?;
    Ok(true)
}

/// The audio encoder thread, when the plan has an audio rendition and the source sound; for
/// a source without picture it also draws the waveform poster when `draw_waveform`.
fn start_audio(
    job: &TranscodeJob,
    packager: &mut VodPackager,
    out_tx: &tokio::sync::mpsc::Sender<Output>,
    qc_audio: Option<SyncSender<QcInput>>,
    gain: f32,
    stages: &mut Stages,
    draw_waveform: bool,
) -> Result<(), TranscodeError> {
    let (Some(a), Some(_)) = (&job.plan.audio, job.audio_stream) else {
        return Ok(());
    };
    // A lecture without picture: its poster is the sound's waveform (unless
    // it carries a cover picture), and there is no B-frame delay to line up with.
    let audio_only = job.video.is_none();
    let waveform = (audio_only && job.poster && draw_waveform)
        .then(|| Waveform::new((job.duration_seconds.max(0.0) * f64::from(a.sample_rate)) as u64));
    let delay = if audio_only {
        AUDIO_PRIMING_SECONDS
    } else {
        presentation_delay(job.plan.frame_rate)
    };
    let id = packager.add_rendition(RenditionSpec {
        name: "audio".to_owned(),
        kind: RenditionKind::Audio {
            language: None,
            name: "default".to_owned(),
        },
    });
    packager.declare_bitrate(id, u64::from(a.bitrate))?;
    let (tx, rx) = sync_channel(AUDIO_FRAMES_IN_FLIGHT);
    stages.audio_input = Some(tx);
    let out = out_tx.clone();
    let stage = audio::AudioStage {
        plan: a.clone(),
        delay_seconds: delay,
        rendition: id,
        gain,
        waveform,
    };
    stages.threads.push(spawn("audio".to_owned(), move || {
        audio::run(stage, rx, out, qc_audio)
    })?);
    Ok(())
}

/// The decode thread, feeding every stage; it reports its position in `position`.
fn start_decoder(
    job: &TranscodeJob,
    stages: &mut Stages,
    qc_video: Option<SyncSender<QcInput>>,
    position: Arc<AtomicI64>,
) -> Result<JoinHandle<Result<decode::DecodeReport, TranscodeError>>, TranscodeError> {
    let audio_input = stages.audio_input.take();
    let Some(video) = job.video else {
        // A lecture without picture: the sound alone.
        let (Some(stream), Some(out)) = (job.audio_stream, audio_input) else {
            return Err(TranscodeError::NoAudio);
        };
        let input = job.input.clone();
        return std::thread::Builder::new()
            .name("yanxiu-audio-decode".to_owned())
            .spawn(move || decode::decode_audio(&input, None, stream, out, &position))
            .map_err(TranscodeError::Thread);
    };
    let decode_spec = decode::DecodeSpec {
        input: job.input.clone(),
        video_stream: video.stream,
        audio_stream: job.audio_stream.filter(|_| audio_input.is_some()),
        filter_chain: job
            .plan
            .picture
            .filter_chain(video.source.rotation, VIDEO_TIMESCALE),
        source_frame_rate: video.source.frame_rate,
        frame_rate: job.plan.frame_rate,
        gop_seconds: job.plan.gop_seconds,
        window: None,
    };
    let rung_inputs = std::mem::take(&mut stages.rung_inputs);
    std::thread::Builder::new()
        .name("yanxiu-decode".to_owned())
        .spawn(move || decode::run(decode_spec, rung_inputs, audio_input, qc_video, position))
        .map_err(TranscodeError::Thread)
}

/// The packager loop, the only writer to storage: samples into the ladder, files beside it,
/// progress after each. Returns the names of the files written.
async fn pump(
    job: &TranscodeJob,
    storage: &Arc<dyn Storage>,
    packager: &mut VodPackager,
    out_rx: &mut tokio::sync::mpsc::Receiver<Output>,
    position: &AtomicI64,
    progress: &tokio::sync::watch::Sender<Progress>,
    started: Instant,
) -> Result<Vec<String>, TranscodeError> {
    let mut files = Vec::new();
    while let Some(message) = out_rx.recv().await {
        match message {
            Output::Track(id, input) => packager.handle(id, input).await?,
            Output::File(name, body) => {
                let key = format!("{}{name}", job.prefix);
                let opts = PutOptions::for_key(&key);
                files.push(name);
                storage.put(&key, body, &opts).await?;
            }
        }
        let done = position.load(Ordering::Relaxed) as f64 / f64::from(VIDEO_TIMESCALE);
        progress.send_replace(Progress {
            media_seconds_done: done,
            media_seconds_total: job.duration_seconds,
            elapsed: started.elapsed(),
            playable: packager.is_playable(),
        });
    }
    Ok(files)
}

/// Waits for every encoder stage; the first real failure (not the packager going away).
pub(crate) async fn join_stages(
    threads: Vec<(String, JoinHandle<Result<u64, TranscodeError>>)>,
) -> Result<Option<TranscodeError>, TranscodeError> {
    let mut stage_error = None;
    for (name, handle) in threads {
        let result = tokio::task::spawn_blocking(move || join(handle))
            .await
            .map_err(|_| TranscodeError::Internal("stage join"))?;
        if let Err(e) = result
            && stage_error.is_none()
            && !matches!(e, TranscodeError::PackagerGone)
        {
            tracing::debug!(stage = %name, error = %e, "stage failed");
            stage_error = Some(e);
        }
    }
    Ok(stage_error)
}

/// The loudness normalisation of the audio rendition, when the ladder sets
/// a target and the source has sound: the sound is measured by a scan of
/// its own (no video decoded) before the single transcode pass.
pub(crate) async fn measure_loudness(
    job: &TranscodeJob,
) -> Result<Option<Normalisation>, TranscodeError> {
    let (Some(plan), Some(stream)) = (job.plan.audio.clone(), job.audio_stream) else {
        return Ok(None);
    };
    let Some(target) = plan.loudness else {
        return Ok(None);
    };
    let input = job.input.clone();
    let measured =
        tokio::task::spawn_blocking(move || loudness_scan::measure(&input, stream, &plan))
            .await
            .map_err(|_| TranscodeError::Internal("loudness scan join"))??;
    let decided = normalisation(&target, measured);
    tracing::debug!(
        gain_db = decided.gain_db,
        limited_by = ?decided.limited_by,
        "loudness normalisation"
    );
    Ok(Some(decided))
}

/// The QC thread: its input and the handle that gives the report.
type QcStage = (SyncSender<QcInput>, JoinHandle<QcReport>);

/// Starts the QC thread when the job asks for QC: the sender feeds it (the
/// decode and audio stages get clones), the handle gives the report.
fn start_qc(job: &TranscodeJob) -> Result<Option<QcStage>, TranscodeError> {
    let Some(thresholds) = job.qc.clone() else {
        return Ok(None);
    };
    let (tx, rx) = sync_channel(QC_IN_FLIGHT);
    let frame_rate = job.plan.frame_rate;
    let handle = std::thread::Builder::new()
        .name("yanxiu-qc".to_owned())
        .spawn(move || tap::run(thresholds, frame_rate, rx))
        .map_err(TranscodeError::Thread)?;
    Ok(Some((tx, handle)))
}

/// The QC report, once every stage feeding the QC thread has ended; none
/// (logged) if the thread panicked: the ladder stands without it.
async fn finish_qc(handle: Option<JoinHandle<QcReport>>) -> Option<QcReport> {
    let handle = handle?;
    match tokio::task::spawn_blocking(move || handle.join()).await {
        Ok(Ok(report)) => Some(report),
        _ => {
            tracing::warn!("the QC stage failed; the ladder has no QC report");
            None
        }
    }
}

/// The poster's time: a tenth into the source, at most 30 s in (slides are
/// up by then, and a title card is not a good poster).
pub(crate) fn poster_time(duration_seconds: f64) -> i64 {
    (poster_seconds(duration_seconds) * f64::from(VIDEO_TIMESCALE)) as i64
}

/// [`poster_time`] in seconds.
pub(crate) fn poster_seconds(duration_seconds: f64) -> f64 {
    (duration_seconds * 0.1).clamp(0.0, 30.0)
}

pub(crate) fn spawn<T: Send + 'static>(
    name: String,
    body: impl FnOnce() -> Result<T, TranscodeError> + Send + 'static,
) -> Result<(String, JoinHandle<Result<T, TranscodeError>>), TranscodeError> {
    let handle = std::thread::Builder::new()
        .name(format!("yanxiu-{name}"))
        .spawn(body)
        .map_err(TranscodeError::Thread)?;
    Ok((name, handle))
}

pub(crate) fn join<T>(handle: JoinHandle<Result<T, TranscodeError>>) -> Result<T, TranscodeError> {
    handle.join().map_err(|_| TranscodeError::Panicked)?
}
