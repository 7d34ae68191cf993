//! The hook that removes a deleted resource's stored objects. The control plane knows the
//! keys (from every revision); the binary implements [`MediaJanitor`] with its storage backend
//! (local directory or S3) and hands it to the API through `AppState`.

use serde::Serialize;

use crate::resources::Revision;

/// The stored objects of a resource, collected from all of its revisions (no duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StoredMedia {
    /// Source files (uploads) by reference.
    pub media_refs: Vec<String>,
    /// Storage prefixes of HLS ladders (everything under each is the resource's).
    pub ladder_prefixes: Vec<String>,
    /// Single objects: posters, storyboards, caption files.
    pub keys: Vec<String>,
}

impl StoredMedia {
    /// What `revisions` refer to.
    pub fn of(revisions: &[Revision]) -> StoredMedia {
        fn add(list: &mut Vec<String>, value: Option<&String>) {
            if let Some(v) = value
                && !list.contains(v)
            {
                list.push(v.clone());
            }
        }
        let mut out = StoredMedia::default();
        for r in revisions {
            add(&mut out.media_refs, r.media.media_ref.as_ref());
            add(&mut out.ladder_prefixes, r.media.ladder_prefix.as_ref());
            add(&mut out.keys, r.media.poster_key.as_ref());
            add(&mut out.keys, r.media.storyboard_key.as_ref());
            for track in &r.captions {
                add(&mut out.keys, Some(&track.key));
            }
        }
        out
    }

    /// True when there is nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.media_refs.is_empty() && self.ladder_prefixes.is_empty() && self.keys.is_empty()
    }
}

/// Removing stored objects failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JanitorError(pub String);

/// Removes the stored objects of a resource being deleted. Must be idempotent (a failed delete
/// is retried) and treat objects that are already gone as removed.
#[async_trait::async_trait]
pub trait MediaJanitor: Send + Sync + std::fmt::Debug {
    /// Removes `media` of `resource_id`.
    async fn remove_media(
        &self,
        resource_id: &str,
        media: &StoredMedia,
    ) -> Result<(), JanitorError>;
}

/// A janitor that removes nothing (no storage attached, e.g. a control plane on its own).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopJanitor;

#[async_trait::async_trait]
impl MediaJanitor for NoopJanitor {
    async fn remove_media(
        &self,
        _resource_id: &str,
        _media: &StoredMedia,
    ) -> Result<(), JanitorError> {
        Ok(())
    }
}
