//! Pure choice of the file name a fetched file suggests: from `Content-Disposition`
//! (`filename*=UTF-8''…` preferred over `filename="…"`) or else from the last segment of the
//! URL path, percent-decoded and made safe (no directories, no control characters).

use percent_encoding::percent_decode_str;

/// The longest suggested name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The suggested file name of a response, if any.
pub fn suggested_file_name(content_disposition: Option<&str>, url_path: &str) -> Option<String> {
    content_disposition
        .and_then(name_from_disposition)
        .or_else(|| name_from_path(url_path))
}

/// The file name of a `Content-Disposition` header value.
pub fn name_from_disposition(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for param in split_params(value).into_iter().skip(1) {
        let Some((key, raw)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let raw = raw.trim();
        if key == "filename*" {
            // RFC 8187: charset'language'percent-encoded
            let mut parts = raw.splitn(3, '\'');
            let (Some(charset), Some(_lang), Some(encoded)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let bytes: Vec<u8> = percent_decode_str(encoded).collect();
            extended = if charset.eq_ignore_ascii_case("utf-8") {
                String::from_utf8(bytes).ok()
            } else if charset.eq_ignore_ascii_case("iso-8859-1") {
                Some(bytes.iter().map(|&b| char::from(b)).collect())
            } else {
                None
            };
        } else if key == "filename" {
            plain = Some(unquote(raw));
        }
    }
    extended.or(plain).and_then(|n| sanitize(&n))
}

fn split_params(value: &str) -> Vec<String> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for ch in value.chars() {
        if escaped {
            current.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted => {
                current.push(ch);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                current.push(ch);
            }
            ';' if !quoted => params.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    params.push(current);
    params
}

fn unquote(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The last non-empty segment of a URL path, percent-decoded.
pub fn name_from_path(path: &str) -> Option<String> {
    let last = path.rsplit('/').find(|s| !s.is_empty())?;
    let decoded = percent_decode_str(last).decode_utf8().ok()?;
    sanitize(&decoded)
}

/// Keeps only the final path component, drops control characters, trims dots and spaces, and
/// caps the length; `None` when nothing usable is left.
pub fn sanitize(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').trim();
    if cleaned.is_empty() {
        None
    } else {
        Some(cleaned.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_filename_wins_over_the_plain_one() {
        let v = "attachment; filename=\"fallback.mp4\"; filename*=UTF-8''%E7%AC%AC%E4%B8%80%E8%AE%B2.mp4";
        assert_eq!(name_from_disposition(v).as_deref(), Some("第一讲.mp4"));
    }

    #[test]
    fn quoted_names_may_contain_semicolons_and_escapes() {
        let v = r#"attachment; filename="a; b \"c\".mp4""#;
        assert_eq!(name_from_disposition(v).as_deref(), Some("a; b \"c\".mp4"));
        assert_eq!(
            name_from_disposition("inline; filename=plain.mov").as_deref(),
            Some("plain.mov")
        );
    }

    #[test]
    fn directories_and_control_characters_are_removed() {
        assert_eq!(sanitize("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize("C:\\temp\\x.mp4").as_deref(), Some("x.mp4"));
        assert_eq!(sanitize("a\u{0}b\n.mp4").as_deref(), Some("ab.mp4"));
        assert_eq!(sanitize(".."), None);
    }

    #[test]
    fn without_a_disposition_the_url_path_names_the_file() {
        assert_eq!(
            suggested_file_name(None, "/media/%E8%AF%BE%20one.mp4").as_deref(),
            Some("课 one.mp4")
        );
        assert_eq!(
            suggested_file_name(None, "/videos/").as_deref(),
            Some("videos")
        );
        assert_eq!(suggested_file_name(None, "/"), None);
        assert_eq!(
            suggested_file_name(Some("attachment"), "/x/lecture.mp4").as_deref(),
            Some("lecture.mp4")
        );
    }
}
