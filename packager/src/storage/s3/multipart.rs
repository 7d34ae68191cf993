//! Multipart upload of one large body: create, upload the parts a few at a
//! time, complete; on any failure abort, so no invisible parts are billed.
//! Also the server-side join of existing objects ([`copy_parts`]: one
//! `UploadPartCopy` per object, no bytes through this process).

use std::io;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinSet;

use super::request_failed;
use crate::storage::{PutOptions, StorageError};

/// Parts uploaded concurrently.
const PARTS_IN_FLIGHT: usize = 4;

/// Uploads `body` as `object_key` in parts of `part_size` bytes
/// (`error_key` names the object in errors).
pub(super) async fn upload(
    client: &Client,
    bucket: &str,
    object_key: &str,
    error_key: &str,
    body: Bytes,
    opts: &PutOptions,
    part_size: u64,
) -> Result<(), StorageError> {
    let upload_id = create(client, bucket, object_key, error_key, opts).await?;
    tracing::debug!(key = %object_key, bytes = body.len(), part_size, "multipart upload started");

    let result = upload_parts_and_complete(
        client, bucket, object_key, error_key, &upload_id, body, part_size,
    )
    .await;
    abort_on_error(client, bucket, object_key, &upload_id, &result).await;
    result
}

/// Joins the objects `sources` (object keys in `bucket`, in order) into `object_key` with a
/// multipart upload whose parts are server-side copies (`UploadPartCopy`).
pub(super) async fn copy_parts(
    client: &Client,
    bucket: &str,
    object_key: &str,
    error_key: &str,
    sources: &[String],
    opts: &PutOptions,
) -> Result<(), StorageError> {
    let upload_id = create(client, bucket, object_key, error_key, opts).await?;
    let result =
        copy_and_complete(client, bucket, object_key, error_key, &upload_id, sources).await;
    abort_on_error(client, bucket, object_key, &upload_id, &result).await;
    result
}

async fn create(
    client: &Client,
    bucket: &str,
    object_key: &str,
    error_key: &str,
    opts: &PutOptions,
) -> Result<String, StorageError> {
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(object_key)
        .content_type(&opts.content_type)
        .set_cache_control(opts.cache_control.clone())
        .send()
        .await
        .map_err(|error| request_failed(error_key, "CreateMultipartUpload", error))?;
    Ok(created
        .upload_id()
        .ok_or_else(|| StorageError::Io {
            key: error_key.to_string(),
            source: io::Error::other("S3 CreateMultipartUpload returned no upload id"),
        })?
        .to_string())
}

async fn copy_and_complete(
    client: &Client,
    bucket: &str,
    object_key: &str,
    error_key: &str,
    upload_id: &str,
    sources: &[String],
) -> Result<(), StorageError> {
    let mut completed = Vec::with_capacity(sources.len());
    for (index, source) in sources.iter().enumerate() {
        let part_number = i32::try_from(index + 1).map_err(|_| StorageError::Io {
            key: error_key.to_string(),
            source: io::Error::other("too many parts to join"),
        })?;
        let output = client
            .upload_part_copy()
            .bucket(bucket)
            .key(object_key)
            .upload_id(upload_id)
            .part_number(part_number)
            .copy_source(format!("{bucket}/{source}"))
            .send()
            .await
            .map_err(|error| {
                // The object to copy is missing: S3 says NoSuchKey, some stores a bare 404.
                if matches!(error.code(), Some("NoSuchKey" | "NotFound")) {
                    StorageError::NotFound {
                        key: error_key.to_string(),
                    }
                } else {
                    request_failed(error_key, "UploadPartCopy", error)
                }
            })?;
        let e_tag = output
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_string);
        completed.push(
            CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(e_tag)
                .build(),
        );
    }
    complete(client, bucket, object_key, upload_id, completed, error_key).await?;
    tracing::debug!(key = %object_key, parts = sources.len(), "objects joined server side");
    Ok(())
}

/// `CompleteMultipartUpload` of `upload_id` with its `parts`, in order.
async fn complete(
    client: &Client,
    bucket: &str,
    object_key: &str,
    upload_id: &str,
    parts: Vec<CompletedPart>,
    error_key: &str,
) -> Result<(), StorageError> {
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(object_key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|error| request_failed(error_key, "CompleteMultipartUpload", error))?;
    Ok(())
}

/// Aborts the multipart upload when `result` failed, so no invisible parts are billed.
async fn abort_on_error(
    client: &Client,
    bucket: &str,
    object_key: &str,
    upload_id: &str,
    result: &Result<(), StorageError>,
) {
    if result.is_err() {
        let abort = client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(object_key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(error) = abort {
            tracing::warn!(
                key = %object_key,
                error = %aws_sdk_s3::error::DisplayErrorContext(&error),
                "aborting a failed multipart upload failed; the bucket lifecycle rule must clean it up"
            );
        }
    }
}

async fn upload_parts_and_complete(
    client: &Client,
    bucket: &str,
    object_key: &str,
    error_key: &str,
    upload_id: &str,
    body: Bytes,
    part_size: u64,
) -> Result<(), StorageError> {
    let part_size = usize::try_from(part_size).unwrap_or(usize::MAX).max(1);
    let mut pending = (0..body.len())
        .step_by(part_size)
        .enumerate()
        .map(|(index, start)| {
            let end = start.saturating_add(part_size).min(body.len());
            // Part numbers start at 1; at most 10 000 parts by construction.
            (
                i32::try_from(index + 1).unwrap_or(i32::MAX),
                body.slice(start..end),
            )
        });
    let mut in_flight = JoinSet::new();
    let mut completed = Vec::new();
    loop {
        while in_flight.len() < PARTS_IN_FLIGHT {
            let Some((part_number, chunk)) = pending.next() else {
                break;
            };
            let request = client
                .upload_part()
                .bucket(bucket)
                .key(object_key)
                .upload_id(upload_id)
                .part_number(part_number)
                .content_length(chunk.len() as i64)
                .body(chunk.into());
            in_flight.spawn(async move { (part_number, request.send().await) });
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (part_number, sent) = joined.map_err(|join_error| StorageError::Io {
            key: error_key.to_string(),
            source: io::Error::other(join_error),
        })?;
        let output = sent.map_err(|error| request_failed(error_key, "UploadPart", error))?;
        completed.push(
            CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(output.e_tag().map(str::to_string))
                .build(),
        );
    }
    completed.sort_by_key(|part| part.part_number());
    complete(client, bucket, object_key, upload_id, completed, error_key).await?;
    tracing::debug!(key = %object_key, "multipart upload completed");
    Ok(())
}
