//! `POST /api/v1/resources/{id}/reprocess`: process a refused or failed file again (重新处理),
//! once the producer has fixed what the refusal named (the type of a lecture without
//! picture, its category) or the platform's rules changed. The control plane decides who may
//! and when ([`yanxiu_control::ControlPlane::reprocess`]); this route turns the kept file's
//! reference into the job's input: the file of a file-store upload, the key of a
//! shared-store upload, or the link of an import (fetched again).

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use yanxiu_control::http::error::{localize_errors, respond};
use yanxiu_control::http::extract::Authed;
use yanxiu_control::jobs::NewJob;
use yanxiu_control::resources::processing::file_name_of;
use yanxiu_control::{AppState, ControlError, ControlResult};

use super::imports::import_payload;
use super::uploads::UploadPipeline;
use crate::worker::{PROCESS_UPLOAD, ProcessPayload};

/// The route, with the control plane's state (for the caller) and the upload pipeline (where
/// sources are kept, attempts per job).
pub fn router(control: AppState, pipeline: Arc<UploadPipeline>) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/resources/{resource_id}/reprocess", post(reprocess))
        .layer(Extension(pipeline))
        .layer(axum::middleware::from_fn(localize_errors))
        .with_state(control)
}

/// The input of a new processing job for the file the revision refers to by `media_ref`.
fn payload_for(
    sources_dir: &FsPath,
    resource_id: &str,
    media_ref: &str,
) -> ControlResult<ProcessPayload> {
    let lower = media_ref.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(import_payload(sources_dir, resource_id, media_ref));
    }
    let file_name = file_name_of(media_ref).to_owned();
    let path = PathBuf::from(media_ref);
    if path.is_absolute() {
        // A file-store upload, kept under the data directory.
        if !path.is_file() {
            return Err(ControlError::conflict(
                "原文件已不在服务器上，请重新上传",
                "the file is no longer kept on the server: upload it again",
            ));
        }
        return Ok(ProcessPayload {
            source: path,
            source_key: None,
            file_name,
            url: None,
        });
    }
    // A shared-store upload: the worker copies the key to a scratch file.
    Ok(ProcessPayload {
        source: PathBuf::new(),
        source_key: Some(media_ref.to_owned()),
        file_name,
        url: None,
    })
}

/// `POST /api/v1/resources/{id}/reprocess`: 202 with the new job, 409 when the file is not
/// refused or failed (or no longer kept).
async fn reprocess(
    State(state): State<AppState>,
    Extension(pipeline): Extension<Arc<UploadPipeline>>,
    Authed(actor): Authed,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let job_for = |media_ref: &str| {
        let payload = payload_for(&pipeline.sources_dir, &resource_id, media_ref)?;
        Ok(NewJob {
            kind: PROCESS_UPLOAD.to_owned(),
            resource_id: Some(resource_id.clone()),
            payload: serde_json::to_value(payload)
                .map_err(|e| ControlError::Internal(e.to_string()))?,
            max_attempts: pipeline.max_attempts.max(1),
        })
    };
    let now = state.clock.now_ms();
    match state
        .control
        .reprocess(&actor, &resource_id, job_for, now)
        .await
    {
        Ok((_, job_id)) => (
            StatusCode::ACCEPTED,
            Json(json!({ "resource_id": resource_id, "job_id": job_id })),
        )
            .into_response(),
        Err(e) => respond(e, &headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_file_a_storage_key_and_a_link_each_get_the_input_their_worker_needs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kept = dir.path().join("r1").join("u1.mp3");
        std::fs::create_dir_all(kept.parent().expect("parent")).expect("dir");
        std::fs::write(&kept, b"ID3").expect("file");
        let p = payload_for(dir.path(), "r1", &kept.to_string_lossy()).expect("kept file");
        assert_eq!(
            (p.source.as_path(), p.source_key, p.url),
            (kept.as_path(), None, None)
        );
        assert_eq!(p.file_name, "u1.mp3");

        let p = payload_for(dir.path(), "r1", "sources/r1/source.flac").expect("key");
        assert_eq!(p.source_key.as_deref(), Some("sources/r1/source.flac"));
        assert_eq!(p.file_name, "source.flac");

        let p =
            payload_for(dir.path(), "r1", "https://pan.example.cn/s/talk.mp3?x=1").expect("link");
        assert_eq!(
            p.url.as_deref(),
            Some("https://pan.example.cn/s/talk.mp3?x=1")
        );
        assert!(p.source.starts_with(dir.path().join("r1")));
        assert_eq!(p.file_name, "talk.mp3");

        let gone = dir.path().join("r1").join("gone.mp4");
        let e = payload_for(dir.path(), "r1", &gone.to_string_lossy()).expect_err("gone");
        assert_eq!(e.code(), "conflict");
    }
}
