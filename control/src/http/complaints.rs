//! HTTP handlers: complaints about resources (filing, the queue, the steps, one's own).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::complaints::{ComplaintDecision, ComplaintStatus, NewComplaint};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed};
use crate::http::{AppState, RouteTable};
use crate::plane::PageRequest;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/resources/{id}/complaints", file)
        .get("/api/v1/me/complaints", mine)
        .get("/api/v1/complaints", queue)
        .get("/api/v1/complaints/{id}", one)
        .post("/api/v1/complaints/{id}/take-down", take_down)
        .post("/api/v1/complaints/{id}/resolve", resolve)
}

type ApiResult<T> = Result<T, ApiError>;

async fn file(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewComplaint>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = state
        .control
        .file_complaint(&actor, &id, req, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(c))))
}

async fn mine(State(state): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"items": state.control.my_complaints(&actor).await?}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueueQuery {
    status: Option<ComplaintStatus>,
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
        state.control.complaints(&actor, q.status, page).await?
    )))
}

async fn one(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.control.complaint_for(&actor, &id).await?)))
}

#[derive(Debug, Deserialize)]
struct TakeDown {
    #[serde(default)]
    comment: String,
}

async fn take_down(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TakeDown>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .take_down(&actor, &id, &req.comment, state.now())
            .await?
    )))
}

async fn resolve(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ComplaintDecision>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .resolve_complaint(&actor, &id, req, state.janitor.as_ref(), state.now())
            .await?
    )))
}
