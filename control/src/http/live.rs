//! HTTP handlers: a channel's event history and its live status.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;

use crate::channel_events::ChannelEvent;
use crate::http::error::{ApiError, Lang, lang_of};
use crate::http::extract::Authed;
use crate::http::{AppState, RouteTable};
use crate::live_status::ChannelStatusView;
use crate::plane::{Page, PageRequest};

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/channels/{id}/events", channel_events)
        .get("/api/v1/channels/{id}/status", channel_status)
}

async fn channel_events(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    Query(page): Query<PageRequest>,
) -> Result<Json<Page<ChannelEvent>>, ApiError> {
    Ok(Json(
        state.control.channel_events_for(&actor, &id, page).await?,
    ))
}

/// `last_error` taken from the event history is in the caller's language (`Accept-Language`).
async fn channel_status(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ChannelStatusView>, ApiError> {
    let english = lang_of(&headers) == Lang::En;
    Ok(Json(
        state
            .control
            .channel_status_for(&actor, &id, state.live_status.as_deref(), english)
            .await?,
    ))
}
