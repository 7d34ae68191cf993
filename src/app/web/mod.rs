//! The web app at `/`: the embedded static files of `web/` (the page shell, its JS modules
//! and styles, the zh-CN and English string catalogues, the vendored hls.js and
//! tus-js-client) and the first-run setup of the first system administrator.
//!
//! Everything the browser loads is compiled into the binary ([`assets`]), so the app works
//! with no internet and no Node.js. The app is one page: `/` and `/setup` serve the same
//! shell and the page's own router (the URL fragment, `#/…`) picks the view; every view talks
//! to the existing `/api/v1`. This module claims only `/`, `/setup`, `/assets/…` and
//! `/favicon.ico`, so it never shadows `/api`, `/play`, `/live`, `/whip`, `/whep` or the
//! operational endpoints.

pub mod assets;
pub mod setup;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use setup::SetupGate;

use assets::Asset;

/// The routes of the web app: the shell at `/` and `/setup`, the assets, the setup call.
pub fn router(gate: Arc<SetupGate>) -> Router {
    Router::new()
        .route("/", get(shell))
        .route("/setup", get(shell).post(setup::create_first_admin))
        .route("/favicon.ico", get(favicon))
        .route("/assets/{*path}", get(asset))
        .layer(axum::middleware::from_fn(
            yanxiu_control::http::error::localize_errors,
        ))
        .with_state(gate)
}

async fn shell(headers: HeaderMap) -> Response {
    serve(assets::INDEX, &headers)
}

async fn favicon(headers: HeaderMap) -> Response {
    match assets::find("assets/favicon.svg") {
        Some(a) => serve(a, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match assets::find(&format!("assets/{path}")) {
        Some(a) => serve(a, &headers),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found",
        )
            .into_response(),
    }
}

/// One asset: `304` when the client's `If-None-Match` names its ETag; the gzip copy when one
/// is embedded and the client accepts it; versioned vendor files cached for a year, the rest
/// revalidated on every use.
fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let etag = asset.etag();
    let cache = if asset.immutable() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if if_none_match(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match asset.gzip.filter(|_| accepts_gzip(headers)) {
            Some(gz) => {
                let mut r = gz.into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            None => asset.body.into_response(),
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    // The content security policy and the other security headers come from
    // the layer around the whole router (`crate::app::security_headers`).
    response
}

/// Prints the one-time setup link on stdout when setup is open (once per start, after the
/// listening lines; a closed stdout is ignored). A listener on every address (`0.0.0.0`)
/// is shown as `127.0.0.1`.
pub fn print_setup_link(gate: &SetupGate, scheme: &str, addr: std::net::SocketAddr) {
    use std::io::Write;
    let shown = match addr.ip().is_unspecified() {
        true => std::net::SocketAddr::from(([127, 0, 0, 1], addr.port())),
        false => addr,
    };
    let Some(link) = gate.link(&format!("{scheme}://{shown}")) else {
        return;
    };
    tracing::warn!("no system administrator yet: the one-time setup link is on the console");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "yanxiu: no system administrator yet (首次运行：尚无系统管理员); open this link once to create one:"
    );
    let _ = writeln!(out, "yanxiu: setup link {link}");
    let _ = out.flush();
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.trim().split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn gzip_is_accepted_unless_its_quality_is_zero() {
        assert!(accepts_gzip(&headers(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_matches_the_etag_in_a_list_or_weak_form() {
        assert!(if_none_match(
            &headers(header::IF_NONE_MATCH, "\"a\", \"b\""),
            "\"b\""
        ));
        assert!(if_none_match(
            &headers(header::IF_NONE_MATCH, "W/\"b\""),
            "\"b\""
        ));
        assert!(!if_none_match(
            &headers(header::IF_NONE_MATCH, "\"c\""),
            "\"b\""
        ));
    }
}
