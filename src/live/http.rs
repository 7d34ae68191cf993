//! Live playback over HTTP, served by yanxiu's own origin from memory:
//! `/live/{channel_id}/master.m3u8` and `/live/{channel_id}/{rendition}/…`
//! (`index.m3u8`, `init-{g}.mp4`, `seg-{n}.m4s`, `part-{n}-{p}.m4s`).
//!
//! Every request goes through the control plane's playback authorization
//! (a token from `?token=` is carried into every URI of the playlists).
//! Media playlists take LL-HLS blocking reloads (`_HLS_msn`, `_HLS_part`),
//! parts the preload hint names are held until published, and segments
//! that left memory are read back from storage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use serde::Deserialize;
use yanxiu_control::now_ms;
use yanxiu_control::playback::{PlaybackAllowed, PlaybackTarget};
use yanxiu_packager::hls::live_playlist::{LivePlaylistMode, LiveResource};
use yanxiu_packager::live::LiveError;
use yanxiu_transcode::live::LiveRenditionKind;

use super::master::{Bitrates, MasterEntry, render_master};
use super::pipeline::SessionView;
use super::service::LiveService;
use crate::app::playback::{denied, error};

/// How long a master playlist request waits for the ladder of a session
/// that just started.
const LADDER_WAIT: Duration = Duration::from_secs(10);
/// Bitrate declared for a passthrough rendition before the input is measured.
const PASSTHROUGH_FALLBACK_BPS: u64 = 4_000_000;

/// Query parameters of live requests.
#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// A playback token (restricted channels).
    token: Option<String>,
    /// LL-HLS: block until this media sequence number is listed.
    #[serde(rename = "_HLS_msn")]
    msn: Option<String>,
    /// LL-HLS: and this part of it.
    #[serde(rename = "_HLS_part")]
    part: Option<String>,
    /// The session's version, stamped into every URI of its playlists (see
    /// [`crate::app::cache_policy`]).
    v: Option<String>,
}

/// The live routes: playback, WHIP publishing and WHEP playback.
pub fn router(service: Arc<LiveService>) -> Router {
    Router::new()
        .route("/live/{channel_id}/master.m3u8", get(master))
        .route("/live/{channel_id}/{rendition}/{file}", get(media))
        .with_state(service.clone())
        .merge(super::whip_http::router(service.clone()))
        .merge(super::whep_http::router(service.clone()))
        .merge(super::ice_http::router(service))
}

fn not_live(headers: &HeaderMap) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "live.not_live",
        "该频道当前没有直播",
        "the channel is not live",
        headers,
    )
}

fn not_found(headers: &HeaderMap) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "live.not_found",
        "文件不存在",
        "no such file",
        headers,
    )
}

/// Authorizes and finds the session; counts the viewer.
pub(super) async fn admit(
    service: &LiveService,
    channel_id: &str,
    token: Option<&str>,
    request: &Parts,
) -> Result<Admitted, NotAdmitted> {
    let headers = &request.headers;
    let token = token.or_else(|| crate::app::uploads::bearer(headers));
    let allowed = service
        .control
        .authorize_playback(
            &PlaybackTarget::Channel(channel_id.to_owned()),
            token,
            now_ms(),
        )
        .await
        .map_err(|d| NotAdmitted::Refused(denied(d, headers)))?;
    let Some(session) = service.session(channel_id) else {
        return Err(match service.holder_elsewhere(channel_id, headers).await {
            Some(url) => NotAdmitted::Elsewhere(url),
            None => NotAdmitted::Refused(not_live(headers)),
        });
    };
    let who = match (&allowed, token) {
        (PlaybackAllowed::Token { user_id }, _) => format!("user:{user_id}"),
        (_, Some(t)) => format!("token:{}", t.get(..16).unwrap_or(t)),
        _ => {
            let peer = request
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_default();
            let agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("anon:{peer}:{agent}")
        }
    };
    service.board.viewed(channel_id, who, Instant::now());
    Ok(Admitted {
        public: matches!(allowed, PlaybackAllowed::Public),
        session,
    })
}

/// Why a viewer is not served from this node.
pub(super) enum NotAdmitted {
    /// Refused (the answer says why), or the channel is not live anywhere.
    Refused(Response),
    /// Live on another node, whose base URL this is.
    Elsewhere(String),
}

impl NotAdmitted {
    /// The answer for a request that cannot be forwarded (WHEP offers: the viewer's
    /// WebRTC session must be made with the node that has the media).
    pub(super) fn here_only(self, headers: &HeaderMap) -> Response {
        match self {
            NotAdmitted::Refused(r) => r,
            NotAdmitted::Elsewhere(_) => error(
                StatusCode::CONFLICT,
                "live.elsewhere",
                "该频道正由另一台服务器直播，低延迟观看需连接该服务器；请改用普通直播",
                "the channel is live on another server: low-latency viewing must reach that \
                 server; use the standard live stream",
                headers,
            ),
        }
    }

    /// The answer for a playlist or media request: forwarded to the holding node.
    async fn answer(self, service: &LiveService, request: &Parts) -> Response {
        match self {
            NotAdmitted::Refused(r) => r,
            NotAdmitted::Elsewhere(url) => {
                let node = service
                    .control
                    .live_node()
                    .map(|n| n.identity.id.clone())
                    .unwrap_or_default();
                super::proxy::forward(&service.proxy_client, &url, &node, request).await
            }
        }
    }
}

/// A viewer let in: the channel's live session, and whether anyone may watch it.
pub(super) struct Admitted {
    /// The live session.
    pub(super) session: Arc<SessionView>,
    /// No token is needed (shared caches may keep its media).
    pub(super) public: bool,
}

/// The version of a live session: its media URLs are reused by the channel's next session,
/// so playlists name the session (`?v=`) and only a URL naming the current one may be kept.
fn session_version(session: &SessionView) -> String {
    crate::app::cache_policy::ladder_version(&session.storage_prefix)
}

/// A playlist answer: the VOD one (never cached, with the token), every URI stamped with
/// the session's version, plus CORS for players on other origins.
fn playlist_response(text: String, token: Option<&str>, version: &str) -> Response {
    let stamped = crate::app::playlist::add_query_to_uris(&text, &format!("v={version}"));
    let mut response = crate::app::playback::playlist_response(Bytes::from(stamped), token);
    cors(response.headers_mut());
    response
}

/// How long a live object may be kept: `max_age` seconds when its URL names the current
/// session (`private` for restricted channels), otherwise not at all (the next session
/// reuses the name).
fn live_cache(public: bool, current: bool, max_age: u32) -> String {
    match (current, public) {
        (false, _) => "no-cache".to_owned(),
        (true, true) => format!("public, max-age={max_age}"),
        (true, false) => format!("private, max-age={max_age}"),
    }
}

fn media_response(bytes: Bytes, cache: &str) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    if let Ok(v) = HeaderValue::from_str(cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    cors(h);
    response
}

fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

/// `GET /live/{channel_id}/master.m3u8`.
async fn master(
    State(service): State<Arc<LiveService>>,
    Path(channel_id): Path<String>,
    Query(query): Query<LiveQuery>,
    request: Request,
) -> Response {
    let (request, _) = request.into_parts();
    let session = match admit(&service, &channel_id, query.token.as_deref(), &request).await {
        Ok(a) => a.session,
        Err(not) => return not.answer(&service, &request).await,
    };
    if !session.wait_ready(LADDER_WAIT).await {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "live.starting",
            "直播正在启动，请稍后重试",
            "the live stream is starting; try again shortly",
            &request.headers,
        );
    }
    let input_bps = session.input_video_bitrate.load(Ordering::Relaxed);
    let fps = session.input_frame_rate_milli.load(Ordering::Relaxed) as f64 / 1000.0;
    let renditions: Vec<(MasterEntry, Bitrates)> = session
        .renditions()
        .iter()
        .map(|r| {
            let bps = match r.kind {
                LiveRenditionKind::Passthrough { .. } if input_bps > 0 => input_bps,
                LiveRenditionKind::Passthrough { .. } => PASSTHROUGH_FALLBACK_BPS,
                _ => r.bitrate,
            };
            (MasterEntry::of(r), (bps, bps))
        })
        .collect();
    let text = render_master(&renditions, if fps > 0.0 { fps } else { 30.0 });
    playlist_response(text, query.token.as_deref(), &session_version(&session))
}

fn number(text: Option<&str>) -> Result<Option<u64>, ()> {
    text.map(|t| t.parse::<u64>().map_err(|_| ())).transpose()
}

/// `GET /live/{channel_id}/{rendition}/{file}`.
async fn media(
    State(service): State<Arc<LiveService>>,
    Path((channel_id, rendition, file)): Path<(String, String, String)>,
    Query(query): Query<LiveQuery>,
    request: Request,
) -> Response {
    let (request, _) = request.into_parts();
    let Admitted { session, public } =
        match admit(&service, &channel_id, query.token.as_deref(), &request).await {
            Ok(a) => a,
            Err(not) => return not.answer(&service, &request).await,
        };
    let headers = &request.headers;
    let version = session_version(&session);
    let current = query.v.as_deref() == Some(version.as_str());
    let key = session.key(&rendition);
    let Some(out) = service.origin.get(&key) else {
        return not_found(headers);
    };
    let block = service.settings.segment_target * 3;
    if file == "index.m3u8" {
        let (Ok(msn), Ok(part)) = (number(query.msn.as_deref()), number(query.part.as_deref()))
        else {
            return bad_reload(headers);
        };
        if let Some(msn) = msn {
            match out.wait_for(msn, part, block).await {
                Ok(()) => {}
                Err(LiveError::BadRequest(_)) => return bad_reload(headers),
                Err(_) => return reload_timeout(headers),
            }
        } else if part.is_some() {
            return bad_reload(headers);
        }
        let mode = if session.low_latency {
            LivePlaylistMode::LowLatency
        } else {
            LivePlaylistMode::Standard
        };
        let Some(text) = service
            .origin
            .playlist(&key, mode, |other| format!("../{other}/index.m3u8"))
        else {
            return not_found(headers);
        };
        return playlist_response(text, query.token.as_deref(), &version);
    }
    let Some(resource) = LiveResource::parse(&file) else {
        return not_found(headers);
    };
    if let LiveResource::Part(id) = resource {
        return match out.wait_for_part(id, block).await {
            Ok(bytes) => media_response(bytes, &live_cache(public, current, 60)),
            Err(LiveError::BadRequest(_)) => bad_reload(headers),
            Err(LiveError::Timeout) => reload_timeout(headers),
            Err(_) => not_found(headers),
        };
    }
    if let Some(bytes) = out.resource(resource) {
        return media_response(bytes, &live_cache(public, current, 3600));
    }
    // Older than the memory budget: read it back from storage.
    let stored = format!("{}{rendition}/{file}", session.storage_prefix);
    match service.storage.get(&stored).await {
        Ok(bytes) => media_response(bytes, &live_cache(public, current, 3600)),
        Err(_) => not_found(headers),
    }
}

fn bad_reload(headers: &HeaderMap) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "live.bad_reload",
        "_HLS_msn/_HLS_part 参数无效或超前太多",
        "invalid or too distant _HLS_msn/_HLS_part",
        headers,
    )
}

fn reload_timeout(headers: &HeaderMap) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "live.reload_timeout",
        "直播流未在时限内到达请求的位置",
        "the live stream did not reach the requested position in time",
        headers,
    )
}
