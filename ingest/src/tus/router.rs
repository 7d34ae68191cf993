//! The axum routes of the upload server. They live at `config.base_path` already
//! (`POST {base}`, `OPTIONS {base}`, and `HEAD`/`PATCH`/`DELETE`/`OPTIONS {base}/{id}`), so
//! the binary `merge`s this router rather than nesting it. `POST {base}/{id}` with
//! `X-HTTP-Method-Override: PATCH|DELETE|HEAD` is honoured for clients behind proxies that only
//! pass `GET`/`POST`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use super::error::{TusError, lang_of};
use super::protocol::{
    TUS_RESUMABLE, TUS_VERSION, check_resumable, creation_request, discovery_headers,
    encode_metadata, http_date, patch_request,
};
use super::service::{TusService, UploadView};
use super::store::from_ms;

/// The response headers browser tus clients must be able to read.
pub const EXPOSED_HEADERS: [&str; 11] = [
    "location",
    "upload-offset",
    "upload-length",
    "upload-metadata",
    "upload-expires",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    "yanxiu-resource-id",
];

const ALLOWED_HEADERS: [&str; 12] = [
    "authorization",
    "content-type",
    "accept-language",
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-metadata",
    "upload-checksum",
    "upload-defer-length",
    "upload-concat",
    "x-http-method-override",
    "x-requested-with",
];

/// The tus routes at `service.config().base_path`, with CORS for browser clients.
pub fn router(service: Arc<TusService>) -> Router {
    let base = service.config().base_path.trim_end_matches('/').to_owned();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::list([
            Method::GET,
            Method::POST,
            Method::HEAD,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ]))
        .allow_headers(AllowHeaders::list(
            ALLOWED_HEADERS.map(HeaderName::from_static),
        ))
        .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(86_400));
    Router::new()
        .route(&base, post(create).options(options))
        .route(&format!("{base}/{{id}}"), any(upload))
        .layer(DefaultBodyLimit::disable())
        .layer(cors)
        .layer(middleware::from_fn_with_state(
            service.clone(),
            discovery_before_cors,
        ))
        .with_state(service)
}

fn tus_headers(response: &mut Response) {
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
}

fn set(response: &mut Response, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        response.headers_mut().insert(name, value);
    }
}

fn with_view(mut response: Response, view: &UploadView) -> Response {
    tus_headers(&mut response);
    set(
        &mut response,
        "upload-offset",
        &view.info.offset.to_string(),
    );
    if !view.info.completed {
        set(
            &mut response,
            "upload-expires",
            &http_date(from_ms(view.info.expires_ms)),
        );
    }
    for (name, value) in &view.extra_headers {
        set(&mut response, name, value);
    }
    response
}

/// tower-http answers every `OPTIONS` as a CORS preflight; a plain `OPTIONS` (no
/// `Access-Control-Request-Method`) is tus discovery and is answered here instead.
async fn discovery_before_cors(
    State(service): State<Arc<TusService>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::OPTIONS
        && !request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut response = options(State(service)).await;
        if request.headers().contains_key(header::ORIGIN) {
            set(&mut response, "access-control-allow-origin", "*");
            set(
                &mut response,
                "access-control-expose-headers",
                &EXPOSED_HEADERS.join(","),
            );
        }
        return response;
    }
    next.run(request).await
}

async fn options(State(service): State<Arc<TusService>>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    for (name, value) in discovery_headers(service.config().max_size) {
        set(&mut response, name, &value);
    }
    response
}

async fn authorize(service: &TusService, headers: &HeaderMap) -> Result<String, TusError> {
    service
        .hooks()
        .authorize(headers)
        .await
        .map_err(TusError::Rejected)
}

async fn create(
    State(service): State<Arc<TusService>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = lang_of(&headers);
    let result = async {
        check_resumable(&headers)?;
        let owner = authorize(&service, &headers).await?;
        let request = creation_request(&headers, service.config().max_size)?;
        service.create(owner, request, body).await
    }
    .await;
    match result {
        Ok((view, problem)) => {
            let location = format!(
                "{}/{}",
                service.config().base_path.trim_end_matches('/'),
                view.info.id
            );
            let base = match problem {
                // Only a refusal of the finished upload is reported: data that broke off or
                // failed its checksum is simply not counted in Upload-Offset.
                Some(err @ TusError::Rejected(_)) => err.into_response_in(lang),
                _ => StatusCode::CREATED.into_response(),
            };
            let mut response = with_view(base, &view);
            set(&mut response, "location", &location);
            response
        }
        Err(err) => err.into_response_in(lang),
    }
}

async fn upload(
    State(service): State<Arc<TusService>>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = lang_of(&headers);
    let method = if method == Method::POST {
        match headers
            .get("x-http-method-override")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Method::from_bytes(v.trim().to_ascii_uppercase().as_bytes()).ok())
        {
            Some(overridden) => overridden,
            None => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
        }
    } else {
        method
    };
    if method == Method::OPTIONS {
        return options(State(service)).await;
    }
    let result = async {
        check_resumable(&headers)?;
        let owner = authorize(&service, &headers).await?;
        if method == Method::HEAD {
            let view = service.head(&owner, &id).await?;
            let mut response = with_view(StatusCode::OK.into_response(), &view);
            set(
                &mut response,
                "upload-length",
                &view.info.length.to_string(),
            );
            if !view.info.metadata.is_empty() {
                set(
                    &mut response,
                    "upload-metadata",
                    &encode_metadata(&view.info.metadata),
                );
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        } else if method == Method::PATCH {
            let request = patch_request(&headers)?;
            let view = service.patch(&owner, &id, request, body).await?;
            Ok(with_view(StatusCode::NO_CONTENT.into_response(), &view))
        } else if method == Method::DELETE {
            service.terminate(&owner, &id).await?;
            let mut response = StatusCode::NO_CONTENT.into_response();
            tus_headers(&mut response);
            Ok(response)
        } else {
            let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
            tus_headers(&mut response);
            Ok(response)
        }
    }
    .await;
    result.unwrap_or_else(|err: TusError| err.into_response_in(lang))
}
