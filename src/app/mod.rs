//! The HTTP application of `yanxiu serve`: the control plane's API, the tus
//! upload server, playback, metrics and health checks in one router, and
//! the state they share.

pub mod api_doc;
pub mod cache_policy;
pub mod caption_playback;
pub mod captions;
pub mod hot_objects;
pub mod imports;
pub mod limits;
pub mod metrics;
pub mod playback;
pub mod playlist;
pub mod rate_limit;
pub mod reprocess;
pub mod security_headers;
pub mod upload_store;
pub mod uploads;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use yanxiu_control::ControlPlane;
use yanxiu_ingest::tus::TusService;
use yanxiu_packager::storage::{S3Storage, Storage};

use crate::config::S3Delivery;
use metrics::Metrics;

/// What the playback, metrics and health handlers share.
#[derive(Debug)]
pub struct AppContext {
    /// The control plane.
    pub control: Arc<ControlPlane>,
    /// The ladder storage.
    pub storage: Arc<dyn Storage>,
    /// The same storage as S3, when it is (for presigned redirects).
    pub s3: Option<Arc<S3Storage>>,
    /// How S3 objects reach players.
    pub delivery: S3Delivery,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Recently served objects of complete ladders.
    pub hot: hot_objects::HotObjects,
}

/// The whole HTTP surface: control plane (`/api/v1`, `/healthz`), uploads
/// (`/api/v1/uploads`), caption files (`/api/v1/resources/{id}/captions/…`), playback
/// (`/play/{id}/…`), `/metrics`, `/readyz`, and the web app
/// (`/`, `/setup`, `/assets/…`).
pub fn router(
    context: Arc<AppContext>,
    control: yanxiu_control::AppState,
    uploads: Arc<TusService>,
    pipeline: Arc<uploads::UploadPipeline>,
    setup: Arc<web::SetupGate>,
) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::RANGE, header::AUTHORIZATION, header::IF_NONE_MATCH])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
            header::ETAG,
        ]);
    let play = Router::new()
        .route("/play/{resource_id}/{*path}", get(playback::play))
        .layer(cors)
        .with_state(context.clone());
    let imports = Router::new()
        .route("/api/v1/imports", axum::routing::post(imports::create))
        .with_state(pipeline.clone());
    let captions = captions::router(control.clone(), context.storage.clone());
    let reprocess = reprocess::router(control.clone(), pipeline.clone());
    let ops = Router::new()
        .route("/metrics", get(render_metrics))
        .route("/readyz", get(readyz))
        .with_state(context);
    yanxiu_ingest::tus::router(uploads)
        .merge(play)
        .merge(imports)
        .merge(captions)
        .merge(reprocess)
        .merge(ops)
        .merge(web::router(setup))
        .merge(yanxiu_control::router(control))
}

/// Wraps the complete router (every route merged in) in the layers every
/// request passes: security headers outermost (so refusals carry them too),
/// then the rate and body limits.
pub fn guarded(
    router: Router,
    limits: Arc<limits::RequestLimits>,
    headers: Arc<security_headers::SecurityHeaders>,
) -> Router {
    router
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            headers,
            security_headers::add,
        ))
}

async fn render_metrics(State(app): State<Arc<AppContext>>) -> Response {
    let text = app.metrics.render(&app.control).await;
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// Ready when the database answers and the storage can be listed.
async fn readyz(State(app): State<Arc<AppContext>>) -> Response {
    let db = app.control.ping().await.is_ok();
    let storage = app.storage.list("readyz-probe/").await.is_ok();
    let status = if db && storage {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({ "database": db, "storage": storage })),
    )
        .into_response()
}
