//! HTTP handlers: learners' ratings and comments, and their moderation.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::feedback::rules::FeedbackStatus;
use crate::feedback::{ModerationRequest, NewFeedback};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed, MaybeAuthed};
use crate::http::{AppState, RouteTable};
use crate::plane::PageRequest;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .put("/api/v1/resources/{id}/feedback", give)
        .get("/api/v1/resources/{id}/feedback", summary)
        .get("/api/v1/feedback", queue)
        .post("/api/v1/feedback/{id}/moderate", moderate)
}

type ApiResult<T> = Result<T, ApiError>;

async fn give(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewFeedback>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .give_feedback(&actor, &id, req, state.now())
            .await?
    )))
}

async fn summary(
    State(state): State<AppState>,
    MaybeAuthed(viewer): MaybeAuthed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.feedback_summary(viewer.as_ref(), &id).await?
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueueQuery {
    status: Option<FeedbackStatus>,
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn queue(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<Value>> {
    let d = PageRequest::default();
    let page = PageRequest {
        page: q.page.unwrap_or(d.page),
        per_page: q.per_page.unwrap_or(d.per_page),
    };
    Ok(Json(json!(
        state.control.feedback_queue(&actor, q.status, page).await?
    )))
}

async fn moderate(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ModerationRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .moderate_feedback(&actor, &id, req, state.now())
            .await?
    )))
}
