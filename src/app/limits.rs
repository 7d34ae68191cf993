//! Request limits in front of every route of `yanxiu serve`: the body size
//! limit and the per-address rate limits, answered in the API's one error
//! shape (`413 payload_too_large`, `429 rate_limited` with `Retry-After`),
//! both written by `yanxiu_control::http::error`.
//!
//! What is limited, by route ([`classify`], pure):
//! - **sign-in** (`POST /api/v1/sessions…`, `POST /setup`): its own, small
//!   bucket per client address;
//! - **anonymous**: every request without a credential (no
//!   `Authorization`, no `token=` in the query), and every request whose
//!   credential the server refused (a 401 takes a token afterwards; while
//!   the bucket is empty, credentialed requests from that address are
//!   refused too, so guessing tokens is limited like anything else);
//! - **media** (`GET`/`HEAD` of `/live/…` and `/play/…`: playlists, parts,
//!   segments): a bucket of its own, generous enough for a school's viewers
//!   behind one NAT address, that still stops a single client hammering;
//! - health probes (`/healthz`, `/readyz`) are never limited.
//!
//! Bodies: every route gets `[limits] body_kib` (checked on
//! `Content-Length` before the handler runs, and on the bytes as they
//! arrive for chunked bodies) except the tus upload routes
//! (`/api/v1/uploads…`, bounded by their upload's length) and WHIP/WHEP
//! (`/whip/…`, `/whep/…`, bounded by `live.webrtc_max_offer_kib` with
//! their own coded 413).
//!
//! Every refusal counts in `yanxiu_http_requests_refused_total{reason}`
//! (`sign_in`, `anonymous`, `media`: rate limits; `body`: too large).
//!
//! The client address is the TCP peer (as in the audit log); behind a
//! reverse proxy every client shares the proxy's bucket.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use yanxiu_control::error::ControlError;
use yanxiu_control::http::error::respond;
use yanxiu_control::http::extract::BodyLimit;

use super::rate_limit::{Decision, Rate, RateLimiter};
use crate::config::LimitsConfig;

/// How a request is rate limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Never limited (health probes).
    Exempt,
    /// A sign-in attempt.
    SignIn,
    /// A playlist or media object.
    Media,
    /// Carries a credential; limited only after refusals.
    Credentialed,
    /// Carries no credential.
    Anonymous,
}

impl Class {
    fn label(self) -> &'static str {
        match self {
            Class::Exempt => "exempt",
            Class::SignIn => "sign_in",
            Class::Media => "media",
            Class::Credentialed | Class::Anonymous => "anonymous",
        }
    }
}

/// Which class a request falls in.
pub fn classify(method: &Method, path: &str, query: Option<&str>, has_auth: bool) -> Class {
    if path == "/healthz" || path == "/readyz" {
        return Class::Exempt;
    }
    let sign_in = path == "/api/v1/sessions" || path.starts_with("/api/v1/sessions/");
    if method == Method::POST && (sign_in || path == "/setup") {
        return Class::SignIn;
    }
    let media = path.starts_with("/live/") || path.starts_with("/play/");
    if media && (method == Method::GET || method == Method::HEAD) {
        return Class::Media;
    }
    let token_in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.strip_prefix("token=").is_some_and(|v| !v.is_empty()))
    });
    if has_auth || token_in_query {
        Class::Credentialed
    } else {
        Class::Anonymous
    }
}

/// The body limit of a path, or none when the route enforces its own. Caption files may be
/// larger than the JSON bodies the default is for.
pub fn body_limit_of(path: &str, default: u64) -> Option<u64> {
    if path.starts_with("/api/v1/resources/") && path.contains("/captions/") {
        return Some(default.max(super::captions::CAPTION_BODY_BYTES));
    }
    let own = path == "/api/v1/uploads"
        || path.starts_with("/api/v1/uploads/")
        || path.starts_with("/whip/")
        || path.starts_with("/whep/");
    (!own).then_some(default)
}

/// The limits and their buckets, shared by every request.
#[derive(Debug)]
pub struct RequestLimits {
    refused: prometheus::IntCounterVec,
    body_bytes: u64,
    sign_in: Option<Mutex<RateLimiter>>,
    anonymous: Option<Mutex<RateLimiter>>,
    media: Option<Mutex<RateLimiter>>,
}

impl RequestLimits {
    /// The limits of `[limits]`, counting refusals in `registry`.
    pub fn new(
        config: &LimitsConfig,
        registry: &prometheus::Registry,
    ) -> Result<RequestLimits, prometheus::Error> {
        let refused = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "http_requests_refused_total",
                "Requests refused by a rate limit (by bucket) or the body limit",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(refused.clone()))?;
        Ok(RequestLimits::unregistered(config, refused))
    }

    fn unregistered(config: &LimitsConfig, refused: prometheus::IntCounterVec) -> RequestLimits {
        let bucket = |burst, per_minute| {
            config.rate_limits.then(|| {
                Mutex::new(RateLimiter::new(
                    Rate { burst, per_minute },
                    config.tracked_addresses,
                ))
            })
        };
        RequestLimits {
            refused,
            body_bytes: config.body_kib.max(1).saturating_mul(1024),
            sign_in: bucket(config.sign_in_burst, config.sign_in_per_minute),
            anonymous: bucket(config.anonymous_burst, config.anonymous_per_minute),
            media: bucket(config.media_burst, config.media_per_minute),
        }
    }

    fn decide(&self, class: Class, addr: IpAddr, now_ms: i64) -> Decision {
        let run = |bucket: &Option<Mutex<RateLimiter>>, take: bool| match bucket {
            None => Decision::Allowed,
            Some(m) => {
                let mut l = m.lock().unwrap_or_else(PoisonError::into_inner);
                if take {
                    l.take(addr, now_ms)
                } else {
                    l.peek(addr, now_ms)
                }
            }
        };
        match class {
            Class::Exempt => Decision::Allowed,
            Class::SignIn => run(&self.sign_in, true),
            Class::Anonymous => run(&self.anonymous, true),
            Class::Media => run(&self.media, true),
            Class::Credentialed => run(&self.anonymous, false),
        }
    }

    fn charge_refusal(&self, addr: IpAddr, now_ms: i64) {
        if let Some(m) = &self.anonymous {
            m.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(addr, now_ms);
        }
    }
}

/// Middleware: rate limits, then the body limit, then the route.
pub async fn enforce(
    State(limits): State<Arc<RequestLimits>>,
    mut request: Request,
    next: Next,
) -> Response {
    let class = classify(
        request.method(),
        request.uri().path(),
        request.uri().query(),
        request.headers().contains_key(header::AUTHORIZATION),
    );
    let addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(addr) = addr {
        let now = yanxiu_control::now_ms();
        if let Decision::Limited { retry_after_ms } = limits.decide(class, addr, now) {
            tracing::info!(%addr, ?class, "request rate limited");
            limits.refused.with_label_values(&[class.label()]).inc();
            return respond(
                ControlError::RateLimited { retry_after_ms },
                request.headers(),
            );
        }
    }
    if let Some(max) = body_limit_of(request.uri().path(), limits.body_bytes) {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max) {
            limits.refused.with_label_values(&["body"]).inc();
            return respond(
                ControlError::PayloadTooLarge { max_bytes: max },
                request.headers(),
            );
        }
        let cap = usize::try_from(max).unwrap_or(usize::MAX);
        request.extensions_mut().insert(BodyLimit(max));
        request = request.map(|body| Body::new(http_body_util::Limited::new(body, cap)));
    }
    let response = next.run(request).await;
    if let (Class::Credentialed, Some(addr)) = (class, addr)
        && response.status() == StatusCode::UNAUTHORIZED
    {
        limits.charge_refusal(addr, yanxiu_control::now_ms());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(config: &LimitsConfig) -> RequestLimits {
        let refused = prometheus::IntCounterVec::new(prometheus::Opts::new("r", "r"), &["reason"])
            .expect("counter");
        RequestLimits::unregistered(config, refused)
    }

    #[test]
    fn sign_in_and_first_run_setup_posts_are_sign_in_attempts() {
        assert_eq!(
            classify(&Method::POST, "/api/v1/sessions", None, false),
            Class::SignIn
        );
        assert_eq!(
            classify(&Method::POST, "/api/v1/sessions/totp", None, false),
            Class::SignIn
        );
        assert_eq!(
            classify(&Method::POST, "/setup", None, false),
            Class::SignIn
        );
        assert_eq!(
            classify(&Method::DELETE, "/api/v1/sessions/current", None, true),
            Class::Credentialed
        );
    }

    #[test]
    fn requests_without_a_credential_are_anonymous() {
        assert_eq!(
            classify(&Method::GET, "/assets/app.js", None, false),
            Class::Anonymous
        );
        assert_eq!(
            classify(&Method::GET, "/api/v1/catalogue", Some("token="), false),
            Class::Anonymous
        );
        assert_eq!(
            classify(&Method::POST, "/whep/ch", Some("a=1&token=x"), false),
            Class::Credentialed
        );
        assert_eq!(
            classify(&Method::GET, "/api/v1/resources", None, true),
            Class::Credentialed
        );
    }

    #[test]
    fn playlists_and_segments_have_their_own_bucket() {
        assert_eq!(
            classify(&Method::GET, "/live/ch/master.m3u8", None, false),
            Class::Media
        );
        assert_eq!(
            classify(
                &Method::HEAD,
                "/play/r/720p/seg-1.m4s",
                Some("token=t"),
                false
            ),
            Class::Media
        );
    }

    #[test]
    fn health_probes_are_exempt() {
        assert_eq!(
            classify(&Method::GET, "/healthz", None, false),
            Class::Exempt
        );
        assert_eq!(
            classify(&Method::GET, "/readyz", None, false),
            Class::Exempt
        );
    }

    #[test]
    fn uploads_and_webrtc_offers_keep_their_own_body_limits() {
        assert_eq!(body_limit_of("/api/v1/uploads", 7), None);
        assert_eq!(body_limit_of("/api/v1/uploads/abc", 7), None);
        assert_eq!(body_limit_of("/whip/ch", 7), None);
        assert_eq!(body_limit_of("/whep/ch", 7), None);
        assert_eq!(body_limit_of("/api/v1/resources", 7), Some(7));
        assert_eq!(body_limit_of("/api/v1/uploadsx", 7), Some(7));
        let caption = body_limit_of("/api/v1/resources/r1/captions/en", 1024).unwrap();
        assert!(caption > 2 * 1024 * 1024, "a whole caption file fits");
    }

    #[test]
    fn an_empty_anonymous_bucket_refuses_credentialed_requests_too() {
        let limits = limits(&LimitsConfig {
            anonymous_burst: 1,
            anonymous_per_minute: 1,
            ..LimitsConfig::default()
        });
        let addr: IpAddr = "10.1.2.3".parse().expect("ip");
        assert_eq!(
            limits.decide(Class::Credentialed, addr, 0),
            Decision::Allowed
        );
        limits.charge_refusal(addr, 0);
        assert!(matches!(
            limits.decide(Class::Credentialed, addr, 1),
            Decision::Limited { .. }
        ));
        assert!(matches!(
            limits.decide(Class::Anonymous, addr, 1),
            Decision::Limited { .. }
        ));
        assert_eq!(limits.decide(Class::Exempt, addr, 1), Decision::Allowed);
    }

    #[test]
    fn turned_off_rate_limits_allow_everything() {
        let limits = limits(&LimitsConfig {
            rate_limits: false,
            sign_in_burst: 1,
            ..LimitsConfig::default()
        });
        let addr: IpAddr = "10.1.2.3".parse().expect("ip");
        for t in 0..5 {
            assert_eq!(limits.decide(Class::SignIn, addr, t), Decision::Allowed);
        }
    }
}
