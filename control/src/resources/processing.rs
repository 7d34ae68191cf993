//! The processing state of a revision's media, without IO: what the pipeline recorded
//! ([`MediaState`]), how an update merges into it ([`apply_media_update`]), and what the API
//! shows ([`processing_view`]: status, job progress, probe, validation, renditions and the
//! playback, poster and storyboard URLs).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ControlError, ControlResult};
use crate::jobs::{Job, JobErrorInfo, JobState};

/// Processing status of a revision's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingStatus {
    /// No media attached (metadata only, e.g. a source link).
    #[default]
    None,
    /// Uploaded, waiting for processing.
    Pending,
    /// Being probed, validated, transcoded.
    Processing,
    /// Processed and playable.
    Ready,
    /// The file breaks the platform's technical rules (the validation keeps the codes).
    Rejected,
    /// Processing failed (see the failure and the job's error).
    Failed,
}

impl ProcessingStatus {
    /// Every status.
    pub const ALL: [ProcessingStatus; 6] = [
        ProcessingStatus::None,
        ProcessingStatus::Pending,
        ProcessingStatus::Processing,
        ProcessingStatus::Ready,
        ProcessingStatus::Rejected,
        ProcessingStatus::Failed,
    ];

    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingStatus::None => "none",
            ProcessingStatus::Pending => "pending",
            ProcessingStatus::Processing => "processing",
            ProcessingStatus::Ready => "ready",
            ProcessingStatus::Rejected => "rejected",
            ProcessingStatus::Failed => "failed",
        }
    }

    /// The status named `s`, if any.
    pub fn parse(s: &str) -> Option<ProcessingStatus> {
        ProcessingStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// True while the pipeline still works on the media.
    pub fn is_under_way(self) -> bool {
        matches!(
            self,
            ProcessingStatus::Pending | ProcessingStatus::Processing
        )
    }
}

/// One broken technical rule (same shape as `yanxiu_ingest::validate::Violation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaViolation {
    /// Stable code, e.g. `video.codec_not_allowed`.
    pub code: String,
    /// zh-CN message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
    /// The measured value.
    #[serde(default)]
    pub actual: Option<String>,
    /// The policy's limit.
    #[serde(default)]
    pub limit: Option<String>,
}

/// The validation of a file against the platform's technical rules (same shape as
/// `yanxiu_ingest::validate::Validation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaValidation {
    /// True when no rule is broken.
    pub accepted: bool,
    /// Every broken rule.
    #[serde(default)]
    pub violations: Vec<MediaViolation>,
}

/// Why processing failed, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingFailure {
    /// Stable code.
    pub code: String,
    /// zh-CN message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
}

/// What the pipeline recorded about a revision's media.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct MediaState {
    /// Reference to the source file (object key or path), if any. Shown to people as
    /// `source_file`, the file's name alone: where the server keeps it is nobody's business.
    #[serde(rename = "source_file", serialize_with = "file_name_only")]
    pub media_ref: Option<String>,
    /// Stored processing status.
    pub processing_status: ProcessingStatus,
    /// QC summary shown to technical reviewers (snapshotted into their review record).
    pub qc_report: Option<Value>,
    /// The job processing this file.
    pub processing_job_id: Option<String>,
    /// The probe report.
    pub probe_report: Option<Value>,
    /// The validation result.
    pub validation: Option<MediaValidation>,
    /// The renditions of the ladder (one object each).
    pub renditions: Option<Vec<Value>>,
    /// Storage prefix of the HLS ladder.
    pub ladder_prefix: Option<String>,
    /// Storage key of the poster image.
    pub poster_key: Option<String>,
    /// Storage key of the storyboard (WebVTT over a sprite sheet).
    pub storyboard_key: Option<String>,
    /// Why processing failed.
    pub processing_error: Option<ProcessingFailure>,
}

/// The last part of a path or object key (`a/b/c.mp4` → `c.mp4`).
pub fn file_name_of(reference: &str) -> &str {
    reference
        .rsplit(['/', '\\'])
        .find(|part| !part.is_empty())
        .unwrap_or("")
}

fn file_name_only<S: serde::Serializer>(
    reference: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match reference {
        Some(r) => s.serialize_some(file_name_of(r)),
        None => s.serialize_none(),
    }
}

/// Media facts from the upload/transcode pipeline. Every `None` keeps what is recorded;
/// a new `media_ref` (a different file) first clears everything derived from the old one.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct MediaUpdate {
    /// Reference to the media.
    #[serde(default)]
    pub media_ref: Option<String>,
    /// New processing status.
    pub processing_status: ProcessingStatus,
    /// QC summary for the technical review.
    #[serde(default)]
    pub qc_report: Option<Value>,
    /// The probe report.
    #[serde(default)]
    pub probe_report: Option<Value>,
    /// The validation result (required with status `rejected` unless recorded already).
    #[serde(default)]
    pub validation: Option<MediaValidation>,
    /// The renditions summary.
    #[serde(default)]
    pub renditions: Option<Vec<Value>>,
    /// Storage prefix of the HLS ladder.
    #[serde(default)]
    pub ladder_prefix: Option<String>,
    /// Storage key of the poster.
    #[serde(default)]
    pub poster_key: Option<String>,
    /// Storage key of the storyboard.
    #[serde(default)]
    pub storyboard_key: Option<String>,
    /// Why processing failed (kept only with status `failed` or `rejected`).
    #[serde(default)]
    pub failure: Option<ProcessingFailure>,
}

impl MediaUpdate {
    /// An update that only sets the status.
    pub fn status(processing_status: ProcessingStatus) -> MediaUpdate {
        MediaUpdate {
            processing_status,
            ..Default::default()
        }
    }
}

/// Merges `update` into `current` (pure). A different `media_ref` starts from a clean slate;
/// a failure is kept only while the status is `failed` or `rejected`; `rejected` needs a
/// validation that did not accept the file.
pub fn apply_media_update(current: &MediaState, update: MediaUpdate) -> ControlResult<MediaState> {
    let new_file = update
        .media_ref
        .as_ref()
        .is_some_and(|r| current.media_ref.as_ref() != Some(r));
    let mut next = if new_file {
        MediaState {
            media_ref: update.media_ref.clone(),
            ..Default::default()
        }
    } else {
        current.clone()
    };
    next.processing_status = update.processing_status;
    macro_rules! keep_or_set {
        ($($field:ident <- $from:ident),* $(,)?) => {
            $( if let Some(v) = update.$from { next.$field = Some(v); } )*
        };
    }
    keep_or_set!(
        qc_report <- qc_report,
        probe_report <- probe_report,
        validation <- validation,
        renditions <- renditions,
        ladder_prefix <- ladder_prefix,
        poster_key <- poster_key,
        storyboard_key <- storyboard_key,
        processing_error <- failure,
    );
    if !matches!(
        next.processing_status,
        ProcessingStatus::Failed | ProcessingStatus::Rejected
    ) {
        next.processing_error = None;
    }
    if next.processing_status == ProcessingStatus::Rejected
        && next.validation.as_ref().is_none_or(|v| v.accepted)
    {
        return Err(ControlError::invalid(
            "状态为 rejected 时须附带未通过的校验结果",
            "status rejected needs a validation that did not accept the file",
        ));
    }
    if next.processing_status != ProcessingStatus::None && next.media_ref.is_none() {
        return Err(ControlError::invalid(
            "须先上传媒体文件",
            "a processing status needs a media_ref",
        ));
    }
    Ok(next)
}

/// The progress of the job behind a revision, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSummary {
    /// Job id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Queue state.
    pub state: JobState,
    /// The step under way, from the last heartbeat.
    pub stage: Option<String>,
    /// 0 to 100, from the last heartbeat.
    pub percent: Option<f64>,
    /// Multiple of real time, from the last heartbeat.
    pub speed: Option<f64>,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The next try (ms) of a job waiting after a failed attempt.
    pub retry_at: Option<i64>,
    /// The last error.
    pub error: Option<JobErrorInfo>,
    /// Last change (ms).
    pub updated_at: i64,
}

impl JobSummary {
    /// The summary of `job`.
    pub fn of(job: &Job) -> JobSummary {
        let progress = job.progress.as_ref();
        JobSummary {
            id: job.id.clone(),
            kind: job.kind.clone(),
            state: job.state,
            stage: progress.map(|p| p.stage.clone()),
            percent: progress.map(|p| p.percent),
            speed: progress.and_then(|p| p.speed),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            retry_at: (job.state == JobState::Queued && job.attempts > 0).then_some(job.run_at),
            error: job.error.clone(),
            updated_at: job.updated_at,
        }
    }
}

/// The `processing` object of a resource in the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessingView {
    /// pending, processing, ready, rejected, failed (or none without media).
    pub status: ProcessingStatus,
    /// The job behind it, if any.
    pub job: Option<JobSummary>,
    /// The probe report.
    pub probe: Option<Value>,
    /// The validation, with the codes and messages of every broken rule.
    pub validation: Option<MediaValidation>,
    /// The renditions summary.
    pub renditions: Option<Vec<Value>>,
    /// Whether the media is sound without picture (a lecture recorded as
    /// audio): players show the poster, the review checks the rule.
    pub audio_only: bool,
    /// Why processing failed (the pipeline's words, or the job's error).
    pub failure: Option<ProcessingFailure>,
    /// `/play/{id}/master.m3u8` once playable (ready, or a ladder already being written).
    pub playback_url: Option<String>,
    /// `/play/{id}/poster.jpg` once the poster exists.
    pub poster_url: Option<String>,
    /// `/play/{id}/storyboard/storyboard.vtt` (where the storyboard is
    /// stored under the ladder) once the storyboard exists.
    pub storyboard_url: Option<String>,
}

/// The status people see: the stored one, corrected by the job's state when the pipeline
/// could not record it (a worker that died, a job that ran out of attempts).
pub fn effective_status(stored: ProcessingStatus, job: Option<&Job>) -> ProcessingStatus {
    let Some(job) = job else {
        return stored;
    };
    if !stored.is_under_way() {
        return stored;
    }
    match job.state {
        JobState::Running => ProcessingStatus::Processing,
        JobState::Queued if job.attempts > 0 => ProcessingStatus::Processing,
        JobState::Failed | JobState::Cancelled => ProcessingStatus::Failed,
        JobState::Queued | JobState::Succeeded => stored,
    }
}

/// The failure of a job that ended without the pipeline recording one.
fn failure_of_job(job: &Job) -> ProcessingFailure {
    let (code, en) = match (&job.state, &job.error) {
        (JobState::Cancelled, _) => ("cancelled".to_owned(), "processing was cancelled".into()),
        (_, Some(e)) => (e.code.clone(), format!("processing failed: {}", e.message)),
        (_, None) => ("processing_failed".to_owned(), "processing failed".into()),
    };
    let zh = match job.state {
        JobState::Cancelled => "处理已取消".to_owned(),
        _ => format!("媒体处理失败（{code}），已重试 {} 次", job.attempts),
    };
    ProcessingFailure {
        code,
        message_zh: zh,
        message_en: en,
    }
}

/// Whether a probe report (the JSON of `yanxiu_ingest::MediaReport`)
/// describes sound without picture: an audio stream, and no video stream
/// with a picture (cover art is not a picture of the lecture).
pub fn is_audio_only(probe: &Value) -> bool {
    let Some(streams) = probe.get("streams").and_then(Value::as_array) else {
        return false;
    };
    let has = |kind: &str, facts: &str| {
        streams.iter().any(|s| {
            s.get("kind").and_then(Value::as_str) == Some(kind)
                && s.get(facts).is_some_and(|f| !f.is_null())
        })
    };
    has("audio", "audio") && !has("video", "video")
}

/// Where the transcoder writes the storyboard's WebVTT within a ladder.
const STORYBOARD_PATH: &str = "storyboard/storyboard.vtt";

/// The API's view of a revision's processing (pure).
pub fn processing_view(resource_id: &str, media: &MediaState, job: Option<&Job>) -> ProcessingView {
    let status = effective_status(media.processing_status, job);
    let failure = match (&media.processing_error, status) {
        (Some(f), _) => Some(f.clone()),
        (None, ProcessingStatus::Failed) => job.map(failure_of_job),
        _ => None,
    };
    let playable = status == ProcessingStatus::Ready
        || (status == ProcessingStatus::Processing && media.ladder_prefix.is_some());
    ProcessingView {
        status,
        job: job.map(JobSummary::of),
        probe: media.probe_report.clone(),
        validation: media.validation.clone(),
        renditions: media.renditions.clone(),
        audio_only: media.probe_report.as_ref().is_some_and(is_audio_only),
        failure,
        playback_url: playable.then(|| format!("/play/{resource_id}/master.m3u8")),
        poster_url: media
            .poster_key
            .as_ref()
            .map(|_| format!("/play/{resource_id}/poster.jpg")),
        storyboard_url: media.storyboard_key.as_deref().map(|key| {
            let within_ladder = media
                .ladder_prefix
                .as_deref()
                .and_then(|prefix| key.strip_prefix(prefix))
                .map(|rest| rest.trim_start_matches('/'))
                .unwrap_or(STORYBOARD_PATH);
            format!("/play/{resource_id}/{within_ladder}")
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jobs::JobProgress;

    fn uploaded() -> MediaState {
        MediaState {
            media_ref: Some("uploads/a.mp4".into()),
            processing_status: ProcessingStatus::Pending,
            processing_job_id: Some("job-1".into()),
            ..Default::default()
        }
    }

    fn job(state: JobState, attempts: u32) -> Job {
        Job {
            id: "job-1".into(),
            kind: "transcode".into(),
            resource_id: Some("r".into()),
            payload: json!({}),
            state,
            attempts,
            max_attempts: 3,
            run_at: 5,
            worker_id: None,
            lease_until: None,
            progress: Some(JobProgress {
                stage: "transcode".into(),
                percent: 42.0,
                speed: Some(3.0),
                detail: None,
            }),
            result: None,
            error: None,
            created_at: 0,
            updated_at: 0,
            started_at: None,
            finished_at: None,
        }
    }

    fn rejected_validation() -> MediaValidation {
        MediaValidation {
            accepted: false,
            violations: vec![MediaViolation {
                code: "video.codec_not_allowed".into(),
                message_zh: "视频编码不被允许".into(),
                message_en: "video codec not allowed".into(),
                actual: Some("vp9".into()),
                limit: Some("h264".into()),
            }],
        }
    }

    #[test]
    fn a_source_is_shown_by_its_file_name_never_by_where_the_server_keeps_it() {
        let media = MediaState {
            media_ref: Some("/srv/yanxiu/data/sources/r1/0a1b.mp4".into()),
            ..Default::default()
        };
        let shown = serde_json::to_value(&media).expect("json");
        assert_eq!(shown["source_file"], "0a1b.mp4");
        assert!(shown.get("media_ref").is_none());
        assert!(!shown.to_string().contains("/srv/"));
        assert_eq!(file_name_of("uploads/abc/"), "abc");
        assert_eq!(file_name_of(r"C:\media\x.mp4"), "x.mp4");
    }

    #[test]
    fn a_new_file_clears_everything_derived_from_the_old_one() {
        let mut done = uploaded();
        done.processing_status = ProcessingStatus::Ready;
        done.ladder_prefix = Some("vod/r/1".into());
        done.poster_key = Some("vod/r/1/poster.jpg".into());
        let next = apply_media_update(
            &done,
            MediaUpdate {
                media_ref: Some("uploads/b.mp4".into()),
                processing_status: ProcessingStatus::Pending,
                ..Default::default()
            },
        )
        .expect("update");
        assert_eq!(next.media_ref.as_deref(), Some("uploads/b.mp4"));
        assert_eq!(next.ladder_prefix, None);
        assert_eq!(next.poster_key, None);
        assert_eq!(next.processing_job_id, None);
    }

    #[test]
    fn unset_fields_keep_what_is_recorded() {
        let probed = apply_media_update(
            &uploaded(),
            MediaUpdate {
                processing_status: ProcessingStatus::Processing,
                probe_report: Some(json!({"duration_s": 1200})),
                ..Default::default()
            },
        )
        .expect("probe");
        let ready = apply_media_update(
            &probed,
            MediaUpdate {
                processing_status: ProcessingStatus::Ready,
                renditions: Some(vec![json!({"height": 720})]),
                ..Default::default()
            },
        )
        .expect("ready");
        assert_eq!(ready.probe_report, Some(json!({"duration_s": 1200})));
        assert_eq!(ready.renditions, Some(vec![json!({"height": 720})]));
        assert_eq!(ready.processing_job_id.as_deref(), Some("job-1"));
    }

    #[test]
    fn rejection_needs_a_failed_validation_and_a_failure_needs_a_failed_status() {
        assert!(
            apply_media_update(&uploaded(), MediaUpdate::status(ProcessingStatus::Rejected))
                .is_err()
        );
        let rejected = apply_media_update(
            &uploaded(),
            MediaUpdate {
                processing_status: ProcessingStatus::Rejected,
                validation: Some(rejected_validation()),
                ..Default::default()
            },
        )
        .expect("rejected");
        assert_eq!(rejected.validation, Some(rejected_validation()));
        let failure = ProcessingFailure {
            code: "x".into(),
            message_zh: "x".into(),
            message_en: "x".into(),
        };
        let ready = apply_media_update(
            &uploaded(),
            MediaUpdate {
                processing_status: ProcessingStatus::Ready,
                failure: Some(failure),
                ..Default::default()
            },
        )
        .expect("ready");
        assert_eq!(ready.processing_error, None);
        assert!(
            apply_media_update(
                &MediaState::default(),
                MediaUpdate::status(ProcessingStatus::Pending)
            )
            .is_err(),
            "no status without a file"
        );
    }

    #[test]
    fn the_job_corrects_a_status_the_pipeline_could_not_record() {
        let p = ProcessingStatus::Pending;
        assert_eq!(effective_status(p, None), p);
        assert_eq!(effective_status(p, Some(&job(JobState::Queued, 0))), p);
        let processing = ProcessingStatus::Processing;
        assert_eq!(
            effective_status(p, Some(&job(JobState::Running, 1))),
            processing
        );
        assert_eq!(
            effective_status(p, Some(&job(JobState::Queued, 1))),
            processing,
            "waiting for a retry"
        );
        assert_eq!(
            effective_status(processing, Some(&job(JobState::Failed, 3))),
            ProcessingStatus::Failed
        );
        assert_eq!(
            effective_status(ProcessingStatus::Ready, Some(&job(JobState::Failed, 3))),
            ProcessingStatus::Ready,
            "a recorded outcome stands"
        );
    }

    #[test]
    fn the_view_shows_progress_urls_and_a_failure_in_both_languages() {
        let mut media = uploaded();
        media.processing_status = ProcessingStatus::Processing;
        let running = processing_view("r1", &media, Some(&job(JobState::Running, 1)));
        assert_eq!(running.status, ProcessingStatus::Processing);
        let summary = running.job.expect("job");
        assert_eq!(
            (summary.percent, summary.speed, summary.stage.as_deref()),
            (Some(42.0), Some(3.0), Some("transcode"))
        );
        assert_eq!(running.playback_url, None, "nothing to play yet");

        media.ladder_prefix = Some("vod/r1/1".into());
        let fast_start = processing_view("r1", &media, Some(&job(JobState::Running, 1)));
        assert_eq!(
            fast_start.playback_url.as_deref(),
            Some("/play/r1/master.m3u8")
        );

        media.processing_status = ProcessingStatus::Ready;
        media.poster_key = Some("vod/r1/1/poster.jpg".into());
        media.storyboard_key = Some("vod/r1/1/storyboard/storyboard.vtt".into());
        let ready = processing_view("r1", &media, Some(&job(JobState::Succeeded, 1)));
        assert_eq!(ready.poster_url.as_deref(), Some("/play/r1/poster.jpg"));
        // The URL names the file where it is stored under the ladder.
        assert_eq!(
            ready.storyboard_url.as_deref(),
            Some("/play/r1/storyboard/storyboard.vtt")
        );

        let mut dead = job(JobState::Failed, 3);
        dead.error = Some(JobErrorInfo {
            code: "lease_expired".into(),
            message: "the worker stopped renewing its lease".into(),
        });
        let failed = processing_view("r1", &uploaded(), Some(&dead));
        assert_eq!(failed.status, ProcessingStatus::Failed);
        let failure = failed.failure.expect("failure");
        assert_eq!(failure.code, "lease_expired");
        assert!(failure.message_zh.contains("处理失败"));
        assert!(failure.message_en.contains("lease"));
        assert_eq!(failed.playback_url, None);
    }

    #[test]
    fn sound_without_a_picture_is_audio_only_and_cover_art_is_no_picture() {
        let audio = json!({"kind": "audio", "audio": {"channels": 2}});
        let video = json!({"kind": "video", "video": {"width": 640}});
        let cover = json!({"kind": "attachment", "video": null});
        assert!(is_audio_only(&json!({"streams": [audio]})));
        assert!(is_audio_only(&json!({"streams": [cover, audio]})));
        assert!(!is_audio_only(&json!({"streams": [video, audio]})));
        assert!(!is_audio_only(&json!({"streams": [video]})));
        assert!(!is_audio_only(&json!({"streams": []})));
        assert!(!is_audio_only(&json!({"error": "not media"})));
    }
}
