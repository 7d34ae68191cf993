//! `/api/v1/resources/{id}/captions/{language}`: a resource's caption files (字幕).
//!
//! `PUT` takes a WebVTT or SubRip file as the request body (any content type; `?label=`
//! names the track in players' menus), checks it against the resource's media with
//! [`yanxiu_ingest::captions`] (a refusal names the rule and the line, in zh-CN or English),
//! stores the normalised WebVTT under a key named by its digest, and records it on the
//! resource through the control plane, which decides who may and opens a new revision when
//! the resource is online. `GET` returns the stored WebVTT to whoever may read the resource;
//! `DELETE` removes the track. Players get the tracks through the master playlist (see
//! [`super::playback`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use yanxiu_control::AppState;
use yanxiu_control::http::error::{localize_errors, respond};
use yanxiu_control::http::extract::Authed;
use yanxiu_control::resources::{CaptionUpload, ResourceView, Revision};
use yanxiu_ingest::captions::{CaptionError, CaptionLimits, language_tag, parse_captions};
use yanxiu_ingest::messages::Lang as MessageLang;
use yanxiu_packager::storage::{PutOptions, Storage};

use super::playback::error;

/// Largest request body the caption routes read: the caption limit and room for a
/// refusal that names it (a larger body is refused before it is read).
pub const CAPTION_BODY_BYTES: u64 = 2 * 1024 * 1024 + 64 * 1024;

/// The storage the caption routes write to.
#[derive(Clone)]
struct CaptionStorage(Arc<dyn Storage>);

/// Query of a caption upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The track's name in players' caption menus; default: the language tag.
    #[serde(default)]
    pub label: Option<String>,
}

/// The caption routes, with the control plane's state (for the caller) and `storage`.
pub fn router(control: AppState, storage: Arc<dyn Storage>) -> Router {
    Router::new()
        .route(
            "/api/v1/resources/{resource_id}/captions/{language}",
            put(upload).get(download).delete(remove),
        )
        .layer(DefaultBodyLimit::max(CAPTION_BODY_BYTES as usize))
        .layer(Extension(CaptionStorage(storage)))
        .layer(axum::middleware::from_fn(localize_errors))
        .with_state(control)
}

/// The words of a caption refusal, in the caller's language.
fn refusal(e: &CaptionError, headers: &HeaderMap) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        e.code(),
        &e.message(MessageLang::Zh),
        &e.message(MessageLang::En),
        headers,
    )
}

/// The media duration the probe measured, in ms.
fn media_duration_ms(probe: Option<&serde_json::Value>) -> Option<u64> {
    let seconds = probe?.get("duration_seconds")?.as_f64()?;
    (seconds.is_finite() && seconds > 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// Where a normalised caption file is kept: per resource, named by language and digest, so
/// a changed file gets a new key and an old revision keeps its own.
fn caption_key(resource_id: &str, language: &str, webvtt: &str) -> String {
    let digest = Sha256::digest(webvtt.as_bytes());
    format!(
        "captions/{resource_id}/{language}-{}.vtt",
        hex::encode(&digest[..8])
    )
}

fn storage_unavailable(e: impl std::fmt::Display, headers: &HeaderMap) -> Response {
    tracing::error!(error = %e, "caption storage failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage.unavailable",
        "存储暂时不可用",
        "storage temporarily unavailable",
        headers,
    )
}

/// `PUT /api/v1/resources/{id}/captions/{language}`.
async fn upload(
    State(state): State<AppState>,
    Extension(CaptionStorage(storage)): Extension<CaptionStorage>,
    Authed(actor): Authed,
    Path((resource_id, language)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let language = match language_tag(&language) {
        Ok(l) => l,
        Err(e) => return refusal(&e, &headers),
    };
    // Who cannot read the resource learns nothing of it, not even whether the file is good.
    let view = match state.control.resource_for(&actor, &resource_id).await {
        Ok(v) => v,
        Err(e) => return respond(e, &headers),
    };
    let duration = media_duration_ms(view.latest.media.probe_report.as_ref());
    let replaced = track_key(&view.latest, &language);
    let captions = match parse_captions(&body, duration, &CaptionLimits::default()) {
        Ok(c) => c,
        Err(e) => return refusal(&e, &headers),
    };
    let webvtt = captions.to_webvtt();
    let key = caption_key(&view.id, &language, &webvtt);
    let bytes = webvtt.len() as u64;
    if let Err(e) = storage
        .put(&key, Bytes::from(webvtt), &PutOptions::for_key(&key))
        .await
    {
        return storage_unavailable(e, &headers);
    }
    let upload = CaptionUpload {
        language,
        label: query.label.unwrap_or_default(),
        key: key.clone(),
        cues: u32::try_from(captions.cues.len()).unwrap_or(u32::MAX),
        bytes,
        source_format: captions.source_format.as_str().to_owned(),
    };
    let now = state.clock.now_ms();
    match state
        .control
        .attach_captions(&actor, &resource_id, upload, now)
        .await
    {
        Ok(view) => {
            if let Some(old) = replaced {
                drop_unreferenced(storage.as_ref(), &view, &old).await;
            }
            Json(view).into_response()
        }
        Err(e) => {
            // Refused (no right to edit, too many languages): the file is nobody's. A file
            // of the same content already recorded keeps its key, so only a new one goes.
            let recorded = state
                .control
                .resource(&resource_id)
                .await
                .map(|v| {
                    v.latest.captions.iter().any(|t| t.key == key)
                        || v.published
                            .is_some_and(|p| p.captions.iter().any(|t| t.key == key))
                })
                .unwrap_or(true);
            if !recorded && let Err(e) = storage.delete(&key).await {
                tracing::warn!(error = %e, "an unrecorded caption file stays in storage");
            }
            respond(e, &headers)
        }
    }
}

/// `GET /api/v1/resources/{id}/captions/{language}`: the latest revision's WebVTT file.
async fn download(
    State(state): State<AppState>,
    Extension(CaptionStorage(storage)): Extension<CaptionStorage>,
    Authed(actor): Authed,
    Path((resource_id, language)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let track = match state
        .control
        .caption_track_for(&actor, &resource_id, &language)
        .await
    {
        Ok(t) => t,
        Err(e) => return respond(e, &headers),
    };
    match storage.get(&track.key).await {
        Ok(body) => {
            let mut response = Response::new(axum::body::Body::from(body));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/vtt; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            let name = format!("attachment; filename=\"{}.vtt\"", track.language);
            if let Ok(v) = HeaderValue::from_str(&name) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Err(e) => storage_unavailable(e, &headers),
    }
}

/// `DELETE /api/v1/resources/{id}/captions/{language}`.
async fn remove(
    State(state): State<AppState>,
    Extension(CaptionStorage(storage)): Extension<CaptionStorage>,
    Authed(actor): Authed,
    Path((resource_id, language)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let removed = match state.control.resource_for(&actor, &resource_id).await {
        Ok(view) => track_key(&view.latest, &language),
        Err(e) => return respond(e, &headers),
    };
    let now = state.clock.now_ms();
    match state
        .control
        .remove_captions(&actor, &resource_id, &language, now)
        .await
    {
        Ok(view) => {
            if let Some(old) = removed {
                drop_unreferenced(storage.as_ref(), &view, &old).await;
            }
            Json(view).into_response()
        }
        Err(e) => respond(e, &headers),
    }
}

/// The storage key of `revision`'s track of `language`.
fn track_key(revision: &Revision, language: &str) -> Option<String> {
    revision
        .captions
        .iter()
        .find(|t| t.language.eq_ignore_ascii_case(language))
        .map(|t| t.key.clone())
}

/// Removes a caption file the revisions players can get (the published one, the latest)
/// no longer name: one replaced or removed before it was ever published. A file the published
/// revision still shows stays until that revision is replaced or the resource deleted.
async fn drop_unreferenced(storage: &dyn Storage, view: &ResourceView, key: &str) {
    let named = |r: &Revision| r.captions.iter().any(|t| t.key == key);
    if named(&view.latest) || view.published.as_ref().is_some_and(named) {
        return;
    }
    if let Err(e) = storage.delete(key).await {
        tracing::warn!(error = %e, "a caption file no revision shows stays in storage");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_media_duration_comes_from_the_probe_in_milliseconds() {
        let probe = json!({"duration_seconds": 61.2345});
        assert_eq!(media_duration_ms(Some(&probe)), Some(61_235));
        assert_eq!(
            media_duration_ms(Some(&json!({"duration_seconds": 0}))),
            None
        );
        assert_eq!(media_duration_ms(Some(&json!({}))), None);
        assert_eq!(media_duration_ms(None), None);
    }

    #[test]
    fn a_changed_file_gets_a_new_key_and_the_same_file_the_same_one() {
        let a = caption_key("r1", "en", "WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n");
        let b = caption_key("r1", "en", "WEBVTT\n\n00:00.000 --> 00:01.000\nho\n");
        assert_ne!(a, b);
        assert_eq!(
            a,
            caption_key("r1", "en", "WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n")
        );
        assert!(
            a.starts_with("captions/r1/en-") && a.ends_with(".vtt"),
            "{a}"
        );
    }
}
