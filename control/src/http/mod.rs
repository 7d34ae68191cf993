//! The REST API (`/api/v1`) over the [`ControlPlane`], with axum.
//!
//! [`router`] builds the whole `axum::Router` (API, `/healthz`, OpenAPI document, error
//! localisation) from an [`AppState`]; the `serve` command (and later the media services) can
//! merge further routes into it. Every route is registered through a [`RouteTable`], which
//! records it so that a test can check the OpenAPI document lists every route.

mod accounts;
mod channels;
mod complaints;
pub mod error;
pub mod extract;
mod feedback;
mod learning;
mod live;
mod mfa;
pub mod openapi;
pub mod openapi_learning;
mod org_audit;
mod qc;
mod resources;
mod retention;
pub mod schemas;
mod security;
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};

use crate::live_status::LiveStatusSource;
use crate::plane::ControlPlane;
use crate::resources::{MediaJanitor, NoopJanitor};

/// A source of the current time (ms since the Unix epoch). Tests use [`ManualClock`].
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: i64) -> ManualClock {
        ManualClock(AtomicI64::new(start))
    }
    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The control plane.
    pub control: Arc<ControlPlane>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Removes the stored objects of deleted resources (default: removes nothing).
    pub janitor: Arc<dyn MediaJanitor>,
    /// Operations served beside the control plane by the same server (uploads,
    /// playback, …), listed in the OpenAPI document too.
    pub api_extensions: &'static [openapi::Operation],
    /// The live figures of channels, lent by the serving process (none: channels show idle).
    pub live_status: Option<Arc<dyn LiveStatusSource>>,
}

impl AppState {
    /// State over a control plane with the system clock and no storage to clean.
    pub fn new(control: Arc<ControlPlane>) -> AppState {
        AppState {
            control,
            clock: Arc::new(SystemClock),
            janitor: Arc::new(NoopJanitor),
            api_extensions: &[],
            live_status: None,
        }
    }

    /// The same state with `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> AppState {
        AppState { clock, ..self }
    }

    /// The same state with `janitor` removing the stored objects of deleted resources.
    pub fn with_janitor(self, janitor: Arc<dyn MediaJanitor>) -> AppState {
        AppState { janitor, ..self }
    }

    /// The same state documenting `operations` (served by the same server) in
    /// the OpenAPI document.
    pub fn with_api_extensions(self, api_extensions: &'static [openapi::Operation]) -> AppState {
        AppState {
            api_extensions,
            ..self
        }
    }

    /// The same state with `source` lending the live figures of channels.
    pub fn with_live_status(self, source: Arc<dyn LiveStatusSource>) -> AppState {
        AppState {
            live_status: Some(source),
            ..self
        }
    }

    /// Now, from the state's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// A router under construction that remembers every `(method, path)` it registers.
#[derive(Debug)]
pub struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable {
            router: Router::new(),
            routes: Vec::new(),
        }
    }
}

macro_rules! method_fn {
    ($name:ident, $method:ident) => {
        /// Registers a handler for this method.
        pub fn $name<H, T>(self, path: &'static str, handler: H) -> RouteTable
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.add(Method::$method, path, routing::$name(handler))
        }
    };
}

impl RouteTable {
    fn add(
        mut self,
        method: Method,
        path: &'static str,
        route: MethodRouter<AppState>,
    ) -> RouteTable {
        self.routes.push((method, path));
        self.router = self.router.route(path, route);
        self
    }
    method_fn!(get, GET);
    method_fn!(post, POST);
    method_fn!(put, PUT);
    method_fn!(patch, PATCH);
    method_fn!(delete, DELETE);

    /// The registered `(method, path)` pairs.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }
}

/// Every control-plane route (API paths include the `/api/v1` prefix), unbound to state.
pub fn route_table() -> RouteTable {
    let table = RouteTable::default().get("/healthz", healthz);
    let table = accounts::routes(table);
    let table = org_audit::routes(table);
    let table = channels::routes(table);
    let table = live::routes(table);
    let table = resources::routes(table);
    let table = qc::routes(table);
    let table = learning::routes(table);
    let table = complaints::routes(table);
    let table = retention::routes(table);
    let table = feedback::routes(table);
    let table = security::routes(table);
    let table = settings::routes(table);
    let table = mfa::routes(table);
    table.get("/api/v1/openapi.json", openapi::serve)
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// The complete control-plane router for `state`: all routes, JSON 404s, localised errors.
pub fn router(state: AppState) -> Router {
    route_table()
        .router
        .fallback(error::route_not_found)
        .layer(axum::middleware::from_fn(error::localize_errors))
        .with_state(state)
}
