//! HTTP handlers: sessions (sign-in's password step, logout), the caller's own account, API
//! tokens, users and their roles. The second factor's routes are in `http::mfa`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::accounts::{NewUser, UserInfo};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed, ClientAddr, SignedIn};
use crate::http::{AppState, RouteTable};
use crate::plane::{Page, PageRequest};
use crate::policy::{Action, Role};
use crate::sessions::{ApiTokenGrant, ApiTokenInfo, LoginOutcome};
use crate::sign_ins::SignInMeta;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .post("/api/v1/sessions", login)
        .delete("/api/v1/sessions/current", logout)
        .get("/api/v1/me", me)
        .put("/api/v1/me/password", change_password)
        .post("/api/v1/api-tokens", create_api_token)
        .get("/api/v1/api-tokens", list_api_tokens)
        .delete("/api/v1/api-tokens/{id}", revoke_api_token)
        .post("/api/v1/users", create_user)
        .get("/api/v1/users", list_users)
        .get("/api/v1/users/{id}", get_user)
        .post("/api/v1/users/{id}/disable", disable_user)
        .post("/api/v1/users/{id}/enable", enable_user)
        .put("/api/v1/users/{id}/roles", set_roles)
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// The password step: 201 with a session, or 202 with the second factor's challenge.
async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let meta = SignInMeta {
        source_addr: &addr,
        user_agent: user_agent(&headers),
    };
    let outcome = state
        .control
        .login(&req.username, &req.password, meta, state.now())
        .await?;
    Ok(match outcome {
        LoginOutcome::Session(grant) => (StatusCode::CREATED, Json(grant)).into_response(),
        LoginOutcome::SecondFactor(challenge) => {
            (StatusCode::ACCEPTED, Json(challenge)).into_response()
        }
    })
}

/// The request's user agent, if readable.
pub(super) fn user_agent(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

async fn logout(State(state): State<AppState>, SignedIn(actor): SignedIn) -> ApiResult<StatusCode> {
    state.control.logout(&actor, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account, with what the session is limited to.
async fn me(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<Json<serde_json::Value>> {
    let user = state.control.user(&actor.user_id).await?;
    let mut value = serde_json::to_value(user)
        .map_err(|e| crate::error::ControlError::Internal(e.to_string()))?;
    value["restriction"] = serde_json::to_value(actor.restriction)
        .map_err(|e| crate::error::ControlError::Internal(e.to_string()))?;
    Ok(Json(value))
}

#[derive(Debug, Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    state
        .control
        .change_password(
            &actor,
            &req.current_password,
            &req.new_password,
            state.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct NewApiToken {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    days: Option<u32>,
}

async fn create_api_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(req): ApiJson<NewApiToken>,
) -> ApiResult<(StatusCode, Json<ApiTokenGrant>)> {
    let grant = state
        .control
        .create_api_token(&actor, req.name, req.days, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

async fn list_api_tokens(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Vec<ApiTokenInfo>>> {
    Ok(Json(
        state.control.list_api_tokens(&actor, state.now()).await?,
    ))
}

async fn revoke_api_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .control
        .revoke_api_token(&actor, &id, state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_user(
    State(state): State<AppState>,
    Authed(actor): Authed,
    ApiJson(new): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserInfo>)> {
    let user = state.control.create_user(&actor, new, state.now()).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn list_users(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Query(page): Query<PageRequest>,
) -> ApiResult<Json<Page<UserInfo>>> {
    Ok(Json(state.control.list_users(&actor, page).await?))
}

async fn get_user(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    let user = state.control.user(&id).await?;
    if user.id != actor.user_id {
        let scope = actor.scope_of(user.department_id.as_deref(), None);
        let may = actor.decide(Action::ManageUsers, &scope).allowed
            || actor
                .decide(Action::AssignRole(Role::Learner), &scope)
                .allowed;
        if !may {
            actor.require(Action::ManageUsers, &scope)?;
        }
    }
    Ok(Json(user))
}

async fn disable_user(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    Ok(Json(
        state
            .control
            .set_user_disabled(Some(&actor), &id, true, state.now())
            .await?,
    ))
}

async fn enable_user(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<UserInfo>> {
    Ok(Json(
        state
            .control
            .set_user_disabled(Some(&actor), &id, false, state.now())
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct RolesRequest {
    roles: Vec<Role>,
}

async fn set_roles(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RolesRequest>,
) -> ApiResult<Json<UserInfo>> {
    Ok(Json(
        state
            .control
            .set_roles(&actor, &id, req.roles, state.now())
            .await?,
    ))
}
