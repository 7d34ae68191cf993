//! HTTP handlers: the settings a system administrator changes at run time
//! ([`crate::settings`]).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::error::ControlError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Authed};
use crate::http::openapi::{Auth, Operation, op};
use crate::http::{AppState, RouteTable};
use crate::settings::SettingsSection;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/settings", get_settings)
        .put("/api/v1/settings/{section}", put_section)
        .delete("/api/v1/settings/{section}", reset_section)
}

/// The operations of this module in the OpenAPI document.
pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/settings",
        "settings",
        "The settings in force (password rules, lockout, sessions, retention, upload limit), the config file's defaults and which sections were changed, when and by whom; system_admin only",
        Auth::Bearer,
        None,
        200,
    ),
    op(
        "PUT",
        "/api/v1/settings/{section}",
        "settings",
        "Change one section (password, lockout, sessions, retention, uploads): the fields given, within the rules' bounds; every node applies it within seconds; audited as settings.change with the old and new values; system_admin only",
        Auth::Bearer,
        Some(&[]),
        200,
    ),
    op(
        "DELETE",
        "/api/v1/settings/{section}",
        "settings",
        "Put one section back to the config file's value; audited as settings.reset; 409 when it was not changed; system_admin only",
        Auth::Bearer,
        None,
        200,
    ),
];

type ApiResult<T> = Result<T, ApiError>;

fn section_of(name: &str) -> Result<SettingsSection, ApiError> {
    SettingsSection::parse(name).ok_or(ApiError(ControlError::NotFound("settings section")))
}

async fn get_settings(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(state.control.settings_for(&actor).await?)))
}

async fn put_section(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(section): Path<String>,
    ApiJson(value): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let section = section_of(&section)?;
    Ok(Json(json!(
        state
            .control
            .change_settings_for(&actor, section, &value, state.now())
            .await?
    )))
}

async fn reset_section(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(section): Path<String>,
) -> ApiResult<Json<Value>> {
    let section = section_of(&section)?;
    Ok(Json(json!(
        state
            .control
            .reset_settings_for(&actor, section, state.now())
            .await?
    )))
}
