//! `POST /api/v1/imports`: a resource from a link (Table 2's source
//! address, e.g. a cloud-drive file). The producer gets a draft resource at
//! once (202); a worker fetches the file (size-capped, time-limited,
//! private addresses refused unless configured) and processes it like an
//! upload.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use yanxiu_control::http::extract::ApiJson;
use yanxiu_control::now_ms;

use super::uploads::{UploadPipeline, create_draft, extension, internal, queue_processing};
use crate::worker::ProcessPayload;
use yanxiu_ingest::tus::{HookRejection, UploadHooks};

/// The request body.
#[derive(Debug, Deserialize)]
pub struct ImportRequest {
    /// An http(s) link to the file.
    pub url: String,
    /// Resource name; default: the file name in the link.
    #[serde(default)]
    pub title: Option<String>,
    /// Lecturer; default: the producer.
    #[serde(default)]
    pub lecturer: Option<String>,
    /// Lecturer's unit; default: the producer's department.
    #[serde(default)]
    pub lecturer_unit: Option<String>,
    /// Summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// 资源类型 (`video`, `audio` for a lecture without picture, …); default `video`.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// 一级分类.
    #[serde(default)]
    pub category1: Option<String>,
    /// 二级分类.
    #[serde(default)]
    pub category2: Option<String>,
}

fn refuse(r: HookRejection, headers: &HeaderMap) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    yanxiu_control::http::error::error_answer(
        status,
        &r.code,
        &r.message_zh,
        &r.message_en,
        headers,
    )
}

fn invalid_url() -> HookRejection {
    HookRejection {
        status: 400,
        code: "import.invalid_url".to_owned(),
        message_zh: "链接须为 http 或 https 地址".to_owned(),
        message_en: "the link must be an http or https URL".to_owned(),
    }
}

/// `POST /api/v1/imports`.
pub async fn create(
    State(pipeline): State<Arc<UploadPipeline>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ImportRequest>,
) -> Response {
    let owner = match pipeline.authorize(&headers).await {
        Ok(o) => o,
        Err(r) => return refuse(r, &headers),
    };
    let url = request.url.trim().to_owned();
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.len() > 4096 {
        return refuse(invalid_url(), &headers);
    }
    let Some((user_id, department_id)) = owner.split_once('/') else {
        return refuse(internal("upload owner is malformed"), &headers);
    };
    let file_name = link_file_name(&url);
    let mut fields = BTreeMap::new();
    for (k, v) in [
        ("title", &request.title),
        ("lecturer", &request.lecturer),
        ("lecturer_unit", &request.lecturer_unit),
        ("summary", &request.summary),
        ("resource_type", &request.resource_type),
        ("category1", &request.category1),
        ("category2", &request.category2),
    ] {
        if let Some(v) = v {
            fields.insert(k.to_owned(), v.clone());
        }
    }
    let resource = match create_draft(
        &pipeline.control,
        user_id,
        department_id,
        &fields,
        &file_name,
    )
    .await
    {
        Ok(r) => r,
        Err(r) => return refuse(r, &headers),
    };
    let payload = import_payload(&pipeline.sources_dir, &resource.id, &url);
    match queue_processing(
        &pipeline.control,
        &resource.id,
        &url,
        payload,
        pipeline.max_attempts,
        now_ms(),
    )
    .await
    {
        Ok(job_id) => (
            StatusCode::ACCEPTED,
            Json(json!({ "resource_id": resource.id, "job_id": job_id })),
        )
            .into_response(),
        Err(e) => refuse(internal(e), &headers),
    }
}

/// The file name at the end of a link (`import` when it names none).
fn link_file_name(url: &str) -> String {
    url.split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("import")
        .to_owned()
}

/// The processing job's input for an import of `url` by the resource `resource_id`: the
/// worker fetches the link into a new file under the resource's sources first.
pub(super) fn import_payload(sources_dir: &Path, resource_id: &str, url: &str) -> ProcessPayload {
    let file_name = link_file_name(url);
    let source = sources_dir.join(resource_id).join(format!(
        "import-{}{}",
        uuid::Uuid::new_v4().simple(),
        extension(&file_name)
    ));
    ProcessPayload {
        source,
        source_key: None,
        file_name,
        url: Some(url.to_owned()),
    }
}
