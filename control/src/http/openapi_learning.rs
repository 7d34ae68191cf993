//! The OpenAPI entries of learning records and the quality of the catalogue: playback events,
//! viewing figures, credit hours, complaints, retention, ratings and comments. Rendered into
//! the one document by [`super::openapi`].

use super::openapi::{Auth, Operation, op};

use Auth::{Bearer, None as Open};

/// The operations.
pub const OPERATIONS: &[Operation] = &[
    op(
        "POST",
        "/api/v1/playback/events",
        "learning",
        "Report playback events (start, play, heartbeat, seek, pause, end with positions) with the playback token in the body (or the grant's events_token for public targets); at most 50 events per request, deduplicated by seq, rate-limited (429 rate_limited with Retry-After), absurd positions and clocks refused with 400 and nothing stored; 503 busy when the writer's queue is full",
        Open,
        Some(&[
            "token:string",
            "resource_id:string?",
            "channel_id:string?",
            "playback_id:string",
            "events:array",
        ]),
        200,
    ),
    op(
        "GET",
        "/api/v1/analytics/resources",
        "analytics",
        "Viewing figures per resource in the caller's reach (views, unique viewers, watch time, completion, peak concurrent viewers), most viewed first (paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/analytics/resources/{id}",
        "analytics",
        "One resource's viewing figures with a series per day or month (Beijing time)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/analytics/channels",
        "analytics",
        "Viewing figures per live channel in the caller's reach (paginated)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/analytics/channels/{id}",
        "analytics",
        "One live channel's viewing figures with a series per day or month",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/analytics/departments",
        "analytics",
        "Viewing figures per department (its resources and channels)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/analytics/export",
        "analytics",
        "Viewing figures per resource (or kind=channel) as CSV; headers in the Accept-Language",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/me/learning",
        "learning",
        "The caller's transcript: watched time per resource, credit hours (学时) earned and the total",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/learning/credits",
        "learning",
        "Credit hours earned by a department's learners (department admin: their own; centre: any)",
        Bearer,
        None,
        200,
    ),
    op(
        "GET",
        "/api/v1/learning/credits/export",
        "learning",
        "The same credit hours as CSV (Beijing time); headers in the Accept-Language",
        Bearer,
        None,
        200,
    ),
];

/// Query parameters: `(method, path, [name:type])`.
pub const QUERY_PARAMETERS: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/api/v1/analytics/resources",
        &[
            "from:integer",
            "to:integer",
            "department_id:string",
            "page:integer",
            "per_page:integer",
        ],
    ),
    (
        "GET",
        "/api/v1/analytics/channels",
        &[
            "from:integer",
            "to:integer",
            "department_id:string",
            "page:integer",
            "per_page:integer",
        ],
    ),
    (
        "GET",
        "/api/v1/analytics/resources/{id}",
        &["from:integer", "to:integer", "bucket:string"],
    ),
    (
        "GET",
        "/api/v1/analytics/channels/{id}",
        &["from:integer", "to:integer", "bucket:string"],
    ),
    (
        "GET",
        "/api/v1/analytics/departments",
        &["from:integer", "to:integer", "department_id:string"],
    ),
    (
        "GET",
        "/api/v1/analytics/export",
        &[
            "from:integer",
            "to:integer",
            "department_id:string",
            "kind:string",
        ],
    ),
    (
        "GET",
        "/api/v1/learning/credits",
        &["from:integer", "to:integer", "department_id:string"],
    ),
    (
        "GET",
        "/api/v1/learning/credits/export",
        &["from:integer", "to:integer", "department_id:string"],
    ),
];
