//! Object key rules shared by every backend, so that a key accepted by
//! `MemoryStorage` in tests is accepted by `LocalDirStorage` and S3 alike.

use std::fmt;

use super::StorageError;

/// Prefix of the temporary files `LocalDirStorage` writes before renaming;
/// keys may not use it so temp files can never be mistaken for objects.
pub(crate) const TEMP_FILE_PREFIX: &str = ".yanxiu-tmp-";

/// Longest key accepted, in bytes (the S3 limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a key or prefix was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidKeyReason {
    /// The key is empty.
    Empty,
    /// The key starts with `/`.
    Absolute,
    /// The key contains `\`.
    Backslash,
    /// The key has an empty segment (`a//b`, trailing `/`).
    EmptySegment,
    /// A segment is `.` or `..`.
    DotSegment,
    /// A segment uses the reserved temporary-file prefix.
    ReservedName,
    /// The key contains a control character (including NUL).
    ControlCharacter,
    /// The key is longer than [`MAX_KEY_BYTES`].
    TooLong,
    /// `delete_prefix("")` would delete every object.
    EmptyPrefix,
}

impl fmt::Display for InvalidKeyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "key is empty (键为空)",
            Self::Absolute => "key must be relative, not start with '/' (键必须是相对路径)",
            Self::Backslash => "key must not contain '\\' (键不能包含反斜杠)",
            Self::EmptySegment => "key has an empty path segment (键包含空路径段)",
            Self::DotSegment => "key has a '.' or '..' segment (键不能包含 . 或 .. 路径段)",
            Self::ReservedName => {
                "key uses a reserved temporary-file name (键使用了保留的临时文件名)"
            }
            Self::ControlCharacter => "key contains a control character (键包含控制字符)",
            Self::TooLong => "key is longer than 1024 bytes (键超过 1024 字节)",
            Self::EmptyPrefix => {
                "refusing to delete with an empty prefix (拒绝以空前缀删除全部对象)"
            }
        })
    }
}

/// Checks a full object key: `/`-separated, relative, non-empty segments.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    check_key(key).map_err(|reason| StorageError::InvalidKey {
        key: key.to_string(),
        reason,
    })
}

/// Checks a listing prefix: empty, or a key, or a key followed by `/`.
/// The last segment may be partial (`seg-0` matches `seg-00001.m4s`).
pub fn validate_prefix(prefix: &str) -> Result<(), StorageError> {
    if prefix.is_empty() {
        return Ok(());
    }
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    let result = if trimmed.is_empty() {
        Err(InvalidKeyReason::Absolute)
    } else {
        check_key(trimmed)
    };
    result.map_err(|reason| StorageError::InvalidKey {
        key: prefix.to_string(),
        reason,
    })
}

fn check_key(key: &str) -> Result<(), InvalidKeyReason> {
    if key.is_empty() {
        return Err(InvalidKeyReason::Empty);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(InvalidKeyReason::TooLong);
    }
    if key.starts_with('/') {
        return Err(InvalidKeyReason::Absolute);
    }
    if key.contains('\\') {
        return Err(InvalidKeyReason::Backslash);
    }
    if key.chars().any(char::is_control) {
        return Err(InvalidKeyReason::ControlCharacter);
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(InvalidKeyReason::EmptySegment),
            "." | ".." => return Err(InvalidKeyReason::DotSegment),
            s if s.starts_with(TEMP_FILE_PREFIX) => return Err(InvalidKeyReason::ReservedName),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(key: &str) -> Option<InvalidKeyReason> {
        match validate_key(key) {
            Ok(()) => None,
            Err(StorageError::InvalidKey { reason, .. }) => Some(reason),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn ordinary_keys_are_accepted() {
        for key in [
            "master.m3u8",
            "resources/123/720p/seg-00001.m4s",
            "a/.well-known/x",
            "课程/讲座.mp4",
        ] {
            assert_eq!(reason(key), None, "{key}");
        }
    }

    #[test]
    fn unsafe_keys_are_rejected_with_a_reason() {
        assert_eq!(reason(""), Some(InvalidKeyReason::Empty));
        assert_eq!(reason("../x"), Some(InvalidKeyReason::DotSegment));
        assert_eq!(reason("a/../../x"), Some(InvalidKeyReason::DotSegment));
        assert_eq!(reason("a/./x"), Some(InvalidKeyReason::DotSegment));
        assert_eq!(reason("/abs"), Some(InvalidKeyReason::Absolute));
        assert_eq!(reason("a//b"), Some(InvalidKeyReason::EmptySegment));
        assert_eq!(reason("a/b/"), Some(InvalidKeyReason::EmptySegment));
        assert_eq!(reason("a\\b"), Some(InvalidKeyReason::Backslash));
        assert_eq!(reason("a\0b"), Some(InvalidKeyReason::ControlCharacter));
        assert_eq!(reason("a\nb"), Some(InvalidKeyReason::ControlCharacter));
        assert_eq!(
            reason("a/.yanxiu-tmp-123"),
            Some(InvalidKeyReason::ReservedName)
        );
        assert_eq!(reason(&"x".repeat(1025)), Some(InvalidKeyReason::TooLong));
    }

    #[test]
    fn prefixes_may_be_empty_end_with_a_slash_or_be_partial() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("resources/123/").is_ok());
        assert!(validate_prefix("resources/123/720p/seg-0").is_ok());
        assert!(validate_prefix("/").is_err());
        assert!(validate_prefix("../").is_err());
        assert!(validate_prefix("a//").is_err());
    }

    #[test]
    fn reasons_are_bilingual() {
        let text = InvalidKeyReason::DotSegment.to_string();
        assert!(text.contains("'..'") && text.contains("路径段"));
    }
}
