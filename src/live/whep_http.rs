//! WHEP over HTTP (WebRTC-HTTP Egress Protocol): `POST /whep/{channel_id}`
//! with a player's SDP offer answers `201 Created` with the SDP answer and
//! the session's `Location`; `DELETE` on it ends the playback; `PATCH`
//! acknowledges trickled candidates (ICE-lite needs none); CORS lets a
//! page on another origin play.
//!
//! Authorization is exactly that of `/live/…`: the channel's audience,
//! with a playback token from `?token=` or `Authorization: Bearer`, and the
//! viewer is counted on the status board. The media is the channel's
//! source rendition, forwarded without re-encoding.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use serde::Deserialize;
use uuid::Uuid;
use yanxiu_ingest::whep::WhepError;

use super::http::admit;
use super::service::LiveService;
use super::webrtc_http;
use crate::app::playback::error;

/// Query parameters of a WHEP request.
#[derive(Debug, Deserialize)]
pub struct WhepQuery {
    /// A playback token (restricted channels).
    token: Option<String>,
}

/// The WHEP routes.
pub fn router(service: Arc<LiveService>) -> Router {
    Router::new()
        .route("/whep/{channel_id}", post(play))
        .route(
            "/whep/{channel_id}/{session_id}",
            patch(trickle).delete(stop),
        )
        .layer(webrtc_http::cors())
        .with_state(service)
}

fn whep_error(e: &WhepError, headers: &HeaderMap) -> Response {
    error(
        e.status(),
        e.code(),
        &e.message_zh(),
        &e.message_en(),
        headers,
    )
}

/// `POST /whep/{channel_id}`: a new playback.
async fn play(
    State(service): State<Arc<LiveService>>,
    Path(channel_id): Path<String>,
    Query(query): Query<WhepQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    if !webrtc_http::is_sdp(headers) {
        return whep_error(&WhepError::UnsupportedMediaType, headers);
    }
    if let Err(not) = admit(&service, &channel_id, query.token.as_deref(), &parts).await {
        return not.here_only(headers);
    }
    let Some(webrtc) = service.whip() else {
        return whep_error(&WhepError::Stopped, headers);
    };
    let max = webrtc.config().max_offer_bytes;
    let offer = match to_bytes(body, max).await {
        Ok(bytes) => String::from_utf8(bytes.to_vec()),
        Err(_) => {
            let e = WhepError::TooLarge {
                bytes: max + 1,
                max,
            };
            return whep_error(&e, headers);
        }
    };
    let Ok(offer) = offer else {
        return whep_error(&WhepError::Negotiation("not UTF-8".into()), headers);
    };
    match webrtc.play(channel_id.clone(), offer, peer).await {
        Ok(answer) => {
            tracing::info!(channel = %channel_id, %peer, "WHEP playback answered");
            let location = format!("/whep/{channel_id}/{}", answer.session_id);
            webrtc_http::created(&service, &location, answer.session_id, answer.sdp)
        }
        Err(e) => whep_error(&e, headers),
    }
}

/// `DELETE /whep/{channel_id}/{session_id}`: the player is done.
async fn stop(
    State(service): State<Arc<LiveService>>,
    Path((_channel_id, session_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let webrtc = service.whip().ok_or(WhepError::Stopped)?;
        let id = Uuid::parse_str(&session_id).map_err(|_| WhepError::NoSession)?;
        webrtc.stop_viewing(id).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => whep_error(&e, &headers),
    }
}

/// `PATCH /whep/{channel_id}/{session_id}`: trickled candidates, not needed
/// by an ICE-lite server (it learns the player's address from its checks).
async fn trickle(headers: HeaderMap) -> Response {
    if webrtc_http::is_trickle_fragment(&headers) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "whep.unsupported_media_type",
            "请求类型必须是 application/trickle-ice-sdpfrag",
            "Content-Type must be application/trickle-ice-sdpfrag",
            &headers,
        )
    }
}
