//! Settings of the S3 backend as the server's TOML config spells them
//! (`[storage.s3]`), their defaults and validation. Secrets never appear in
//! `Debug` output.

use std::fmt;

use serde::Deserialize;

use crate::storage::validate_prefix;

/// 1 MiB.
const MIB: u64 = 1024 * 1024;
/// The smallest part S3 accepts, except for the last part of an upload.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// The most parts one multipart upload may have.
pub const MAX_PARTS: u64 = 10_000;

/// Where and how to reach the bucket.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL of an S3-compatible service (`http://127.0.0.1:9000`);
    /// `None` = AWS for `region`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region name, e.g. `us-east-1` or `cn-north-1`.
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket under which every object is stored:
    /// `""` or ending in `/` (e.g. `"yanxiu/"`).
    #[serde(default)]
    pub prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`), as most self-hosted
    /// services need; otherwise virtual-hosted style (`bucket.endpoint/key`).
    #[serde(default)]
    pub path_style: bool,
    /// Static access key id; `None` (with `secret_access_key`) = the default
    /// AWS credential chain (environment, profile, web identity, instance role).
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Static secret access key, paired with `access_key_id`.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Bodies larger than this many bytes are uploaded as multipart uploads.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold: u64,
    /// Size of each multipart part in bytes (at least 5 MiB; raised
    /// automatically when a body would need more than 10 000 parts).
    #[serde(default = "default_part_size")]
    pub part_size: u64,
    /// Attempts per request, the first included; transient failures
    /// (throttling, 5xx, connection errors) are retried with exponential
    /// backoff and jitter.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_multipart_threshold() -> u64 {
    16 * MIB
}

fn default_part_size() -> u64 {
    8 * MIB
}

fn default_max_attempts() -> u32 {
    5
}

impl S3Config {
    /// A config for `bucket` in `region` with every other setting at its
    /// default (AWS endpoint, no prefix, virtual-hosted style, default
    /// credential chain, 16 MiB multipart threshold, 8 MiB parts, 5 attempts).
    pub fn new(region: impl Into<String>, bucket: impl Into<String>) -> Self {
        Self {
            endpoint: None,
            region: region.into(),
            bucket: bucket.into(),
            prefix: String::new(),
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            multipart_threshold: default_multipart_threshold(),
            part_size: default_part_size(),
            max_attempts: default_max_attempts(),
        }
    }

    /// Checks the settings that would otherwise fail on the first request.
    pub fn validate(&self) -> Result<(), S3ConfigError> {
        if self.region.trim().is_empty() {
            return Err(S3ConfigError::EmptyRegion);
        }
        if !is_valid_bucket_name(&self.bucket) {
            return Err(S3ConfigError::InvalidBucket {
                bucket: self.bucket.clone(),
            });
        }
        let prefix_ok = self.prefix.is_empty()
            || (self.prefix.ends_with('/') && validate_prefix(&self.prefix).is_ok());
        if !prefix_ok {
            return Err(S3ConfigError::InvalidPrefix {
                prefix: self.prefix.clone(),
            });
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(S3ConfigError::InvalidEndpoint {
                endpoint: endpoint.clone(),
            });
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return Err(S3ConfigError::IncompleteCredentials);
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(S3ConfigError::InvalidPartSize {
                part_size: self.part_size,
            });
        }
        if self.max_attempts == 0 {
            return Err(S3ConfigError::ZeroAttempts);
        }
        Ok(())
    }

    /// The part size for a body of `length` bytes: the configured size,
    /// raised so that the body fits in [`MAX_PARTS`] parts.
    pub fn part_size_for(&self, length: u64) -> u64 {
        self.part_size.max(length.div_ceil(MAX_PARTS))
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("access_key_id", &redacted(&self.access_key_id))
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// S3 bucket naming rules: 3–63 characters, lowercase letters, digits, `.`
/// and `-`, starting and ending with a letter or digit.
fn is_valid_bucket_name(bucket: &str) -> bool {
    let bytes = bucket.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Why an [`S3Config`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3ConfigError {
    /// `region` is empty.
    #[error("S3 region is empty (S3 区域为空)")]
    EmptyRegion,
    /// `bucket` breaks the S3 bucket naming rules.
    #[error("invalid S3 bucket name {bucket:?} (S3 存储桶名称无效)")]
    InvalidBucket {
        /// The bucket name.
        bucket: String,
    },
    /// `prefix` is neither empty nor a valid key prefix ending in `/`.
    #[error(
        "S3 key prefix {prefix:?} must be empty or end with '/' (S3 键前缀必须为空或以 / 结尾)"
    )]
    InvalidPrefix {
        /// The prefix.
        prefix: String,
    },
    /// `endpoint` is not an http(s) URL.
    #[error(
        "S3 endpoint {endpoint:?} must start with http:// or https:// (S3 端点必须以 http:// 或 https:// 开头)"
    )]
    InvalidEndpoint {
        /// The endpoint.
        endpoint: String,
    },
    /// Only one of `access_key_id` and `secret_access_key` is set.
    #[error(
        "S3 access_key_id and secret_access_key must be set together (S3 访问密钥 ID 与密钥必须同时设置)"
    )]
    IncompleteCredentials,
    /// `part_size` is outside 5 MiB..=5 GiB.
    #[error(
        "S3 part_size {part_size} must be between 5 MiB and 5 GiB (S3 分片大小必须在 5 MiB 到 5 GiB 之间)"
    )]
    InvalidPartSize {
        /// The configured part size.
        part_size: u64,
    },
    /// `max_attempts` is 0.
    #[error("S3 max_attempts must be at least 1 (S3 最大尝试次数至少为 1)")]
    ZeroAttempts,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> S3Config {
        S3Config {
            endpoint: Some("http://127.0.0.1:9000".into()),
            path_style: true,
            prefix: "yanxiu/".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI-very-secret".into()),
            ..S3Config::new("us-east-1", "videos")
        }
    }

    #[test]
    fn a_minimal_toml_section_takes_the_defaults() {
        let config: S3Config =
            toml::from_str("region = \"cn-north-1\"\nbucket = \"yanxiu-media\"\n").unwrap();
        assert_eq!(config, S3Config::new("cn-north-1", "yanxiu-media"));
        assert_eq!(config.multipart_threshold, 16 * 1024 * 1024);
        assert_eq!(config.part_size, 8 * 1024 * 1024);
        assert_eq!(config.max_attempts, 5);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn every_field_deserializes_and_unknown_fields_are_refused() {
        let config: S3Config = toml::from_str(
            r#"
            endpoint = "http://127.0.0.1:9000"
            region = "us-east-1"
            bucket = "videos"
            prefix = "yanxiu/"
            path_style = true
            access_key_id = "AKIDEXAMPLE"
            secret_access_key = "wJalrXUtnFEMI-very-secret"
            multipart_threshold = 1
            part_size = 5242880
            max_attempts = 2
            "#,
        )
        .unwrap();
        assert_eq!(
            config,
            S3Config {
                multipart_threshold: 1,
                part_size: 5 * 1024 * 1024,
                max_attempts: 2,
                ..local()
            }
        );
        let unknown = toml::from_str::<S3Config>("region = \"r\"\nbucket = \"bkt\"\nbuckets = 1\n");
        assert!(unknown.is_err());
    }

    #[test]
    fn debug_output_never_shows_the_credentials() {
        let text = format!("{:?}", local());
        assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
        assert!(!text.contains("AKIDEXAMPLE"), "{text}");
        assert!(
            text.contains("<redacted>") && text.contains("videos"),
            "{text}"
        );
    }

    #[test]
    fn unusable_settings_are_reported_with_a_reason() {
        let check = |change: fn(&mut S3Config)| {
            let mut config = local();
            change(&mut config);
            config.validate().unwrap_err()
        };
        assert_eq!(check(|c| c.region.clear()), S3ConfigError::EmptyRegion);
        assert!(matches!(
            check(|c| c.bucket = "Videos".into()),
            S3ConfigError::InvalidBucket { .. }
        ));
        assert!(matches!(
            check(|c| c.bucket = "ab".into()),
            S3ConfigError::InvalidBucket { .. }
        ));
        assert!(matches!(
            check(|c| c.prefix = "yanxiu".into()),
            S3ConfigError::InvalidPrefix { .. }
        ));
        assert!(matches!(
            check(|c| c.prefix = "../".into()),
            S3ConfigError::InvalidPrefix { .. }
        ));
        assert!(matches!(
            check(|c| c.endpoint = Some("127.0.0.1:9000".into())),
            S3ConfigError::InvalidEndpoint { .. }
        ));
        assert_eq!(
            check(|c| c.secret_access_key = None),
            S3ConfigError::IncompleteCredentials
        );
        assert!(matches!(
            check(|c| c.part_size = 1024),
            S3ConfigError::InvalidPartSize { .. }
        ));
        assert_eq!(check(|c| c.max_attempts = 0), S3ConfigError::ZeroAttempts);
        let message = S3ConfigError::ZeroAttempts.to_string();
        assert!(message.contains("at least 1") && message.contains("至少"));
    }

    #[test]
    fn part_size_grows_so_a_body_fits_in_ten_thousand_parts() {
        let config = local();
        assert_eq!(config.part_size_for(100 * 1024 * 1024), 8 * 1024 * 1024);
        let huge = 200 * 1024 * 1024 * 1024;
        assert_eq!(config.part_size_for(huge), huge.div_ceil(10_000));
        assert!(config.part_size_for(huge) * 10_000 >= huge);
    }
}
