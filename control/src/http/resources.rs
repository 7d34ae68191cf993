//! HTTP handlers: resources, review, Table 1 review form, catalogue (Table 2) listing, CSV
//! export and import.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalogue::CatalogueFilter;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed, MaybeAuthed};
use crate::http::{AppState, RouteTable};
use crate::plane::PageRequest;
use crate::resources::lifecycle::ResourceFilter;
use crate::resources::{MediaUpdate, ProcessingStatus, ResourceMetadata};
use crate::review_flow::RevisionState;
use crate::review_form;
use crate::reviews::ReviewRequest;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/resources", create_resource)
        .get("/api/v1/resources", list_resources)
        .get("/api/v1/resources/{id}", get_resource)
        .patch("/api/v1/resources/{id}", update_resource)
        .delete("/api/v1/resources/{id}", delete_resource)
        .put("/api/v1/resources/{id}/media", attach_media)
        .get("/api/v1/resources/{id}/jobs", resource_jobs)
        .post("/api/v1/resources/{id}/reviews", review)
        .get("/api/v1/resources/{id}/reviews", list_reviews)
        .post("/api/v1/resources/{id}/publish", publish)
        .post("/api/v1/resources/{id}/unpublish", unpublish)
        .get("/api/v1/resources/{id}/review-form", review_form_json)
        .get("/api/v1/resources/{id}/review-form.html", review_form_html)
        .get("/api/v1/catalogue", catalogue)
        .get("/api/v1/catalogue/export", export_catalogue)
        .post("/api/v1/catalogue/import", import_catalogue)
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize)]
struct NewResource {
    department_id: String,
    metadata: ResourceMetadata,
}

async fn create_resource(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<NewResource>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let view = state
        .control
        .create_resource(&actor, &req.department_id, req.metadata, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(view))))
}

#[derive(Debug, Deserialize)]
struct ResourceListQuery {
    #[serde(default)]
    state: Option<RevisionState>,
    #[serde(default)]
    processing: Option<ProcessingStatus>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
}

fn page_of(page: Option<u32>, per_page: Option<u32>) -> PageRequest {
    let d = PageRequest::default();
    PageRequest {
        page: page.unwrap_or(d.page),
        per_page: per_page.unwrap_or(d.per_page),
    }
}

async fn list_resources(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<ResourceListQuery>,
) -> ApiResult<Json<Value>> {
    let page = page_of(q.page, q.per_page);
    let filter = ResourceFilter {
        state: q.state,
        processing: q.processing,
    };
    Ok(Json(json!(
        state.control.list_resources(&actor, filter, page).await?
    )))
}

async fn get_resource(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.control.resource_for(&actor, &id).await?)))
}

#[derive(Debug, Deserialize)]
struct MetadataChange {
    metadata: Value,
}

async fn update_resource(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MetadataChange>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .update_metadata(&actor, &id, &req.metadata, state.now())
            .await?
    )))
}

async fn delete_resource(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .control
        .delete_resource(&actor, &id, state.janitor.as_ref(), state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn attach_media(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<MediaUpdate>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state
            .control
            .attach_media_for(&actor, &id, update, state.now())
            .await?
    )))
}

async fn resource_jobs(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state.control.resource_for(&actor, &id).await?;
    let jobs = state
        .control
        .jobs_for_resource(&id)
        .await
        .map_err(crate::error::ControlError::from)?;
    Ok(Json(json!({ "items": jobs })))
}

async fn review(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.review(&actor, &id, req, state.now()).await?
    )))
}

async fn list_reviews(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.review_records_for(&actor, &id).await?
    )))
}

async fn publish(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        state.control.publish(&actor, &id, state.now()).await?
    )))
}

#[derive(Debug, Default, Deserialize)]
struct UnpublishRequest {
    #[serde(default)]
    reason: String,
}

async fn unpublish(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    body: String,
) -> ApiResult<Json<Value>> {
    let reason = if body.trim().is_empty() {
        String::new()
    } else {
        serde_json::from_str::<UnpublishRequest>(&body)
            .map_err(|e| {
                crate::error::ControlError::invalid(
                    format!("请求体无效：{e}"),
                    format!("invalid request body: {e}"),
                )
            })?
            .reason
    };
    Ok(Json(json!(
        state
            .control
            .unpublish(&actor, &id, &reason, state.now())
            .await?
    )))
}

async fn build_form(
    state: &AppState,
    actor: &crate::plane::Actor,
    id: &str,
) -> Result<review_form::ReviewForm, ApiError> {
    let view = state.control.resource_for(actor, id).await?;
    let records = state.control.review_records(id).await?;
    let audience_name = match &view.latest.metadata.audience_id {
        Some(a) => Some(state.control.audience(a).await?.name),
        None => None,
    };
    Ok(review_form::build(
        id,
        &view.latest,
        audience_name.as_deref(),
        &records,
    ))
}

async fn review_form_json(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(build_form(&state, &actor, &id).await?)))
}

async fn review_form_html(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let form = build_form(&state, &actor, &id).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        review_form::render_html(&form),
    ))
}

#[derive(Debug, Deserialize)]
struct CatalogueQuery {
    #[serde(flatten)]
    filter: CatalogueFilter,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
}

async fn catalogue(
    State(state): State<AppState>,
    MaybeAuthed(viewer): MaybeAuthed,
    Query(q): Query<CatalogueQuery>,
) -> ApiResult<Json<Value>> {
    let page = page_of(q.page, q.per_page);
    Ok(Json(json!(
        state
            .control
            .catalogue(viewer.as_ref(), &q.filter, page)
            .await?
    )))
}

async fn export_catalogue(
    State(state): State<AppState>,
    MaybeAuthed(viewer): MaybeAuthed,
    Query(filter): Query<CatalogueFilter>,
) -> ApiResult<impl IntoResponse> {
    let csv = state
        .control
        .export_catalogue_csv(viewer.as_ref(), &filter)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"catalogue.csv\"",
            ),
        ],
        csv,
    ))
}

#[derive(Debug, Deserialize)]
struct ImportQuery {
    #[serde(default)]
    department_id: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
}

async fn import_catalogue(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(q): Query<ImportQuery>,
    body: String,
) -> ApiResult<Json<Value>> {
    let department = q
        .department_id
        .or(actor.department_id.clone())
        .ok_or_else(|| {
            crate::error::ControlError::invalid("须指定 department_id", "department_id is required")
        })?;
    let report = state
        .control
        .import_catalogue_csv(
            &actor,
            &department,
            q.owner_id.as_deref(),
            &body,
            state.now(),
        )
        .await?;
    Ok(Json(json!(report)))
}
