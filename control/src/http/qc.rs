//! HTTP handlers of the technical QC report of a resource: the report (JSON, with the URLs of
//! its plots) and the plots (SVG), for whoever may read the resource.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::error::ControlError;
use crate::http::error::ApiError;
use crate::http::extract::Authed;
use crate::http::{AppState, RouteTable};
use crate::qc_reports::QcPlot;

pub(super) fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/api/v1/resources/{id}/qc", qc_report)
        .get("/api/v1/resources/{id}/qc/{plot}", qc_plot)
}

async fn qc_report(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.control.qc_report_for(&actor, &id).await?)))
}

async fn qc_plot(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, plot)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let plot = QcPlot::from_name(&plot).ok_or(ControlError::NotFound("plot"))?;
    let svg = state.control.qc_plot_for(&actor, &id, plot).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        svg,
    ))
}

/// The QC report's schemas, for the OpenAPI document.
pub(super) fn add_schemas(schemas: &mut Value) {
    let segment = json!({"type": "object", "required": ["start", "end"], "properties": {
        "start": {"type": "number", "description": "seconds"},
        "end": {"type": "number", "description": "seconds"}}});
    let number = json!({"type": ["number", "null"]});
    schemas["QcSegment"] = segment;
    schemas["QcFinding"] = json!({"type": "object",
        "required": ["code", "severity", "start", "end", "message_zh", "message_en"], "properties": {
        "code": {"type": "string", "description": "e.g. av.frozen_and_silent, video.black, audio.silence, audio.clipping, av.start_offset"},
        "severity": {"type": "string", "enum": ["info", "warning", "error"]},
        "start": {"type": "number"}, "end": {"type": "number"},
        "message_zh": {"type": "string"}, "message_en": {"type": "string"}}});
    let segments = json!({"type": "array", "items": {"$ref": "#/components/schemas/QcSegment"}});
    schemas["QcReport"] = json!({"type": "object",
        "required": ["loudness", "black", "silence", "freeze", "findings"], "properties": {
        "version": {"type": "integer"}, "duration": {"type": "number"},
        "loudness": {"type": "object", "properties": {
            "integrated_lufs": number, "range_lu": number, "true_peak_dbtp": number}},
        "black": segments, "silence": segments, "freeze": segments,
        "clipping": {"type": "array", "items": {"type": "object", "properties": {
            "start": {"type": "number"}, "end": {"type": "number"}, "samples": {"type": "integer"}}}},
        "sync": {"type": "object", "properties": {"start_offset": number, "end_difference": number}},
        "picture": {"type": "object", "properties": {"width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]}, "samples": {"type": "integer"},
            "sharpness": number, "blockiness": number}},
        "summary": {"type": "object", "properties": {"errors": {"type": "integer"},
            "warnings": {"type": "integer"}, "infos": {"type": "integer"}}},
        "findings": {"type": "array", "items": {"$ref": "#/components/schemas/QcFinding"}},
        "loudness_series": {"type": "object", "properties": {"start": {"type": "number"},
            "step_seconds": {"type": "number"},
            "short_term_lufs": {"type": "array", "items": number}}}}});
    schemas["QcReportView"] = json!({"type": "object",
        "required": ["resource_id", "revision_id", "job_id", "report", "plots"], "properties": {
        "resource_id": {"type": "string"}, "revision_id": {"type": "string"},
        "revision": {"type": "integer"}, "job_id": {"type": "string"},
        "created_at": {"type": "integer"},
        "report": {"$ref": "#/components/schemas/QcReport"},
        "plots": {"type": "object", "properties": {
            "loudness": {"type": "string", "description": "/api/v1/resources/{id}/qc/loudness.svg"},
            "timeline": {"type": "string", "description": "/api/v1/resources/{id}/qc/timeline.svg"}}}}});
}
