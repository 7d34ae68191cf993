//! HTTP handlers: channels, publish authorization for remote ingest nodes, playback tokens and
//! the remote playback check.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::channels::{ChannelPatch, NewChannel, PublishAuthorizer};
use crate::error::ControlError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed, ClientAddr, MaybeAuthed};
use crate::http::{AppState, RouteTable};
use crate::plane::PageRequest;
use crate::playback::{PlaybackGrant, PlaybackTarget};

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/channels", create_channel)
        .get("/api/v1/channels", list_channels)
        .get("/api/v1/channels/{id}", get_channel)
        .patch("/api/v1/channels/{id}", update_channel)
        .delete("/api/v1/channels/{id}", delete_channel)
        .post("/api/v1/channels/{id}/rotate-key", rotate_key)
        .post("/api/v1/ingest/authorize", ingest_authorize)
        .post("/api/v1/ingest/ended", ingest_ended)
        .post("/api/v1/playback-tokens", issue_playback_token)
        .get("/api/v1/playback/authorize", playback_authorize)
}

type ApiResult<T> = Result<T, ApiError>;

async fn create_channel(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(new): ApiJson<NewChannel>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let created = state
        .control
        .create_channel(&actor, new, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

async fn list_channels(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(page): Query<PageRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.list_channels(&actor, page).await?
    )))
}

async fn get_channel(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.control.channel_for(&actor, &id).await?)))
}

async fn update_channel(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ChannelPatch>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .update_channel(&actor, &id, patch, state.now())
            .await?
    )))
}

async fn delete_channel(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .control
        .delete_channel(&actor, &id, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_key(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .rotate_stream_key(&actor, &id, state.now())
            .await?
    )))
}

#[derive(Debug, Deserialize)]
struct PublishRequest {
    stream_name: String,
    stream_key: String,
}

/// Always 200 with `{"allowed": bool, ...}` so a remote ingest node can tell a refusal from a
/// transport failure.
async fn ingest_authorize(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<PublishRequest>,
) -> Json<Value> {
    match state
        .control
        .authorize_publish(&req.stream_name, &req.stream_key, &addr, state.now())
        .await
    {
        Ok(grant) => Json(json!({"allowed": true, "grant": grant})),
        Err(denied) => Json(json!({"allowed": false, "reason": denied})),
    }
}

async fn ingest_ended(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PublishRequest>,
) -> ApiResult<StatusCode> {
    let channel = state
        .control
        .channel_by_stream(&req.stream_name, &req.stream_key)
        .await?
        .ok_or(ControlError::NotFound("channel"))?;
    state
        .control
        .publish_ended(&channel, state.now())
        .await
        .map_err(|_| ControlError::conflict("频道当前未在直播", "the channel is not live"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct TargetRequest {
    #[serde(default)]
    resource_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

impl TargetRequest {
    fn target(&self) -> Result<PlaybackTarget, ControlError> {
        match (&self.resource_id, &self.channel_id) {
            (Some(r), None) => Ok(PlaybackTarget::Resource(r.clone())),
            (None, Some(c)) => Ok(PlaybackTarget::Channel(c.clone())),
            _ => Err(ControlError::invalid(
                "须且只能指定 resource_id 或 channel_id 之一",
                "give exactly one of resource_id or channel_id",
            )),
        }
    }
}

async fn issue_playback_token(
    State(state): State<AppState>,
    MaybeAuthed(viewer): MaybeAuthed,
    ApiJson(req): ApiJson<TargetRequest>,
) -> ApiResult<(StatusCode, Json<PlaybackGrant>)> {
    let grant = state
        .control
        .issue_playback_token(viewer.as_ref(), &req.target()?, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// For a remote HLS node: `?resource_id=…|channel_id=…&token=…`; always 200 with
/// `{"allowed": bool, ...}`.
async fn playback_authorize(
    State(state): State<AppState>,
    Query(req): Query<TargetRequest>,
) -> ApiResult<Json<Value>> {
    let target = req.target()?;
    Ok(Json(
        match state
            .control
            .authorize_playback(&target, req.token.as_deref(), state.now())
            .await
        {
            Ok(allowed) => json!({"allowed": true, "grant": allowed}),
            Err(denied) => {
                json!({"allowed": false, "reason": denied, "status": denied.http_status()})
            }
        },
    ))
}
