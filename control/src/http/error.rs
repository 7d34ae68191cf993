//! The one place where failures become HTTP responses: `{"error":{"code","message"}}` with the
//! message in zh-CN (default) or English (`Accept-Language: en…`). Handlers return
//! [`ApiError`]; it leaves both texts in the response's extensions and the
//! [`localize_errors`] middleware writes the body in the caller's language. Internal failures
//! are logged (never with secrets) and answered with a generic message.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ControlError;

/// A failed API call.
#[derive(Debug)]
pub struct ApiError(pub ControlError);

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(ControlError::Database(e))
    }
}

/// Both texts of an error, carried from the handler to [`localize_errors`].
#[derive(Debug, Clone)]
pub struct ErrorPayload {
    /// Stable code.
    pub code: &'static str,
    /// zh-CN message.
    pub zh: String,
    /// English message.
    pub en: String,
}

/// The HTTP status of a control-plane error.
pub fn status_of(e: &ControlError) -> StatusCode {
    match e {
        ControlError::Unauthenticated
        | ControlError::InvalidCredentials
        | ControlError::SessionEnded
        | ControlError::InvalidSecondFactor
        | ControlError::SecondFactorReplayed
        | ControlError::ChallengeInvalid => StatusCode::UNAUTHORIZED,
        ControlError::AccountDisabled
        | ControlError::Forbidden(_)
        | ControlError::SecondFactorRequired
        | ControlError::PasswordExpired => StatusCode::FORBIDDEN,
        ControlError::PasswordReused { .. } => StatusCode::BAD_REQUEST,
        ControlError::AccountLocked { .. } => StatusCode::LOCKED,
        ControlError::SessionLimit => StatusCode::TOO_MANY_REQUESTS,
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Conflict { .. } | ControlError::Rule { .. } => StatusCode::CONFLICT,
        ControlError::Invalid { .. } => StatusCode::BAD_REQUEST,
        ControlError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ControlError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ControlError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ControlError::Playback(d) => {
            StatusCode::from_u16(d.http_status()).unwrap_or(StatusCode::FORBIDDEN)
        }
        ControlError::Database(_) | ControlError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.is_internal() {
            tracing::error!(error = %e, "request failed");
        }
        let payload = ErrorPayload {
            code: e.code(),
            zh: e.message_zh(),
            en: e.message_en(),
        };
        let mut response = error_response(status_of(&e), &payload, Lang::Zh);
        response.extensions_mut().insert(payload);
        if let ControlError::RateLimited { retry_after_ms } = e {
            response
                .extensions_mut()
                .insert(RetryAfter(retry_after_secs(retry_after_ms)));
        }
        add_retry_after(&mut response);
        response
    }
}

/// Seconds a refused caller should wait, carried to [`localize_errors`] with the payload.
#[derive(Debug, Clone, Copy)]
struct RetryAfter(u64);

fn retry_after_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(1)).unwrap_or(1).div_ceil(1000)
}

fn add_retry_after(response: &mut Response) {
    if let Some(RetryAfter(secs)) = response.extensions().get::<RetryAfter>().copied() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
}

/// The language of human-readable messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// zh-CN (default).
    Zh,
    /// English.
    En,
}

/// Picks the language from `Accept-Language`: English if an `en` tag comes before any `zh`
/// tag (by q-value, then order), else zh-CN.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    let Some(value) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Lang::Zh;
    };
    let mut best: Option<(f32, usize, Lang)> = None;
    for (i, part) in value.split(',').enumerate() {
        let mut pieces = part.trim().split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let lang = if tag.starts_with("en") {
            Lang::En
        } else if tag.starts_with("zh") {
            Lang::Zh
        } else {
            continue;
        };
        let better = match best {
            None => true,
            Some((bq, bi, _)) => q > bq || (q == bq && i < bi),
        };
        if better {
            best = Some((q, i, lang));
        }
    }
    best.map(|(_, _, l)| l).unwrap_or(Lang::Zh)
}

fn error_response(status: StatusCode, payload: &ErrorPayload, lang: Lang) -> Response {
    body_in(status, payload.code, &payload.zh, &payload.en, lang)
}

fn body_in(status: StatusCode, code: &str, zh: &str, en: &str, lang: Lang) -> Response {
    let message = match lang {
        Lang::Zh => zh,
        Lang::En => en,
    };
    let body = json!({"error": {"code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

/// An error answer in the API's one JSON shape and in the language `headers` ask for, for
/// the server's routes outside the control router (playback, WHIP and WHEP, imports): every
/// error the server gives has one shape and one language rule.
pub fn error_answer(
    status: StatusCode,
    code: &str,
    zh: &str,
    en: &str,
    headers: &axum::http::HeaderMap,
) -> Response {
    body_in(status, code, zh, en, lang_of(headers))
}

/// Middleware: rewrites every error response in the caller's language, and turns axum's own
/// plain-text rejections (unknown route, wrong method, bad JSON) into the same JSON shape.
pub async fn localize_errors(request: Request, next: Next) -> Response {
    let lang = lang_of(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    if let Some(payload) = response.extensions().get::<ErrorPayload>().cloned() {
        if lang == Lang::Zh {
            return response;
        }
        let retry = response.extensions().get::<RetryAfter>().copied();
        let mut out = error_response(status, &payload, lang);
        out.extensions_mut().insert(payload);
        if let Some(r) = retry {
            out.extensions_mut().insert(r);
            add_retry_after(&mut out);
        }
        return out;
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let payload = ErrorPayload {
            code: "method_not_allowed",
            zh: "不支持该请求方法".into(),
            en: "method not allowed".into(),
        };
        return error_response(status, &payload, lang);
    }
    response
}

/// The answer to `e` in the language `headers` ask for, for layers and routes that run
/// outside [`localize_errors`] (request limits in front of every route, playback, WHIP and
/// WHEP): the same status, code, messages and `Retry-After` as inside the control router.
pub fn respond(e: ControlError, headers: &HeaderMap) -> Response {
    let response = ApiError(e).into_response();
    if lang_of(headers) == Lang::Zh {
        return response;
    }
    let Some(payload) = response.extensions().get::<ErrorPayload>().cloned() else {
        return response;
    };
    let mut out = error_response(response.status(), &payload, Lang::En);
    if let Some(r) = response.extensions().get::<RetryAfter>().copied() {
        out.extensions_mut().insert(r);
        add_retry_after(&mut out);
    }
    out.extensions_mut().insert(payload);
    out
}

/// The fallback for unknown routes.
pub async fn route_not_found() -> ApiError {
    ApiError(ControlError::NotFound("route"))
}
