//! ICE servers for WebRTC clients over HTTP: `GET /api/v1/live/ice-servers`
//! answers the `RTCConfiguration.iceServers` a page uses before its offer
//! (STUN/TURN from `[live] webrtc_ice_urls`, TURN credentials minted per
//! request), and WHIP/WHEP answers carry the same servers as `Link`
//! headers (RFC 9725 §4.6) for clients that read them there.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use yanxiu_ingest::whip::ice_servers::{IceServer, ice_servers, link_headers};

use super::service::LiveService;

/// The ICE server route.
pub fn router(service: Arc<LiveService>) -> Router {
    Router::new()
        .route("/api/v1/live/ice-servers", get(servers))
        .with_state(service)
}

fn now_unix() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or_default()
}

fn current(service: &LiveService) -> (Vec<IceServer>, Option<u64>) {
    ice_servers(&service.settings.ice, now_unix())
}

/// `GET /api/v1/live/ice-servers`.
async fn servers(State(service): State<Arc<LiveService>>) -> Response {
    let (servers, expires) = current(&service);
    let mut response =
        Json(json!({ "ice_servers": servers, "expires_at": expires })).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// Adds the ICE servers as `Link` headers to a WHIP or WHEP answer.
pub(super) fn add_links(service: &LiveService, headers: &mut HeaderMap) {
    let (servers, _) = current(service);
    for link in link_headers(&servers) {
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.append(header::LINK, value);
        }
    }
}
