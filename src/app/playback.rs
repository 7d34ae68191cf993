//! `/play/{resource_id}/…`: serves a resource's ladder, poster and
//! storyboard from the storage backend. Every request (master playlist,
//! media playlists and every segment) goes through the control plane's
//! playback authorization; a token given in the query string is carried
//! into the URIs of the playlists served, so players keep sending it.
//! Byte ranges, MIME types, cache headers and CORS are set for web players.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use yanxiu_control::now_ms;
use yanxiu_control::playback::{PlaybackAllowed, PlaybackDenied, PlaybackTarget};
use yanxiu_control::resources::ProcessingStatus;
use yanxiu_packager::storage::{StorageError, content_type_for};

use super::AppContext;
use super::playlist::add_query_to_uris;
use crate::config::S3Delivery;

/// Query parameters of a playback request.
#[derive(Debug, Deserialize)]
pub struct PlayQuery {
    /// A playback token (non-public resources).
    pub token: Option<String>,
}

pub(crate) use yanxiu_control::http::error::error_answer as error;

/// The answer to a refused playback: the control plane's code and words for it.
pub(crate) fn denied(d: PlaybackDenied, headers: &HeaderMap) -> Response {
    yanxiu_control::http::error::respond(yanxiu_control::ControlError::Playback(d), headers)
}

/// A relative path inside a ladder: `/`-separated names of letters, digits,
/// `.`, `-` and `_`, none starting with a dot.
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 256
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against an object of `size` bytes.
fn parse_range(value: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(size),
        ),
    };
    (start < end && start < size).then_some(start..end)
}

/// `GET /play/{resource_id}/{*path}`.
pub async fn play(
    State(app): State<Arc<AppContext>>,
    Path((resource_id, path)): Path<(String, String)>,
    Query(query): Query<PlayQuery>,
    headers: HeaderMap,
) -> Response {
    let token = query
        .token
        .as_deref()
        .or_else(|| super::uploads::bearer(&headers));
    let target = PlaybackTarget::Resource(resource_id.clone());
    let allowed = match app
        .control
        .authorize_playback(&target, token, now_ms())
        .await
    {
        Ok(a) => a,
        Err(d) => return denied(d, &headers),
    };
    if !safe_path(&path) {
        return error(
            StatusCode::NOT_FOUND,
            "playback.not_found",
            "文件不存在",
            "no such file",
            &headers,
        );
    }
    let resource = match app.control.resource(&resource_id).await {
        Ok(r) => r,
        Err(_) => return denied(PlaybackDenied::NotAvailable, &headers),
    };
    // Learners watch the published revision; a preview token (producer,
    // reviewers) plays the latest one, even while its ladder is still growing.
    let revision = resource.published.as_ref().unwrap_or(&resource.latest);
    let playable = matches!(
        revision.media.processing_status,
        ProcessingStatus::Ready | ProcessingStatus::Processing
    );
    let prefix = match (&revision.media.ladder_prefix, playable) {
        (Some(p), true) => p.clone(),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "playback.not_ready",
                "视频尚未处理完成",
                "the video is not ready yet",
                &headers,
            );
        }
    };
    let key = format!("{prefix}{path}");
    let public = matches!(allowed, PlaybackAllowed::Public);
    if path.ends_with(".m3u8") {
        return playlist(&app, &key, query.token.as_deref(), &headers).await;
    }
    object(&app, &key, public, &headers).await
}

async fn playlist(
    app: &AppContext,
    key: &str,
    token: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    match app.storage.get(key).await {
        Ok(body) => playlist_response(body, token),
        Err(e) => storage_error(app, e, headers),
    }
}

/// A playlist answer (VOD or live): with `token`, carried into every URI;
/// never cached.
pub(crate) fn playlist_response(body: Bytes, token: Option<&str>) -> Response {
    let body = match token {
        Some(t) => {
            let text = String::from_utf8_lossy(&body);
            Bytes::from(add_query_to_uris(&text, &format!("token={}", urlencode(t))))
        }
        None => body,
    };
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.mpegurl"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn object(app: &AppContext, key: &str, public: bool, headers: &HeaderMap) -> Response {
    if app.delivery == S3Delivery::Redirect
        && let Some(s3) = &app.s3
    {
        return match s3
            .presigned_get(key, std::time::Duration::from_secs(300))
            .await
        {
            Ok(url) => match HeaderValue::from_str(&url) {
                Ok(location) => {
                    let mut r = StatusCode::FOUND.into_response();
                    r.headers_mut().insert(header::LOCATION, location);
                    r
                }
                Err(_) => storage_error(
                    app,
                    StorageError::NotFound {
                        key: key.to_owned(),
                    },
                    headers,
                ),
            },
            Err(e) => storage_error(app, e, headers),
        };
    }
    let info = match app.storage.head(key).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            return storage_error(
                app,
                StorageError::NotFound {
                    key: key.to_owned(),
                },
                headers,
            );
        }
        Err(e) => return storage_error(app, e, headers),
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, info.size));
    let (status, body, content_range) = match range {
        Some(None) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", info.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
        Some(Some(r)) => match app.storage.get_range(key, r.clone()).await {
            Ok(b) => (
                StatusCode::PARTIAL_CONTENT,
                b,
                Some(format!("bytes {}-{}/{}", r.start, r.end - 1, info.size)),
            ),
            Err(e) => return storage_error(app, e, headers),
        },
        None => match app.storage.get(key).await {
            Ok(b) => (StatusCode::OK, b, None),
            Err(e) => return storage_error(app, e, headers),
        },
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type_for(key)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // Segment names are unique per processing job, so they never change.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if public {
            "public, max-age=86400, immutable"
        } else {
            "private, max-age=3600"
        }),
    );
    if let Some(v) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_RANGE, v);
    }
    response
}

fn storage_error(app: &AppContext, e: StorageError, headers: &HeaderMap) -> Response {
    match e {
        StorageError::NotFound { .. } => error(
            StatusCode::NOT_FOUND,
            "playback.not_found",
            "文件不存在",
            "no such file",
            headers,
        ),
        other => {
            app.metrics.storage_error();
            tracing::error!(error = %other, "storage read failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage.unavailable",
                "存储暂时不可用",
                "storage temporarily unavailable",
                headers,
            )
        }
    }
}

/// Percent-encodes a token for a query string.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_paths_cannot_escape_the_prefix() {
        assert!(safe_path("720p/seg-00001.m4s"));
        assert!(safe_path("storyboard/sheet-001.jpg"));
        for bad in [
            "", "../x", "a/../b", "/abs", "a//b", ".hidden", "a b", "a\\b",
        ] {
            assert!(!safe_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some(0..100));
        assert_eq!(parse_range("bytes=900-", 1000), Some(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), Some(900..1000));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some(990..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }

    #[test]
    fn tokens_are_percent_encoded() {
        assert_eq!(urlencode("a.b-c_d~e"), "a.b-c_d~e");
        assert_eq!(urlencode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
