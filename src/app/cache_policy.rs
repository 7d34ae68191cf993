//! What HTTP caches (browsers, a CDN or an nginx cache in front of `yanxiu serve`) may do
//! with a playback answer: pure rules from the target's openness, whether its ladder is
//! complete, and whether the request names the ladder's version.
//!
//! Playback URLs name a resource, not a processing job (`/play/{resource}/720p/seg-1.m4s`),
//! so the same URL serves a new ladder once a changed file is published again. Playlists
//! therefore carry the ladder's version into every URI they list (`?v=…`, a digest of the
//! ladder's storage prefix): a URL with the current version always names the same bytes and
//! is cached for a year as immutable; without it (or with an old one) only briefly.
//! Restricted targets are `private` (a shared cache must not hand them to someone else);
//! public ones `public`.

use sha2::{Digest, Sha256};

/// How long a playlist of a complete ladder may be reused, in seconds.
pub const PLAYLIST_MAX_AGE: u32 = 10;
/// How long an object named by an old or missing version may be reused, in seconds.
pub const UNVERSIONED_MAX_AGE: u32 = 10;
/// How long an object named by its ladder's version may be reused: a year.
pub const IMMUTABLE_MAX_AGE: u32 = 31_536_000;

/// The version of a ladder: 12 hex digits of the SHA-256 of its storage prefix.
pub fn ladder_version(prefix: &str) -> String {
    let digest = Sha256::digest(prefix.as_bytes());
    hex::encode(&digest[..6])
}

/// What is being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// A playlist (rewritten per request) rather than a stored object.
    pub playlist: bool,
    /// Anyone may watch the target (no token needed).
    pub public: bool,
    /// The ladder is complete: nothing under its prefix changes any more.
    pub complete: bool,
    /// The request named the ladder's current version (`?v=`).
    pub current_version: bool,
}

impl Answer {
    /// The `Cache-Control` value.
    pub fn cache_control(self) -> String {
        let scope = if self.public { "public" } else { "private" };
        if !self.complete {
            // A ladder still growing (a preview during processing): always ask again.
            return "no-cache".to_owned();
        }
        if self.playlist {
            return if self.public {
                format!("public, max-age={PLAYLIST_MAX_AGE}")
            } else {
                // It carries the viewer's token: never kept by a shared cache, revalidated.
                "private, no-cache".to_owned()
            };
        }
        if self.current_version {
            format!("{scope}, max-age={IMMUTABLE_MAX_AGE}, immutable")
        } else {
            format!("{scope}, max-age={UNVERSIONED_MAX_AGE}")
        }
    }

    /// The entity tag, for objects of a complete ladder (which never change under their
    /// URL and version); `None` otherwise.
    pub fn etag(self, version: &str, size: u64) -> Option<String> {
        (self.complete && !self.playlist).then(|| format!("\"{version}-{size}\""))
    }
}

/// Whether an `If-None-Match` value matches `etag` (a list, or `*`).
pub fn if_none_match(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJECT: Answer = Answer {
        playlist: false,
        public: true,
        complete: true,
        current_version: true,
    };

    #[test]
    fn a_versioned_object_of_a_complete_ladder_is_immutable_for_a_year() {
        assert_eq!(
            OBJECT.cache_control(),
            "public, max-age=31536000, immutable"
        );
        let restricted = Answer {
            public: false,
            ..OBJECT
        };
        assert_eq!(
            restricted.cache_control(),
            "private, max-age=31536000, immutable"
        );
    }

    #[test]
    fn an_object_without_the_current_version_is_kept_briefly() {
        let old = Answer {
            current_version: false,
            ..OBJECT
        };
        assert_eq!(old.cache_control(), "public, max-age=10");
    }

    #[test]
    fn playlists_are_short_lived_and_private_ones_revalidated() {
        let playlist = Answer {
            playlist: true,
            ..OBJECT
        };
        assert_eq!(playlist.cache_control(), "public, max-age=10");
        let private = Answer {
            public: false,
            ..playlist
        };
        assert_eq!(private.cache_control(), "private, no-cache");
        assert_eq!(playlist.etag("v", 10), None);
    }

    #[test]
    fn nothing_of_a_growing_ladder_is_kept() {
        for playlist in [true, false] {
            let growing = Answer {
                playlist,
                complete: false,
                ..OBJECT
            };
            assert_eq!(growing.cache_control(), "no-cache");
            assert_eq!(growing.etag("v", 1), None);
        }
    }

    #[test]
    fn versions_differ_per_ladder_and_are_stable() {
        let a = ladder_version("ladders/r1/job-a/");
        assert_eq!(a.len(), 12);
        assert_eq!(a, ladder_version("ladders/r1/job-a/"));
        assert_ne!(a, ladder_version("ladders/r1/job-b/"));
    }

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_the_star() {
        let tag = OBJECT.etag("abc", 5).unwrap();
        assert_eq!(tag, "\"abc-5\"");
        assert!(if_none_match("\"abc-5\"", &tag));
        assert!(if_none_match("\"x\", W/\"abc-5\"", &tag));
        assert!(if_none_match("*", &tag));
        assert!(!if_none_match("\"abc-6\"", &tag));
    }
}
