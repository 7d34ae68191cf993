//! The pure tus 1.0.0 protocol core: header parsing and validation, and the decision for each
//! request given the stored state and the time (an argument: no IO, no clock here).
//!
//! Supported extensions: creation, creation-with-upload, termination, checksum (sha1, md5,
//! sha256) and expiration. Deferred lengths and concatenation are not offered.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::TusError;

/// The protocol version spoken (and the only one accepted).
pub const TUS_VERSION: &str = "1.0.0";
/// `Tus-Resumable` header name.
pub const TUS_RESUMABLE: &str = "tus-resumable";
/// The extensions offered in `Tus-Extension`.
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
/// The algorithms offered in `Tus-Checksum-Algorithm`.
pub const CHECKSUM_ALGORITHMS: &str = "sha1,md5,sha256";
/// The media type of upload data.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// Upper bound of the decoded `Upload-Metadata` size.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A checksum algorithm of the checksum extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// SHA-1 (the one every tus server must offer with the extension).
    Sha1,
    /// MD5.
    Md5,
    /// SHA-256.
    Sha256,
}

/// A parsed `Upload-Checksum` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The expected digest of the request body.
    pub digest: Vec<u8>,
}

/// A validated creation (`POST`) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationRequest {
    /// `Upload-Length`.
    pub length: u64,
    /// Decoded `Upload-Metadata`.
    pub metadata: BTreeMap<String, String>,
    /// Whether the request carries upload data (creation-with-upload).
    pub with_data: bool,
    /// `Upload-Checksum` of the included data, if any.
    pub checksum: Option<UploadChecksum>,
}

/// A validated `PATCH` request (before it is compared with the stored state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRequest {
    /// `Upload-Offset`.
    pub offset: u64,
    /// `Content-Length`, when sent (absent with chunked transfer encoding).
    pub content_length: Option<u64>,
    /// `Upload-Checksum`, if any.
    pub checksum: Option<UploadChecksum>,
}

/// The stored state of an upload that the decisions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadState {
    /// `Upload-Length`.
    pub length: u64,
    /// Bytes durably received.
    pub offset: u64,
    /// When an unfinished upload expires.
    pub expires: SystemTime,
}

impl UploadState {
    /// Every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.offset >= self.length
    }

    /// Unfinished and past its expiry time. Complete uploads never expire.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        !self.is_complete() && now >= self.expires
    }
}

/// What an accepted `PATCH` may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchPlan {
    /// The most bytes the body may carry (`Upload-Length - Upload-Offset`).
    pub max_bytes: u64,
}

/// Checks `Tus-Resumable: 1.0.0` (412 otherwise). Every request but `OPTIONS` must carry it.
pub fn check_resumable(headers: &HeaderMap) -> Result<(), TusError> {
    match headers.get(TUS_RESUMABLE).map(|v| v.as_bytes()) {
        Some(v) if v == TUS_VERSION.as_bytes() => Ok(()),
        _ => Err(TusError::UnsupportedVersion),
    }
}

fn parse_u64(value: &str) -> Option<u64> {
    // Digits only: no sign, no whitespace tricks, no empty string.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, ()>> {
    headers.get(name).map(|v| v.to_str().map_err(|_| ()))
}

/// Parses `Upload-Length` (400 when missing or malformed).
pub fn parse_upload_length(headers: &HeaderMap) -> Result<u64, TusError> {
    match header_str(headers, "upload-length") {
        None => Err(TusError::MissingLength),
        Some(Ok(v)) => parse_u64(v.trim()).ok_or(TusError::InvalidLength),
        Some(Err(())) => Err(TusError::InvalidLength),
    }
}

/// Parses `Upload-Offset` (400 when missing or malformed).
pub fn parse_upload_offset(headers: &HeaderMap) -> Result<u64, TusError> {
    match header_str(headers, "upload-offset") {
        Some(Ok(v)) => parse_u64(v.trim()).ok_or(TusError::InvalidOffset),
        _ => Err(TusError::InvalidOffset),
    }
}

/// `Content-Length`, if present and well-formed.
pub fn parse_content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_u64(v.trim()))
}

/// Whether `Content-Type` is `application/offset+octet-stream` (parameters ignored).
pub fn is_offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// Decodes `Upload-Metadata`: comma-separated `key base64(value)` pairs (the value may be
/// omitted). Keys must be non-empty, unique and free of spaces and commas; values UTF-8.
pub fn parse_metadata(value: &str) -> Result<BTreeMap<String, String>, TusError> {
    let mut map = BTreeMap::new();
    let mut total = 0usize;
    if value.trim().is_empty() {
        return Ok(map);
    }
    for pair in value.split(',') {
        let mut parts = pair.trim().split(' ').filter(|s| !s.is_empty());
        let key = parts.next().ok_or(TusError::InvalidMetadata("empty key"))?;
        let decoded = match parts.next() {
            None => String::new(),
            Some(encoded) => {
                let bytes = STANDARD
                    .decode(encoded)
                    .map_err(|_| TusError::InvalidMetadata("value is not base64"))?;
                String::from_utf8(bytes)
                    .map_err(|_| TusError::InvalidMetadata("value is not UTF-8"))?
            }
        };
        if parts.next().is_some() {
            return Err(TusError::InvalidMetadata("a pair has more than two parts"));
        }
        total += key.len() + decoded.len();
        if total > MAX_METADATA_BYTES {
            return Err(TusError::InvalidMetadata("too long"));
        }
        if map.insert(key.to_owned(), decoded).is_some() {
            return Err(TusError::InvalidMetadata("duplicate key"));
        }
    }
    Ok(map)
}

/// Encodes metadata back into an `Upload-Metadata` value (for `HEAD`).
pub fn encode_metadata(metadata: &BTreeMap<String, String>) -> String {
    metadata
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k} {}", STANDARD.encode(v.as_bytes()))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `Upload-Checksum: <algorithm> <base64 digest>`.
pub fn parse_checksum(value: &str) -> Result<UploadChecksum, TusError> {
    let mut parts = value.trim().split(' ').filter(|s| !s.is_empty());
    let (Some(name), Some(encoded), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TusError::InvalidChecksum);
    };
    let (algorithm, len) = match name.to_ascii_lowercase().as_str() {
        "sha1" => (ChecksumAlgorithm::Sha1, 20),
        "md5" => (ChecksumAlgorithm::Md5, 16),
        "sha256" => (ChecksumAlgorithm::Sha256, 32),
        _ => return Err(TusError::UnsupportedChecksumAlgorithm),
    };
    let digest = STANDARD
        .decode(encoded)
        .map_err(|_| TusError::InvalidChecksum)?;
    if digest.len() != len {
        return Err(TusError::InvalidChecksum);
    }
    Ok(UploadChecksum { algorithm, digest })
}

fn optional_checksum(headers: &HeaderMap) -> Result<Option<UploadChecksum>, TusError> {
    match header_str(headers, "upload-checksum") {
        None => Ok(None),
        Some(Ok(v)) => parse_checksum(v).map(Some),
        Some(Err(())) => Err(TusError::InvalidChecksum),
    }
}

/// Validates a creation request against the server's `max_size`: version (412), length
/// (400, 413), metadata (400), and for creation-with-upload the content type (415), checksum
/// (400) and a `Content-Length` that fits in the upload (413).
pub fn creation_request(headers: &HeaderMap, max_size: u64) -> Result<CreationRequest, TusError> {
    check_resumable(headers)?;
    if headers.contains_key("upload-defer-length") && !headers.contains_key("upload-length") {
        return Err(TusError::MissingLength);
    }
    let length = parse_upload_length(headers)?;
    if length > max_size {
        return Err(TusError::TooLarge {
            length,
            max: max_size,
        });
    }
    let metadata = match header_str(headers, "upload-metadata") {
        None => BTreeMap::new(),
        Some(Ok(v)) => parse_metadata(v)?,
        Some(Err(())) => return Err(TusError::InvalidMetadata("not ASCII")),
    };
    let content_length = parse_content_length(headers);
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    let has_body = chunked || content_length.is_some_and(|n| n > 0);
    let with_data = if is_offset_stream(headers) {
        true
    } else if has_body {
        return Err(TusError::UnsupportedMediaType);
    } else {
        false
    };
    if with_data && content_length.is_some_and(|n| n > length) {
        return Err(TusError::ExceedsLength);
    }
    let checksum = if with_data {
        optional_checksum(headers)?
    } else {
        None
    };
    Ok(CreationRequest {
        length,
        metadata,
        with_data,
        checksum,
    })
}

/// Validates the headers of a `PATCH`: version (412), content type (415), offset and checksum
/// (400).
pub fn patch_request(headers: &HeaderMap) -> Result<PatchRequest, TusError> {
    check_resumable(headers)?;
    if !is_offset_stream(headers) {
        return Err(TusError::UnsupportedMediaType);
    }
    let offset = parse_upload_offset(headers)?;
    Ok(PatchRequest {
        offset,
        content_length: parse_content_length(headers),
        checksum: optional_checksum(headers)?,
    })
}

/// Decides a `PATCH` against the stored state at `now`: 410 when expired, 409 when the offsets
/// differ, 413 when `Content-Length` goes past `Upload-Length`.
pub fn decide_patch(
    state: &UploadState,
    request: &PatchRequest,
    now: SystemTime,
) -> Result<PatchPlan, TusError> {
    if state.is_expired(now) {
        return Err(TusError::Expired);
    }
    if request.offset != state.offset {
        return Err(TusError::OffsetMismatch {
            expected: state.offset,
            got: request.offset,
        });
    }
    let max_bytes = state.length.saturating_sub(state.offset);
    if request.content_length.is_some_and(|n| n > max_bytes) {
        return Err(TusError::ExceedsLength);
    }
    Ok(PatchPlan { max_bytes })
}

/// Decides a `HEAD` at `now`: 410 when the unfinished upload has expired.
pub fn decide_head(state: &UploadState, now: SystemTime) -> Result<(), TusError> {
    if state.is_expired(now) {
        Err(TusError::Expired)
    } else {
        Ok(())
    }
}

/// When an unfinished upload expires: `expiration` after its last activity (creation or the
/// last `PATCH` that stored data), so a slow upload on a poor network stays alive while it
/// progresses.
pub fn expires_after(last_activity: SystemTime, expiration: Duration) -> SystemTime {
    last_activity
        .checked_add(expiration)
        .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799))
}

/// An RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as `Upload-Expires` wants.
pub fn http_date(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

/// The headers of `OPTIONS` (discovery).
pub fn discovery_headers(max_size: u64) -> Vec<(&'static str, String)> {
    vec![
        (TUS_RESUMABLE, TUS_VERSION.to_owned()),
        ("tus-version", TUS_VERSION.to_owned()),
        ("tus-extension", TUS_EXTENSIONS.to_owned()),
        ("tus-max-size", max_size.to_string()),
        ("tus-checksum-algorithm", CHECKSUM_ALGORITHMS.to_owned()),
    ]
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
