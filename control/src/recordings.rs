//! Live recordings become resources (Art. 8): when a live session ends and the channel
//! records, [`ControlPlane::record_live_recording`] makes one draft resource per session,
//! owned by the channel's organiser in the channel's department, with the recorded ladder as
//! its media (`ready`), so that it enters the normal three-level review. The metadata
//! defaults (title, units, summary, openness) are pure ([`recording_metadata`]).

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{OffsetDateTime, UtcOffset};

use crate::audit::AuditAppend;
use crate::channel_events::ChannelEventKind;
use crate::channels::{AudienceKind, ChannelRow};
use crate::error::{ControlError, ControlResult};
use crate::plane::{AuditCtx, ControlPlane};
use crate::resources::{
    MediaUpdate, Openness, ProcessingStatus, ResourceMetadata, ResourceType, ResourceView,
};

/// What the live pipeline knows about a finished session's recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingFacts {
    /// The live session (one resource per channel and session).
    pub session_id: String,
    /// First frame (ms).
    pub started_at: i64,
    /// Last frame (ms).
    pub ended_at: i64,
    /// Recorded duration (s).
    pub duration_seconds: f64,
    /// Storage prefix of the recorded HLS ladder (VOD playlists over the persisted segments).
    pub ladder_prefix: String,
    /// The renditions of the ladder (one object each, like the VOD pipeline's).
    pub renditions: Vec<serde_json::Value>,
    /// Storage key of a poster image, if one was taken.
    pub poster_key: Option<String>,
}

impl RecordingFacts {
    /// Checks the facts (pure).
    pub fn validate(&self) -> ControlResult<()> {
        if self.session_id.trim().is_empty() {
            return Err(ControlError::invalid(
                "录像须有直播会话编号",
                "a recording needs a session_id",
            ));
        }
        if self.ended_at < self.started_at
            || !self.duration_seconds.is_finite()
            || self.duration_seconds < 0.0
        {
            return Err(ControlError::invalid(
                "录像的起止时间或时长无效",
                "the recording's start, end or duration is invalid",
            ));
        }
        if self.ladder_prefix.trim().is_empty() || self.renditions.is_empty() {
            return Err(ControlError::invalid(
                "录像须有存储位置和至少一个码率档",
                "a recording needs a ladder prefix and at least one rendition",
            ));
        }
        Ok(())
    }

    /// The `media_ref` of this recording on `channel_id`: `live:{channel_id}/{session_id}`.
    pub fn media_ref(&self, channel_id: &str) -> String {
        format!("live:{channel_id}/{}", self.session_id)
    }
}

/// China Standard Time (UTC+8, no daylight saving): the time people read in titles.
fn beijing(ms: i64) -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// Who and what a recording's metadata is made from.
#[derive(Debug, Clone, Copy)]
pub struct RecordingOrigin<'a> {
    /// The channel's title.
    pub channel_name: &'a str,
    /// The channel's audience kind.
    pub audience: AudienceKind,
    /// The channel's audience, when restricted.
    pub audience_id: Option<&'a str>,
    /// The channel's department (the undertaking and lecturer unit).
    pub department_name: &'a str,
    /// The channel's project, if any.
    pub project_name: Option<&'a str>,
    /// The organiser's display name (the lecturer until the organiser corrects it).
    pub owner_name: &'a str,
}

/// The draft metadata of a recording (pure): titled from the channel and the start time
/// (Beijing time), the department as units, the organiser as lecturer, no credit hours yet,
/// open like the channel. The organiser completes it before submitting it for review.
pub fn recording_metadata(
    origin: &RecordingOrigin<'_>,
    facts: &RecordingFacts,
) -> ResourceMetadata {
    let minutes = (facts.duration_seconds / 60.0).round();
    let restricted = origin.audience == AudienceKind::Restricted;
    ResourceMetadata {
        project_name: origin.project_name.unwrap_or_default().to_owned(),
        undertaking_unit: origin.department_name.to_owned(),
        name: format!(
            "{} 直播录像 {}",
            origin.channel_name.trim(),
            beijing(facts.started_at)
        ),
        lecturer_name: origin.owner_name.to_owned(),
        lecturer_unit: origin.department_name.to_owned(),
        lecturer_title: String::new(),
        summary: format!(
            "直播录像：{} 至 {}（北京时间），时长约 {minutes} 分钟。",
            beijing(facts.started_at),
            beijing(facts.ended_at)
        ),
        credit_hours: 0.0,
        openness: if restricted {
            Openness::NonPublic
        } else {
            Openness::Public
        },
        audience_id: origin.audience_id.filter(|_| restricted).map(str::to_owned),
        resource_type: ResourceType::Video,
        category1: None,
        category2: None,
        display_order: 0,
        source_url: None,
    }
}

impl ControlPlane {
    /// The resource already made from a session's recording, if any.
    pub async fn live_recording_resource(
        &self,
        channel_id: &str,
        session_id: &str,
    ) -> ControlResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT resource_id FROM live_recordings WHERE channel_id = $1 AND session_id = $2",
        )
        .bind(channel_id.to_owned())
        .bind(session_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?)
    }

    /// Creates (idempotently per channel+session_id) the draft resource of a live recording:
    /// owned by the channel's owner, in the channel's department (and project), titled from
    /// the channel name and the start time, processing status `ready` with the ladder prefix
    /// and renditions, media_ref `live:{channel_id}/{session_id}`; records a `recorded`
    /// channel event with the resource id and an audit entry. It then goes through the normal
    /// review workflow as a draft. A channel deleted during its last session still gets its
    /// recording.
    pub async fn record_live_recording(
        &self,
        channel_id: &str,
        facts: RecordingFacts,
        now: i64,
    ) -> ControlResult<ResourceView> {
        facts.validate()?;
        let _guard = self.recordings_lock.lock().await;
        if let Some(id) = self
            .live_recording_resource(channel_id, &facts.session_id)
            .await?
        {
            return self.resource(&id).await;
        }
        let row: ChannelRow = sqlx::query_as("SELECT * FROM channels WHERE id = $1")
            .bind(channel_id.to_owned())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(ControlError::NotFound("channel"))?;
        let department = self.department(&row.department_id).await?;
        let project = match &row.project_id {
            Some(p) => Some(self.project(p).await?),
            None => None,
        };
        let owner = self.user(&row.owner_id).await?;
        let origin = RecordingOrigin {
            channel_name: &row.name,
            audience: AudienceKind::parse(&row.audience_kind).unwrap_or(AudienceKind::Restricted),
            audience_id: row.audience_id.as_deref(),
            department_name: &department.name,
            project_name: project.as_ref().map(|p| p.name.as_str()),
            owner_name: &owner.display_name,
        };
        let metadata = recording_metadata(&origin, &facts);
        let ctx = AuditCtx::service("live", "local");
        let created = self
            .insert_resource(&ctx, &row.owner_id, &row.department_id, metadata, now)
            .await?;
        let media = MediaUpdate {
            media_ref: Some(facts.media_ref(channel_id)),
            processing_status: ProcessingStatus::Ready,
            probe_report: Some(json!({"source": "live", "channel_id": channel_id,
                "session_id": facts.session_id, "started_at": facts.started_at,
                "ended_at": facts.ended_at, "duration_seconds": facts.duration_seconds})),
            renditions: Some(facts.renditions.clone()),
            ladder_prefix: Some(facts.ladder_prefix.clone()),
            poster_key: facts.poster_key.clone(),
            ..Default::default()
        };
        self.attach_media(&created.id, media, now).await?;
        let mut tx = self.begin_audited().await?;
        let claimed = sqlx::query(
            "INSERT INTO live_recordings (channel_id, session_id, resource_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id, session_id) DO NOTHING",
        )
        .bind(channel_id.to_owned())
        .bind(facts.session_id.clone())
        .bind(created.id.clone())
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if claimed == 0 {
            drop(tx);
            // Another process recorded this session meanwhile: keep its resource only.
            return self
                .drop_duplicate_recording(channel_id, &created.id, &facts, now)
                .await;
        }
        let detail = json!({"resource_id": created.id, "session_id": facts.session_id,
            "duration_seconds": facts.duration_seconds});
        let record = AuditAppend::success(
            "channel.recording",
            format!("channel:{channel_id}"),
            detail.clone(),
        );
        self.commit_audited(tx, &ctx, &[record], now).await?;
        self.record_channel_event(channel_id, ChannelEventKind::Recorded, detail, now)
            .await?;
        self.resource(&created.id).await
    }

    async fn drop_duplicate_recording(
        &self,
        channel_id: &str,
        duplicate_id: &str,
        facts: &RecordingFacts,
        now: i64,
    ) -> ControlResult<ResourceView> {
        let mut tx = self.begin_audited().await?;
        sqlx::query("UPDATE resources SET deleted_at = $1 WHERE id = $2")
            .bind(now)
            .bind(duplicate_id.to_owned())
            .execute(tx.conn())
            .await?;
        let record = AuditAppend::success(
            "resource.delete",
            format!("resource:{duplicate_id}"),
            json!({"reason": "duplicate live recording", "session_id": facts.session_id}),
        );
        self.commit_audited(tx, &AuditCtx::service("live", "local"), &[record], now)
            .await?;
        let id = self
            .live_recording_resource(channel_id, &facts.session_id)
            .await?
            .ok_or(ControlError::NotFound("resource"))?;
        self.resource(&id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-02T01:00:00Z = 09:00 in Beijing.
    const START: i64 = 1_772_413_200_000;

    fn facts() -> RecordingFacts {
        RecordingFacts {
            session_id: "s1".into(),
            started_at: START,
            ended_at: START + 90 * 60_000,
            duration_seconds: 5400.0,
            ladder_prefix: "live/c1/s1".into(),
            renditions: vec![json!({"name": "720p"})],
            poster_key: None,
        }
    }

    fn origin(audience: AudienceKind) -> RecordingOrigin<'static> {
        RecordingOrigin {
            channel_name: " 开学第一课 ",
            audience,
            audience_id: Some("a1"),
            department_name: "教师网络研修中心",
            project_name: Some("2026 年骨干教师研修"),
            owner_name: "宋薇",
        }
    }

    #[test]
    fn a_recording_is_titled_from_the_channel_and_its_beijing_start_time() {
        let m = recording_metadata(&origin(AudienceKind::Public), &facts());
        assert_eq!(m.name, "开学第一课 直播录像 2026-03-02 09:00");
        assert_eq!(m.lecturer_name, "宋薇");
        assert_eq!(m.lecturer_unit, "教师网络研修中心");
        assert_eq!(m.undertaking_unit, "教师网络研修中心");
        assert_eq!(m.project_name, "2026 年骨干教师研修");
        assert!(m.summary.contains("10:30") && m.summary.contains("90 分钟"));
        assert_eq!(m.openness, Openness::Public);
        assert_eq!(m.audience_id, None);
        assert!(m.validate().is_ok());
    }

    #[test]
    fn a_restricted_channel_gives_a_non_public_recording_for_the_same_audience() {
        let m = recording_metadata(&origin(AudienceKind::Restricted), &facts());
        assert_eq!(m.openness, Openness::NonPublic);
        assert_eq!(m.audience_id.as_deref(), Some("a1"));
        assert!(m.validate().is_ok());
    }

    #[test]
    fn recording_facts_need_a_session_a_sane_time_span_and_a_ladder() {
        assert!(facts().validate().is_ok());
        assert_eq!(facts().media_ref("c1"), "live:c1/s1");
        let broken = [
            RecordingFacts {
                session_id: " ".into(),
                ..facts()
            },
            RecordingFacts {
                ended_at: START - 1,
                ..facts()
            },
            RecordingFacts {
                duration_seconds: f64::NAN,
                ..facts()
            },
            RecordingFacts {
                renditions: vec![],
                ..facts()
            },
            RecordingFacts {
                ladder_prefix: String::new(),
                ..facts()
            },
        ];
        for f in broken {
            assert!(f.validate().is_err(), "{f:?}");
        }
    }
}
