//! The files of `web/`, embedded at compile time: each with its MIME type, an ETag computed
//! once from its bytes, and, for the large vendored libraries, the gzip copy committed beside
//! it (`web/README.md` says how those are made).

use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `web/`, e.g. `assets/app.js`.
    pub path: &'static str,
    /// The bytes.
    pub body: &'static [u8],
    /// The gzip copy, if one is embedded.
    pub gzip: Option<&'static [u8]>,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(path: &'static str, body: &'static [u8], gzip: Option<&'static [u8]>) -> Asset {
        Asset {
            path,
            body,
            gzip,
            etag: OnceLock::new(),
        }
    }

    /// A strong ETag from the bytes (stable for one build).
    pub fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.body.hash(&mut h);
            format!("\"{:016x}-{:x}\"", h.finish(), self.body.len())
        })
    }

    /// Whether the file name carries its version (vendored libraries), so it may be cached
    /// for good.
    pub fn immutable(&self) -> bool {
        self.path.starts_with("assets/vendor/")
    }

    /// The `Content-Type` from the extension.
    pub fn content_type(&self) -> &'static str {
        content_type(self.path)
    }
}

/// The MIME type of a path by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt" | "LICENSE") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

macro_rules! embed {
    ($path:literal) => {
        Asset::new(
            $path,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
            None,
        )
    };
    ($path:literal, gzip) => {
        Asset::new(
            $path,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
            Some(include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/web/",
                $path,
                ".gz"
            ))),
        )
    };
}

/// The page shell served at `/` and `/setup`.
pub static INDEX: &Asset = &ASSETS[0];

/// Every embedded file (`tests/web_app.rs` checks that each file of `web/assets` is here and
/// served byte for byte).
pub static ASSETS: [Asset; 35] = [
    embed!("index.html"),
    embed!("assets/favicon.svg"),
    embed!("assets/app.css"),
    embed!("assets/app.js"),
    embed!("assets/api.js"),
    embed!("assets/i18n.js"),
    embed!("assets/ui.js"),
    embed!("assets/whip.js"),
    embed!("assets/whep.js"),
    embed!("assets/webrtc_http.js"),
    embed!("assets/i18n/zh-CN.json"),
    embed!("assets/i18n/en.json"),
    embed!("assets/views/auth.js"),
    embed!("assets/views/account.js"),
    embed!("assets/views/upload.js"),
    embed!("assets/views/resources.js"),
    embed!("assets/views/resource.js"),
    embed!("assets/views/captions.js"),
    embed!("assets/views/review.js"),
    embed!("assets/views/catalogue.js"),
    embed!("assets/views/player.js"),
    embed!("assets/views/live.js"),
    embed!("assets/views/channels.js"),
    embed!("assets/views/golive.js"),
    embed!("assets/views/audiences.js"),
    embed!("assets/views/admin.js"),
    embed!("assets/views/feedback.js"),
    embed!("assets/views/learning.js"),
    embed!("assets/views/moderation.js"),
    embed!("assets/views/security.js"),
    embed!("assets/views/mfa.js"),
    embed!("assets/views/settings.js"),
    embed!("assets/vendor/hls-1.5.20.min.js", gzip),
    embed!("assets/vendor/tus-js-client-4.3.1.min.js", gzip),
    embed!("assets/vendor/LICENSES.txt"),
];

/// The asset at `path` (under `web/`), if embedded.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_content_type_and_a_distinct_path() {
        let mut paths = std::collections::HashSet::new();
        for a in &ASSETS {
            assert_ne!(a.content_type(), "application/octet-stream", "{}", a.path);
            assert!(paths.insert(a.path), "{} twice", a.path);
        }
        assert_eq!(INDEX.path, "index.html");
    }

    #[test]
    fn the_etag_changes_with_the_bytes() {
        let a = Asset::new("a.js", b"one", None);
        let b = Asset::new("a.js", b"two", None);
        assert_ne!(a.etag(), b.etag());
        assert_eq!(a.etag(), a.etag());
    }
}
