//! Caption tracks of a resource (字幕), one per language: which tracks a revision has, who
//! may attach or remove one, and the platform's rule that some categories need captions
//! before they are submitted for review.
//!
//! The control plane keeps the list; the caption files themselves are checked and normalised
//! to WebVTT by the binary (with `yanxiu_ingest::captions`) and stored in the media storage
//! before [`ControlPlane::attach_captions`] records them. A caption change is a change like
//! any other: on a published resource it opens a new revision that goes through review, while
//! the published one keeps its captions until the new one is published.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::AuditAppend;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane};
use crate::policy::Action;
use crate::resources::{ResourceMetadata, ResourceView, Revision};

/// One caption track of a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptionTrack {
    /// BCP 47 language tag (`zh-CN`, `en`), unique within a revision.
    pub language: String,
    /// What players show in their caption menu (`中文`, `English`).
    pub label: String,
    /// Storage key of the normalised WebVTT file. Not shown to people: where the server keeps
    /// it is nobody's business.
    #[serde(skip_serializing)]
    pub key: String,
    /// Number of cues.
    pub cues: u32,
    /// Size of the normalised file, bytes.
    pub bytes: u64,
    /// The format it was uploaded in (`webvtt`, `srt`).
    pub source_format: String,
    /// The account that attached it.
    pub uploaded_by: String,
    /// When (ms).
    pub uploaded_at: i64,
}

/// The stored form of a track: like [`CaptionTrack`], with its key.
#[derive(Serialize, Deserialize)]
struct StoredTrack {
    language: String,
    label: String,
    key: String,
    cues: u32,
    bytes: u64,
    source_format: String,
    uploaded_by: String,
    uploaded_at: i64,
}

/// The `captions` column's JSON text of a list of tracks (`None` when there are none).
pub(crate) fn captions_to_json(tracks: &[CaptionTrack]) -> Option<String> {
    if tracks.is_empty() {
        return None;
    }
    let stored: Vec<StoredTrack> = tracks
        .iter()
        .map(|t| StoredTrack {
            language: t.language.clone(),
            label: t.label.clone(),
            key: t.key.clone(),
            cues: t.cues,
            bytes: t.bytes,
            source_format: t.source_format.clone(),
            uploaded_by: t.uploaded_by.clone(),
            uploaded_at: t.uploaded_at,
        })
        .collect();
    serde_json::to_string(&stored).ok()
}

/// The tracks in the `captions` column's JSON text (none when absent or unreadable).
pub(crate) fn captions_from_json(text: Option<&str>) -> Vec<CaptionTrack> {
    let Some(stored) = text.and_then(|t| serde_json::from_str::<Vec<StoredTrack>>(t).ok()) else {
        return Vec::new();
    };
    stored
        .into_iter()
        .map(|t| CaptionTrack {
            language: t.language,
            label: t.label,
            key: t.key,
            cues: t.cues,
            bytes: t.bytes,
            source_format: t.source_format,
            uploaded_by: t.uploaded_by,
            uploaded_at: t.uploaded_at,
        })
        .collect()
}

/// A checked, stored caption file to record on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionUpload {
    /// Language tag, already checked and in its usual case.
    pub language: String,
    /// Menu label; empty: the language tag.
    pub label: String,
    /// Where the normalised WebVTT file was stored.
    pub key: String,
    /// Number of cues.
    pub cues: u32,
    /// Size of the stored file.
    pub bytes: u64,
    /// The uploaded format.
    pub source_format: String,
}

/// Most caption tracks one revision may carry.
pub const MAX_TRACKS: usize = 16;

/// Longest menu label, in characters.
const MAX_LABEL_CHARS: usize = 40;

/// `tracks` with `track` in place of the one of its language (or added), sorted by language
/// (pure). Refused past [`MAX_TRACKS`].
pub fn with_track(
    tracks: &[CaptionTrack],
    track: CaptionTrack,
) -> ControlResult<Vec<CaptionTrack>> {
    let mut out: Vec<CaptionTrack> = tracks
        .iter()
        .filter(|t| !t.language.eq_ignore_ascii_case(&track.language))
        .cloned()
        .collect();
    if out.len() >= MAX_TRACKS {
        return Err(ControlError::invalid(
            format!("每个资源最多 {MAX_TRACKS} 种语言的字幕"),
            format!("a resource has at most {MAX_TRACKS} caption languages"),
        ));
    }
    out.push(track);
    out.sort_by(|a, b| a.language.cmp(&b.language));
    Ok(out)
}

/// The label players show: `label` without line breaks or quotes, trimmed and bounded; the
/// language tag when that leaves nothing (pure).
pub fn menu_label(label: &str, language: &str) -> String {
    let clean: String = label
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(MAX_LABEL_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        language.to_owned()
    } else {
        clean.to_owned()
    }
}

/// Which categories need captions before a resource is submitted (table
/// `[control.captions]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptionRules {
    /// Level-1 or level-2 category names whose resources must carry at least one caption
    /// track (for example a series for hearing-impaired learners). Empty: captions optional.
    pub required_categories: Vec<String>,
}

impl CaptionRules {
    /// The refusal when `metadata`'s category needs captions and `captions` has none (pure).
    pub fn check(
        &self,
        metadata: &ResourceMetadata,
        captions: &[CaptionTrack],
    ) -> ControlResult<()> {
        if !captions.is_empty() {
            return Ok(());
        }
        let category = [&metadata.category1, &metadata.category2]
            .into_iter()
            .flatten()
            .find(|c| self.required_categories.iter().any(|r| r == *c));
        match category {
            Some(c) => Err(ControlError::Rule {
                code: "captions.required",
                zh: format!("“{c}”类资源须附字幕后才能提交审核"),
                en: format!(
                    "resources in the category “{c}” need captions before they are submitted for review"
                ),
            }),
            None => Ok(()),
        }
    }
}

impl ControlPlane {
    /// Records a caption track on the resource's working revision (a new one when the latest
    /// is published): replaces the track of the same language. Needs `EditResource`. The
    /// revision goes back to draft, like any change.
    pub async fn attach_captions(
        &self,
        actor: &Actor,
        resource_id: &str,
        upload: CaptionUpload,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(resource_id).await?;
        actor.require(
            Action::EditResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        let mut tx = self.begin_audited().await?;
        let revision = self.working_revision(tx.conn(), &row, now).await?;
        let track = CaptionTrack {
            label: menu_label(&upload.label, &upload.language),
            language: upload.language,
            key: upload.key,
            cues: upload.cues,
            bytes: upload.bytes,
            source_format: upload.source_format,
            uploaded_by: actor.user_id.clone(),
            uploaded_at: now,
        };
        let detail = json!({
            "revision": revision.number, "language": track.language, "cues": track.cues,
            "bytes": track.bytes, "source_format": track.source_format,
        });
        let tracks = with_track(&revision.captions, track)?;
        write_captions(tx.conn(), &revision, &tracks, now).await?;
        let record = AuditAppend::success(
            "resource.captions.attach",
            format!("resource:{resource_id}"),
            detail,
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.resource(resource_id).await
    }

    /// Removes the caption track of `language` from the working revision (404 when it has
    /// none). Needs `EditResource`. The file stays in storage while an older revision refers
    /// to it; deleting the resource removes it.
    pub async fn remove_captions(
        &self,
        actor: &Actor,
        resource_id: &str,
        language: &str,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let row = self.resource_row(resource_id).await?;
        actor.require(
            Action::EditResource,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        let latest = self.view_of(&row).await?.latest;
        if !latest
            .captions
            .iter()
            .any(|t| t.language.eq_ignore_ascii_case(language))
        {
            return Err(ControlError::NotFound("captions"));
        }
        let mut tx = self.begin_audited().await?;
        let revision = self.working_revision(tx.conn(), &row, now).await?;
        let tracks: Vec<CaptionTrack> = revision
            .captions
            .iter()
            .filter(|t| !t.language.eq_ignore_ascii_case(language))
            .cloned()
            .collect();
        write_captions(tx.conn(), &revision, &tracks, now).await?;
        let record = AuditAppend::success(
            "resource.captions.remove",
            format!("resource:{resource_id}"),
            json!({"revision": revision.number, "language": language}),
        );
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.resource(resource_id).await
    }

    /// The caption track of `language` of the latest revision, for someone who may read the
    /// resource (the producer, its reviewers): its storage key is in the track.
    pub async fn caption_track_for(
        &self,
        actor: &Actor,
        resource_id: &str,
        language: &str,
    ) -> ControlResult<CaptionTrack> {
        let view = self.resource_for(actor, resource_id).await?;
        view.latest
            .captions
            .into_iter()
            .find(|t| t.language.eq_ignore_ascii_case(language))
            .ok_or(ControlError::NotFound("captions"))
    }
}

/// Writes a revision's caption list and moves it back to draft.
async fn write_captions(
    conn: &mut sqlx::AnyConnection,
    revision: &Revision,
    tracks: &[CaptionTrack],
    now: i64,
) -> ControlResult<()> {
    sqlx::query(
        "UPDATE resource_revisions SET captions = $1, state = 'draft', updated_at = $2 WHERE id = $3",
    )
    .bind(captions_to_json(tracks))
    .bind(now)
    .bind(revision.id.clone())
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(language: &str) -> CaptionTrack {
        CaptionTrack {
            language: language.into(),
            label: language.into(),
            key: format!("captions/r/{language}.vtt"),
            cues: 3,
            bytes: 100,
            source_format: "webvtt".into(),
            uploaded_by: "u".into(),
            uploaded_at: 1,
        }
    }

    #[test]
    fn a_track_replaces_the_one_of_its_language_and_the_list_stays_sorted() {
        let list = with_track(&[track("zh-CN"), track("en")], track("fr")).unwrap();
        let langs: Vec<_> = list.iter().map(|t| t.language.as_str()).collect();
        assert_eq!(langs, ["en", "fr", "zh-CN"]);
        let mut newer = track("EN");
        newer.cues = 9;
        let list = with_track(&list, newer).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.iter().find(|t| t.language == "EN").unwrap().cues, 9);
    }

    #[test]
    fn a_revision_carries_at_most_sixteen_languages() {
        let many: Vec<_> = (0..MAX_TRACKS)
            .map(|i| track(&format!("l{i:02}")))
            .collect();
        assert!(with_track(&many, track("xx")).is_err());
        assert!(
            with_track(&many, track("l03")).is_ok(),
            "a replacement still fits"
        );
    }

    #[test]
    fn the_stored_form_keeps_the_key_that_the_api_form_hides() {
        let text = captions_to_json(&[track("en")]).unwrap();
        assert!(text.contains("captions/r/en.vtt"));
        assert_eq!(captions_from_json(Some(&text)), vec![track("en")]);
        let api = serde_json::to_string(&track("en")).unwrap();
        assert!(!api.contains("captions/r/"), "{api}");
        assert_eq!(captions_to_json(&[]), None);
        assert!(captions_from_json(Some("not json")).is_empty());
    }

    #[test]
    fn menu_labels_lose_quotes_and_line_breaks_and_default_to_the_language() {
        assert_eq!(menu_label(" 中文\n\"简体\" ", "zh-CN"), "中文简体");
        assert_eq!(menu_label("  ", "en"), "en");
        assert_eq!(menu_label(&"x".repeat(100), "en").chars().count(), 40);
    }

    #[test]
    fn a_category_that_needs_captions_refuses_a_resource_without_them() {
        let rules = CaptionRules {
            required_categories: vec!["无障碍".into()],
        };
        let mut metadata = ResourceMetadata {
            category1: Some("学科教学".into()),
            category2: Some("无障碍".into()),
            ..ResourceMetadata::default()
        };
        let err = rules.check(&metadata, &[]).unwrap_err();
        assert_eq!(err.code(), "captions.required");
        assert!(rules.check(&metadata, &[track("zh-CN")]).is_ok());
        metadata.category2 = None;
        assert!(rules.check(&metadata, &[]).is_ok());
        assert!(CaptionRules::default().check(&metadata, &[]).is_ok());
    }
}
