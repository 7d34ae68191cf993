//! Live channels: provisioning (create, update, delete), the stream key (random, shown once,
//! stored hashed, rotatable; the hashes of rotated keys are kept to tell a rotated key from a
//! wrong one), publish/WHIP/playback URLs, schedule window, state (idle/live/ended), the
//! enabled switch, audience, record-to-VOD and latency mode. Publish authorization for the
//! ingest side lives in [`crate::publish`] and is re-exported here.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::AuditAppend;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest, new_id};
use crate::policy::{Action, Scope};
use crate::secrets;

pub use crate::publish::{
    KeyCheck, PublishAuthorizer, PublishDenied, PublishFacts, PublishGrant, SCHEDULE_LEAD_MS,
    publish_decision,
};

/// A channel's live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// Not receiving.
    Idle,
    /// Receiving a publish.
    Live,
    /// The event is over.
    Ended,
}

/// Who may watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AudienceKind {
    /// Everyone.
    #[default]
    Public,
    /// Members of the channel's audience.
    Restricted,
}

/// Glass-to-glass latency target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMode {
    /// Standard HLS.
    #[default]
    Standard,
    /// Low-latency HLS.
    LowLatency,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The identifier used in the API and the database.
            pub fn as_str(self) -> &'static str { match self { $(<$t>::$v => $s),* } }
            /// Parses the identifier.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(<$t>::$v),)* _ => None } }
        }
    };
}
pub(crate) use text_enum;

text_enum!(ChannelState { Idle => "idle", Live => "live", Ended => "ended" });
text_enum!(AudienceKind { Public => "public", Restricted => "restricted" });
text_enum!(LatencyMode { Standard => "standard", LowLatency => "low_latency" });

/// A channel as the API shows it (never the stream key or its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// Id.
    pub id: String,
    /// Title.
    pub name: String,
    /// Owning department.
    pub department_id: String,
    /// Owning project, if any.
    pub project_id: Option<String>,
    /// The organiser who created it.
    pub owner_id: String,
    /// Public stream name used in publish URLs.
    pub stream_name: String,
    /// Live state.
    pub state: ChannelState,
    /// Whether the channel accepts publishes (a disabled channel refuses them).
    pub enabled: bool,
    /// Who may watch.
    pub audience: AudienceKind,
    /// The audience, when restricted.
    pub audience_id: Option<String>,
    /// Whether the live event is recorded into a VOD resource.
    pub record_to_vod: bool,
    /// Latency mode.
    pub latency_mode: LatencyMode,
    /// Whether an HEVC source (Enhanced RTMP, SRT) is also offered as it came, an
    /// HEVC rendition beside the H.264 ladder, for players that take HEVC.
    pub hevc_passthrough: bool,
    /// Scheduled start (ms).
    pub scheduled_start: Option<i64>,
    /// Scheduled end (ms).
    pub scheduled_end: Option<i64>,
    /// RTMP publish URL (without the key).
    pub rtmp_url: String,
    /// WHIP endpoint (the key goes in `Authorization: Bearer`).
    pub whip_url: String,
    /// HLS master playlist URL.
    pub playback_url: String,
    /// Creation (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A channel with its stream key: returned only by creation and key rotation.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelWithKey {
    /// The channel.
    #[serde(flatten)]
    pub channel: Channel,
    /// The stream key (shown once; only its hash is stored).
    pub stream_key: String,
    /// For OBS: the server field.
    pub obs_server: String,
    /// For OBS: the stream-key field (`<stream_name>?key=<stream_key>`).
    pub obs_stream_key: String,
    /// The SRT publish URL with the key in its `streamid` (SRT access-control form), for
    /// OBS's server field, ffmpeg or a classroom recording system; `None` when SRT ingest
    /// is off.
    pub srt_publish_url: Option<String>,
}

/// A new channel.
#[derive(Debug, Clone, Deserialize)]
pub struct NewChannel {
    /// Title.
    pub name: String,
    /// Owning department.
    pub department_id: String,
    /// Owning project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Who may watch (default public).
    #[serde(default)]
    pub audience: AudienceKind,
    /// The audience when restricted.
    #[serde(default)]
    pub audience_id: Option<String>,
    /// Record into a VOD resource (default false).
    #[serde(default)]
    pub record_to_vod: bool,
    /// Latency mode (default standard).
    #[serde(default)]
    pub latency_mode: LatencyMode,
    /// Offer an HEVC source as it came beside the H.264 ladder (default false).
    #[serde(default)]
    pub hevc_passthrough: bool,
    /// Scheduled start (ms).
    #[serde(default)]
    pub scheduled_start: Option<i64>,
    /// Scheduled end (ms).
    #[serde(default)]
    pub scheduled_end: Option<i64>,
}

/// A change to a channel; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChannelPatch {
    /// Title.
    pub name: Option<String>,
    /// Who may watch.
    pub audience: Option<AudienceKind>,
    /// The audience when restricted.
    pub audience_id: Option<String>,
    /// Record to VOD.
    pub record_to_vod: Option<bool>,
    /// Latency mode.
    pub latency_mode: Option<LatencyMode>,
    /// Offer an HEVC source as it came (takes effect at the next session).
    pub hevc_passthrough: Option<bool>,
    /// Scheduled start (ms).
    pub scheduled_start: Option<i64>,
    /// Scheduled end (ms).
    pub scheduled_end: Option<i64>,
    /// State (`ended` closes the event, `idle` reopens it).
    pub state: Option<ChannelState>,
    /// Switches publishing on or off (allowed while live: the running publish is not cut here).
    pub enabled: Option<bool>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChannelRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) department_id: String,
    pub(crate) project_id: Option<String>,
    pub(crate) owner_id: String,
    pub(crate) stream_name: String,
    pub(crate) stream_key_hash: String,
    pub(crate) state: String,
    pub(crate) enabled: i64,
    pub(crate) audience_kind: String,
    pub(crate) audience_id: Option<String>,
    pub(crate) record_to_vod: i64,
    pub(crate) latency_mode: String,
    pub(crate) hevc_passthrough: i64,
    pub(crate) scheduled_start: Option<i64>,
    pub(crate) scheduled_end: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

fn check_schedule(start: Option<i64>, end: Option<i64>) -> ControlResult<()> {
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(ControlError::invalid(
            "结束时间须晚于开始时间",
            "the scheduled end must be after the start",
        ));
    }
    Ok(())
}

impl ControlPlane {
    pub(crate) fn channel_view(&self, row: &ChannelRow) -> Channel {
        let urls = &self.config.public_urls;
        Channel {
            id: row.id.clone(),
            name: row.name.clone(),
            department_id: row.department_id.clone(),
            project_id: row.project_id.clone(),
            owner_id: row.owner_id.clone(),
            stream_name: row.stream_name.clone(),
            state: ChannelState::parse(&row.state).unwrap_or(ChannelState::Idle),
            enabled: row.enabled != 0,
            audience: AudienceKind::parse(&row.audience_kind).unwrap_or(AudienceKind::Restricted),
            audience_id: row.audience_id.clone(),
            record_to_vod: row.record_to_vod != 0,
            latency_mode: LatencyMode::parse(&row.latency_mode).unwrap_or_default(),
            hevc_passthrough: row.hevc_passthrough != 0,
            scheduled_start: row.scheduled_start,
            scheduled_end: row.scheduled_end,
            rtmp_url: format!(
                "{}/{}",
                urls.rtmp_base.trim_end_matches('/'),
                row.stream_name
            ),
            whip_url: format!(
                "{}/{}",
                urls.whip_base.trim_end_matches('/'),
                row.stream_name
            ),
            playback_url: format!(
                "{}/live/{}/master.m3u8",
                urls.playback_base.trim_end_matches('/'),
                row.id
            ),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    pub(crate) async fn channel_row(&self, id: &str) -> ControlResult<ChannelRow> {
        sqlx::query_as("SELECT * FROM channels WHERE id = $1 AND deleted_at IS NULL")
            .bind(id.to_owned())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(ControlError::NotFound("channel"))
    }

    /// Reads a channel without a permission check (in-process callers: ingest, playback).
    pub async fn channel(&self, id: &str) -> ControlResult<Channel> {
        Ok(self.channel_view(&self.channel_row(id).await?))
    }

    /// Reads a channel for `actor` (needs `ReadChannel` in scope).
    pub async fn channel_for(&self, actor: &Actor, id: &str) -> ControlResult<Channel> {
        let row = self.channel_row(id).await?;
        actor.require(
            Action::ReadChannel,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        Ok(self.channel_view(&row))
    }

    async fn check_audience(
        &self,
        kind: AudienceKind,
        audience_id: Option<&str>,
    ) -> ControlResult<()> {
        match (kind, audience_id) {
            (AudienceKind::Restricted, None) => Err(ControlError::invalid(
                "非公开频道须指定受众",
                "a restricted channel needs an audience",
            )),
            (_, Some(id)) => self.audience(id).await.map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Creates a channel; the stream key is in the result and nowhere else.
    pub async fn create_channel(
        &self,
        actor: &Actor,
        new: NewChannel,
        now: i64,
    ) -> ControlResult<ChannelWithKey> {
        if new.name.trim().is_empty() {
            return Err(ControlError::invalid(
                "频道名称不能为空",
                "channel name must not be empty",
            ));
        }
        self.department(&new.department_id).await?;
        actor.require(
            Action::ManageChannels,
            &actor.scope_of(Some(&new.department_id), None),
        )?;
        if let Some(p) = &new.project_id
            && self.project(p).await?.department_id != new.department_id
        {
            return Err(ControlError::invalid(
                "项目不属于该部门",
                "the project belongs to another department",
            ));
        }
        self.check_audience(new.audience, new.audience_id.as_deref())
            .await?;
        check_schedule(new.scheduled_start, new.scheduled_end)?;
        let id = new_id();
        let stream_name = format!("ch-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let key = secrets::random_secret("sk_");
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO channels (id, name, department_id, project_id, owner_id, stream_name, \
             stream_key_hash, state, audience_kind, audience_id, record_to_vod, latency_mode, \
             hevc_passthrough, scheduled_start, scheduled_end, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'idle', $8, $9, $10, $11, $12, $13, $14, $15, $15)",
        )
        .bind(id.clone())
        .bind(new.name.trim().to_owned())
        .bind(new.department_id.clone())
        .bind(new.project_id.clone())
        .bind(actor.user_id.clone())
        .bind(stream_name)
        .bind(secrets::secret_hash(&key))
        .bind(new.audience.as_str())
        .bind(new.audience_id.clone())
        .bind(i64::from(new.record_to_vod))
        .bind(new.latency_mode.as_str())
        .bind(i64::from(new.hevc_passthrough))
        .bind(new.scheduled_start)
        .bind(new.scheduled_end)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let detail = json!({"name": new.name, "department_id": new.department_id});
        let record = AuditAppend::success("channel.create", format!("channel:{id}"), detail);
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(self.with_key(self.channel(&id).await?, key))
    }

    fn with_key(&self, channel: Channel, key: String) -> ChannelWithKey {
        let srt_base = self.config.public_urls.srt_base.trim_end_matches('/');
        ChannelWithKey {
            obs_server: self.config.public_urls.rtmp_base.clone(),
            obs_stream_key: format!("{}?key={key}", channel.stream_name),
            srt_publish_url: (!srt_base.is_empty()).then(|| {
                format!(
                    "{srt_base}?streamid=#!::r={},k={key},m=publish",
                    channel.stream_name
                )
            }),
            channel,
            stream_key: key,
        }
    }

    async fn channel_for_change(&self, actor: &Actor, id: &str) -> ControlResult<ChannelRow> {
        let row = self.channel_row(id).await?;
        actor.require(
            Action::ManageChannels,
            &actor.scope_of(Some(&row.department_id), Some(&row.owner_id)),
        )?;
        Ok(row)
    }

    /// Updates a channel.
    pub async fn update_channel(
        &self,
        actor: &Actor,
        id: &str,
        patch: ChannelPatch,
        now: i64,
    ) -> ControlResult<Channel> {
        let row = self.channel_for_change(actor, id).await?;
        let name = patch.name.clone().unwrap_or(row.name.clone());
        if name.trim().is_empty() {
            return Err(ControlError::invalid(
                "频道名称不能为空",
                "channel name must not be empty",
            ));
        }
        let audience = patch
            .audience
            .unwrap_or(AudienceKind::parse(&row.audience_kind).unwrap_or_default());
        let audience_id = patch.audience_id.clone().or(row.audience_id.clone());
        self.check_audience(audience, audience_id.as_deref())
            .await?;
        let start = patch.scheduled_start.or(row.scheduled_start);
        let end = patch.scheduled_end.or(row.scheduled_end);
        check_schedule(start, end)?;
        let state = patch
            .state
            .map(ChannelState::as_str)
            .unwrap_or(&row.state)
            .to_owned();
        if patch.state == Some(ChannelState::Live) {
            return Err(ControlError::invalid(
                "直播状态由推流决定",
                "the live state is set by publishing",
            ));
        }
        let enabled = patch.enabled.unwrap_or(row.enabled != 0);
        let hevc_passthrough = patch.hevc_passthrough.unwrap_or(row.hevc_passthrough != 0);
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "UPDATE channels SET name = $1, audience_kind = $2, audience_id = $3, record_to_vod = $4, \
             latency_mode = $5, scheduled_start = $6, scheduled_end = $7, state = $8, enabled = $9, \
             hevc_passthrough = $10, updated_at = $11 WHERE id = $12",
        )
        .bind(name.trim().to_owned())
        .bind(audience.as_str())
        .bind(audience_id)
        .bind(i64::from(patch.record_to_vod.unwrap_or(row.record_to_vod != 0)))
        .bind(patch.latency_mode.map(LatencyMode::as_str).unwrap_or(&row.latency_mode).to_owned())
        .bind(start)
        .bind(end)
        .bind(state)
        .bind(i64::from(enabled))
        .bind(i64::from(hevc_passthrough))
        .bind(now)
        .bind(id.to_owned())
        .execute(tx.conn())
        .await?;
        let mut detail = json!({});
        if enabled != (row.enabled != 0) {
            detail["enabled"] = json!(enabled);
        }
        if hevc_passthrough != (row.hevc_passthrough != 0) {
            detail["hevc_passthrough"] = json!(hevc_passthrough);
        }
        let record = AuditAppend::success("channel.update", format!("channel:{id}"), detail);
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        self.channel(id).await
    }

    /// Deletes a channel (it stops authorizing publishes at once).
    pub async fn delete_channel(&self, actor: &Actor, id: &str, now: i64) -> ControlResult<()> {
        self.channel_for_change(actor, id).await?;
        let mut tx = self.begin_audited().await?;
        sqlx::query("UPDATE channels SET deleted_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id.to_owned())
            .execute(tx.conn())
            .await?;
        let record = AuditAppend::success("channel.delete", format!("channel:{id}"), json!({}));
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await
    }

    /// Replaces the stream key; the old key stops working at once (publishes with it are
    /// refused as `key_rotated`: its hash is kept).
    pub async fn rotate_stream_key(
        &self,
        actor: &Actor,
        id: &str,
        now: i64,
    ) -> ControlResult<ChannelWithKey> {
        self.channel_for_change(actor, id).await?;
        let key = secrets::random_secret("sk_");
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO channel_previous_keys (channel_id, stream_key_hash, retired_at) \
             SELECT id, stream_key_hash, $2 FROM channels WHERE id = $1",
        )
        .bind(id.to_owned())
        .bind(now)
        .execute(tx.conn())
        .await?;
        sqlx::query("UPDATE channels SET stream_key_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(secrets::secret_hash(&key))
            .bind(now)
            .bind(id.to_owned())
            .execute(tx.conn())
            .await?;
        let record = AuditAppend::success("channel.rotate_key", format!("channel:{id}"), json!({}));
        self.commit_audited(tx, &actor.audit_ctx(), &[record], now)
            .await?;
        Ok(self.with_key(self.channel(id).await?, key))
    }

    /// Channels visible to `actor`: all for platform-wide readers, else their department's.
    pub async fn list_channels(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> ControlResult<Page<Channel>> {
        let dept = if actor
            .decide(Action::ReadChannel, &Scope::out_of_scope())
            .allowed
        {
            None
        } else {
            actor.require(
                Action::ReadChannel,
                &actor.scope_of(actor.department_id.as_deref(), None),
            )?;
            actor.department_id.clone()
        };
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM channels WHERE deleted_at IS NULL AND ($1 IS NULL OR department_id = $1)",
        )
        .bind(dept.clone())
        .fetch_one(self.db.pool())
        .await?;
        let rows: Vec<ChannelRow> = sqlx::query_as(
            "SELECT * FROM channels WHERE deleted_at IS NULL AND ($1 IS NULL OR department_id = $1) \
             ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
        )
        .bind(dept)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        Ok(Page::new(
            page,
            rows.iter().map(|r| self.channel_view(r)).collect(),
            total,
        ))
    }
}
