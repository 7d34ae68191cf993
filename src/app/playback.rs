//! `/play/{resource_id}/…`: serves a resource's ladder, poster and
//! storyboard from the storage backend. Every request (master playlist,
//! media playlists and every segment) goes through the control plane's
//! playback authorization; a token given in the query string is carried
//! into the URIs of the playlists served, so players keep sending it, and so is the ladder's
//! version (see [`super::cache_policy`] for what caches in front may keep). Authorization and
//! the ladder's whereabouts come from the control plane's short cache; objects of complete
//! ladders from a memory cache ([`super::hot_objects`]); anything else is streamed from
//! storage, never read whole. Byte ranges, MIME types, entity tags and CORS for web players.
//! Caption tracks are served beside the ladder ([`super::caption_playback`]).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use yanxiu_control::now_ms;
use yanxiu_control::playback::{PlaybackAllowed, PlaybackDenied, PlaybackTarget};
use yanxiu_packager::hls::{SubtitleTrack, with_subtitles};
use yanxiu_packager::storage::{S3Storage, StorageError, content_type_for};

use super::AppContext;
use super::cache_policy::{Answer, if_none_match};
use super::caption_playback::{playback_version, subtitle_tracks};
use super::playlist::add_query_to_uris;
use crate::config::S3Delivery;

/// Query parameters of a playback request.
#[derive(Debug, Deserialize)]
pub struct PlayQuery {
    /// A playback token (non-public resources).
    pub token: Option<String>,
    /// The ladder version the playlist named (see [`super::cache_policy`]).
    pub v: Option<String>,
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
    let now = now_ms();
    let target = PlaybackTarget::Resource(resource_id.clone());
    let allowed = match app.control.authorize_playback(&target, token, now).await {
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
    // Learners watch the published revision; a preview token (producer, reviewers) plays
    // the latest one, even while its ladder is still growing.
    let ladder = match app.control.playback_ladder(&resource_id, now).await {
        Ok(Some(ladder)) => ladder,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "playback.not_ready",
                "视频尚未处理完成",
                "the video is not ready yet",
                &headers,
            );
        }
        Err(d) => return denied(d, &headers),
    };
    let version = playback_version(&ladder);
    let answer = Answer {
        playlist: path.ends_with(".m3u8"),
        public: matches!(allowed, PlaybackAllowed::Public),
        complete: ladder.complete,
        current_version: query.v.as_deref() == Some(version.as_str()),
    };
    if let Some(rest) = path.strip_prefix("captions/") {
        let token = query.token.as_deref();
        return super::caption_playback::serve(
            &app, &ladder, rest, &version, answer, token, &headers,
        )
        .await;
    }
    let key = format!("{}{path}", ladder.prefix);
    if answer.playlist {
        let subtitles = if path == yanxiu_packager::vod::MASTER_PLAYLIST_NAME {
            subtitle_tracks(&ladder.captions)
        } else {
            None
        };
        let stamp = Stamp {
            version: &version,
            token: query.token.as_deref(),
            subtitles: subtitles.as_deref(),
        };
        return playlist(&app, &key, stamp, answer, &headers).await;
    }
    object(&app, &key, &version, answer, &headers).await
}

/// What a served playlist gets beside its stored text.
struct Stamp<'a> {
    /// The version named in every URI.
    version: &'a str,
    /// The token the request came with, carried into every URI.
    token: Option<&'a str>,
    /// The caption tracks a master playlist lists as its subtitles group.
    subtitles: Option<&'a [SubtitleTrack]>,
}

/// A VOD playlist: every URI it lists names the ladder's version (and the token the request
/// came with); a master lists the revision's caption tracks. A complete ladder's stamped
/// playlist is kept in memory.
async fn playlist(
    app: &AppContext,
    key: &str,
    stamp: Stamp<'_>,
    answer: Answer,
    headers: &HeaderMap,
) -> Response {
    let version = stamp.version;
    let memory_key = format!("{key}#v={version}");
    let stamped = match answer.complete.then(|| app.hot.get(&memory_key)).flatten() {
        Some(stamped) => stamped,
        None => match app.storage.get(key).await {
            Ok(body) => {
                let mut text = String::from_utf8_lossy(&body).into_owned();
                if let Some(tracks) = stamp.subtitles {
                    match with_subtitles(&text, tracks) {
                        Ok(listed) => text = listed,
                        // Players still get the ladder, without captions.
                        Err(e) => tracing::error!(error = %e, key, "captions left out"),
                    }
                }
                let stamped = Bytes::from(add_query_to_uris(&text, &format!("v={version}")));
                if answer.complete {
                    app.hot.insert(&memory_key, stamped.clone());
                }
                stamped
            }
            Err(e) => return storage_error(app, e, headers),
        },
    };
    let mut response = playlist_response(stamped, stamp.token);
    if let Ok(v) = HeaderValue::from_str(&answer.cache_control()) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
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

/// A presigned redirect to S3 for a segment (`[storage] s3_delivery = "redirect"`).
async fn redirect(app: &AppContext, s3: &S3Storage, key: &str, headers: &HeaderMap) -> Response {
    match s3
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
    }
}

/// A stored object: from memory when kept there, else read whole (small objects of a
/// complete ladder, then kept) or streamed from storage (everything else), with byte
/// ranges, an entity tag and the cache rules of [`Answer`].
pub(super) async fn object(
    app: &AppContext,
    key: &str,
    version: &str,
    answer: Answer,
    headers: &HeaderMap,
) -> Response {
    if app.delivery == S3Delivery::Redirect
        && let Some(s3) = &app.s3
    {
        return redirect(app, s3, key, headers).await;
    }
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let kept = answer.complete.then(|| app.hot.get(key)).flatten();
    let (size, range, body) = match kept {
        Some(whole) => {
            let size = whole.len() as u64;
            match choose_range(range_header, size) {
                Ok(range) => {
                    let part = range
                        .clone()
                        .map(|r| whole.slice(r.start as usize..r.end as usize));
                    (size, range, Body::from(part.unwrap_or(whole)))
                }
                Err(refused) => return *refused,
            }
        }
        None => match read(app, key, answer, range_header, headers).await {
            Ok(read) => read,
            Err(response) => return *response,
        },
    };
    let etag = answer.etag(version, size);
    if let (Some(tag), Some(wanted)) = (
        &etag,
        headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok()),
    ) && if_none_match(wanted, tag)
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        set_cache_headers(r.headers_mut(), answer, etag.as_deref());
        return r;
    }
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type_for(key)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    set_cache_headers(h, answer, etag.as_deref());
    if let Some(r) = range {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let value = format!("bytes {}-{}/{size}", r.start, r.end - 1);
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    response
}

/// The range a request asks for (`None`: the whole object), or the 416 answer.
fn choose_range(
    range_header: Option<&str>,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, Box<Response>> {
    match range_header.map(|v| parse_range(v, size)) {
        None => Ok(None),
        Some(Some(r)) => Ok(Some(r)),
        Some(None) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            Err(Box::new(r))
        }
    }
}

/// An object not in memory: small objects of a complete ladder are read whole and kept;
/// others are streamed, so no large object is ever held whole.
async fn read(
    app: &AppContext,
    key: &str,
    answer: Answer,
    range_header: Option<&str>,
    headers: &HeaderMap,
) -> Result<(u64, Option<std::ops::Range<u64>>, Body), Box<Response>> {
    let fail = |e| Box::new(storage_error(app, e, headers));
    let info = match app.storage.head(key).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            return Err(fail(StorageError::NotFound {
                key: key.to_owned(),
            }));
        }
        Err(e) => return Err(fail(e)),
    };
    let range = choose_range(range_header, info.size)?;
    if answer.complete && app.hot.admits(info.size) {
        let whole = app.storage.get(key).await.map_err(fail)?;
        app.hot.insert(key, whole.clone());
        let size = whole.len() as u64;
        let body = match &range {
            Some(r) => whole.slice(r.start as usize..(r.end.min(size)) as usize),
            None => whole,
        };
        return Ok((size, range, Body::from(body)));
    }
    let stream = app
        .storage
        .get_stream(key, range.clone())
        .await
        .map_err(fail)?;
    let served = range.map(|_| stream.range.clone());
    Ok((stream.size, served, Body::from_stream(stream.body)))
}

fn set_cache_headers(h: &mut HeaderMap, answer: Answer, etag: Option<&str>) {
    if let Ok(v) = HeaderValue::from_str(&answer.cache_control()) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Some(v) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert(header::ETAG, v);
    }
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
