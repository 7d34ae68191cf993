//! Viewers on a node that does not run a channel: when another `serve` node holds the
//! channel's lease ([`yanxiu_control::live_leases`]), playlists, parts and segments are
//! fetched from that node (its advertised URL) and streamed back. The request was authorized
//! here first and is authorized again there (the token travels with it). A forwarded request
//! carries [`FORWARDED_HEADER`] and is never forwarded again, so two nodes that disagree
//! about the holder cannot bounce a request between them. The cost is one more HTTP hop per
//! request inside the cluster (LL-HLS blocking reloads wait on the holder, as they would
//! locally).

use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use crate::app::playback::error;

/// Marks a request forwarded by another node.
pub const FORWARDED_HEADER: &str = "yanxiu-forwarded-by";

/// Headers of the viewer's request passed on to the holder.
const PASSED_ON: [header::HeaderName; 4] = [
    header::AUTHORIZATION,
    header::RANGE,
    header::ACCEPT_LANGUAGE,
    header::IF_NONE_MATCH,
];
/// Headers of the holder's answer passed back to the viewer.
const PASSED_BACK: [header::HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
    header::CONTENT_RANGE,
    header::ETAG,
    header::ACCEPT_RANGES,
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
];

/// The HTTP client towards other nodes: LL-HLS blocking reloads may wait several segment
/// durations, hence the long request timeout.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
}

/// Whether this request was forwarded by another node already.
pub fn was_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_HEADER)
}

/// Fetches the request's path and query from the node at `holder_url` and streams its answer
/// back (status, the headers players need, the body as it arrives).
pub async fn forward(
    client: &reqwest::Client,
    holder_url: &str,
    node_id: &str,
    request: &Parts,
) -> Response {
    let path = request
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", holder_url.trim_end_matches('/'));
    let mut outgoing = client.get(url).header(FORWARDED_HEADER, node_id);
    for name in PASSED_ON {
        if let Some(value) = request.headers.get(&name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(holder = %holder_url, error = %e, "the node holding a live channel did not answer");
            return error(
                StatusCode::BAD_GATEWAY,
                "live.holder_unreachable",
                "直播所在的服务器暂时无法访问，请稍后重试",
                "the server running this live channel cannot be reached; try again shortly",
                &request.headers,
            );
        }
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = answer.status();
    for name in PASSED_BACK {
        if let Some(value) = answer.headers().get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    *response.body_mut() = Body::from_stream(answer.bytes_stream());
    response
}
