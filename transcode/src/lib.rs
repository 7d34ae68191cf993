//! Ladder planning and the transcode pipeline.
//!
//! [`ladder`] decides what to encode (pure); [`transcode`] decodes a source
//! once and encodes every rung and one audio rendition in the same process
//! (and, when asked, feeds the same pictures and samples to the [`qc`]),
//! handing CMAF samples to the packager, which writes the HLS ladder through
//! a storage backend and publishes the master playlist last.
//!
//! This crate knows nothing of users or permissions: it takes a typed
//! [`TranscodeJob`] and reports [`Progress`] and a [`TranscodeOutcome`].

pub mod chunk;
pub mod ladder;
pub mod live;
pub mod loudness;
pub mod picture;
mod pipeline;
pub mod qc;
pub mod source;
pub mod storyboard;
pub mod timing;
pub mod waveform;
pub mod x264;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use ladder::{
    LadderConfig, LadderError, LadderPlan, PlannedAudio, PlannedRung, plan_audio_only, plan_ladder,
};
pub use picture::{FieldOrder, HdrKind, PicturePlan, Scan, plan_picture};
pub use source::{DisplaySize, Rotation, SourceVideo};
use yanxiu_packager::storage::Storage;
use yanxiu_packager::vod::LadderSummary;

/// One transcode: a source file, its plan, and where the ladder goes.
#[derive(Debug, Clone)]
pub struct TranscodeJob {
    /// The source file.
    pub input: PathBuf,
    /// The source's picture and its stream; `None` for an audio-only
    /// source (a lecture without picture), which becomes one audio
    /// rendition and a waveform poster.
    pub video: Option<VideoInput>,
    /// Index of the audio stream to use, if any.
    pub audio_stream: Option<usize>,
    /// Source duration in seconds (for progress and the poster time).
    pub duration_seconds: f64,
    /// What to encode.
    pub plan: LadderPlan,
    /// Key prefix in storage: `""` or ending in `/`.
    pub prefix: String,
    /// Whether to write `poster.jpg`.
    pub poster: bool,
    /// Whether to write the storyboard (`storyboard/sheet-NNN.jpg` and
    /// `storyboard/storyboard.vtt`) for scrubbing previews.
    pub storyboard: bool,
    /// Fast start: publish growing EVENT playlists and a provisional master
    /// as soon as every rendition has a segment (players can start before
    /// the ladder is finished); the final master still comes last. Without
    /// it nothing is playable until the whole ladder is written.
    pub growing: bool,
    /// Technical QC under these thresholds, fed from the same decode (no
    /// second decode); the report comes back in the outcome.
    pub qc: Option<qc::QcThresholds>,
}

/// The video stream a job encodes and what its picture is like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInput {
    /// Index of the video stream in the source.
    pub stream: usize,
    /// The source picture (size, rotation, rate, colour, scan).
    pub source: SourceVideo,
}

impl TranscodeJob {
    /// The video input, for the stages that need a picture.
    pub fn video(&self) -> Result<VideoInput, TranscodeError> {
        self.video.ok_or(TranscodeError::NoVideo)
    }
}

/// How far a running job is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// Source seconds decoded and handed to the encoders.
    pub media_seconds_done: f64,
    /// Source duration.
    pub media_seconds_total: f64,
    /// Wall time since the job started.
    pub elapsed: Duration,
    /// Whether a (provisional) master playlist is written: players can start.
    pub playable: bool,
}

impl Progress {
    /// Fraction done, 0 to 1.
    pub fn fraction(&self) -> f64 {
        if self.media_seconds_total > 0.0 {
            (self.media_seconds_done / self.media_seconds_total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Speed as a multiple of realtime.
    pub fn speed(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.media_seconds_done / secs
        } else {
            0.0
        }
    }

    /// Estimated time left, once there is a speed to go by.
    pub fn eta(&self) -> Option<Duration> {
        let speed = self.speed();
        (speed > 0.0).then(|| {
            Duration::from_secs_f64(
                ((self.media_seconds_total - self.media_seconds_done).max(0.0)) / speed,
            )
        })
    }
}

/// What a finished job produced.
#[derive(Debug)]
pub struct TranscodeOutcome {
    /// Measured figures per rendition.
    pub ladder: LadderSummary,
    /// Key of the poster image, when written.
    pub poster: Option<String>,
    /// Key of the storyboard WebVTT, when written.
    pub storyboard: Option<String>,
    /// Pictures decoded.
    pub video_frames: u64,
    /// Source packets the decoder refused (damage it skipped over).
    pub corrupt_packets: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The technical QC report, when the job asked for one.
    pub qc: Option<qc::QcReport>,
    /// The loudness normalisation applied to the audio rendition, when
    /// the ladder asks for one and the source has sound.
    pub loudness: Option<loudness::Normalisation>,
}

/// Transcode failures.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The source could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The path.
        path: String,
        /// The libav error.
        source: ffmpeg_next::Error,
    },
    /// The source has no video stream at the given index.
    #[error("the source has no video stream")]
    NoVideo,
    /// The source has no audio stream at the given index.
    #[error("the source has no audio stream")]
    NoAudio,
    /// Not a single picture could be decoded.
    #[error("no picture could be decoded from the source")]
    NoFrames,
    /// Not a single audio frame could be decoded from a source without
    /// picture.
    #[error("no sound could be decoded from the source")]
    NoSound,
    /// A decoder failed.
    #[error("{stage} decoder: {source}")]
    Decoder {
        /// Which stage.
        stage: &'static str,
        /// The libav error.
        source: ffmpeg_next::Error,
    },
    /// A filter of the picture stage (deinterlacing, tone mapping,
    /// rotation) failed.
    #[error("picture filter: {0}")]
    Filter(ffmpeg_next::Error),
    /// Scaling failed.
    #[error("{stage} scaler: {source}")]
    Scaler {
        /// Which rung.
        stage: String,
        /// The libav error.
        source: ffmpeg_next::Error,
    },
    /// An encoder failed.
    #[error("{stage} encoder: {source}")]
    Encoder {
        /// Which rung or stage.
        stage: String,
        /// The libav error.
        source: ffmpeg_next::Error,
    },
    /// An encoder this build needs is missing from libavcodec.
    #[error("encoder {0} is not available in this FFmpeg build")]
    MissingEncoder(&'static str),
    /// An encoder produced headers the packager cannot use.
    #[error("encoder headers not usable: {0}")]
    Bitstream(String),
    /// Packaging or storage failed.
    #[error(transparent)]
    Packager(#[from] yanxiu_packager::vod::PackagerError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] yanxiu_packager::storage::StorageError),
    /// The packager stopped (it reports its own error).
    #[error("the packager stopped")]
    PackagerGone,
    /// A thread could not start.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// A stage panicked.
    #[error("a pipeline stage panicked")]
    Panicked,
    /// A broken invariant.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// A chunk of a long source did not come out as planned.
    #[error("chunk: {0}")]
    Chunk(String),
}

impl TranscodeError {
    fn open(path: &Path, source: ffmpeg_next::Error) -> Self {
        Self::Open {
            path: path.display().to_string(),
            source,
        }
    }
    fn decoder(stage: &'static str, source: ffmpeg_next::Error) -> Self {
        Self::Decoder { stage, source }
    }
    fn scaler(stage: &str, source: ffmpeg_next::Error) -> Self {
        Self::Scaler {
            stage: stage.to_owned(),
            source,
        }
    }
    fn encoder(stage: &str, source: ffmpeg_next::Error) -> Self {
        Self::Encoder {
            stage: stage.to_owned(),
            source,
        }
    }
}

/// Decodes the source once, encodes every rung and the audio rendition in
/// parallel threads, and writes the ladder to `storage` under the job's
/// prefix, master playlist last. Progress is published on `progress`. An
/// audio-only job (no [`TranscodeJob::video`]) writes the audio rendition
/// and, when asked for a poster, a picture of the sound's waveform.
pub async fn transcode(
    job: TranscodeJob,
    storage: Arc<dyn Storage>,
    progress: tokio::sync::watch::Sender<Progress>,
) -> Result<TranscodeOutcome, TranscodeError> {
    pipeline::run(job, storage, progress).await
}
