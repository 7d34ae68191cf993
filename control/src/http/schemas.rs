//! JSON Schemas of the API's resource, processing, job and live-channel objects, for the
//! OpenAPI document ([`super::openapi`]). A test compares them with real responses field by
//! field.

use serde_json::{Value, json};

fn nullable(ty: &str) -> Value {
    json!({"type": [ty, "null"]})
}

/// The schemas of resources, their processing and jobs.
pub fn resource_schemas() -> Value {
    let violation = json!({"type": "object", "required": ["code", "message_zh", "message_en"], "properties": {
        "code": {"type": "string", "description": "stable code, e.g. video.codec_not_allowed"},
        "message_zh": {"type": "string"}, "message_en": {"type": "string"},
        "actual": nullable("string"), "limit": nullable("string")}});
    let failure = json!({"type": ["object", "null"], "required": ["code", "message_zh", "message_en"], "properties": {
        "code": {"type": "string"}, "message_zh": {"type": "string"}, "message_en": {"type": "string"}}});
    let status = json!({"type": "string", "enum": ["none", "pending", "processing", "ready", "rejected", "failed"]});
    let job_state = json!({"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]});
    let job_error = json!({"type": ["object", "null"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}});
    json!({
        "Validation": {"type": "object", "required": ["accepted", "violations"], "properties": {
            "accepted": {"type": "boolean"},
            "violations": {"type": "array", "items": violation}}},
        "ProcessingFailure": failure,
        "JobProgressSummary": {"type": "object", "description": "The job behind the processing, from its last heartbeat",
            "properties": {
                "id": {"type": "string"}, "kind": {"type": "string"}, "state": job_state,
                "stage": nullable("string"), "percent": nullable("number"),
                "speed": {"type": ["number", "null"], "description": "multiple of real time"},
                "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"},
                "retry_at": {"type": ["integer", "null"], "description": "next try (ms) after a failed attempt"},
                "error": job_error, "updated_at": {"type": "integer"}}},
        "Processing": {"type": "object", "required": ["status"], "properties": {
            "status": status,
            "job": {"oneOf": [{"$ref": "#/components/schemas/JobProgressSummary"}, {"type": "null"}]},
            "probe": {"type": ["object", "null"], "description": "probe report"},
            "validation": {"oneOf": [{"$ref": "#/components/schemas/Validation"}, {"type": "null"}]},
            "renditions": {"type": ["array", "null"], "items": {"type": "object"}},
            "audio_only": {"type": "boolean", "description": "sound without picture (an audio rendition and a waveform poster; [control.audio_only] decides which resources may be)"},
            "failure": {"$ref": "#/components/schemas/ProcessingFailure"},
            "playback_url": {"type": ["string", "null"], "description": "/play/{id}/master.m3u8 once playable"},
            "poster_url": {"type": ["string", "null"], "description": "/play/{id}/poster.jpg"},
            "storyboard_url": {"type": ["string", "null"], "description": "/play/{id}/storyboard/storyboard.vtt"}}},
        "Revision": {"type": "object", "properties": {
            "id": {"type": "string"}, "number": {"type": "integer"}, "state": {"type": "string"},
            "metadata": {"type": "object"}, "source_file": {"type": ["string", "null"], "description": "the source file's name (never where the server keeps it)"}, "processing_status": status,
            "qc_report": {"type": ["object", "null"]}, "processing_job_id": nullable("string"),
            "probe_report": {"type": ["object", "null"]},
            "validation": {"oneOf": [{"$ref": "#/components/schemas/Validation"}, {"type": "null"}]},
            "renditions": {"type": ["array", "null"], "items": {"type": "object"}},
            "ladder_prefix": nullable("string"), "poster_key": nullable("string"),
            "storyboard_key": nullable("string"),
            "processing_error": {"$ref": "#/components/schemas/ProcessingFailure"},
            "captions": {"type": "array", "description": "caption tracks, one per language (PUT /api/v1/resources/{id}/captions/{language})",
                "items": {"$ref": "#/components/schemas/CaptionTrack"}},
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"}}},
        "CaptionTrack": {"type": "object", "properties": {
            "language": {"type": "string", "description": "BCP 47 tag, e.g. zh-CN"},
            "label": {"type": "string", "description": "the name players show in their captions menu"},
            "cues": {"type": "integer"}, "bytes": {"type": "integer", "description": "size of the stored WebVTT"},
            "source_format": {"type": "string", "enum": ["webvtt", "srt"]},
            "uploaded_by": {"type": "string"}, "uploaded_at": {"type": "integer"}}},
        "Resource": {"type": "object", "required": ["id", "latest", "processing"], "properties": {
            "id": {"type": "string"}, "department_id": {"type": "string"}, "owner_id": {"type": "string"},
            "created_at": {"type": "integer"},
            "published": {"oneOf": [{"$ref": "#/components/schemas/Revision"}, {"type": "null"}]},
            "latest": {"$ref": "#/components/schemas/Revision"},
            "processing": {"$ref": "#/components/schemas/Processing"}}},
        "ResourcePage": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Resource"}},
            "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}},
        "Job": {"type": "object", "properties": {
            "id": {"type": "string"}, "kind": {"type": "string"}, "resource_id": nullable("string"),
            "payload": {"type": "object"}, "state": job_state,
            "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"},
            "run_at": {"type": "integer"}, "worker_id": nullable("string"), "lease_until": nullable("integer"),
            "progress": {"type": ["object", "null"], "properties": {"stage": {"type": "string"},
                "percent": {"type": "number"}, "speed": nullable("number"), "detail": {}}},
            "result": {}, "error": job_error,
            "created_at": {"type": "integer"}, "updated_at": {"type": "integer"},
            "started_at": nullable("integer"), "finished_at": nullable("integer")}},
        "JobList": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}},
        "ChannelEvent": {"type": "object", "required": ["id", "channel_id", "kind", "at", "detail"], "properties": {
            "id": {"type": "string"}, "channel_id": {"type": "string"},
            "kind": {"type": "string", "enum": ["started", "reconnected", "stopped", "refused", "error", "recorded"]},
            "at": {"type": "integer"},
            "detail": {"description": "facts of the event; refused: code, message_zh, message_en, peer"}}},
        "ChannelEventPage": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/ChannelEvent"}},
            "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}},
        "LiveInput": {"type": "object", "properties": {
            "video_codec": nullable("string"), "audio_codec": nullable("string"),
            "width": nullable("integer"), "height": nullable("integer"),
            "frame_rate": nullable("number"), "bitrate_bps": nullable("integer")}},
        "LiveStatus": {"type": "object", "required": ["live", "reconnects", "renditions", "viewers", "dropped_frames"], "properties": {
            "live": {"type": "boolean"}, "since": nullable("integer"), "session_id": nullable("string"),
            "reconnects": {"type": "integer"},
            "input": {"oneOf": [{"$ref": "#/components/schemas/LiveInput"}, {"type": "null"}]},
            "renditions": {"type": "array", "items": {"type": "string"}},
            "viewers": {"type": "integer"}, "dropped_frames": {"type": "integer"},
            "last_error": {"type": ["string", "null"], "description": "from the serving process; when idle, the newest error/refused event in the caller's language"}}},
        "ChannelStatus": {"type": "object", "required": ["channel_id", "state", "enabled", "status"], "properties": {
            "channel_id": {"type": "string"},
            "state": {"type": "string", "enum": ["idle", "live", "ended"]},
            "enabled": {"type": "boolean"},
            "status": {"$ref": "#/components/schemas/LiveStatus"}}}
    })
}
