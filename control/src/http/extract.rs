//! Request extractors: the authenticated caller ([`Authed`], [`MaybeAuthed`]; a session
//! restricted to enrolling a second factor or changing an expired password gets a coded 403
//! from them, and reaches only the few routes taking [`SignedIn`]), the client address
//! ([`ClientAddr`]) and JSON bodies whose rejections use the API error shape ([`ApiJson`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ControlError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::plane::Actor;

/// The client's address (`unknown` when the server was not started with connect info).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The bearer token of a request, if any.
pub fn bearer_token(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// An authenticated caller with an unrestricted session (401 without a valid bearer token;
/// 403 `second_factor_required` or `password_expired` for a restricted session).
#[derive(Debug, Clone)]
pub struct Authed(pub Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let SignedIn(actor) = SignedIn::from_request_parts(parts, state).await?;
        actor.require_unrestricted()?;
        Ok(Authed(actor))
    }
}

/// An authenticated caller, restricted session or not: for the routes a restricted session
/// needs (its account, signing out, enrolling a second factor, changing the password).
#[derive(Debug, Clone)]
pub struct SignedIn(pub Actor);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ControlError::Unauthenticated)?;
        let actor = state
            .control
            .authenticate(&token, &client_addr(parts), state.clock.now_ms())
            .await?;
        Ok(SignedIn(actor))
    }
}

/// A caller who may or may not be logged in (a bad token is still an error).
#[derive(Debug, Clone)]
pub struct MaybeAuthed(pub Option<Actor>);

impl FromRequestParts<AppState> for MaybeAuthed {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer_token(parts) {
            None => Ok(MaybeAuthed(None)),
            Some(token) => {
                let now = state.clock.now_ms();
                let actor = state
                    .control
                    .authenticate(&token, &client_addr(parts), now)
                    .await?;
                actor.require_unrestricted()?;
                Ok(MaybeAuthed(Some(actor)))
            }
        }
    }
}

/// axum's own limit on buffered bodies, when no layer set a smaller one.
const DEFAULT_JSON_LIMIT: u64 = 2 * 1024 * 1024;

/// The body limit a layer in front of the routes enforces, left in the
/// request's extensions so a 413 can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub u64);

/// A JSON body; malformed bodies answer 400, bodies over the limit 413, in
/// the API error shape.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().copied();
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError(ControlError::PayloadTooLarge {
                    max_bytes: limit.map_or(DEFAULT_JSON_LIMIT, |l| l.0),
                }))
            }
            Err(rejection) => Err(ApiError(ControlError::invalid(
                format!("请求体无效：{}", rejection.body_text()),
                format!("invalid request body: {}", rejection.body_text()),
            ))),
        }
    }
}
