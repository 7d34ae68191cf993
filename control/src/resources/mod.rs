//! Resources (数字教育资源) and their revisions: Table 1 and Table 2 metadata and the media of
//! each revision. A change to a published resource opens a new revision that goes through
//! review while the published one stays online.
//!
//! Files by idea: this one holds the types; `store` reads and writes rows; [`lifecycle`]
//! creates, changes, lists and deletes resources; [`media`] is the upload/transcode pipeline's
//! entry points ([`ControlPlane::create_resource_for`], [`ControlPlane::start_processing`],
//! [`ControlPlane::record_processing`]); [`processing`] is the pure processing state and its
//! API view; [`captions`] the caption tracks of a revision; [`janitor`] is the hook that
//! removes stored objects of a deleted resource.

pub mod audio_only;
pub mod captions;
pub mod janitor;
pub mod lifecycle;
pub mod media;
pub mod processing;
pub mod reprocess;
pub(crate) mod store;

use serde::{Deserialize, Serialize};

use crate::error::{ControlError, ControlResult};
use crate::review_flow::RevisionState;

pub use audio_only::{AudioOnlyRefusal, AudioOnlyRules};
pub use captions::{CaptionRules, CaptionTrack, CaptionUpload};
pub use janitor::{JanitorError, MediaJanitor, NoopJanitor, StoredMedia};
pub use processing::{
    JobSummary, MediaState, MediaUpdate, MediaValidation, MediaViolation, ProcessingFailure,
    ProcessingStatus, ProcessingView,
};
pub(crate) use store::RevisionRow;

#[cfg(doc)]
use crate::plane::ControlPlane;

/// Openness of a resource (Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Openness {
    /// 全网公开.
    #[default]
    Public,
    /// 非公开: only its audience.
    NonPublic,
}

/// Resource type (Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// 视频.
    #[default]
    Video,
    /// 音频.
    Audio,
    /// 图片.
    Image,
    /// 文档.
    Document,
    /// 其他.
    Other,
}

impl Openness {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Openness::Public => "public",
            Openness::NonPublic => "non_public",
        }
    }
}

impl ResourceType {
    /// Identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Video => "video",
            ResourceType::Audio => "audio",
            ResourceType::Image => "image",
            ResourceType::Document => "document",
            ResourceType::Other => "other",
        }
    }
}

pub(crate) fn parse_text<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or_default()
}

/// The descriptive metadata of a resource (Table 1 and Table 2 fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ResourceMetadata {
    /// 项目名称.
    pub project_name: String,
    /// 承办单位.
    pub undertaking_unit: String,
    /// 资源名称 (required).
    pub name: String,
    /// 主讲人 (required).
    pub lecturer_name: String,
    /// 主讲人单位 (required).
    pub lecturer_unit: String,
    /// 职称.
    pub lecturer_title: String,
    /// 内容简介 (goals, key points).
    pub summary: String,
    /// 学时 (required, ≥ 0).
    pub credit_hours: f64,
    /// 开放范围.
    pub openness: Openness,
    /// The audience of a non-public resource.
    pub audience_id: Option<String>,
    /// 资源类型.
    pub resource_type: ResourceType,
    /// 一级分类.
    pub category1: Option<String>,
    /// 二级分类 (needs a level 1).
    pub category2: Option<String>,
    /// 序号 (display order, ≥ 0).
    pub display_order: i64,
    /// 资源来源地址 (e.g. a cloud-drive link).
    pub source_url: Option<String>,
}

impl ResourceMetadata {
    /// Checks the required fields and their ranges (pure).
    pub fn validate(&self) -> ControlResult<()> {
        let required = [
            (&self.name, "资源名称", "name"),
            (&self.lecturer_name, "主讲人", "lecturer_name"),
            (&self.lecturer_unit, "工作单位", "lecturer_unit"),
        ];
        for (value, zh, en) in required {
            if value.trim().is_empty() {
                return Err(ControlError::invalid(
                    format!("{zh}不能为空"),
                    format!("{en} is required"),
                ));
            }
        }
        if !(0.0..=1000.0).contains(&self.credit_hours) || self.credit_hours.is_nan() {
            return Err(ControlError::invalid(
                "学时须在 0 到 1000 之间",
                "credit_hours must be between 0 and 1000",
            ));
        }
        if self.display_order < 0 {
            return Err(ControlError::invalid(
                "序号不能为负数",
                "display_order must not be negative",
            ));
        }
        if self.openness == Openness::NonPublic && self.audience_id.is_none() {
            return Err(ControlError::invalid(
                "非公开资源须指定受众",
                "a non-public resource needs an audience",
            ));
        }
        if self.category2.is_some() && self.category1.is_none() {
            return Err(ControlError::invalid(
                "二级分类须有一级分类",
                "category2 needs category1",
            ));
        }
        Ok(())
    }
}

/// One revision of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    /// Id.
    pub id: String,
    /// 1, 2, … per resource.
    pub number: i64,
    /// Review state.
    pub state: RevisionState,
    /// Metadata.
    pub metadata: ResourceMetadata,
    /// The media and what the pipeline recorded about it (flattened into the revision's JSON).
    #[serde(flatten)]
    pub media: MediaState,
    /// Caption tracks, one per language (see [`captions`]).
    pub captions: Vec<captions::CaptionTrack>,
    /// Creation (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A resource with its published and latest revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceView {
    /// Id.
    pub id: String,
    /// Owning department.
    pub department_id: String,
    /// The producer.
    pub owner_id: String,
    /// Creation (ms).
    pub created_at: i64,
    /// The revision online, if any.
    pub published: Option<Revision>,
    /// The newest revision (the one under work or review; equal to `published` when nothing
    /// is pending).
    pub latest: Revision,
    /// The processing of the latest revision's media: status, job progress, probe,
    /// validation, renditions, playback/poster/storyboard URLs.
    pub processing: ProcessingView,
}

/// Merges a JSON object of changed fields onto metadata (pure).
pub fn merge_metadata(
    current: &ResourceMetadata,
    changes: &serde_json::Value,
) -> ControlResult<ResourceMetadata> {
    let mut value =
        serde_json::to_value(current).map_err(|e| ControlError::Internal(e.to_string()))?;
    let (Some(target), Some(changes)) = (value.as_object_mut(), changes.as_object()) else {
        return Err(ControlError::invalid(
            "metadata 须为对象",
            "metadata must be an object",
        ));
    };
    for (k, v) in changes {
        target.insert(k.clone(), v.clone());
    }
    serde_json::from_value(value).map_err(|e| {
        ControlError::invalid(format!("元数据无效：{e}"), format!("invalid metadata: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> ResourceMetadata {
        ResourceMetadata {
            name: "全景式认识中国式现代化".into(),
            lecturer_name: "宋薇".into(),
            lecturer_unit: "北京市清华大学附属中学".into(),
            credit_hours: 4.0,
            display_order: 1,
            ..Default::default()
        }
    }

    #[test]
    fn table_two_required_fields_are_enforced() {
        assert!(sample().validate().is_ok());
        let mut m = sample();
        m.lecturer_unit = " ".into();
        assert!(m.validate().is_err());
        let mut m = sample();
        m.openness = Openness::NonPublic;
        assert!(m.validate().is_err(), "non-public needs an audience");
        let mut m = sample();
        m.category2 = Some("政治与历史".into());
        assert!(m.validate().is_err(), "level 2 needs level 1");
    }

    #[test]
    fn merging_changes_keeps_other_fields() {
        let merged = merge_metadata(
            &sample(),
            &json!({"credit_hours": 2.5, "category1": "名师课改示范课"}),
        )
        .expect("merge");
        assert_eq!(merged.credit_hours, 2.5);
        assert_eq!(merged.name, "全景式认识中国式现代化");
        assert!(merge_metadata(&sample(), &json!({"openness": "secret"})).is_err());
    }
}
