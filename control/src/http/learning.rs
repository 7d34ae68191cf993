//! HTTP handlers: playback events, viewing figures (JSON and CSV), the learner's transcript
//! and the department's credit hours export.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::analytics::csv::targets_csv;
use crate::analytics::events::EventBatch;
use crate::analytics::queries::ReportQuery;
use crate::error::ControlError;
use crate::http::error::{ApiError, lang_of};
use crate::http::extract::Authed;
use crate::http::{AppState, RouteTable};
use crate::learning::transcript::{CreditQuery, credits_csv};
use crate::plane::PageRequest;

/// The largest events request accepted (bytes): far above 50 events, far below a flood.
const MAX_EVENTS_BODY: usize = 64 * 1024;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/playback/events", playback_events)
        .get("/api/v1/analytics/resources", resources)
        .get("/api/v1/analytics/resources/{id}", resource)
        .get("/api/v1/analytics/channels", channels)
        .get("/api/v1/analytics/channels/{id}", channel)
        .get("/api/v1/analytics/departments", departments)
        .get("/api/v1/analytics/export", export)
        .get("/api/v1/analytics/low-use", low_use)
        .get("/api/v1/me/learning", my_learning)
        .get("/api/v1/learning/credits", credits)
        .get("/api/v1/learning/credits/export", credits_export)
}

type ApiResult<T> = Result<T, ApiError>;

fn invalid_body(e: impl std::fmt::Display) -> ApiError {
    ApiError(ControlError::invalid(
        format!("请求体无效：{e}"),
        format!("invalid request body: {e}"),
    ))
}

/// `POST /api/v1/playback/events`: the token travels in the body, so that
/// `navigator.sendBeacon` (which cannot set headers) can send the last events of a page.
async fn playback_events(State(state): State<AppState>, body: Body) -> ApiResult<Json<Value>> {
    let bytes = axum::body::to_bytes(body, MAX_EVENTS_BODY)
        .await
        .map_err(|_| {
            ApiError(ControlError::invalid(
                format!("请求体超过 {MAX_EVENTS_BODY} 字节"),
                format!("the request body exceeds {MAX_EVENTS_BODY} bytes"),
            ))
        })?;
    let batch: EventBatch = serde_json::from_slice(&bytes).map_err(invalid_body)?;
    let receipt = state
        .control
        .ingest_playback_events(batch, state.now())
        .await?;
    Ok(Json(json!(receipt)))
}

/// The query of a list or an export: a report query (not flattened: serde's flatten reads
/// query-string numbers as strings) with the page and the kind.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    from: Option<i64>,
    to: Option<i64>,
    department_id: Option<String>,
    kind: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl ListQuery {
    fn report(&self) -> ReportQuery {
        ReportQuery {
            from: self.from,
            to: self.to,
            department_id: self.department_id.clone(),
            bucket: None,
        }
    }

    fn page(&self) -> PageRequest {
        let d = PageRequest::default();
        PageRequest {
            page: self.page.unwrap_or(d.page),
            per_page: self.per_page.unwrap_or(d.per_page),
        }
    }
}

async fn list(
    state: &AppState,
    actor: &crate::Actor,
    kind: &str,
    q: &ListQuery,
) -> ApiResult<Json<Value>> {
    let now = state.now();
    let report = q.report();
    let (from, to) = report.period(now)?;
    let page = state
        .control
        .analytics_targets(actor, kind, &report, q.page(), now)
        .await?;
    Ok(Json(
        json!({"from": from, "to": to, "items": page.items, "page": page.page,
        "per_page": page.per_page, "total": page.total}),
    ))
}

async fn resources(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    list(&state, &actor, "resource", &q).await
}

async fn channels(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    list(&state, &actor, "channel", &q).await
}

async fn resource(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .analytics_target(&actor, "resource", &id, &q, state.now())
            .await?
    )))
}

async fn channel(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .analytics_target(&actor, "channel", &id, &q, state.now())
            .await?
    )))
}

async fn departments(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Value>> {
    let now = state.now();
    let (from, to) = q.period(now)?;
    let items = state.control.analytics_departments(&actor, &q, now).await?;
    Ok(Json(json!({"from": from, "to": to, "items": items})))
}

fn csv_response(name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

async fn export(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let kind = match q.kind.as_deref() {
        None | Some("resource") => "resource",
        Some("channel") => "channel",
        Some(_) => {
            return Err(ApiError(ControlError::invalid(
                "kind 须为 resource 或 channel",
                "kind must be resource or channel",
            )));
        }
    };
    let rows = state
        .control
        .analytics_all_targets(&actor, kind, &q.report(), state.now())
        .await?;
    let csv =
        targets_csv(&rows, lang_of(&headers)).map_err(|e| ControlError::Internal(e.to_string()))?;
    Ok(csv_response("viewing.csv", csv))
}

async fn my_learning(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.control.my_learning(&actor).await?)))
}

async fn credits(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<CreditQuery>,
) -> ApiResult<Json<Value>> {
    let items = state
        .control
        .credit_records(&actor, &q, state.now())
        .await?;
    let total: f64 = items.iter().map(|r| r.credit_hours).sum();
    Ok(Json(json!({"items": items, "total_credit_hours": total})))
}

async fn credits_export(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    Query(q): Query<CreditQuery>,
) -> ApiResult<Response> {
    let rows = state
        .control
        .credit_records(&actor, &q, state.now())
        .await?;
    let csv =
        credits_csv(&rows, lang_of(&headers)).map_err(|e| ControlError::Internal(e.to_string()))?;
    Ok(csv_response("credit-hours.csv", csv))
}

async fn low_use(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<crate::analytics::lowuse::LowUseQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.low_use(&actor, &q, state.now()).await?
    )))
}
