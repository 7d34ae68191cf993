//! HTTP handlers: the retention plan and run, and a resource's retention settings.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed};
use crate::http::{AppState, RouteTable};
use crate::retention::ops::RetentionUpdate;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/retention", plan)
        .post("/api/v1/retention/run", run)
        .get("/api/v1/resources/{id}/retention", get_settings)
        .put("/api/v1/resources/{id}/retention", put_settings)
        .post("/api/v1/resources/{id}/retire", retire)
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PlanQuery {
    within_days: Option<u32>,
}

async fn plan(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .retention_plan_for(&actor, state.now(), q.within_days)
            .await?
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RunRequest {
    dry_run: bool,
}

async fn run(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<RunRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .run_retention_for(&actor, state.janitor.as_ref(), state.now(), req.dry_run)
            .await?
    )))
}

async fn get_settings(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.resource_retention(&actor, &id).await?
    )))
}

async fn put_settings(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<RetentionUpdate>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .set_retention(&actor, &id, update, state.now())
            .await?
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RetireRequest {
    comment: String,
}

async fn retire(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RetireRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .retire_resource_for(
                &actor,
                &id,
                &req.comment,
                state.janitor.as_ref(),
                state.now()
            )
            .await?
    )))
}
