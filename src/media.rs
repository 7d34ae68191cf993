//! From a probed source to a transcode job: the picture facts the planner
//! needs, the plan, and the job. Shared by `yanxiu transcode` and the
//! workers, so both make the same ladder from the same file; and the same
//! facts for `yanxiu qc`.

use std::path::Path;

use anyhow::Context;
use yanxiu_ingest::MediaReport;
use yanxiu_transcode::picture::Matrix;
use yanxiu_transcode::qc::QcThresholds;
use yanxiu_transcode::qc::tap::QcFileSpec;
use yanxiu_transcode::{
    LadderConfig, Rotation, SourceVideo, TranscodeJob, VideoInput, plan_audio_only, plan_ladder,
};

/// What to write besides the ladder.
#[derive(Debug, Clone, Copy)]
pub struct Extras {
    /// Write `poster.jpg`.
    pub poster: bool,
    /// Write the storyboard.
    pub storyboard: bool,
    /// Publish growing playlists while encoding (fast start).
    pub growing: bool,
}

/// The primary video stream's index and picture facts.
fn source_of(report: &MediaReport) -> anyhow::Result<(usize, SourceVideo)> {
    let video_stream = report
        .primary_video()
        .context("the source has no video stream")?;
    let info = video_stream
        .video
        .as_ref()
        .context("the video stream has no picture information")?;
    let usable = |r: &f64| r.is_finite() && *r > 0.0;
    let frame_rate = info
        .avg_frame_rate
        .filter(usable)
        .or(info.real_frame_rate.filter(usable))
        .unwrap_or(25.0);
    let source = SourceVideo {
        width: info.width,
        height: info.height,
        sample_aspect_ratio: info.sample_aspect_ratio,
        rotation: Rotation::from_degrees(i64::from(info.rotation)),
        frame_rate,
        hdr: info.signal.hdr,
        full_range: info.signal.color_range.as_deref() == Some("pc"),
        scan: info.signal.scan,
        matrix: Matrix::from_name(info.signal.color_matrix.as_deref()),
    };
    Ok((video_stream.index, source))
}

/// What `yanxiu qc` analyses in a probed file: its primary streams (the
/// sound alone for a file without picture), the sound mixed down to at
/// most stereo, under `thresholds`.
pub fn qc_spec_for(
    input: &Path,
    report: &MediaReport,
    thresholds: QcThresholds,
) -> anyhow::Result<QcFileSpec> {
    let audio = report.primary_audio();
    let channels = audio
        .and_then(|a| a.audio.as_ref())
        .map_or(2, |a| a.channels.clamp(1, 2));
    let (video_stream, rotation, frame_rate) = if report.primary_video().is_some() {
        let (stream, source) = source_of(report)?;
        (Some(stream), source.rotation, source.frame_rate)
    } else {
        audio.context("the file has neither picture nor sound")?;
        (None, Rotation::None, 0.0)
    };
    Ok(QcFileSpec {
        input: input.to_path_buf(),
        video_stream,
        audio_stream: audio.map(|a| a.index),
        rotation,
        frame_rate,
        audio_channels: channels,
        thresholds,
    })
}

/// The transcode job for an accepted source, writing under `prefix`. A
/// source without picture (audio only, as the policy allowed it) gets the
/// audio rendition alone, and a waveform poster when `extras` asks for a
/// poster.
pub fn job_for(
    input: &Path,
    report: &MediaReport,
    ladder: &LadderConfig,
    prefix: &str,
    extras: Extras,
) -> anyhow::Result<TranscodeJob> {
    let audio = report.primary_audio();
    let audio_format = audio
        .and_then(|a| a.audio.as_ref())
        .map(|a| (a.channels, a.sample_rate));
    let (video, plan) = if report.primary_video().is_some() {
        let (stream, source) = source_of(report)?;
        let plan = plan_ladder(ladder, &source, audio_format)?;
        (Some(VideoInput { stream, source }), plan)
    } else {
        let (channels, rate) = audio_format.context("the source has neither picture nor sound")?;
        (None, plan_audio_only(ladder, channels, rate)?)
    };
    Ok(TranscodeJob {
        input: input.to_path_buf(),
        video,
        audio_stream: audio.map(|a| a.index),
        duration_seconds: report.duration_seconds.unwrap_or(0.0),
        plan: plan.with_closed_captions(has_closed_captions(report)),
        prefix: prefix.to_owned(),
        poster: extras.poster,
        storyboard: extras.storyboard && video.is_some(),
        growing: extras.growing,
        qc: None,
    })
}

/// Whether the primary video stream carries CEA-608 captions (the probe saw
/// them on its pictures): the ladder then carries and announces them.
fn has_closed_captions(report: &MediaReport) -> bool {
    report
        .primary_video()
        .and_then(|stream| stream.video.as_ref())
        .is_some_and(|video| video.closed_captions)
}
