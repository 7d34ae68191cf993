//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, written as a checked-in table of
//! operations ([`OPERATIONS`]) rendered with serde_json. A test checks that every route the
//! router registers appears here, and that nothing here is missing from the router.

use axum::Json;
use serde_json::{Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// A bearer token (session or API token).
    Bearer,
    /// A bearer token if present (anonymous callers see less).
    Optional,
}

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path with `{param}` placeholders.
    pub path: &'static str,
    /// Grouping tag.
    pub tag: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Credentials.
    pub auth: Auth,
    /// Request body fields as `name:type` (`?` suffix: optional), if the operation takes JSON.
    pub body: Option<&'static [&'static str]>,
    /// Success status.
    pub ok: u16,
}

/// An operation (for tables of them).
pub const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Option<&'static [&'static str]>,
    ok: u16,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        auth,
        body,
        ok,
    }
}

use Auth::{Bearer, None as Open, Optional};

/// Every operation of the control-plane API.
pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/healthz",
        "system",
        "Liveness check",
        Open,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/openapi.json",
        "system",
        "This OpenAPI document",
        Open,
        None,
        200,
    ),
    // accounts
    op(
        "POST",
        "/api/v1/sessions",
        "accounts",
        "Sign in with username and password: 201 with a bearer token (and `restriction` when the session may only enrol a second factor or change an expired password), or 202 with a `challenge` for the second factor (POST /api/v1/sessions/second-factor)",
        Open,
        Some(&["username:string", "password:string"]),
        201,
    ),
    op(
        "DELETE",
        "/api/v1/sessions/current",
        "accounts",
        "Log out (ends the session and its playback tokens)",
        Bearer,
        None,
        204,
    ),
    op(
        "GET",
        "/api/v1/me",
        "accounts",
        "The caller's account",
        Bearer,
        None,
        200,
    ),
    op(
        "PUT",
        "/api/v1/me/password",
        "accounts",
        "Change the caller's password",
        Bearer,
        Some(&["current_password:string", "new_password:string"]),
        204,
    ),
    op(
        "POST",
        "/api/v1/api-tokens",
        "accounts",
        "Create an API token for automation (shown once)",
        Bearer,
        Some(&["name:string?", "days:integer?"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/api-tokens",
        "accounts",
        "The caller's API tokens",
        Bearer,
        None,
        200,
    ),
    op(
        "DELETE",
        "/api/v1/api-tokens/{id}",
        "accounts",
        "Revoke an API token",
        Bearer,
        None,
        204,
    ),
    op(
        "POST",
        "/api/v1/users",
        "accounts",
        "Create an account",
        Bearer,
        Some(&[
            "username:string",
            "password:string",
            "display_name:string?",
            "department_id:string?",
            "roles:array?",
        ]),
        201,
    ),
    op(
        "GET",
        "/api/v1/users",
        "accounts",
        "List accounts (paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/users/{id}",
        "accounts",
        "Read an account",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/users/{id}/disable",
        "accounts",
        "Disable an account (ends its sessions and tokens)",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/users/{id}/enable",
        "accounts",
        "Re-enable an account",
        Bearer,
        None,
        200,
    ),
    op(
        "PUT",
        "/api/v1/users/{id}/roles",
        "accounts",
        "Replace an account's roles",
        Bearer,
        Some(&["roles:array"]),
        200,
    ),
    // organisation
    op(
        "POST",
        "/api/v1/departments",
        "organisation",
        "Create a department",
        Bearer,
        Some(&["name:string"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/departments",
        "organisation",
        "List departments",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/projects",
        "organisation",
        "Create a training project",
        Bearer,
        Some(&["department_id:string", "name:string"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/projects",
        "organisation",
        "List training projects",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/audiences",
        "organisation",
        "Create an audience",
        Bearer,
        Some(&["name:string", "department_id:string", "project_id:string?"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/audiences",
        "organisation",
        "List audiences",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/audiences/{id}/members",
        "organisation",
        "List an audience's members",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/audiences/{id}/members",
        "organisation",
        "Add a member to an audience",
        Bearer,
        Some(&["user_id:string"]),
        204,
    ),
    op(
        "DELETE",
        "/api/v1/audiences/{id}/members/{user_id}",
        "organisation",
        "Remove a member from an audience",
        Bearer,
        None,
        204,
    ),
    // audit
    op(
        "GET",
        "/api/v1/audit",
        "audit",
        "Search the audit log (audit admin; paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/audit/export",
        "audit",
        "Export the audit log as CSV (audit admin)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/audit/verify",
        "audit",
        "Verify the audit hash chain (audit admin)",
        Bearer,
        None,
        200,
    ),
    // channels
    op(
        "POST",
        "/api/v1/channels",
        "channels",
        "Create a live channel; returns the stream key once",
        Bearer,
        Some(&[
            "name:string",
            "department_id:string",
            "project_id:string?",
            "audience:string?",
            "audience_id:string?",
            "record_to_vod:boolean?",
            "latency_mode:string?",
            "hevc_passthrough:boolean?",
            "scheduled_start:integer?",
            "scheduled_end:integer?",
        ]),
        201,
    ),
    op(
        "GET",
        "/api/v1/channels",
        "channels",
        "List channels (paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/channels/{id}",
        "channels",
        "Read a channel",
        Bearer,
        None,
        200,
    ),
    op(
        "PATCH",
        "/api/v1/channels/{id}",
        "channels",
        "Update a channel",
        Bearer,
        Some(&[
            "name:string?",
            "audience:string?",
            "audience_id:string?",
            "record_to_vod:boolean?",
            "latency_mode:string?",
            "hevc_passthrough:boolean?",
            "scheduled_start:integer?",
            "scheduled_end:integer?",
            "state:string?",
            "enabled:boolean?",
        ]),
        200,
    ),
    op(
        "DELETE",
        "/api/v1/channels/{id}",
        "channels",
        "Delete a channel",
        Bearer,
        None,
        204,
    ),
    op(
        "POST",
        "/api/v1/channels/{id}/rotate-key",
        "channels",
        "Rotate the stream key (new key shown once)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/channels/{id}/events",
        "channels",
        "A channel's events, newest first (paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/channels/{id}/status",
        "channels",
        "A channel's live status (input, renditions, viewers, last error)",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/ingest/authorize",
        "ingest",
        "Publish authorization for a remote ingest node",
        Open,
        Some(&["stream_name:string", "stream_key:string"]),
        200,
    ),
    op(
        "POST",
        "/api/v1/ingest/ended",
        "ingest",
        "A remote ingest node reports the end of a publish",
        Open,
        Some(&["stream_name:string", "stream_key:string"]),
        204,
    ),
    // resources and review
    op(
        "POST",
        "/api/v1/resources",
        "resources",
        "Create a draft resource",
        Bearer,
        Some(&["department_id:string", "metadata:object"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/resources",
        "resources",
        "List resources visible to the caller for management (paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}",
        "resources",
        "Read a resource with its published and latest revisions",
        Bearer,
        None,
        200,
    ),
    op(
        "PATCH",
        "/api/v1/resources/{id}",
        "resources",
        "Change metadata (a published resource gets a new revision)",
        Bearer,
        Some(&["metadata:object"]),
        200,
    ),
    op(
        "DELETE",
        "/api/v1/resources/{id}",
        "resources",
        "Delete a resource",
        Bearer,
        None,
        204,
    ),
    op(
        "PUT",
        "/api/v1/resources/{id}/media",
        "resources",
        "Attach media, processing status and QC report to the working revision",
        Bearer,
        Some(&[
            "media_ref:string?",
            "processing_status:string",
            "qc_report:object?",
            "probe_report:object?",
            "validation:object?",
            "renditions:array?",
            "ladder_prefix:string?",
            "poster_key:string?",
            "storyboard_key:string?",
            "failure:object?",
        ]),
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}/jobs",
        "resources",
        "The processing jobs of a resource (state, attempts, progress, errors)",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/resources/{id}/reviews",
        "review",
        "Sign a review level (self, department, technical)",
        Bearer,
        Some(&["level:string", "decision:string", "comment:string?"]),
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}/reviews",
        "review",
        "The review records of a resource",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/resources/{id}/publish",
        "review",
        "Publish the technically approved revision",
        Bearer,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/resources/{id}/unpublish",
        "review",
        "Take a resource offline",
        Bearer,
        Some(&["reason:string?"]),
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}/review-form",
        "review",
        "Table 1 (内容审查表) as JSON",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}/review-form.html",
        "review",
        "Table 1 (内容审查表) as printable HTML",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}/qc",
        "review",
        "Technical QC report of the latest revision's media (loudness, black, silence, freeze, clipping, sync, picture, findings with zh/en messages; times in seconds) and the URLs of its plots; 404 until processing made one",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/resources/{id}/qc/{plot}",
        "review",
        "A plot of the QC report as SVG: loudness.svg (short-term loudness over time) or timeline.svg (black, frozen, silent, clipped stretches and findings)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/catalogue",
        "catalogue",
        "Published resources visible to the caller, by display order (paginated)",
        Optional,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/catalogue/export",
        "catalogue",
        "Table 2 (上线数字教育资源目录) as CSV",
        Optional,
        None,
        200,
    ),
    op(
        "POST",
        "/api/v1/catalogue/import",
        "catalogue",
        "Import Table 2 CSV rows as draft resources",
        Bearer,
        None,
        200,
    ),
    // playback
    op(
        "POST",
        "/api/v1/playback-tokens",
        "playback",
        "Issue a playback token for a resource or channel",
        Optional,
        Some(&["resource_id:string?", "channel_id:string?"]),
        201,
    ),
    op(
        "GET",
        "/api/v1/playback/authorize",
        "playback",
        "Check a playback request (for a remote HLS node)",
        Open,
        None,
        200,
    ),
];

/// Query parameters of an operation: `(method, path, [name:type])`.
pub const QUERY_PARAMETERS: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/api/v1/resources",
        &[
            "state:string",
            "processing:string",
            "page:integer",
            "per_page:integer",
        ],
    ),
    (
        "GET",
        "/api/v1/channels/{id}/events",
        &["page:integer", "per_page:integer"],
    ),
    (
        "GET",
        "/api/v1/catalogue",
        &[
            "category1:string",
            "category2:string",
            "page:integer",
            "per_page:integer",
        ],
    ),
];

/// The documented success body of an operation: `(method, path, schema name)`.
pub const RESPONSE_SCHEMAS: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/resources", "Resource"),
    ("GET", "/api/v1/resources", "ResourcePage"),
    ("GET", "/api/v1/resources/{id}", "Resource"),
    ("PATCH", "/api/v1/resources/{id}", "Resource"),
    ("PUT", "/api/v1/resources/{id}/media", "Resource"),
    ("GET", "/api/v1/resources/{id}/jobs", "JobList"),
    ("GET", "/api/v1/resources/{id}/qc", "QcReportView"),
    ("GET", "/api/v1/channels/{id}/events", "ChannelEventPage"),
    ("GET", "/api/v1/channels/{id}/status", "ChannelStatus"),
];

fn schema_of(ty: &str) -> Value {
    match ty {
        "array" => json!({"type": "array", "items": {"type": "string"}}),
        other => json!({"type": other}),
    }
}

fn body_schema(fields: &[&str]) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for field in fields {
        let (name, ty) = field.split_once(':').unwrap_or((field, "string"));
        let (ty, optional) = match ty.strip_suffix('?') {
            Some(t) => (t, true),
            None => (ty, false),
        };
        properties.insert(name.to_owned(), schema_of(ty));
        if !optional {
            required.push(name.to_owned());
        }
    }
    json!({"type": "object", "properties": properties, "required": required})
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The OpenAPI document of the control plane.
pub fn document() -> Value {
    document_with(&[])
}

/// The OpenAPI document of the control plane and `extensions` (operations the
/// same server serves beside it).
pub fn document_with(extensions: &[Operation]) -> Value {
    let mut paths = serde_json::Map::new();
    let operations = OPERATIONS
        .iter()
        .chain(super::openapi_learning::OPERATIONS)
        .chain(super::security::OPERATIONS)
        .chain(super::settings::OPERATIONS)
        .chain(super::mfa::OPERATIONS)
        .chain(extensions);
    let queries = QUERY_PARAMETERS
        .iter()
        .chain(super::openapi_learning::QUERY_PARAMETERS)
        .chain(super::security::QUERY_PARAMETERS)
        .chain(super::mfa::QUERY_PARAMETERS);
    for o in operations {
        let mut operation = json!({
            "summary": o.summary,
            "tags": [o.tag],
            "operationId": format!("{} {}", o.method, o.path),
            "responses": {
                o.ok.to_string(): {"description": "success"},
                "429": {"description": "too many requests from this address (sign-in and unauthenticated calls are rate-limited); see Retry-After", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if o.body.is_some() {
            operation["responses"]["413"] = json!({"description": "request body over the limit ([limits] body_kib)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        }
        let mut params = path_params(o.path);
        for (method, path, names) in queries.clone() {
            if *method == o.method && *path == o.path {
                params.extend(names.iter().map(|field| {
                    let (name, ty) = field.split_once(':').unwrap_or((field, "string"));
                    json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}})
                }));
            }
        }
        if let Some((_, _, schema)) = RESPONSE_SCHEMAS
            .iter()
            .find(|(method, path, _)| *method == o.method && *path == o.path)
        {
            operation["responses"][o.ok.to_string()]["content"] = json!({"application/json":
                {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        }
        if !params.is_empty() {
            operation["parameters"] = Value::Array(params);
        }
        match o.auth {
            Auth::Bearer => operation["security"] = json!([{"bearer": []}]),
            Auth::Optional => operation["security"] = json!([{}, {"bearer": []}]),
            Auth::None => {}
        }
        if let Some(fields) = o.body {
            operation["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": body_schema(fields)}}});
        }
        let entry = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        entry[o.method.to_ascii_lowercase()] = operation;
    }
    let mut schemas = super::schemas::resource_schemas();
    super::qc::add_schemas(&mut schemas);
    schemas["Error"] = json!({"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "yanxiu control plane", "version": env!("CARGO_PKG_VERSION"),
            "description": "Accounts, roles, channels, resources, three-level review, audit and playback authorization. Errors: {\"error\":{\"code\",\"message\"}}, messages in zh-CN by default, English with Accept-Language: en. Times are milliseconds since the Unix epoch (UTC)."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas
        }
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve(
    axum::extract::State(state): axum::extract::State<super::AppState>,
) -> Json<Value> {
    Json(document_with(state.api_extensions))
}
