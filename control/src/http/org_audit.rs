//! HTTP handlers: departments, projects, audiences and the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{AuditQuery, AuditVerification, Outcome};
use crate::audit_chain::AuditRecord;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed};
use crate::http::{AppState, RouteTable};
use crate::org::{Audience, Department, NewAudience, Project};
use crate::plane::{Page, PageRequest};
use crate::policy::{Action, Scope};

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/departments", create_department)
        .get("/api/v1/departments", list_departments)
        .post("/api/v1/projects", create_project)
        .get("/api/v1/projects", list_projects)
        .post("/api/v1/audiences", create_audience)
        .get("/api/v1/audiences", list_audiences)
        .get("/api/v1/audiences/{id}/members", list_members)
        .post("/api/v1/audiences/{id}/members", add_member)
        .delete("/api/v1/audiences/{id}/members/{user_id}", remove_member)
        .get("/api/v1/audit", search_audit)
        .get("/api/v1/audit/export", export_audit)
        .get("/api/v1/audit/verify", verify_audit)
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize)]
struct NamedRequest {
    name: String,
}

async fn create_department(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<NamedRequest>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    let dept = state
        .control
        .create_department(Some(&actor), &req.name, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(dept)))
}

async fn list_departments(
    State(state): State<AppState>,
    Authed(_actor): Authed,
) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(state.control.departments().await?))
}

#[derive(Debug, Deserialize)]
struct NewProject {
    department_id: String,
    name: String,
}

async fn create_project(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<NewProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    let p = state
        .control
        .create_project(&actor, &req.department_id, &req.name, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[derive(Debug, Deserialize)]
struct DepartmentFilter {
    department_id: Option<String>,
}

async fn list_projects(
    State(state): State<AppState>,
    Authed(_actor): Authed,
    Query(f): Query<DepartmentFilter>,
) -> ApiResult<Json<Vec<Project>>> {
    Ok(Json(
        state.control.projects(f.department_id.as_deref()).await?,
    ))
}

async fn create_audience(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<NewAudience>,
) -> ApiResult<(StatusCode, Json<Audience>)> {
    let a = state
        .control
        .create_audience(&actor, req, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn list_audiences(
    State(state): State<AppState>,
    Authed(_actor): Authed,
    Query(f): Query<DepartmentFilter>,
) -> ApiResult<Json<Vec<Audience>>> {
    Ok(Json(
        state.control.audiences(f.department_id.as_deref()).await?,
    ))
}

async fn list_members(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let audience = state.control.audience(&id).await?;
    actor.require(
        Action::ManageAudiences,
        &actor.scope_of(audience.department_id.as_deref(), None),
    )?;
    let members = state.control.audience_members(&id).await?;
    Ok(Json(json!({"audience_id": id, "user_ids": members})))
}

#[derive(Debug, Deserialize)]
struct MemberRequest {
    user_id: String,
}

async fn add_member(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MemberRequest>,
) -> ApiResult<StatusCode> {
    state
        .control
        .set_audience_member(&actor, &id, &req.user_id, true, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .control
        .set_audience_member(&actor, &id, &user_id, false, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct AuditSearch {
    #[serde(flatten)]
    query: AuditQuery,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
}

async fn search_audit(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(search): Query<AuditSearch>,
) -> ApiResult<Json<Page<AuditRecord>>> {
    actor.require(Action::ReadAudit, &Scope::out_of_scope())?;
    let defaults = PageRequest::default();
    let page = PageRequest {
        page: search.page.unwrap_or(defaults.page),
        per_page: search.per_page.unwrap_or(defaults.per_page),
    };
    Ok(Json(state.control.search_audit(&search.query, page).await?))
}

async fn export_audit(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(query): Query<AuditQuery>,
) -> ApiResult<impl IntoResponse> {
    actor.require(Action::ReadAudit, &Scope::out_of_scope())?;
    let csv = state.control.export_audit_csv(&query).await?;
    let detail = json!({"filter": {"actor": query.actor, "action": query.action, "target": query.target,
        "from": query.from, "to": query.to}});
    state
        .control
        .audit(
            &actor.audit_ctx(),
            "audit.export",
            "audit_log",
            Outcome::Success,
            detail,
            state.now(),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
        ],
        csv,
    ))
}

async fn verify_audit(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<AuditVerification>> {
    actor.require(Action::ReadAudit, &Scope::out_of_scope())?;
    Ok(Json(state.control.verify_audit().await?))
}
