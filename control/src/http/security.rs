//! HTTP handlers of the security administrator's sessions and lockouts
//! (`/api/v1/security/…`), and their entries in the OpenAPI document.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::extract::Authed;
use crate::http::openapi::{Auth, Operation, op};
use crate::http::{AppState, RouteTable};
use crate::plane::{Page, PageRequest};
use crate::security::ActiveSession;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/security/sessions", sessions)
        .delete("/api/v1/security/sessions/{id}", revoke)
        .get("/api/v1/security/lockouts", lockouts)
        .post("/api/v1/security/lockouts/{user_id}/unlock", unlock)
}

/// The operations, for the OpenAPI document.
pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/security/sessions",
        "security",
        "Every live interactive session of every account (user, address, user agent, signed in, last seen, expiry; `current` marks the caller's), most recently used first (paginated); security_admin only",
        Auth::Bearer,
        None,
        200,
    ),
    op(
        "DELETE",
        "/api/v1/security/sessions/{id}",
        "security",
        "End one live session of any account (its next request gets 401 session_ended); audited as session.revoke; the caller's own session is ended by signing out (409); security_admin only",
        Auth::Bearer,
        None,
        204,
    ),
    op(
        "GET",
        "/api/v1/security/lockouts",
        "security",
        "The accounts locked after repeated wrong passwords, with the end of each lock; security_admin only",
        Auth::Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/security/lockouts/{user_id}/unlock",
        "security",
        "Lift an account's lock early and forget its failed attempts; audited as account.unlock; 409 when it is not locked; security_admin only",
        Auth::Bearer,
        None,
        204,
    ),
];

/// Query parameters of the operations.
pub const QUERY_PARAMETERS: &[(&str, &str, &[&str])] = &[(
    "GET",
    "/api/v1/security/sessions",
    &["page:integer", "per_page:integer"],
)];

type ApiResult<T> = Result<T, ApiError>;

async fn sessions(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(page): Query<PageRequest>,
) -> ApiResult<Json<Page<ActiveSession>>> {
    Ok(Json(
        state
            .control
            .active_sessions(&actor, page, state.now())
            .await?,
    ))
}

async fn revoke(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .control
        .revoke_session(&actor, &id, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn lockouts(State(state): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"items": state.control.lockouts(&actor, state.now()).await?}),
    ))
}

async fn unlock(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .control
        .unlock_account(&actor, &user_id, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
