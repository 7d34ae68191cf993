//! A [`Storage`] on an S3 bucket (AWS or any S3-compatible service) through
//! aws-sdk-s3: keys live under a configurable prefix inside the bucket,
//! large bodies go up as multipart uploads, every request is retried with
//! backoff, and [`S3Storage::presigned_get`] hands players a time-limited
//! URL to the object store.

mod config;
mod multipart;

use std::io;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::Bytes;

pub use config::{MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, S3Config, S3ConfigError};

use super::{
    InvalidKeyReason, ObjectInfo, ObjectStream, PutOptions, Storage, StorageError, clamp_range,
    content_type_for, validate_key, validate_prefix,
};

/// Keys per `DeleteObjects` request (the S3 maximum).
const DELETE_BATCH: usize = 1000;
/// Longest validity of a presigned URL (the SigV4 maximum).
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Objects in one bucket under a key prefix.
///
/// Content type and cache control are stored with each object and served by
/// the object store. The credentials need `s3:GetObject`, `s3:PutObject`,
/// `s3:DeleteObject`, `s3:AbortMultipartUpload` on the objects and
/// `s3:ListBucket` on the bucket (without it S3 answers a read of a missing
/// key with 403 instead of 404, which surfaces as an I/O error rather than
/// [`StorageError::NotFound`]). A multipart upload that fails is aborted; one cut short
/// by the process dying is left to the bucket's lifecycle rule
/// (`AbortIncompleteMultipartUpload`), which every bucket used for media
/// should have.
#[derive(Clone)]
pub struct S3Storage {
    client: Client,
    config: S3Config,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // S3Config's Debug redacts the credentials.
        f.debug_struct("S3Storage")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Validates `config` and builds the client: static credentials when
    /// given, otherwise the default AWS credential chain (resolved lazily, on
    /// the first request); retries with exponential backoff up to
    /// `max_attempts`; checksums only where the S3 API requires them, so that
    /// S3-compatible services that predate flexible checksums work.
    pub async fn new(config: S3Config) -> Result<Self, S3ConfigError> {
        config.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()));
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "yanxiu-config",
            ));
        }
        let shared = loader.load().await;
        let retry = RetryConfig::standard()
            .with_max_attempts(config.max_attempts)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(10));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build();
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            .retry_config(retry)
            .timeout_config(timeouts)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let client = Client::from_conf(builder.build());
        tracing::debug!(bucket = %config.bucket, prefix = %config.prefix, endpoint = ?config.endpoint, "S3 storage ready");
        Ok(Self { client, config })
    }

    /// The SDK client (for operations the [`Storage`] trait does not cover).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The settings this storage was built from.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The object key inside the bucket for a storage key: the configured
    /// prefix followed by `key`.
    pub fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.config.prefix)
    }

    /// A URL from which anyone can `GET` the object until `expires` has
    /// passed (at most [`MAX_PRESIGNED_EXPIRY`]), for playback that redirects
    /// players to the object store. The URL is a bearer credential: do not
    /// log it. Whether the object exists is not checked.
    pub async fn presigned_get(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<String, StorageError> {
        validate_key(key)?;
        let presigning =
            PresigningConfig::expires_in(expires).map_err(|error| StorageError::Io {
                key: key.to_string(),
                source: io::Error::new(io::ErrorKind::InvalidInput, error),
            })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(self.object_key(key))
            .presigned(presigning)
            .await
            .map_err(|error| request_failed(key, "presign GetObject", error))?;
        Ok(request.uri().to_string())
    }

    /// Size of the object, `None` if absent.
    async fn size_of(&self, key: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.head(key).await?.map(|info| info.size))
    }

    /// `GetObject` of the bytes `range` (not empty) of `key`: a missing
    /// object is `NotFound`, an unsatisfiable range `InvalidRange`.
    async fn get_object_range(
        &self,
        key: &str,
        range: &Range<u64>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, StorageError> {
        match self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(self.object_key(key))
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
        {
            Ok(output) => Ok(output),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                Err(StorageError::NotFound {
                    key: key.to_string(),
                })
            }
            Err(error) if is_invalid_range(&error) => Err(self.invalid_range(key, range).await),
            Err(error) => Err(request_failed(key, "GetObject", error)),
        }
    }

    /// The error for an unsatisfiable range, with the object's current size.
    async fn invalid_range(&self, key: &str, range: &Range<u64>) -> StorageError {
        match self.size_of(key).await {
            Ok(None) => StorageError::NotFound {
                key: key.to_string(),
            },
            Ok(Some(size)) => StorageError::InvalidRange {
                key: key.to_string(),
                start: range.start,
                end: range.end,
                size,
            },
            Err(error) => error,
        }
    }

    /// Every object (full key, size, time) whose full key starts with
    /// `full_prefix`, following continuation tokens.
    async fn list_full(
        &self,
        full_prefix: &str,
        error_key: &str,
    ) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.config.bucket)
                .prefix(full_prefix)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(|error| request_failed(error_key, "ListObjectsV2", error))?;
            for object in page.contents() {
                let Some(full_key) = object.key() else {
                    continue;
                };
                objects.push(ObjectInfo {
                    key: full_key.to_string(),
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    content_type: content_type_for(full_key).to_string(),
                    last_modified: object.last_modified().and_then(system_time),
                });
            }
            match (page.is_truncated(), page.next_continuation_token()) {
                (Some(true), Some(token)) => continuation = Some(token.to_string()),
                _ => break,
            }
        }
        Ok(objects)
    }
}

/// A failed SDK request as a storage error, with the service's error code
/// and message (never the credentials: the SDK does not put them in errors).
fn request_failed<E, R>(key: &str, operation: &str, error: SdkError<E, R>) -> StorageError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let kind = match &error {
        SdkError::TimeoutError(_) => io::ErrorKind::TimedOut,
        SdkError::DispatchFailure(_) => io::ErrorKind::ConnectionRefused,
        _ => io::ErrorKind::Other,
    };
    StorageError::Io {
        key: key.to_string(),
        source: io::Error::new(
            kind,
            format!("S3 {operation} failed: {}", DisplayErrorContext(&error)),
        ),
    }
}

fn system_time(time: &DateTime) -> Option<SystemTime> {
    SystemTime::try_from(*time).ok()
}

/// Whether a failed GetObject was refused as an unsatisfiable range (416).
fn is_invalid_range(error: &SdkError<GetObjectError, HttpResponse>) -> bool {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
        == Some(416)
        || error
            .as_service_error()
            .and_then(ProvideErrorMetadata::code)
            == Some("InvalidRange")
}

#[async_trait::async_trait]
impl Storage for S3Storage {
    async fn put(&self, key: &str, body: Bytes, opts: &PutOptions) -> Result<(), StorageError> {
        validate_key(key)?;
        let object_key = self.object_key(key);
        let length = body.len() as u64;
        if length > self.config.multipart_threshold {
            let part_size = self.config.part_size_for(length);
            return multipart::upload(
                &self.client,
                &self.config.bucket,
                &object_key,
                key,
                body,
                opts,
                part_size,
            )
            .await;
        }
        self.client
            .put_object()
            .bucket(&self.config.bucket)
            .key(object_key)
            .content_type(&opts.content_type)
            .set_cache_control(opts.cache_control.clone())
            .content_length(i64::try_from(length).unwrap_or(i64::MAX))
            .body(body.into())
            .send()
            .await
            .map_err(|error| request_failed(key, "PutObject", error))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        validate_key(key)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(StorageError::NotFound {
                    key: key.to_string(),
                });
            }
            Err(error) => return Err(request_failed(key, "GetObject", error)),
        };
        read_body(key, output.body).await
    }

    async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ObjectStream, StorageError> {
        validate_key(key)?;
        let size = self
            .size_of(key)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_string(),
            })?;
        let range = clamp_range(key, &range.unwrap_or(0..size), size)?;
        if range.start >= range.end {
            return Ok(ObjectStream::from_bytes(size, range, Bytes::new()));
        }
        let output = self.get_object_range(key, &range).await?;
        if output.content_range().is_none() && range != (0..size) {
            // The service ignored the Range header: take the part asked for from the whole.
            let whole = read_body(key, output.body).await?;
            let part = whole.slice(range.start as usize..(range.end as usize).min(whole.len()));
            return Ok(ObjectStream::from_bytes(size, range, part));
        }
        let owned_key = key.to_string();
        let body = futures::stream::unfold(Some(output.body), move |state| {
            let key = owned_key.clone();
            async move {
                let mut body = state?;
                match body.next().await {
                    None => None,
                    Some(Ok(chunk)) => Some((Ok(chunk), Some(body))),
                    Some(Err(error)) => Some((
                        Err(StorageError::Io {
                            key,
                            source: io::Error::other(format!(
                                "S3 response body could not be read: {}",
                                DisplayErrorContext(&error)
                            )),
                        }),
                        None,
                    )),
                }
            }
        });
        Ok(ObjectStream {
            size,
            range,
            body: Box::pin(body),
        })
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        validate_key(key)?;
        if range.start >= range.end {
            // No bytes to fetch: only the size decides (HTTP cannot express an empty range).
            let size = self
                .size_of(key)
                .await?
                .ok_or_else(|| StorageError::NotFound {
                    key: key.to_string(),
                })?;
            clamp_range(key, &range, size)?;
            return Ok(Bytes::new());
        }
        let output = self.get_object_range(key, &range).await?;
        let honoured_range = output.content_range().is_some();
        let body = read_body(key, output.body).await?;
        if honoured_range {
            return Ok(body);
        }
        // The service ignored the Range header and sent the whole object.
        let clamped = clamp_range(key, &range, body.len() as u64)?;
        Ok(body.slice(clamped.start as usize..clamped.end as usize))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        validate_key(key)?;
        let output = match self
            .client
            .head_object()
            .bucket(&self.config.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(None);
            }
            Err(error) => return Err(request_failed(key, "HeadObject", error)),
        };
        Ok(Some(ObjectInfo {
            key: key.to_string(),
            size: output
                .content_length()
                .and_then(|length| u64::try_from(length).ok())
                .unwrap_or(0),
            content_type: output
                .content_type()
                .map_or_else(|| content_type_for(key).to_string(), str::to_string),
            last_modified: output.last_modified().and_then(system_time),
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        validate_prefix(prefix)?;
        let bucket_prefix = &self.config.prefix;
        let mut objects: Vec<ObjectInfo> = self
            .list_full(&self.object_key(prefix), prefix)
            .await?
            .into_iter()
            .filter_map(|mut object| {
                let key = object.key.strip_prefix(bucket_prefix.as_str())?.to_string();
                if validate_key(&key).is_err() {
                    // Put there by something else; not addressable through this storage.
                    tracing::debug!(key = %object.key, "skipping an object whose key breaks the key rules");
                    return None;
                }
                object.content_type = content_type_for(&key).to_string();
                object.key = key;
                Some(object)
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        // S3 answers a delete of a missing key with success.
        self.client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|error| request_failed(key, "DeleteObject", error))?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::InvalidKey {
                key: String::new(),
                reason: InvalidKeyReason::EmptyPrefix,
            });
        }
        validate_prefix(prefix)?;
        // Every object under the prefix goes, including any whose key this
        // storage could not address (put there by other tools).
        let keys: Vec<String> = self
            .list_full(&self.object_key(prefix), prefix)
            .await?
            .into_iter()
            .map(|object| object.key)
            .collect();
        let mut deleted = 0u64;
        for batch in keys.chunks(DELETE_BATCH) {
            let identifiers = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| StorageError::Io {
                    key: prefix.to_string(),
                    source: io::Error::other(error),
                })?;
            let delete = Delete::builder()
                .set_objects(Some(identifiers))
                .quiet(true)
                .build()
                .map_err(|error| StorageError::Io {
                    key: prefix.to_string(),
                    source: io::Error::other(error),
                })?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.config.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|error| request_failed(prefix, "DeleteObjects", error))?;
            if let Some(failure) = output.errors().first() {
                return Err(StorageError::Io {
                    key: failure.key().unwrap_or(prefix).to_string(),
                    source: io::Error::other(format!(
                        "S3 DeleteObjects could not delete {} of {} objects: {} {}",
                        output.errors().len(),
                        batch.len(),
                        failure.code().unwrap_or("unknown error"),
                        failure.message().unwrap_or(""),
                    )),
                });
            }
            deleted += batch.len() as u64;
        }
        Ok(deleted)
    }

    async fn concat(
        &self,
        key: &str,
        parts: &[String],
        opts: &PutOptions,
    ) -> Result<(), StorageError> {
        validate_key(key)?;
        if parts.is_empty() {
            return self.put(key, Bytes::new(), opts).await;
        }
        let sources = parts
            .iter()
            .map(|part| validate_key(part).map(|()| self.object_key(part)))
            .collect::<Result<Vec<_>, _>>()?;
        multipart::copy_parts(
            &self.client,
            &self.config.bucket,
            &self.object_key(key),
            key,
            &sources,
            opts,
        )
        .await
    }
}

/// Reads a response body to the end.
async fn read_body(
    key: &str,
    body: aws_sdk_s3::primitives::ByteStream,
) -> Result<Bytes, StorageError> {
    body.collect()
        .await
        .map(|data| data.into_bytes())
        .map_err(|error| StorageError::Io {
            key: key.to_string(),
            source: io::Error::other(format!(
                "S3 response body could not be read: {}",
                DisplayErrorContext(&error)
            )),
        })
}
