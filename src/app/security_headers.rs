//! The security headers of every response of `yanxiu serve`, set by one
//! layer around the whole router (a handler's own value of a header wins):
//!
//! - `Content-Security-Policy`: the web app's policy (only this origin's
//!   scripts and styles, no inline code; media from `blob:` for hls.js's
//!   MediaSource; `connect-src` this origin for the API, playback and
//!   WHIP/WHEP, plus where players are sent for media: the public playback
//!   base and, with presigned S3 redirects, the object store); no framing.
//! - `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer` (setup links and playback URLs carry
//!   tokens), `Permissions-Policy` (camera, microphone and screen capture
//!   for this origin only, for going live from the page; nothing else).
//! - `Cache-Control: no-store` on answers that set no cache policy of their
//!   own and are per user, carrying tokens, stream keys or session
//!   capabilities: `/api/…`, `/setup`, `/whip/…`, `/whep/…`.
//! - On HTTPS only (a separate layer on that listener's router):
//!   `Strict-Transport-Security`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// What the policy allows beyond this origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaOrigins(pub Vec<String>);

impl MediaOrigins {
    /// The origin (`scheme://host[:port]`) of an absolute http(s) URL.
    pub fn origin_of(url: &str) -> Option<String> {
        let (scheme, rest) = url.split_once("://")?;
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let host = rest.split(['/', '?', '#']).next()?;
        let ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]*".contains(c));
        ok.then(|| format!("{scheme}://{host}"))
    }
}

/// The headers of every response, built once.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The Content-Security-Policy with `extra` origins for media and connections.
pub fn content_security_policy(extra: &MediaOrigins) -> String {
    let mut more = String::new();
    for o in &extra.0 {
        more.push(' ');
        more.push_str(o);
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{more}; media-src 'self' blob:{more}; \
         worker-src 'self' blob:; connect-src 'self'{more}; font-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// `Permissions-Policy`: capture for going live from this origin, nothing else.
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), \
     display-capture=(self), fullscreen=(self), autoplay=(self), geolocation=(), \
     payment=(), usb=(), serial=(), bluetooth=(), midi=()";

impl SecurityHeaders {
    /// Headers whose policy also allows `extra` origins.
    pub fn new(extra: &MediaOrigins) -> SecurityHeaders {
        let csp = content_security_policy(extra);
        let mut headers = vec![
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static(PERMISSIONS_POLICY),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        match HeaderValue::from_str(&csp) {
            Ok(v) => headers.push((header::CONTENT_SECURITY_POLICY, v)),
            // Origins are checked by `origin_of`; fall back to this origin only.
            Err(_) => headers.push((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&content_security_policy(&MediaOrigins::default()))
                    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
            )),
        }
        SecurityHeaders { headers }
    }
}

/// Middleware: adds the security headers a response lacks.
pub async fn add(
    State(policy): State<Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let private = carries_secrets(request.uri().path());
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    for (name, value) in &policy.headers {
        if !h.contains_key(name) {
            h.insert(name.clone(), value.clone());
        }
    }
    if private && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Answers that are per user and may carry tokens, stream keys or session
/// capabilities: the API, first-run setup, WHIP/WHEP answers and locations.
fn carries_secrets(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/setup"
        || path.starts_with("/whip/")
        || path.starts_with("/whep/")
}

/// `Strict-Transport-Security` for `max_age` seconds (none at 0).
pub fn hsts(max_age: u64, include_subdomains: bool) -> Option<HeaderValue> {
    if max_age == 0 {
        return None;
    }
    let sub = if include_subdomains {
        "; includeSubDomains"
    } else {
        ""
    };
    HeaderValue::from_str(&format!("max-age={max_age}{sub}")).ok()
}

/// Middleware of the HTTPS listener: adds HSTS.
pub async fn add_hsts(State(value): State<HeaderValue>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::STRICT_TRANSPORT_SECURITY, value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_keep_scheme_host_and_port_only() {
        assert_eq!(
            MediaOrigins::origin_of("https://cdn.example.edu:8443/play?x=1").as_deref(),
            Some("https://cdn.example.edu:8443")
        );
        assert_eq!(MediaOrigins::origin_of("rtmp://h/live"), None);
        assert_eq!(MediaOrigins::origin_of("https://bad host/"), None);
        assert_eq!(MediaOrigins::origin_of("https://a;b/"), None);
    }

    #[test]
    fn the_policy_forbids_inline_code_and_framing_and_names_extra_origins() {
        let csp = content_security_policy(&MediaOrigins(vec!["https://s3.example".into()]));
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' https://s3.example;"),
            "{csp}"
        );
        assert!(
            csp.contains("media-src 'self' blob: https://s3.example;"),
            "{csp}"
        );
    }

    #[test]
    fn api_setup_and_webrtc_answers_are_never_cached() {
        for path in ["/api/v1/sessions", "/setup", "/whip/ch", "/whep/ch/s"] {
            assert!(carries_secrets(path), "{path}");
        }
        for path in [
            "/",
            "/assets/app.js",
            "/live/ch/master.m3u8",
            "/play/r/x.m4s",
        ] {
            assert!(!carries_secrets(path), "{path}");
        }
    }

    #[test]
    fn hsts_is_off_at_zero_and_can_cover_subdomains() {
        assert_eq!(hsts(0, true), None);
        assert_eq!(
            hsts(600, false).expect("value"),
            HeaderValue::from_static("max-age=600")
        );
        assert_eq!(
            hsts(600, true).expect("value"),
            HeaderValue::from_static("max-age=600; includeSubDomains")
        );
    }
}
