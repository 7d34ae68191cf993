//! WHIP over HTTP (RFC 9725): `POST /whip/{stream_name}` with an SDP offer
//! and `Authorization: Bearer <stream key>` answers `201 Created` with the
//! SDP answer and the session's `Location`; `DELETE` on that location ends
//! the publish; `PATCH` takes trickled candidates (ICE-lite learns the
//! publisher's addresses from its checks, so they are acknowledged and
//! not needed); `OPTIONS` and CORS let a page on another origin publish.
//!
//! The key goes through the same gate as RTMP (refusals get the same codes
//! and land in the channel's events and the metrics), the offer through
//! [`check_offer`]; every failure is a 4xx/5xx in the API's error shape.
//! The session id in the location is an unguessable capability for the
//! one publish it names.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use uuid::Uuid;
use yanxiu_ingest::publish::{PublishGate, key_fingerprint};
use yanxiu_ingest::whip::{OfferError, WhipError, check_offer};

use super::gate::ControlGate;
use super::service::LiveService;
use super::webrtc_http;
use crate::app::playback::error;
use crate::app::uploads::bearer;

/// The body is read up to a little above the offer limit, so an offer
/// just over it gets the coded 413 of [`check_offer`]; a larger one the
/// same code without being read further.
const BODY_SLACK: usize = 1024;

/// The WHIP routes.
pub fn router(service: Arc<LiveService>) -> Router {
    let limit = service.settings.whip.max_offer_bytes + BODY_SLACK;
    Router::new()
        .route("/whip/{stream_name}", post(publish))
        .route(
            "/whip/{stream_name}/{session_id}",
            patch(trickle).delete(unpublish),
        )
        .layer(DefaultBodyLimit::max(limit))
        .layer(webrtc_http::cors())
        .with_state(service)
}

fn whip_error(e: &WhipError, headers: &HeaderMap) -> Response {
    error(
        e.status(),
        &e.code(),
        &e.message_zh(),
        &e.message_en(),
        headers,
    )
}

/// `POST /whip/{stream_name}`: a new publish.
async fn publish(
    State(service): State<Arc<LiveService>>,
    Path(stream_name): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let max = service.settings.whip.max_offer_bytes;
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let e = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WhipError::Offer(OfferError::TooLarge {
                    bytes: max + BODY_SLACK,
                    max,
                })
            } else {
                WhipError::Offer(OfferError::NotSdp)
            };
            return whip_error(&e, &headers);
        }
    };
    match answer(&service, &stream_name, peer, &headers, &body).await {
        Ok((session_id, sdp)) => {
            let location = format!("/whip/{stream_name}/{session_id}");
            webrtc_http::created(&service, &location, session_id, sdp)
        }
        Err(e) => whip_error(&e, &headers),
    }
}

async fn answer(
    service: &LiveService,
    stream_name: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Uuid, String), WhipError> {
    let whip = service.whip().ok_or(WhipError::Stopped)?;
    if !webrtc_http::is_sdp(headers) {
        return Err(WhipError::UnsupportedMediaType("application/sdp"));
    }
    let key = bearer(headers)
        .filter(|k| !k.is_empty())
        .ok_or(WhipError::MissingKey)?;
    let offer = std::str::from_utf8(body).map_err(|_| WhipError::Offer(OfferError::NotSdp))?;
    let summary = check_offer(offer, whip.config().max_offer_bytes)?;
    // The gate takes RTMP's `name?key=KEY` form; a name that could smuggle
    // its own query cannot be a channel's.
    let published = if stream_name.contains(['?', '&', '/']) {
        String::new()
    } else {
        format!("{stream_name}?key={key}")
    };
    let gate = ControlGate::new(service.control.clone());
    let ticket = match gate.authorize("whip", &published, peer).await {
        Ok(ticket) => ticket,
        Err(refusal) => {
            tracing::info!(
                %peer,
                key = %key_fingerprint(key),
                code = %refusal.code,
                reason = %refusal.message_en,
                "WHIP publish refused"
            );
            service.board.refused(&refusal.code);
            return Err(WhipError::Refused(refusal));
        }
    };
    tracing::info!(channel = %ticket.channel_id, %peer, offer = %summary, "WHIP publish accepted");
    let answer = whip.publish(ticket, offer.to_owned(), peer).await?;
    Ok((answer.session_id, answer.sdp))
}

/// The WHIP server and the session id named in a session URL.
fn whip_session<'a>(
    service: &'a LiveService,
    session_id: &str,
) -> Result<(&'a yanxiu_ingest::whip::WhipServer, Uuid), WhipError> {
    let whip = service.whip().ok_or(WhipError::Stopped)?;
    let id = Uuid::parse_str(session_id).map_err(|_| WhipError::NoSession)?;
    Ok((whip, id))
}

/// `DELETE /whip/{stream_name}/{session_id}`: the publisher is done.
async fn unpublish(
    State(service): State<Arc<LiveService>>,
    Path((_stream_name, session_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let (whip, id) = whip_session(&service, &session_id)?;
        whip.end(id).await
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => whip_error(&e, &headers),
    }
}

/// `PATCH /whip/{stream_name}/{session_id}`: trickled candidates.
async fn trickle(
    State(service): State<Arc<LiveService>>,
    Path((_stream_name, session_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let (whip, id) = whip_session(&service, &session_id)?;
        whip.channel_of(id).await?;
        if webrtc_http::is_trickle_fragment(&headers) {
            Ok(())
        } else {
            Err(WhipError::UnsupportedMediaType(
                "application/trickle-ice-sdpfrag",
            ))
        }
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => whip_error(&e, &headers),
    }
}
