//! Lectures without picture (纯音频资源): the platform's rule on which resources may be
//! sound alone (table `[control.audio_only]`), read against a resource's type (Table 1's
//! 资源类型) and category.
//!
//! The pipeline asks before it validates a file ([`ControlPlane::audio_only_refusal`]): a
//! resource the rule allows accepts an audio file, which becomes an audio-only ladder with a
//! waveform poster; any other is told why, with a coded reason in both languages. Self-review
//! asks again, since the type or category may have changed after the file was processed.

use serde::{Deserialize, Serialize};

use crate::error::{ControlError, ControlResult};
use crate::plane::ControlPlane;
use crate::resources::{ResourceMetadata, ResourceType};

/// Which resources may be sound without picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioOnlyRules {
    /// Whether audio-only resources are accepted at all. A resource must also have the
    /// type 音频 (`audio`), so that the catalogue says what learners get.
    pub allowed: bool,
    /// When not empty, only resources in one of these level-1 or level-2 categories may be
    /// audio-only (a radio-style lecture series, say). Empty: any category.
    pub categories: Vec<String>,
}

impl Default for AudioOnlyRules {
    fn default() -> AudioOnlyRules {
        AudioOnlyRules {
            allowed: true,
            categories: Vec::new(),
        }
    }
}

/// Why a resource may not be audio-only: a stable code and the reason in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioOnlyRefusal {
    /// `audio_only.not_allowed`, `audio_only.type_not_audio` or
    /// `audio_only.category_not_allowed`.
    pub code: &'static str,
    /// zh-CN reason.
    pub zh: String,
    /// English reason.
    pub en: String,
}

impl From<AudioOnlyRefusal> for ControlError {
    fn from(r: AudioOnlyRefusal) -> ControlError {
        ControlError::Rule {
            code: r.code,
            zh: r.zh,
            en: r.en,
        }
    }
}

/// The type's name as Table 1 prints it, in both languages.
fn type_names(t: ResourceType) -> (&'static str, &'static str) {
    match t {
        ResourceType::Video => ("视频", "video"),
        ResourceType::Audio => ("音频", "audio"),
        ResourceType::Image => ("图片", "image"),
        ResourceType::Document => ("文档", "document"),
        ResourceType::Other => ("其他", "other"),
    }
}

impl AudioOnlyRules {
    /// Why `metadata`'s resource may not be sound without picture, or `None` when it may
    /// (pure).
    pub fn refusal(&self, metadata: &ResourceMetadata) -> Option<AudioOnlyRefusal> {
        if !self.allowed {
            return Some(AudioOnlyRefusal {
                code: "audio_only.not_allowed",
                zh: "本平台不接受纯音频资源，文件须包含画面".into(),
                en: "this platform does not accept audio-only resources: the file needs a picture"
                    .into(),
            });
        }
        if metadata.resource_type != ResourceType::Audio {
            let (zh, en) = type_names(metadata.resource_type);
            return Some(AudioOnlyRefusal {
                code: "audio_only.type_not_audio",
                zh: format!("文件没有画面，只有声音：资源类型须为“音频”（当前为“{zh}”）"),
                en: format!(
                    "the file has sound but no picture: the resource type must be “audio” (it is “{en}”)"
                ),
            });
        }
        if self.categories.is_empty() {
            return None;
        }
        let listed = [&metadata.category1, &metadata.category2]
            .into_iter()
            .flatten()
            .any(|c| self.categories.iter().any(|allowed| allowed == c));
        if listed {
            return None;
        }
        let category = metadata
            .category2
            .as_deref()
            .or(metadata.category1.as_deref());
        let accepted = self.categories.join("、");
        Some(match category {
            Some(c) => AudioOnlyRefusal {
                code: "audio_only.category_not_allowed",
                zh: format!("“{c}”类资源不接受纯音频文件（接受纯音频的分类：{accepted}）"),
                en: format!(
                    "resources in the category “{c}” cannot be audio-only (categories that can: {})",
                    self.categories.join(", ")
                ),
            },
            None => AudioOnlyRefusal {
                code: "audio_only.category_not_allowed",
                zh: format!("纯音频资源须属于以下分类之一：{accepted}"),
                en: format!(
                    "an audio-only resource must be in one of these categories: {}",
                    self.categories.join(", ")
                ),
            },
        })
    }
}

impl ControlPlane {
    /// Why the resource `resource_id`, as its latest revision describes it, may not be sound
    /// without picture; `None` when it may. Asked by the pipeline before it validates a file.
    pub async fn audio_only_refusal(
        &self,
        resource_id: &str,
    ) -> ControlResult<Option<AudioOnlyRefusal>> {
        let row = self.resource_row(resource_id).await?;
        let view = self.view_of(&row).await?;
        Ok(self.config().audio_only.refusal(&view.latest.metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(category1: Option<&str>, category2: Option<&str>) -> ResourceMetadata {
        ResourceMetadata {
            resource_type: ResourceType::Audio,
            category1: category1.map(str::to_owned),
            category2: category2.map(str::to_owned),
            ..ResourceMetadata::default()
        }
    }

    #[test]
    fn by_default_an_audio_resource_in_any_category_may_be_sound_alone() {
        let rules = AudioOnlyRules::default();
        assert_eq!(rules.refusal(&audio(None, None)), None);
        assert_eq!(rules.refusal(&audio(Some("名师课改示范课"), None)), None);
    }

    #[test]
    fn a_video_resource_is_told_to_change_its_type() {
        let video = ResourceMetadata::default();
        let r = AudioOnlyRules::default().refusal(&video).unwrap();
        assert_eq!(r.code, "audio_only.type_not_audio");
        assert!(
            r.zh.contains("“音频”") && r.zh.contains("“视频”"),
            "{}",
            r.zh
        );
        assert!(
            r.en.contains("“audio”") && r.en.contains("“video”"),
            "{}",
            r.en
        );
    }

    #[test]
    fn a_platform_without_audio_only_refuses_every_resource() {
        let rules = AudioOnlyRules {
            allowed: false,
            categories: vec![],
        };
        let r = rules.refusal(&audio(None, None)).unwrap();
        assert_eq!(r.code, "audio_only.not_allowed");
    }

    #[test]
    fn listed_categories_at_either_level_allow_it_and_others_are_named_in_the_refusal() {
        let rules = AudioOnlyRules {
            allowed: true,
            categories: vec!["广播讲座".into(), "家校共育".into()],
        };
        assert_eq!(rules.refusal(&audio(Some("广播讲座"), None)), None);
        assert_eq!(rules.refusal(&audio(Some("专题"), Some("家校共育"))), None);
        let r = rules.refusal(&audio(Some("名师课改示范课"), None)).unwrap();
        assert_eq!(r.code, "audio_only.category_not_allowed");
        assert!(r.zh.contains("名师课改示范课") && r.zh.contains("广播讲座、家校共育"));
        assert!(r.en.contains("广播讲座, 家校共育"), "{}", r.en);
        let r = rules.refusal(&audio(None, None)).unwrap();
        assert_eq!(r.code, "audio_only.category_not_allowed");
        let e: ControlError = r.into();
        assert_eq!(e.code(), "audio_only.category_not_allowed");
    }

    #[test]
    fn the_rules_read_from_toml_and_refuse_unknown_keys() {
        let rules: AudioOnlyRules = toml::from_str("categories = [\"广播讲座\"]").unwrap();
        assert!(rules.allowed);
        assert_eq!(rules.categories, ["广播讲座"]);
        assert!(toml::from_str::<AudioOnlyRules>("allow = false").is_err());
    }
}
