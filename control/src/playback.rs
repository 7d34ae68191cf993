//! Playback authorization for HLS: public published resources (and public channels) are open;
//! everything else needs a signed, expiring token bound to the viewer, their session and the
//! resource or channel. [`ControlPlane::authorize_playback`] is the check the HLS-serving code
//! calls on the master playlist, every media playlist and every segment. Tokens die with logout
//! or account disablement because they are bound to a live credential.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::Outcome;
use crate::channels::AudienceKind;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane};
use crate::policy::{Action, Scope};
use crate::resources::{Openness, ProcessingStatus};
use crate::secrets::{PlaybackClaims, TokenInvalid};

/// What is being played.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum PlaybackTarget {
    /// A VOD resource (its published revision).
    Resource(String),
    /// A live channel.
    Channel(String),
}

impl PlaybackTarget {
    /// The claim of a token to watch the target (a resource only while it is published).
    pub(crate) fn claim(&self) -> String {
        match self {
            PlaybackTarget::Resource(id) => format!("r:{id}"),
            PlaybackTarget::Channel(id) => format!("c:{id}"),
        }
    }

    /// The claim of a preview token: a resource shown to those who may read it (its producer
    /// and reviewers), published or not. Channels have no previews.
    pub(crate) fn preview_claim(&self) -> Option<String> {
        match self {
            PlaybackTarget::Resource(id) => Some(format!("rp:{id}")),
            PlaybackTarget::Channel(_) => None,
        }
    }
}

/// The session id inside the events token of a signed-out viewer of a public target.
pub(crate) const ANONYMOUS_SESSION_PREFIX: &str = "anon:";

/// Why playback was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackDenied {
    /// No such resource or channel, or not published.
    NotAvailable,
    /// A token is needed and none was given.
    TokenRequired,
    /// The token is malformed or its signature is wrong.
    InvalidToken,
    /// The token has expired.
    TokenExpired,
    /// The token was issued for another resource or channel.
    WrongTarget,
    /// The session behind the token ended (logout, eviction) or the account is disabled.
    SessionEnded,
    /// The control plane could not decide.
    Unavailable,
}

impl PlaybackDenied {
    /// The HTTP status an HLS server should answer with.
    pub fn http_status(self) -> u16 {
        match self {
            PlaybackDenied::NotAvailable => 404,
            PlaybackDenied::TokenRequired
            | PlaybackDenied::InvalidToken
            | PlaybackDenied::TokenExpired
            | PlaybackDenied::SessionEnded => 401,
            PlaybackDenied::WrongTarget => 403,
            PlaybackDenied::Unavailable => 503,
        }
    }

    /// The stable code (`playback.…`).
    pub fn code(self) -> &'static str {
        match self {
            PlaybackDenied::NotAvailable => "playback.not_available",
            PlaybackDenied::TokenRequired => "playback.token_required",
            PlaybackDenied::InvalidToken => "playback.invalid_token",
            PlaybackDenied::TokenExpired => "playback.token_expired",
            PlaybackDenied::WrongTarget => "playback.wrong_target",
            PlaybackDenied::SessionEnded => "playback.session_ended",
            PlaybackDenied::Unavailable => "playback.unavailable",
        }
    }

    /// The zh-CN message.
    pub fn message_zh(self) -> &'static str {
        match self {
            PlaybackDenied::NotAvailable => "资源不存在或未发布",
            PlaybackDenied::TokenRequired => "观看此资源需要播放令牌",
            PlaybackDenied::InvalidToken => "播放令牌无效",
            PlaybackDenied::TokenExpired => "播放令牌已过期",
            PlaybackDenied::WrongTarget => "播放令牌不适用于此资源",
            PlaybackDenied::SessionEnded => "登录会话已结束，请重新登录",
            PlaybackDenied::Unavailable => "服务暂时不可用",
        }
    }

    /// The English message.
    pub fn message_en(self) -> &'static str {
        match self {
            PlaybackDenied::NotAvailable => "no such published resource",
            PlaybackDenied::TokenRequired => "a playback token is required",
            PlaybackDenied::InvalidToken => "the playback token is invalid",
            PlaybackDenied::TokenExpired => "the playback token has expired",
            PlaybackDenied::WrongTarget => "the playback token is for another resource",
            PlaybackDenied::SessionEnded => "the session has ended; sign in again",
            PlaybackDenied::Unavailable => "service temporarily unavailable",
        }
    }
}

/// Why playback was allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum PlaybackAllowed {
    /// The target is public.
    Public,
    /// A valid token for this viewer.
    Token {
        /// The viewer.
        user_id: String,
    },
}

/// A freshly issued playback token.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybackGrant {
    /// The token: append `?token=…` to playlist and segment URLs or send it as a bearer token.
    pub token: Option<String>,
    /// Expiry (ms), if a token was issued.
    pub expires_at: Option<i64>,
    /// The master playlist URL (with the token when one is needed).
    pub playback_url: String,
    /// The token the player reports its playback events with (`POST /api/v1/playback/events`):
    /// the playback token itself, or for a public target a token naming the viewer (a
    /// signed-out viewer gets an anonymous one). `None` for previews, which are not counted.
    pub events_token: Option<String>,
}

/// The refusal for a token that did not verify.
pub(crate) fn denied_by(e: TokenInvalid) -> PlaybackDenied {
    match e {
        TokenInvalid::Expired => PlaybackDenied::TokenExpired,
        TokenInvalid::WrongTarget => PlaybackDenied::WrongTarget,
        TokenInvalid::Malformed | TokenInvalid::BadSignature => PlaybackDenied::InvalidToken,
    }
}

/// The playback facts of a target: `(public, audience_id, department_id, owner_id, published)`,
/// or `None` when it does not exist. An unpublished resource is never public: only people who
/// may read it (its producer, its reviewers) get tokens for it, to preview it during review.
type TargetFacts = (bool, Option<String>, String, String, bool);

/// The ladder a resource's players are served: the published revision's, or for a preview of
/// an unpublished resource the latest revision's.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaybackLadder {
    /// The storage prefix of the ladder (`ladders/{resource}/{job}/`): unique per processing
    /// job, so objects under it never change.
    pub prefix: String,
    /// The ladder is complete (the resource is ready); `false` while it is still growing.
    pub complete: bool,
    /// The revision's caption tracks, served as the master playlist's subtitles group.
    pub captions: Vec<PlaybackCaption>,
    /// The media's duration in seconds (from the probe), for the subtitles playlists.
    pub duration_seconds: Option<f64>,
}

/// A caption track as players get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackCaption {
    /// Language tag.
    pub language: String,
    /// Menu label.
    pub label: String,
    /// Storage key of the WebVTT file.
    pub key: String,
}

/// What the playback caches keep of a target: its facts, and for a resource its ladder.
#[derive(Debug, Clone)]
pub(crate) struct CachedTarget {
    facts: TargetFacts,
    ladder: Option<PlaybackLadder>,
}

/// What the playback caches keep of a credential: whether it was revoked (or its account
/// disabled), and its absolute expiry, compared with each request's own time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachedCredential {
    ended: bool,
    expires_at: Option<i64>,
}

/// The ladder of a revision, when its players can be served one (ready, or still growing).
fn ladder_of(revision: &crate::resources::Revision) -> Option<PlaybackLadder> {
    let media = &revision.media;
    let complete = match media.processing_status {
        ProcessingStatus::Ready => true,
        ProcessingStatus::Processing => false,
        _ => return None,
    };
    let captions = revision
        .captions
        .iter()
        .map(|t| PlaybackCaption {
            language: t.language.clone(),
            label: t.label.clone(),
            key: t.key.clone(),
        })
        .collect();
    let duration_seconds = media
        .probe_report
        .as_ref()
        .and_then(|p| p.get("duration_seconds"))
        .and_then(serde_json::Value::as_f64);
    media.ladder_prefix.clone().map(|prefix| PlaybackLadder {
        prefix,
        complete,
        captions,
        duration_seconds,
    })
}

impl ControlPlane {
    async fn target_facts(&self, target: &PlaybackTarget) -> ControlResult<Option<TargetFacts>> {
        Ok(self.load_target(target).await?.map(|t| t.facts))
    }

    async fn load_target(&self, target: &PlaybackTarget) -> ControlResult<Option<CachedTarget>> {
        match target {
            PlaybackTarget::Resource(id) => {
                let view = match self.resource(id).await {
                    Ok(v) => v,
                    Err(ControlError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let revision = view.published.as_ref().unwrap_or(&view.latest);
                let ladder = ladder_of(revision);
                let facts = match view.published {
                    Some(p) => (
                        p.metadata.openness == Openness::Public,
                        p.metadata.audience_id,
                        view.department_id,
                        view.owner_id,
                        true,
                    ),
                    None => (false, None, view.department_id, view.owner_id, false),
                };
                Ok(Some(CachedTarget { facts, ladder }))
            }
            PlaybackTarget::Channel(id) => match self.channel(id).await {
                Ok(c) => Ok(Some(CachedTarget {
                    facts: (
                        c.audience == AudienceKind::Public,
                        c.audience_id,
                        c.department_id,
                        c.owner_id,
                        true,
                    ),
                    ladder: None,
                })),
                Err(ControlError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// A target's playback facts from the short cache, read from the database when absent
    /// or stale (see [`crate::playback_cache`]).
    async fn cached_target(
        &self,
        target: &PlaybackTarget,
        now: i64,
    ) -> ControlResult<Option<CachedTarget>> {
        let generation = self.changes.current();
        if let Some(hit) = self.playback_targets.get(target, now, generation) {
            return Ok(hit);
        }
        let loaded = self.load_target(target).await?;
        self.playback_targets
            .insert(target.clone(), loaded.clone(), now, generation);
        Ok(loaded)
    }

    /// Whether a credential is alive at `now`, from the short cache (revocation and account
    /// disablement reach other nodes within `[control.playback] cache_ms`; expiry is exact).
    async fn cached_credential_alive(&self, credential_id: &str, now: i64) -> ControlResult<bool> {
        let generation = self.changes.current();
        let key = credential_id.to_owned();
        let facts = match self.playback_credentials.get(&key, now, generation) {
            Some(hit) => hit,
            None => {
                let loaded = self.credential_facts(credential_id).await?;
                self.playback_credentials
                    .insert(key, loaded, now, generation);
                loaded
            }
        };
        Ok(facts.is_some_and(|c| !c.ended && c.expires_at.is_none_or(|e| now < e)))
    }

    async fn credential_facts(
        &self,
        credential_id: &str,
    ) -> ControlResult<Option<CachedCredential>> {
        let row = sqlx::query(
            "SELECT c.revoked_at, c.expires_at, u.disabled_at FROM credentials c \
             JOIN users u ON u.id = c.user_id WHERE c.id = $1",
        )
        .bind(credential_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CachedCredential {
            ended: row.try_get::<Option<i64>, _>("revoked_at")?.is_some()
                || row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?,
        }))
    }

    /// The ladder served to players of `resource_id` (after [`Self::authorize_playback`]
    /// allowed the request): `None` while there is none to serve. From the short cache.
    pub async fn playback_ladder(
        &self,
        resource_id: &str,
        now: i64,
    ) -> Result<Option<PlaybackLadder>, PlaybackDenied> {
        let target = PlaybackTarget::Resource(resource_id.to_owned());
        match self.cached_target(&target, now).await {
            Ok(Some(t)) => Ok(t.ladder),
            Ok(None) => Err(PlaybackDenied::NotAvailable),
            Err(_) => Err(PlaybackDenied::Unavailable),
        }
    }

    /// The per-request check for HLS serving (master playlist, media playlists, segments):
    /// `token` comes from the `token` query parameter or the `Authorization: Bearer` header.
    /// The token's signature and expiry are checked on every call; the target's facts and the
    /// credential's revocation come from a short cache (`[control.playback] cache_ms`), so a
    /// player's requests cost no database read (see [`crate::playback_cache`]).
    pub async fn authorize_playback(
        &self,
        target: &PlaybackTarget,
        token: Option<&str>,
        now: i64,
    ) -> Result<PlaybackAllowed, PlaybackDenied> {
        let cached = self
            .cached_target(target, now)
            .await
            .map_err(|_| PlaybackDenied::Unavailable)?;
        let Some((public, _, _, _, published)) = cached.map(|t| t.facts) else {
            return Err(PlaybackDenied::NotAvailable);
        };
        // Unpublished content exists only for those holding a preview token.
        if !published && token.is_none() {
            return Err(PlaybackDenied::NotAvailable);
        }
        if public {
            return Ok(PlaybackAllowed::Public);
        }
        let token = token.ok_or(PlaybackDenied::TokenRequired)?;
        // A watch token works only while the resource is published (a take-down stops it at
        // once); a preview token works for those who may read the resource, in any state.
        let claims = match self.verify_playback_token(token, &target.claim(), now) {
            Ok(_) if !published => return Err(PlaybackDenied::NotAvailable),
            Err(TokenInvalid::WrongTarget) => match target.preview_claim() {
                Some(preview) => self.verify_playback_token(token, &preview, now),
                None => Err(TokenInvalid::WrongTarget),
            },
            other => other,
        }
        .map_err(denied_by)?;
        match self.cached_credential_alive(&claims.session_id, now).await {
            Ok(true) => Ok(PlaybackAllowed::Token {
                user_id: claims.user_id,
            }),
            Ok(false) => Err(PlaybackDenied::SessionEnded),
            Err(_) => Err(PlaybackDenied::Unavailable),
        }
    }

    /// Issues a playback token to `viewer` for `target` if they may watch it: public targets
    /// need none; restricted ones need audience membership or a staff role that may read it.
    pub async fn issue_playback_token(
        &self,
        viewer: Option<&Actor>,
        target: &PlaybackTarget,
        now: i64,
    ) -> ControlResult<PlaybackGrant> {
        let facts = self.target_facts(target).await?;
        let Some((public, audience_id, department_id, owner_id, published)) = facts else {
            return Err(ControlError::NotFound("resource"));
        };
        let base = self
            .config
            .public_urls
            .playback_base
            .trim_end_matches('/')
            .to_owned();
        let url = match target {
            PlaybackTarget::Resource(id) => format!("{base}/play/{id}/master.m3u8"),
            PlaybackTarget::Channel(id) => format!("{base}/live/{id}/master.m3u8"),
        };
        let expires_at = now + i64::from(self.config.tokens.playback_minutes) * 60_000;
        if public {
            let (user_id, session_id) = match viewer {
                Some(v) => (v.user_id.clone(), v.credential_id.clone()),
                None => (
                    String::new(),
                    format!("{ANONYMOUS_SESSION_PREFIX}{}", crate::plane::new_id()),
                ),
            };
            let events_token = self.sign_playback_token(&PlaybackClaims {
                user_id,
                session_id,
                target: target.claim(),
                expires_at,
            });
            return Ok(PlaybackGrant {
                token: None,
                expires_at: None,
                playback_url: url,
                events_token: Some(events_token),
            });
        }
        let viewer = viewer.ok_or(ControlError::Unauthenticated)?;
        let in_audience = match &audience_id {
            Some(a) => self.is_audience_member(a, &viewer.user_id).await?,
            None => false,
        };
        let scope = Scope {
            in_audience,
            ..viewer.scope_of(Some(&department_id), Some(&owner_id))
        };
        let read_action = match target {
            PlaybackTarget::Resource(_) => Action::ReadResource,
            PlaybackTarget::Channel(_) => Action::ReadChannel,
        };
        // The audience watches what is published; a preview before publication is for those
        // who may read the resource (its producer and reviewers).
        let watch = viewer.decide(Action::Watch, &scope);
        let watch_allowed = published && watch.allowed;
        if !watch_allowed && !viewer.decide(read_action, &scope).allowed {
            let detail = json!({"target": target});
            self.audit(
                &viewer.audit_ctx(),
                "playback.token",
                &target.claim(),
                Outcome::Denied,
                detail,
                now,
            )
            .await?;
            return Err(ControlError::Forbidden(watch.reason));
        }
        let claim = if watch_allowed {
            target.claim()
        } else {
            target.preview_claim().unwrap_or_else(|| target.claim())
        };
        let token = self.sign_playback_token(&PlaybackClaims {
            user_id: viewer.user_id.clone(),
            session_id: viewer.credential_id.clone(),
            target: claim,
            expires_at,
        });
        Ok(PlaybackGrant {
            playback_url: format!("{url}?token={token}"),
            events_token: watch_allowed.then(|| token.clone()),
            token: Some(token),
            expires_at: Some(expires_at),
        })
    }
}
