//! Every way a tus request can fail, with its HTTP status, a stable code and zh-CN / English
//! messages, and the one place where a failure becomes a response:
//! `{"error":{"code","message"}}`, the same shape as the control plane API.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::hooks::HookRejection;
use super::protocol::{TUS_RESUMABLE, TUS_VERSION};
use crate::messages::Lang;

/// A failed tus request. [`TusError::status`] is the status code the tus 1.0.0 specification
/// asks for; [`TusError::code`] is stable for programs; [`TusError::message`] is for people.
#[derive(Debug, thiserror::Error)]
pub enum TusError {
    /// `Tus-Resumable` missing or not `1.0.0` (412).
    #[error("unsupported tus version")]
    UnsupportedVersion,
    /// `Upload-Length` missing on creation (400); deferred lengths are not supported.
    #[error("Upload-Length is required")]
    MissingLength,
    /// `Upload-Length` is not a non-negative integer (400).
    #[error("invalid Upload-Length")]
    InvalidLength,
    /// `Upload-Offset` missing or not a non-negative integer (400).
    #[error("missing or invalid Upload-Offset")]
    InvalidOffset,
    /// `Upload-Metadata` is malformed: bad base64, duplicate or empty keys, not UTF-8 (400).
    #[error("invalid Upload-Metadata: {0}")]
    InvalidMetadata(&'static str),
    /// `Upload-Checksum` is malformed (400).
    #[error("invalid Upload-Checksum")]
    InvalidChecksum,
    /// `Upload-Checksum` names an algorithm this server does not offer (400).
    #[error("unsupported checksum algorithm")]
    UnsupportedChecksumAlgorithm,
    /// `Upload-Length` is larger than `Tus-Max-Size` (413).
    #[error("upload of {length} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Requested length.
        length: u64,
        /// The server's maximum.
        max: u64,
    },
    /// The request body would write past `Upload-Length` (413).
    #[error("request body goes past Upload-Length")]
    ExceedsLength,
    /// A body without `Content-Type: application/offset+octet-stream` (415).
    #[error("Content-Type must be application/offset+octet-stream")]
    UnsupportedMediaType,
    /// No such upload, or it belongs to someone else (404).
    #[error("upload not found")]
    NotFound,
    /// The upload expired before it was finished (410).
    #[error("upload expired")]
    Expired,
    /// `Upload-Offset` differs from the stored offset (409).
    #[error("Upload-Offset {got} does not match the upload's offset {expected}")]
    OffsetMismatch {
        /// The stored offset.
        expected: u64,
        /// The offset the client sent.
        got: u64,
    },
    /// Another PATCH on the same upload is still running (409).
    #[error("another request is writing to this upload")]
    Busy,
    /// The body does not match `Upload-Checksum`; nothing was appended (460).
    #[error("checksum mismatch")]
    ChecksumMismatch,
    /// The body ended before `Content-Length` bytes arrived while a checksum was requested, so
    /// it could not be verified; nothing was appended (400).
    #[error("request body ended early; the checksummed chunk was discarded")]
    IncompleteChecksummedBody,
    /// The request body broke off (connection lost, or no data for too long); what arrived
    /// before is kept (400).
    #[error("request body broke off")]
    BodyInterrupted,
    /// The caller's hooks rejected the request (authorization or completion).
    #[error("rejected: {}", .0.code)]
    Rejected(HookRejection),
    /// The upload's files could not be read or written (500).
    #[error("upload storage failed: {0}")]
    Storage(#[from] std::io::Error),
    /// The stored upload description could not be decoded (500).
    #[error("upload description is unreadable: {0}")]
    CorruptInfo(String),
}

impl TusError {
    /// The HTTP status of this failure.
    pub fn status(&self) -> StatusCode {
        match self {
            TusError::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            TusError::MissingLength
            | TusError::InvalidLength
            | TusError::InvalidOffset
            | TusError::InvalidMetadata(_)
            | TusError::InvalidChecksum
            | TusError::UnsupportedChecksumAlgorithm
            | TusError::IncompleteChecksummedBody
            | TusError::BodyInterrupted => StatusCode::BAD_REQUEST,
            TusError::TooLarge { .. } | TusError::ExceedsLength => StatusCode::PAYLOAD_TOO_LARGE,
            TusError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TusError::NotFound => StatusCode::NOT_FOUND,
            TusError::Expired => StatusCode::GONE,
            TusError::OffsetMismatch { .. } | TusError::Busy => StatusCode::CONFLICT,
            TusError::ChecksumMismatch => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            TusError::Rejected(r) => {
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN)
            }
            TusError::Storage(_) | TusError::CorruptInfo(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            TusError::UnsupportedVersion => "tus.version_unsupported",
            TusError::MissingLength => "tus.length_required",
            TusError::InvalidLength => "tus.length_invalid",
            TusError::InvalidOffset => "tus.offset_invalid",
            TusError::InvalidMetadata(_) => "tus.metadata_invalid",
            TusError::InvalidChecksum => "tus.checksum_invalid",
            TusError::UnsupportedChecksumAlgorithm => "tus.checksum_algorithm_unsupported",
            TusError::TooLarge { .. } => "tus.too_large",
            TusError::ExceedsLength => "tus.exceeds_length",
            TusError::UnsupportedMediaType => "tus.content_type_invalid",
            TusError::NotFound => "tus.not_found",
            TusError::Expired => "tus.expired",
            TusError::OffsetMismatch { .. } => "tus.offset_mismatch",
            TusError::Busy => "tus.upload_busy",
            TusError::ChecksumMismatch => "tus.checksum_mismatch",
            TusError::IncompleteChecksummedBody => "tus.checksum_body_incomplete",
            TusError::BodyInterrupted => "tus.body_interrupted",
            TusError::Rejected(r) => &r.code,
            TusError::Storage(_) | TusError::CorruptInfo(_) => "tus.storage_failed",
        }
    }

    /// The message for people, in `lang`. Storage details stay in the logs, not in responses.
    pub fn message(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let pick = |z: &str, e: &str| if zh { z.to_owned() } else { e.to_owned() };
        match self {
            TusError::UnsupportedVersion => pick(
                "不支持的 tus 协议版本，需要 Tus-Resumable: 1.0.0",
                "Unsupported tus protocol version; Tus-Resumable: 1.0.0 is required",
            ),
            TusError::MissingLength => pick(
                "创建上传时必须提供 Upload-Length（文件总字节数）",
                "Upload-Length (the total size in bytes) is required to create an upload",
            ),
            TusError::InvalidLength => pick(
                "Upload-Length 必须是非负整数",
                "Upload-Length must be a non-negative integer",
            ),
            TusError::InvalidOffset => pick(
                "缺少 Upload-Offset，或它不是非负整数",
                "Upload-Offset is missing or is not a non-negative integer",
            ),
            TusError::InvalidMetadata(why) => {
                if zh {
                    format!("Upload-Metadata 格式错误：{why}")
                } else {
                    format!("Upload-Metadata is malformed: {why}")
                }
            }
            TusError::InvalidChecksum => pick(
                "Upload-Checksum 格式错误，应为“算法 base64摘要”",
                "Upload-Checksum is malformed; expected \"algorithm base64-digest\"",
            ),
            TusError::UnsupportedChecksumAlgorithm => pick(
                "不支持的校验算法，可用：sha1、md5、sha256",
                "Unsupported checksum algorithm; available: sha1, md5, sha256",
            ),
            TusError::TooLarge { length, max } => {
                if zh {
                    format!("文件大小 {length} 字节超过上限 {max} 字节")
                } else {
                    format!("The file size of {length} bytes exceeds the limit of {max} bytes")
                }
            }
            TusError::ExceedsLength => pick(
                "请求数据超出了声明的文件大小（Upload-Length）",
                "The request body goes past the declared file size (Upload-Length)",
            ),
            TusError::UnsupportedMediaType => pick(
                "上传数据的 Content-Type 必须是 application/offset+octet-stream",
                "Upload data must be sent with Content-Type: application/offset+octet-stream",
            ),
            TusError::NotFound => pick("上传不存在", "Upload not found"),
            TusError::Expired => pick(
                "上传已过期，请重新上传",
                "The upload has expired; please start again",
            ),
            TusError::OffsetMismatch { expected, got } => {
                if zh {
                    format!("上传位置不一致：服务器已有 {expected} 字节，请求从 {got} 开始")
                } else {
                    format!(
                        "Offset mismatch: the server has {expected} bytes, the request starts at {got}"
                    )
                }
            }
            TusError::Busy => pick(
                "另一个请求正在写入此上传，请稍后重试",
                "Another request is writing to this upload; retry shortly",
            ),
            TusError::ChecksumMismatch => pick(
                "数据校验失败，本段数据未被保存",
                "Checksum mismatch; this chunk was not stored",
            ),
            TusError::IncompleteChecksummedBody => pick(
                "数据未完整到达，无法校验，本段数据未被保存",
                "The chunk did not arrive completely and could not be verified; it was not stored",
            ),
            TusError::BodyInterrupted => pick(
                "上传数据中断，已收到的部分已保存，可以继续上传",
                "The upload data broke off; what arrived is kept and the upload can resume",
            ),
            TusError::Rejected(r) => pick(&r.message_zh, &r.message_en),
            TusError::Storage(_) | TusError::CorruptInfo(_) => pick(
                "服务器存储上传数据失败，请稍后重试",
                "The server failed to store the upload; retry later",
            ),
        }
    }

    /// The JSON error response in `lang`, with `Tus-Resumable` (and `Tus-Version` for 412).
    pub fn into_response_in(self, lang: Lang) -> Response {
        if matches!(self, TusError::Storage(_) | TusError::CorruptInfo(_)) {
            tracing::error!(error = %self, "tus upload storage failure");
        }
        let status = self.status();
        let body = json!({"error": {"code": self.code(), "message": self.message(lang)}});
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
        if status == StatusCode::PRECONDITION_FAILED {
            headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
        }
        response
    }
}

/// Picks the language from `Accept-Language`: English if an `en` tag ranks before any `zh`
/// tag (by q-value, then order), otherwise zh-CN — the same rule as the control plane.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    let Some(value) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Lang::Zh;
    };
    let mut best: Option<(f32, usize, Lang)> = None;
    for (i, part) in value.split(',').enumerate() {
        let mut pieces = part.trim().split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let lang = if tag.starts_with("en") {
            Lang::En
        } else if tag.starts_with("zh") {
            Lang::Zh
        } else {
            continue;
        };
        let better = match best {
            None => true,
            Some((bq, bi, _)) => q > bq || (q == bq && i < bi),
        };
        if better {
            best = Some((q, i, lang));
        }
    }
    best.map(|(_, _, l)| l).unwrap_or(Lang::Zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_mismatch_is_status_460() {
        assert_eq!(TusError::ChecksumMismatch.status().as_u16(), 460);
    }

    #[test]
    fn english_is_chosen_only_when_it_ranks_above_chinese() {
        let mut h = HeaderMap::new();
        assert_eq!(lang_of(&h), Lang::Zh);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-US,en;q=0.9"),
        );
        assert_eq!(lang_of(&h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("zh-CN,en;q=0.8"),
        );
        assert_eq!(lang_of(&h), Lang::Zh);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("zh;q=0.5,en"),
        );
        assert_eq!(lang_of(&h), Lang::En);
    }

    #[test]
    fn every_error_has_a_message_in_both_languages() {
        let errors = [
            TusError::UnsupportedVersion,
            TusError::TooLarge { length: 2, max: 1 },
            TusError::OffsetMismatch {
                expected: 1,
                got: 2,
            },
            TusError::ChecksumMismatch,
            TusError::Expired,
        ];
        for e in errors {
            assert_ne!(e.message(Lang::Zh), e.message(Lang::En));
            assert!(e.code().starts_with("tus."));
        }
    }
}
