//! Learners' ratings (1–5 stars) and comments on resources, hidden until moderated
//! (审核细则 Art. 10 tracks ratings and learner feedback). One piece of feedback per learner
//! and resource; changing it sends it back to moderation. The rules are pure ([`rules`]); the
//! database side is here.

pub mod rules;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditAppend, Outcome};
use crate::error::{ControlError, ControlResult};
use crate::plane::{Actor, ControlPlane, Page, PageRequest, new_id};
use crate::policy::{Action, Scope};
use crate::resources::Openness;
use rules::{FeedbackRefused, FeedbackStatus, Moderation};

/// One piece of feedback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feedback {
    /// Id.
    pub id: String,
    /// The resource.
    pub resource_id: String,
    /// Its name.
    pub resource_name: String,
    /// 1–5.
    pub stars: i64,
    /// The comment, if any.
    pub comment: Option<String>,
    /// Pending, approved or rejected.
    pub status: FeedbackStatus,
    /// The moderator's note (shown to the author).
    pub moderation_note: Option<String>,
    /// Given (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

/// What a viewer sees of a resource's feedback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackSummary {
    /// The resource.
    pub resource_id: String,
    /// The average of approved ratings.
    pub average_stars: Option<f64>,
    /// Approved ratings.
    pub ratings: usize,
    /// Approved comments, newest first (no author names).
    pub comments: Vec<PublicComment>,
    /// The caller's own feedback, whatever its status.
    pub mine: Option<Feedback>,
}

/// An approved comment as everybody sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicComment {
    /// 1–5.
    pub stars: i64,
    /// The text.
    pub comment: String,
    /// When (ms).
    pub created_at: i64,
}

/// New or changed feedback.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFeedback {
    /// 1–5.
    pub stars: i64,
    /// Optional comment (at most 1000 characters).
    #[serde(default)]
    pub comment: Option<String>,
}

/// A moderator's decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationRequest {
    /// `approve` or `reject`.
    pub decision: Moderation,
    /// A note for the author.
    #[serde(default)]
    pub note: Option<String>,
}

fn refused(e: FeedbackRefused) -> ControlError {
    match e {
        FeedbackRefused::AlreadyModerated => ControlError::conflict(e.message_zh(), e.message_en()),
        _ => ControlError::invalid(e.message_zh(), e.message_en()),
    }
}

const SELECT: &str = "SELECT f.id, f.resource_id, f.stars, f.comment, f.status, \
    f.moderation_note, f.created_at, f.updated_at, v.name FROM resource_feedback f \
    LEFT JOIN resources r ON r.id = f.resource_id LEFT JOIN resource_revisions v \
    ON v.id = COALESCE(r.published_revision_id, r.latest_revision_id)";

fn feedback_of(r: &sqlx::any::AnyRow) -> Result<Feedback, sqlx::Error> {
    Ok(Feedback {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        resource_name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
        stars: r.try_get("stars")?,
        comment: r.try_get("comment")?,
        status: FeedbackStatus::parse(&r.try_get::<String, _>("status")?)
            .unwrap_or(FeedbackStatus::Pending),
        moderation_note: r.try_get("moderation_note")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl ControlPlane {
    /// `Ok` when `viewer` (or a signed-out viewer) may watch the published resource.
    async fn require_watch(&self, viewer: Option<&Actor>, resource_id: &str) -> ControlResult<()> {
        let row = self.resource_row(resource_id).await?;
        let published = self
            .view_of(&row)
            .await?
            .published
            .ok_or(ControlError::NotFound("resource"))?;
        if published.metadata.openness == Openness::Public {
            return match viewer {
                None => Ok(()),
                Some(v) => v.require(
                    Action::Watch,
                    &Scope {
                        public: true,
                        ..Scope::out_of_scope()
                    },
                ),
            };
        }
        let viewer = viewer.ok_or(ControlError::Unauthenticated)?;
        let in_audience = match &published.metadata.audience_id {
            Some(a) => self.is_audience_member(a, &viewer.user_id).await?,
            None => false,
        };
        viewer.require(
            Action::Watch,
            &Scope {
                in_audience,
                ..viewer.scope_of(Some(&row.department_id), Some(&row.owner_id))
            },
        )
    }

    /// Gives or changes the caller's feedback on a resource they may watch; it waits for
    /// moderation.
    pub async fn give_feedback(
        &self,
        actor: &Actor,
        resource_id: &str,
        req: NewFeedback,
        now: i64,
    ) -> ControlResult<Feedback> {
        self.require_watch(Some(actor), resource_id).await?;
        let comment = rules::check(req.stars, req.comment.as_deref()).map_err(refused)?;
        let changed = sqlx::query(
            "UPDATE resource_feedback SET stars = $1, comment = $2, status = 'pending', \
             updated_at = $3, moderator_id = NULL, moderation_note = NULL, moderated_at = NULL \
             WHERE resource_id = $4 AND user_id = $5",
        )
        .bind(req.stars)
        .bind(comment.clone())
        .bind(now)
        .bind(resource_id.to_owned())
        .bind(actor.user_id.clone())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if changed == 0 {
            sqlx::query(
                "INSERT INTO resource_feedback (id, resource_id, user_id, stars, comment, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) \
                 ON CONFLICT (resource_id, user_id) DO NOTHING",
            )
            .bind(new_id())
            .bind(resource_id.to_owned())
            .bind(actor.user_id.clone())
            .bind(req.stars)
            .bind(comment)
            .bind(now)
            .execute(self.db.pool())
            .await?;
        }
        self.my_feedback(actor, resource_id)
            .await?
            .ok_or(ControlError::Internal("feedback vanished".into()))
    }

    async fn my_feedback(
        &self,
        actor: &Actor,
        resource_id: &str,
    ) -> ControlResult<Option<Feedback>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE f.resource_id = $1 AND f.user_id = $2"
        )))
        .bind(resource_id.to_owned())
        .bind(actor.user_id.clone())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.as_ref().map(feedback_of).transpose()?)
    }

    /// A resource's approved ratings and comments, and the caller's own feedback.
    pub async fn feedback_summary(
        &self,
        viewer: Option<&Actor>,
        resource_id: &str,
    ) -> ControlResult<FeedbackSummary> {
        self.require_watch(viewer, resource_id).await?;
        let rows = sqlx::query(
            "SELECT stars, comment, created_at FROM resource_feedback \
             WHERE resource_id = $1 AND status = 'approved' ORDER BY created_at DESC, id",
        )
        .bind(resource_id.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        let mut stars = Vec::with_capacity(rows.len());
        let mut comments = Vec::new();
        for r in &rows {
            let s: i64 = r.try_get("stars")?;
            stars.push(s);
            if let Some(c) = r.try_get::<Option<String>, _>("comment")? {
                comments.push(PublicComment {
                    stars: s,
                    comment: c,
                    created_at: r.try_get("created_at")?,
                });
            }
        }
        let (average_stars, ratings) = rules::average(&stars);
        let mine = match viewer {
            Some(v) => self.my_feedback(v, resource_id).await?,
            None => None,
        };
        Ok(FeedbackSummary {
            resource_id: resource_id.to_owned(),
            average_stars,
            ratings,
            comments,
            mine,
        })
    }

    /// The moderation queue (`ModerateFeedback`: the centre everywhere, a department admin
    /// for their department's resources), oldest first.
    pub async fn feedback_queue(
        &self,
        actor: &Actor,
        status: Option<FeedbackStatus>,
        page: PageRequest,
    ) -> ControlResult<Page<Feedback>> {
        let department = if actor
            .decide(Action::ModerateFeedback, &Scope::out_of_scope())
            .allowed
        {
            None
        } else {
            actor.require(
                Action::ModerateFeedback,
                &actor.scope_of(actor.department_id.as_deref(), None),
            )?;
            actor.department_id.clone()
        };
        let status = status.map(|s| s.as_str().to_owned());
        const FILTER: &str =
            "($1 IS NULL OR f.status = $1) AND ($2 IS NULL OR r.department_id = $2)";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM resource_feedback f JOIN resources r ON r.id = f.resource_id \
             WHERE {FILTER}"
        )))
        .bind(status.clone())
        .bind(department.clone())
        .fetch_one(self.db.pool())
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE {FILTER} ORDER BY f.updated_at, f.id LIMIT $3 OFFSET $4"
        )))
        .bind(status)
        .bind(department)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(self.db.pool())
        .await?;
        let items = rows.iter().map(feedback_of).collect::<Result<_, _>>()?;
        Ok(Page::new(page, items, total))
    }

    /// Approves or rejects pending feedback; audited with the change.
    pub async fn moderate_feedback(
        &self,
        actor: &Actor,
        id: &str,
        req: ModerationRequest,
        now: i64,
    ) -> ControlResult<Feedback> {
        let row = sqlx::query(
            "SELECT f.status, f.resource_id, r.department_id FROM resource_feedback f \
             JOIN resources r ON r.id = f.resource_id WHERE f.id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(ControlError::NotFound("feedback"))?;
        let department: String = row.try_get("department_id")?;
        actor.require(
            Action::ModerateFeedback,
            &actor.scope_of(Some(&department), None),
        )?;
        let status = FeedbackStatus::parse(&row.try_get::<String, _>("status")?)
            .unwrap_or(FeedbackStatus::Pending);
        let next = rules::moderate(status, req.decision).map_err(refused)?;
        let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let mut audited = self.begin_audited().await?;
        let moved = sqlx::query(
            "UPDATE resource_feedback SET status = $1, moderator_id = $2, moderation_note = $3, \
             moderated_at = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(next.as_str())
        .bind(actor.user_id.clone())
        .bind(note.map(str::to_owned))
        .bind(now)
        .bind(id.to_owned())
        .execute(&mut *audited.tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(refused(FeedbackRefused::AlreadyModerated));
        }
        let resource_id: String = row.try_get("resource_id")?;
        let record = AuditAppend {
            action: "feedback.moderate".into(),
            target: format!("resource:{resource_id}"),
            outcome: Outcome::Success,
            detail: json!({"feedback": id, "decision": next.as_str()}),
        };
        self.commit_audited(audited, &actor.audit_ctx(), &[record], now)
            .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE f.id = $1")))
            .bind(id.to_owned())
            .fetch_one(self.db.pool())
            .await?;
        Ok(feedback_of(&row)?)
    }
}
