//! What a finished upload becomes: the tus server's hooks, wired to the
//! control plane. Only a producer (or whoever the policy lets upload) with a
//! department may upload; a complete upload becomes a draft resource owned
//! by them, its file is kept under `sources/` (a hard link in the data
//! directory, or, with the shared upload store, the parts joined into the
//! storage object `sources/{resource}/source{.ext}`), and a processing job is
//! queued. Also the janitor that removes a deleted resource's objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::HeaderMap;
use yanxiu_control::jobs::NewJob;
use yanxiu_control::resources::janitor::{JanitorError, MediaJanitor, StoredMedia};
use yanxiu_control::resources::{ResourceMetadata, ResourceType, ResourceView};
use yanxiu_control::upload_rows::UploadRows;
use yanxiu_control::{ControlError, ControlPlane, now_ms};
use yanxiu_ingest::tus::{CompletedUpload, HookRejection, UploadBytes, UploadHooks};
use yanxiu_packager::storage::{PutOptions, Storage};

use super::metrics::Metrics;
use crate::worker::{PROCESS_UPLOAD, ProcessPayload};

/// The response header naming the resource an upload became.
pub const RESOURCE_HEADER: &str = "Yanxiu-Resource-Id";

/// The upload hooks of `yanxiu serve`.
#[derive(Debug)]
pub struct UploadPipeline {
    /// Accounts, resources, the job queue.
    pub control: Arc<ControlPlane>,
    /// Where accepted sources are kept (`DATA_DIR/sources`).
    pub sources_dir: PathBuf,
    /// The media storage (sources of the shared upload store go there).
    pub storage: Arc<dyn Storage>,
    /// The upload rows, with the shared upload store (`None` with the file store).
    pub rows: Option<UploadRows>,
    /// Attempts per processing job.
    pub max_attempts: u32,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

pub(super) fn rejection(e: &ControlError, status: u16) -> HookRejection {
    HookRejection {
        status,
        code: e.code().to_owned(),
        message_zh: e.message_zh(),
        message_en: e.message_en(),
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> HookRejection {
    tracing::error!(error = %e, "upload completion failed");
    HookRejection {
        status: 500,
        code: "internal".to_owned(),
        message_zh: "服务器内部错误，请稍后重试".to_owned(),
        message_en: "internal server error; please retry later".to_owned(),
    }
}

/// The Bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl UploadPipeline {
    /// Refuses an upload larger than the limit the system administrator set at run time
    /// (`PUT /api/v1/settings/uploads`); the server's own limit (`Tus-Max-Size`) applies
    /// besides.
    async fn check_size_limit(&self, headers: &HeaderMap) -> Result<(), HookRejection> {
        let limit = match self.control.settings().await {
            Ok(s) => s.uploads.max_size_bytes,
            Err(e) => return Err(internal(e)),
        };
        let length = headers
            .get("upload-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match (limit, length) {
            (Some(max), Some(len)) if len > max => Err(HookRejection {
                status: 413,
                code: "upload.too_large".to_owned(),
                message_zh: format!("文件大小 {len} 字节超过平台当前的上传上限 {max} 字节"),
                message_en: format!(
                    "the file's {len} bytes exceed the platform's current upload limit of {max} bytes"
                ),
            }),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl UploadHooks for UploadPipeline {
    async fn authorize(&self, headers: &HeaderMap) -> Result<String, HookRejection> {
        let token = bearer(headers).unwrap_or_default();
        let uploader = self
            .control
            .authorize_upload(token, "upload", now_ms())
            .await
            .map_err(|e| {
                let status = yanxiu_control::http::error::status_of(&e).as_u16();
                rejection(&e, status)
            })?;
        self.check_size_limit(headers).await?;
        Ok(format!("{}/{}", uploader.user_id, uploader.department_id))
    }

    async fn completed(
        &self,
        upload: CompletedUpload,
    ) -> Result<Vec<(String, String)>, HookRejection> {
        match &upload.bytes {
            UploadBytes::File(path) => self.completed_file(&upload, path).await,
            UploadBytes::Parts(parts) => self.completed_parts(&upload, parts).await,
        }
    }
}

impl UploadPipeline {
    /// The file store's upload: hard-linked into `DATA_DIR/sources/{resource}/`.
    async fn completed_file(
        &self,
        upload: &CompletedUpload,
        path: &Path,
    ) -> Result<Vec<(String, String)>, HookRejection> {
        // Idempotent: a retried completion finds the resource it made.
        let marker = self.sources_dir.join("by-upload").join(&upload.id);
        if let Ok(id) = tokio::fs::read_to_string(&marker).await {
            return Ok(vec![(RESOURCE_HEADER.to_owned(), id.trim().to_owned())]);
        }
        let (resource, file_name) = self.draft_of(upload).await?;
        let now = now_ms();

        // Keep the source beside the uploads (a hard link: no copy).
        let dir = self.sources_dir.join(&resource.id);
        let source = dir.join(format!("{}{}", upload.id, extension(&file_name)));
        link_or_copy(path, &dir, &source).await.map_err(internal)?;
        let payload = ProcessPayload {
            source: source.clone(),
            source_key: None,
            file_name,
            url: None,
        };
        queue_processing(
            &self.control,
            &resource.id,
            &source.to_string_lossy(),
            payload,
            self.max_attempts,
            now,
        )
        .await
        .map_err(internal)?;
        if let Some(parent) = marker.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(internal)?;
        }
        tokio::fs::write(&marker, &resource.id)
            .await
            .map_err(internal)?;
        self.metrics.upload_completed(upload.size);
        tracing::info!(resource = %resource.id, bytes = upload.size, "upload became a resource");
        Ok(vec![(RESOURCE_HEADER.to_owned(), resource.id)])
    }

    /// The draft resource a completed upload becomes (owner `user/department`,
    /// the fields sent with it), and the file name it was sent under.
    async fn draft_of(
        &self,
        upload: &CompletedUpload,
    ) -> Result<(ResourceView, String), HookRejection> {
        let (user_id, department_id) = upload
            .owner
            .split_once('/')
            .ok_or_else(|| internal("upload owner is malformed"))?;
        let file_name = upload
            .metadata
            .get("filename")
            .cloned()
            .unwrap_or_else(|| format!("{}.bin", upload.id));
        let resource = create_draft(
            &self.control,
            user_id,
            department_id,
            &upload.metadata,
            &file_name,
        )
        .await?;
        Ok((resource, file_name))
    }

    /// The shared store's upload: its parts joined into `sources/{resource}/source{.ext}` in
    /// storage (server side on S3), the job naming that key. The resource is remembered on
    /// the upload's row, so a retried completion finds it.
    async fn completed_parts(
        &self,
        upload: &CompletedUpload,
        parts: &[String],
    ) -> Result<Vec<(String, String)>, HookRejection> {
        let rows = self
            .rows
            .as_ref()
            .ok_or_else(|| internal("parts of an upload without the shared store"))?;
        let row = rows.get(&upload.id).await.map_err(internal)?;
        if let Some(id) = row.and_then(|r| r.resource_id) {
            return Ok(vec![(RESOURCE_HEADER.to_owned(), id)]);
        }
        let (resource, file_name) = self.draft_of(upload).await?;
        let key = source_key(&resource.id, &file_name);
        self.storage
            .concat(&key, parts, &PutOptions::for_key(&key))
            .await
            .map_err(internal)?;
        let payload = ProcessPayload {
            source: PathBuf::new(),
            source_key: Some(key.clone()),
            file_name,
            url: None,
        };
        queue_processing(
            &self.control,
            &resource.id,
            &key,
            payload,
            self.max_attempts,
            now_ms(),
        )
        .await
        .map_err(internal)?;
        rows.set_resource(&upload.id, &resource.id)
            .await
            .map_err(internal)?;
        self.metrics.upload_completed(upload.size);
        tracing::info!(resource = %resource.id, bytes = upload.size, parts = parts.len(), "upload became a resource");
        Ok(vec![(RESOURCE_HEADER.to_owned(), resource.id)])
    }
}

/// The storage key of a resource's uploaded source: `sources/{resource}/source{.ext}`.
pub fn source_key(resource_id: &str, file_name: &str) -> String {
    format!("sources/{resource_id}/source{}", extension(file_name))
}

/// A draft resource for `user_id` from the fields a producer sent with a file (`title`,
/// `lecturer`, `lecturer_unit`, `summary`, `resource_type`, `category1`, `category2`);
/// missing names fall back to the file name, the producer's name and department.
pub async fn create_draft(
    control: &ControlPlane,
    user_id: &str,
    department_id: &str,
    fields: &BTreeMap<String, String>,
    file_name: &str,
) -> Result<ResourceView, HookRejection> {
    let field = |k: &str| fields.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let lecturer = match field("lecturer") {
        Some(l) => l,
        None => control.user(user_id).await.map_err(internal)?.username,
    };
    let unit = match field("lecturer_unit") {
        Some(u) => u,
        None => {
            control
                .department(department_id)
                .await
                .map_err(internal)?
                .name
        }
    };
    // 资源类型: `audio` for a lecture without picture (the web app sends it for sound
    // files); the platform's audio-only rule reads it with the categories. The file is
    // already here: a type that is not one keeps the default (it can be edited later).
    let resource_type = field("resource_type").map_or_else(ResourceType::default, |t| {
        serde_json::from_value(serde_json::Value::String(t)).unwrap_or_else(|_| {
            tracing::warn!("upload names an unknown resource_type; the draft is a video");
            ResourceType::default()
        })
    });
    let metadata = ResourceMetadata {
        name: field("title").unwrap_or_else(|| stem(file_name)),
        lecturer_name: lecturer,
        lecturer_unit: unit,
        summary: field("summary").unwrap_or_default(),
        resource_type,
        category1: field("category1"),
        category2: field("category1").and(field("category2")),
        ..Default::default()
    };
    control
        .create_resource_for(user_id, department_id, metadata, now_ms())
        .await
        .map_err(|e| rejection(&e, 400))
}

/// Queues the processing of `media_ref` for a resource.
pub async fn queue_processing(
    control: &ControlPlane,
    resource_id: &str,
    media_ref: &str,
    payload: ProcessPayload,
    max_attempts: u32,
    now: i64,
) -> Result<String, ControlError> {
    let payload =
        serde_json::to_value(payload).map_err(|e| ControlError::Internal(e.to_string()))?;
    let (_, job_id) = control
        .start_processing(
            resource_id,
            media_ref,
            NewJob {
                kind: PROCESS_UPLOAD.to_owned(),
                resource_id: Some(resource_id.to_owned()),
                payload,
                max_attempts,
            },
            now,
        )
        .await?;
    Ok(job_id)
}

fn stem(file_name: &str) -> String {
    Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file_name.to_owned())
}

/// `.mp4` for `talk.MP4`; nothing when the name has no usable extension.
pub(super) fn extension(file_name: &str) -> String {
    Path::new(file_name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|e| format!(".{e}"))
        .unwrap_or_default()
}

async fn link_or_copy(from: &Path, dir: &Path, to: &Path) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    if tokio::fs::hard_link(from, to).await.is_err() {
        tokio::fs::copy(from, to).await?;
    }
    Ok(())
}

/// Removes a deleted resource's objects from storage (its ladders and its
/// source object, `sources/{resource}/`) and its sources from the data
/// directory.
#[derive(Debug)]
pub struct StorageJanitor {
    /// The ladder storage.
    pub storage: Arc<dyn Storage>,
    /// `DATA_DIR/sources`.
    pub sources_dir: PathBuf,
}

#[async_trait::async_trait]
impl MediaJanitor for StorageJanitor {
    async fn remove_media(
        &self,
        resource_id: &str,
        media: &StoredMedia,
    ) -> Result<(), JanitorError> {
        let fail = |e: &dyn std::fmt::Display| JanitorError(e.to_string());
        for prefix in &media.ladder_prefixes {
            self.storage
                .delete_prefix(prefix)
                .await
                .map_err(|e| fail(&e))?;
        }
        for key in &media.keys {
            self.storage.delete(key).await.map_err(|e| fail(&e))?;
        }
        self.storage
            .delete_prefix(&format!("sources/{resource_id}/"))
            .await
            .map_err(|e| fail(&e))?;
        let dir = self.sources_dir.join(resource_id);
        if tokio::fs::metadata(&dir).await.is_ok() {
            tokio::fs::remove_dir_all(&dir)
                .await
                .map_err(|e| fail(&e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_kept_lowercase_and_sane() {
        assert_eq!(extension("Talk.MP4"), ".mp4");
        assert_eq!(extension("noext"), "");
        assert_eq!(extension("x.a/b"), "");
        assert_eq!(stem("课程 1.mov"), "课程 1");
    }

    #[test]
    fn a_stored_source_is_named_after_its_resource_with_the_file_extension() {
        assert_eq!(source_key("r1", "Talk.MP4"), "sources/r1/source.mp4");
        assert_eq!(source_key("r1", "noext"), "sources/r1/source");
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
    }
}
