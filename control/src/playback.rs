//! Playback authorization for HLS: public published resources (and public channels) are open;
//! everything else needs a signed, expiring token bound to the viewer, their session and the
//! resource or channel. [`ControlPlane::authorize_playback`] is the check the HLS-serving code
//! calls on the master playlist, every media playlist and every segment. Tokens die with logout
//! or account disablement because they are bound to a live credential.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::Outcome;
use crate::channels::AudienceKind;
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane};
use crate::policy::{Action, Scope};
use crate::resources::Openness;
use crate::secrets::{PlaybackClaims, TokenInvalid};

/// What is being played.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl ControlPlane {
    async fn target_facts(&self, target: &PlaybackTarget) -> ControlResult<Option<TargetFacts>> {
        match target {
            PlaybackTarget::Resource(id) => {
                let view = match self.resource(id).await {
                    Ok(v) => v,
                    Err(ControlError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                Ok(Some(match view.published {
                    Some(p) => (
                        p.metadata.openness == Openness::Public,
                        p.metadata.audience_id,
                        view.department_id,
                        view.owner_id,
                        true,
                    ),
                    None => (false, None, view.department_id, view.owner_id, false),
                }))
            }
            PlaybackTarget::Channel(id) => match self.channel(id).await {
                Ok(c) => Ok(Some((
                    c.audience == AudienceKind::Public,
                    c.audience_id,
                    c.department_id,
                    c.owner_id,
                    true,
                ))),
                Err(ControlError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// The per-request check for HLS serving (master playlist, media playlists, segments):
    /// `token` comes from the `token` query parameter or the `Authorization: Bearer` header.
    pub async fn authorize_playback(
        &self,
        target: &PlaybackTarget,
        token: Option<&str>,
        now: i64,
    ) -> Result<PlaybackAllowed, PlaybackDenied> {
        let facts = self
            .target_facts(target)
            .await
            .map_err(|_| PlaybackDenied::Unavailable)?;
        let Some((public, _, _, _, published)) = facts else {
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
        match self.credential_alive(&claims.session_id, now).await {
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
