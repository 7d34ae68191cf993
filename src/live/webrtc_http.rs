//! What WHIP and WHEP share over HTTP: the CORS policy that lets a page on
//! another origin publish or play, the content types they take, and the
//! `201 Created` answer (SDP body, session `Location` and `ETag`, ICE
//! servers as `Link` headers).

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use uuid::Uuid;

use super::service::LiveService;

/// CORS for WHIP and WHEP: any origin, the methods and headers the
/// protocols use, and the answer's headers readable by the page.
pub(super) fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([header::LOCATION, header::LINK, header::ETAG])
}

fn content_type_starts_with(headers: &HeaderMap, prefix: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(prefix))
}

/// The body is an SDP offer.
pub(super) fn is_sdp(headers: &HeaderMap) -> bool {
    content_type_starts_with(headers, "application/sdp")
}

/// The body is a trickle-ICE fragment (`PATCH`).
pub(super) fn is_trickle_fragment(headers: &HeaderMap) -> bool {
    content_type_starts_with(headers, "application/trickle-ice-sdpfrag")
}

/// `201 Created` with the SDP answer of the session at `location`.
pub(super) fn created(
    service: &LiveService,
    location: &str,
    session_id: Uuid,
    sdp: String,
) -> Response {
    let mut response = (StatusCode::CREATED, sdp).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("\"{session_id}\"")) {
        h.insert(header::ETAG, value);
    }
    super::ice_http::add_links(service, h);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn content_types_are_matched_without_case_or_parameters() {
        assert!(is_sdp(&typed("application/sdp")));
        assert!(is_sdp(&typed(" Application/SDP; charset=utf-8")));
        assert!(!is_sdp(&typed("text/plain")));
        assert!(!is_sdp(&HeaderMap::new()));
        assert!(is_trickle_fragment(&typed(
            "application/trickle-ice-sdpfrag"
        )));
        assert!(!is_trickle_fragment(&typed("application/sdp")));
    }
}
