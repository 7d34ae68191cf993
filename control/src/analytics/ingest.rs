//! Receiving playback events: [`ControlPlane::ingest_playback_events`] checks the token (the
//! playback token, or the events token of a public resource), the session behind it, the
//! rate limits and the batch, then hands the batch to one writer task per process through a
//! bounded queue. The writer takes every batch waiting, folds them into their playbacks and
//! learners' progress, awards credit hours that became due, and commits them in one
//! transaction (group commit), then answers each request. A refused request changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::{OnceCell, mpsc, oneshot};

use crate::analytics::cache::TtlCache;
use crate::analytics::config::LearningConfig;
use crate::analytics::events::{Event, EventBatch, EventLimits, EventRefused, check_batch};
use crate::analytics::intervals::IntervalSet;
use crate::analytics::ratelimit::RateLimiter;
use crate::analytics::session::{FoldRules, SessionState};
use crate::analytics::store::{self, Award, StoredProgress, StoredSession};
use crate::db::Db;
use crate::error::{ControlError, ControlResult};
use crate::learning::rules::{credit_now, required_ms};
use crate::plane::ControlPlane;
use crate::playback::{ANONYMOUS_SESSION_PREFIX, PlaybackDenied, PlaybackTarget, denied_by};
use crate::secrets::TokenInvalid;

/// How long the intake trusts what it looked up about a session or a target (ms).
const FACTS_TTL_MS: i64 = 5_000;
/// Batches one transaction of the writer takes at most.
const MAX_GROUP: usize = 512;

/// `(revoked_at, expires_at, disabled_at, department_id)` of a credential and its account.
type CredentialRow = (Option<i64>, Option<i64>, Option<i64>, Option<String>);
/// `(department_id, published_revision_id, credit_hours, probe_report)` of a resource.
type PublishedRow = (String, Option<String>, Option<f64>, Option<String>);

/// What the intake knows about a target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TargetInfo {
    /// `resource` or `channel`.
    pub(crate) kind: &'static str,
    /// Its id.
    pub(crate) id: String,
    /// Its department.
    pub(crate) department_id: String,
    /// The published revision (resources).
    pub(crate) revision_id: Option<String>,
    /// The published revision's duration (ms), when probed.
    pub(crate) duration_ms: Option<i64>,
    /// The published revision's credit hours.
    pub(crate) credit_hours: f64,
}

/// The viewer's progress on the resource after a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearningReceipt {
    /// Watched time over all their playbacks (union), seconds.
    pub watched_seconds: f64,
    /// The resource's duration, seconds, when known.
    pub duration_seconds: Option<f64>,
    /// Watched time that earns the credit hours, seconds.
    pub required_seconds: Option<f64>,
    /// The resource's credit hours (学时).
    pub credit_hours: f64,
    /// Whether the credit hours are earned.
    pub earned: bool,
    /// When they were earned (ms).
    pub earned_at: Option<i64>,
}

/// The answer to an accepted batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    /// Events applied.
    pub accepted: usize,
    /// Events received before (same sequence numbers), ignored.
    pub duplicates: usize,
    /// This playback's watched time, seconds.
    pub watched_seconds: f64,
    /// A signed-in viewer's progress on a resource (none for channels and signed-out viewers).
    pub learning: Option<LearningReceipt>,
}

/// One batch on its way to the writer.
#[derive(Debug)]
struct WriteJob {
    session_key: String,
    viewer_key: String,
    playback_id: String,
    /// The signed-in viewer and their department.
    user: Option<(String, Option<String>)>,
    target: TargetInfo,
    events: Vec<Event>,
    issued_at: i64,
    now: i64,
    reply: oneshot::Sender<ControlResult<Receipt>>,
}

/// The intake's state: caches, rate limits and the writer's queue.
#[derive(Debug)]
pub struct Analytics {
    config: LearningConfig,
    limits: Mutex<(RateLimiter, RateLimiter)>,
    /// Session id → `Some(department)` while alive, `None` once ended.
    sessions: Mutex<TtlCache<Option<Option<String>>>>,
    /// `resource:<id>` / `channel:<id>` → facts (`None`: not watchable).
    targets: Mutex<TtlCache<Option<TargetInfo>>>,
    writer: OnceCell<mpsc::Sender<WriteJob>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Analytics {
    /// The intake under `config`.
    pub fn new(config: &LearningConfig) -> Analytics {
        let keys = config.tracked_keys.max(1);
        Analytics {
            config: config.clone(),
            limits: Mutex::new((
                RateLimiter::new(config.playback_rate(), keys),
                RateLimiter::new(config.viewer_rate(), keys),
            )),
            sessions: Mutex::new(TtlCache::new(FACTS_TTL_MS, keys)),
            targets: Mutex::new(TtlCache::new(FACTS_TTL_MS, 100_000)),
            writer: OnceCell::new(),
        }
    }

    /// Forgets what it knew about a target (it was taken down or retired).
    pub(crate) fn forget_target(&self, kind: &str, id: &str) {
        lock(&self.targets).forget(&format!("{kind}:{id}"));
    }
}

fn refused(e: EventRefused) -> ControlError {
    ControlError::invalid(e.message_zh(), e.message_en())
}

impl ControlPlane {
    /// Takes one batch of playback events (see the module comment). `now` is its arrival.
    pub async fn ingest_playback_events(
        &self,
        batch: EventBatch,
        now: i64,
    ) -> ControlResult<Receipt> {
        let target = match (&batch.resource_id, &batch.channel_id) {
            (Some(id), None) => PlaybackTarget::Resource(id.clone()),
            (None, Some(id)) => PlaybackTarget::Channel(id.clone()),
            _ => return Err(refused(EventRefused::Target)),
        };
        let claims = match self.verify_playback_token(&batch.token, &target.claim(), now) {
            Ok(c) => c,
            Err(TokenInvalid::WrongTarget)
                if target
                    .preview_claim()
                    .is_some_and(|p| self.verify_playback_token(&batch.token, &p, now).is_ok()) =>
            {
                return Err(ControlError::invalid(
                    "预览播放不计入观看统计",
                    "previews are not counted in the viewing figures",
                ));
            }
            Err(e) => return Err(ControlError::Playback(denied_by(e))),
        };
        let issued_at = claims.expires_at - i64::from(self.config.tokens.playback_minutes) * 60_000;
        let user = if claims.session_id.starts_with(ANONYMOUS_SESSION_PREFIX) {
            None
        } else {
            match self.session_department(&claims.session_id, now).await? {
                Some(dept) => Some((claims.user_id.clone(), dept)),
                None => return Err(ControlError::Playback(PlaybackDenied::SessionEnded)),
            }
        };
        let viewer_key = match &user {
            Some((id, _)) => id.clone(),
            None => claims.session_id.clone(),
        };
        let (kind, target_id) = match &target {
            PlaybackTarget::Resource(id) => ("resource", id.as_str()),
            PlaybackTarget::Channel(id) => ("channel", id.as_str()),
        };
        let session_key = format!("{viewer_key}/{kind}:{target_id}/{}", batch.playback_id);
        {
            let mut limits = lock(&self.analytics.limits);
            limits
                .0
                .check(&session_key, now)
                .and_then(|()| limits.1.check(&viewer_key, now))
                .map_err(|retry_after_ms| ControlError::RateLimited { retry_after_ms })?;
        }
        let info = self
            .target_info(kind, target_id, now)
            .await?
            .ok_or(ControlError::Playback(PlaybackDenied::NotAvailable))?;
        let cfg = &self.analytics.config;
        let limits = EventLimits {
            max_events: cfg.max_events_per_request.max(1),
            position_tolerance_ms: (cfg.position_tolerance_seconds.max(0.0) * 1000.0) as i64,
            max_position_ms: crate::analytics::events::MAX_ELAPSED_MS,
        };
        let duration = if kind == "resource" {
            info.duration_ms
        } else {
            None
        };
        let events =
            check_batch(&batch.playback_id, &batch.events, &limits, duration).map_err(refused)?;
        let (reply, answer) = oneshot::channel();
        let job = WriteJob {
            session_key,
            viewer_key,
            playback_id: batch.playback_id,
            user,
            target: info,
            events,
            issued_at,
            now,
            reply,
        };
        self.event_writer()
            .await
            .try_send(job)
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ControlError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    ControlError::Internal("the playback event writer stopped".into())
                }
            })?;
        answer
            .await
            .map_err(|_| ControlError::Internal("the playback event writer stopped".into()))?
    }

    async fn event_writer(&self) -> &mpsc::Sender<WriteJob> {
        self.analytics
            .writer
            .get_or_init(|| async {
                let (tx, rx) = mpsc::channel(self.analytics.config.queue_capacity.max(1));
                tokio::spawn(run_writer(
                    self.db.clone(),
                    self.analytics.config.clone(),
                    rx,
                ));
                tx
            })
            .await
    }

    /// `Some(department)` while the credential `session_id` is alive (cached briefly).
    async fn session_department(
        &self,
        session_id: &str,
        now: i64,
    ) -> ControlResult<Option<Option<String>>> {
        if let Some(v) = lock(&self.analytics.sessions).get(session_id, now) {
            return Ok(v);
        }
        let row: Option<CredentialRow> = sqlx::query_as(
            "SELECT c.revoked_at, c.expires_at, u.disabled_at, u.department_id FROM credentials c \
             JOIN users u ON u.id = c.user_id WHERE c.id = $1",
        )
        .bind(session_id.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        let value = row.and_then(|(revoked, expires, disabled, dept)| {
            (revoked.is_none() && disabled.is_none() && expires.is_none_or(|e| now < e))
                .then_some(dept)
        });
        lock(&self.analytics.sessions).put(session_id, value.clone(), now);
        Ok(value)
    }

    /// The facts of a watchable target (cached briefly): a published resource or an existing
    /// channel; `None` otherwise.
    pub(crate) async fn target_info(
        &self,
        kind: &'static str,
        id: &str,
        now: i64,
    ) -> ControlResult<Option<TargetInfo>> {
        let key = format!("{kind}:{id}");
        if let Some(v) = lock(&self.analytics.targets).get(&key, now) {
            return Ok(v);
        }
        let info = if kind == "resource" {
            let row: Option<PublishedRow> = sqlx::query_as(
                "SELECT r.department_id, r.published_revision_id, v.credit_hours, \
                     v.probe_report FROM resources r \
                     LEFT JOIN resource_revisions v ON v.id = r.published_revision_id \
                     WHERE r.id = $1 AND r.deleted_at IS NULL",
            )
            .bind(id.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
            row.and_then(|(department_id, revision, hours, probe)| {
                revision.map(|revision_id| TargetInfo {
                    kind,
                    id: id.to_owned(),
                    department_id,
                    revision_id: Some(revision_id),
                    duration_ms: probe.as_deref().and_then(duration_ms_of),
                    credit_hours: hours.unwrap_or(0.0),
                })
            })
        } else {
            let row: Option<(String,)> = sqlx::query_as(
                "SELECT department_id FROM channels WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(id.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
            row.map(|(department_id,)| TargetInfo {
                kind,
                id: id.to_owned(),
                department_id,
                revision_id: None,
                duration_ms: None,
                credit_hours: 0.0,
            })
        };
        lock(&self.analytics.targets).put(&key, info.clone(), now);
        Ok(info)
    }
}

/// The duration (ms) in a stored probe report (`duration_seconds`).
pub(crate) fn duration_ms_of(probe_report: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(probe_report)
        .ok()?
        .get("duration_seconds")?
        .as_f64()
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| (d * 1000.0).round() as i64)
}

impl WriteJob {
    fn rules(&self, cfg: &LearningConfig) -> FoldRules {
        FoldRules {
            max_rate: cfg.max_playback_rate.max(1.0),
            slack_ms: (cfg.slack_seconds.max(0.0) * 1000.0) as i64,
            duration_ms: self.target.duration_ms,
            live: self.target.kind == "channel",
            max_live_gap_ms: 60_000,
        }
    }

    fn new_session(&self) -> StoredSession {
        StoredSession {
            key: self.session_key.clone(),
            viewer_key: self.viewer_key.clone(),
            playback_id: self.playback_id.clone(),
            target_kind: self.target.kind.to_owned(),
            target_id: self.target.id.clone(),
            department_id: Some(self.target.department_id.clone()),
            user_id: self.user.as_ref().map(|(id, _)| id.clone()),
            started_at: self.now,
            last_seen_at: self.now,
            duration_ms: self.target.duration_ms,
            watched_ms: 0,
            state: SessionState::default(),
        }
    }

    /// The learner's progress key, for signed-in viewers of resources.
    fn progress_key(&self) -> Option<String> {
        match (&self.user, self.target.kind) {
            (Some((user, _)), "resource") => Some(format!("{user}/{}", self.target.id)),
            _ => None,
        }
    }
}

async fn run_writer(db: Db, config: LearningConfig, mut rx: mpsc::Receiver<WriteJob>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        match write_group(&db, &config, &jobs).await {
            Ok(results) => {
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = jobs.len(), "storing playback events failed");
                for job in jobs {
                    let _ = job.reply.send(Err(ControlError::Internal(
                        "storing playback events failed".into(),
                    )));
                }
            }
        }
    }
}

/// Folds `jobs` in order and commits them together; per job, its receipt or its refusal.
async fn write_group(
    db: &Db,
    cfg: &LearningConfig,
    jobs: &[WriteJob],
) -> Result<Vec<ControlResult<Receipt>>, sqlx::Error> {
    let mut keys: Vec<String> = jobs.iter().map(|j| j.session_key.clone()).collect();
    keys.sort();
    keys.dedup();
    let mut tx = db.pool().begin().await?;
    let mut sessions = store::load_sessions(&mut tx, db.backend(), &keys).await?;
    let mut dirty: HashSet<String> = HashSet::new();
    let mut added: HashMap<String, (usize, IntervalSet)> = HashMap::new();
    let mut folded: Vec<ControlResult<(usize, usize, f64)>> = Vec::with_capacity(jobs.len());
    let tolerance = cfg.clock_tolerance_seconds.max(0) * 1000;
    for (i, job) in jobs.iter().enumerate() {
        let rules = job.rules(cfg);
        let s = sessions
            .entry(job.session_key.clone())
            .or_insert_with(|| job.new_session());
        let anchor = match s
            .state
            .check_clock(&job.events, job.now, job.issued_at, tolerance)
        {
            Ok(a) => a,
            Err(e) => {
                folded.push(Err(refused(e)));
                continue;
            }
        };
        let mut next = s.state.clone();
        next.anchor_at = anchor;
        let applied = next.apply(&job.events, &rules);
        if applied.accepted > 0 {
            s.state = next;
            s.last_seen_at = s.last_seen_at.max(job.now);
            s.watched_ms = s.state.watched_ms(&rules);
            dirty.insert(job.session_key.clone());
        }
        if let Some(key) = job.progress_key() {
            added
                .entry(key)
                .or_insert_with(|| (i, IntervalSet::new()))
                .1
                .union_with(&applied.added);
        }
        folded.push(Ok((
            applied.accepted,
            applied.duplicates,
            s.watched_ms as f64 / 1000.0,
        )));
    }
    let mut progress_keys: Vec<String> = added.keys().cloned().collect();
    progress_keys.sort();
    let mut progress = store::load_progress(&mut tx, db.backend(), &progress_keys).await?;
    let mut awards = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    let share = cfg.credit_share();
    for key in &progress_keys {
        let Some((first, stretch)) = added.get(key) else {
            continue;
        };
        let job = &jobs[*first];
        let Some((user_id, user_dept)) = &job.user else {
            continue;
        };
        if stretch.is_empty() && progress.contains_key(key) {
            continue;
        }
        let p = progress
            .entry(key.clone())
            .or_insert_with(|| StoredProgress {
                key: key.clone(),
                user_id: user_id.clone(),
                resource_id: job.target.id.clone(),
                department_id: user_dept.clone(),
                watched: IntervalSet::new(),
                watched_ms: 0,
                duration_ms: job.target.duration_ms,
                first_at: job.now,
                updated_at: job.now,
                credited_at: None,
            });
        p.watched.union_with(stretch);
        p.duration_ms = job.target.duration_ms.or(p.duration_ms);
        p.watched_ms = match p.duration_ms {
            Some(d) if d > 0 => p.watched.total_within(d),
            _ => p.watched.total(),
        };
        p.updated_at = job.now;
        if let Some(at) = credit_now(p.credited_at, p.watched_ms, p.duration_ms, share, job.now) {
            p.credited_at = Some(at);
            awards.push(Award {
                user_id: user_id.clone(),
                resource_id: job.target.id.clone(),
                revision_id: job.target.revision_id.clone(),
                credit_hours: job.target.credit_hours,
                department_id: user_dept.clone(),
                watched_ms: p.watched_ms,
                duration_ms: p.duration_ms.unwrap_or(0),
                earned_at: at,
            });
        }
        changed.push(key.clone());
    }
    let dirty_sessions: Vec<&StoredSession> = keys
        .iter()
        .filter_map(|k| dirty.get(k).and(sessions.get(k)))
        .collect();
    store::save_sessions(&mut tx, &dirty_sessions).await?;
    let changed_progress: Vec<&StoredProgress> =
        changed.iter().filter_map(|k| progress.get(k)).collect();
    store::save_progress(&mut tx, &changed_progress).await?;
    store::insert_awards(&mut tx, &awards).await?;
    tx.commit().await?;
    Ok(jobs
        .iter()
        .zip(folded)
        .map(|(job, result)| {
            result.map(|(accepted, duplicates, watched_seconds)| Receipt {
                accepted,
                duplicates,
                watched_seconds,
                learning: job
                    .progress_key()
                    .map(|k| learning_receipt(progress.get(&k), &job.target, share)),
            })
        })
        .collect())
}

fn learning_receipt(
    p: Option<&StoredProgress>,
    target: &TargetInfo,
    share: f64,
) -> LearningReceipt {
    let duration = p.and_then(|p| p.duration_ms).or(target.duration_ms);
    LearningReceipt {
        watched_seconds: p.map_or(0, |p| p.watched_ms) as f64 / 1000.0,
        duration_seconds: duration.map(|d| d as f64 / 1000.0),
        required_seconds: required_ms(duration, share).map(|r| r as f64 / 1000.0),
        credit_hours: target.credit_hours,
        earned: p.is_some_and(|p| p.credited_at.is_some()),
        earned_at: p.and_then(|p| p.credited_at),
    }
}
