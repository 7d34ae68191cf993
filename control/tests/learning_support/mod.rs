//! What the learning-record tests share (analytics, credit hours, complaints, retention,
//! feedback): a small organisation, published resources with a known duration, playback
//! tokens, and a player that reports events in step with the test clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use serde_json::{Value, json};
use yanxiu_control::Role;

use crate::common::TestEnv;

/// Two departments and the people the tests need.
pub struct World {
    pub physics: String,
    pub maths: String,
    pub producer: String,
    pub producer_id: String,
    pub maths_producer: String,
    pub dept_reviewer: String,
    pub maths_reviewer: String,
    pub centre: String,
    pub dept_admin: String,
    pub learner: String,
    pub learner_id: String,
    pub learner2: String,
    pub learner2_id: String,
    pub maths_learner: String,
}

impl World {
    pub async fn new(env: &TestEnv) -> World {
        let physics = env.department("物理教研室").await;
        let maths = env.department("数学学科组").await;
        let (p, producer) = env
            .login_as("producer", &[Role::Producer], Some(&physics))
            .await;
        let (_, maths_producer) = env
            .login_as("mproducer", &[Role::Producer], Some(&maths))
            .await;
        let (_, dept_reviewer) = env
            .login_as("head", &[Role::DepartmentReviewer], Some(&physics))
            .await;
        let (_, maths_reviewer) = env
            .login_as("mhead", &[Role::DepartmentReviewer], Some(&maths))
            .await;
        let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;
        let (_, dept_admin) = env
            .login_as("padmin", &[Role::DepartmentAdmin], Some(&physics))
            .await;
        let (l1, learner) = env
            .login_as("learner1", &[Role::Learner], Some(&physics))
            .await;
        let (l2, learner2) = env
            .login_as("learner2", &[Role::Learner], Some(&physics))
            .await;
        let (_, maths_learner) = env
            .login_as("mlearner", &[Role::Learner], Some(&maths))
            .await;
        World {
            physics,
            maths,
            producer,
            producer_id: p.id,
            maths_producer,
            dept_reviewer,
            maths_reviewer,
            centre,
            dept_admin,
            learner,
            learner_id: l1.id,
            learner2,
            learner2_id: l2.id,
            maths_learner,
        }
    }

    /// A resource of the physics department, through review and published.
    pub async fn published(&self, env: &TestEnv, name: &str, seconds: f64, hours: f64) -> String {
        publish_resource(
            env,
            &self.producer,
            &self.dept_reviewer,
            &self.centre,
            &self.physics,
            name,
            seconds,
            hours,
        )
        .await
    }

    /// A resource of the maths department, through review and published.
    pub async fn published_maths(&self, env: &TestEnv, name: &str, seconds: f64) -> String {
        publish_resource(
            env,
            &self.maths_producer,
            &self.maths_reviewer,
            &self.centre,
            &self.maths,
            name,
            seconds,
            1.0,
        )
        .await
    }
}

impl World {
    /// An audience of the physics department holding `members` (user ids).
    pub async fn audience(&self, env: &TestEnv, members: &[&str]) -> String {
        let (status, audience) = env
            .call(
                "POST",
                "/api/v1/audiences",
                Some(&self.dept_admin),
                Some(json!({"name": "2026 骨干教师班", "department_id": self.physics})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{audience}");
        let id = audience["id"].as_str().unwrap().to_owned();
        for m in members {
            let (status, body) = env
                .call(
                    "POST",
                    &format!("/api/v1/audiences/{id}/members"),
                    Some(&self.dept_admin),
                    Some(json!({"user_id": m})),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        id
    }

    /// A physics resource published for `audience` only.
    pub async fn published_for(&self, env: &TestEnv, name: &str, audience: &str) -> String {
        publish_resource_with(
            env,
            &self.producer,
            &self.dept_reviewer,
            &self.centre,
            &self.physics,
            name,
            100.0,
            json!({"credit_hours": 1, "openness": "non_public", "audience_id": audience}),
        )
        .await
    }
}

/// Creates, processes (a probe report `seconds` long), reviews and publishes a resource.
#[allow(clippy::too_many_arguments)]
pub async fn publish_resource(
    env: &TestEnv,
    producer: &str,
    dept_reviewer: &str,
    centre: &str,
    department: &str,
    name: &str,
    seconds: f64,
    hours: f64,
) -> String {
    publish_resource_with(
        env,
        producer,
        dept_reviewer,
        centre,
        department,
        name,
        seconds,
        json!({"credit_hours": hours}),
    )
    .await
}

/// [`publish_resource`] with `extra` metadata fields.
#[allow(clippy::too_many_arguments)]
pub async fn publish_resource_with(
    env: &TestEnv,
    producer: &str,
    dept_reviewer: &str,
    centre: &str,
    department: &str,
    name: &str,
    seconds: f64,
    extra: Value,
) -> String {
    let mut metadata = json!({"name": name, "lecturer_name": "宋薇", "lecturer_unit": "北京市清华大学附属中学",
        "display_order": 1, "summary": "目标与要点"});
    for (k, v) in extra.as_object().expect("extra metadata") {
        metadata[k] = v.clone();
    }
    let (status, created) = env
        .call(
            "POST",
            "/api/v1/resources",
            Some(producer),
            Some(json!({"department_id": department, "metadata": metadata})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let media = json!({"media_ref": format!("sources/{id}/source.mp4"), "processing_status": "ready",
        "probe_report": {"duration_seconds": seconds}, "ladder_prefix": format!("ladders/{id}/job/"),
        "poster_key": format!("ladders/{id}/job/poster.jpg")});
    let (status, body) = env
        .call(
            "PUT",
            &format!("/api/v1/resources/{id}/media"),
            Some(producer),
            Some(media),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (token, level) in [
        (producer, "self"),
        (dept_reviewer, "department"),
        (centre, "technical"),
    ] {
        let (status, body) = env
            .call(
                "POST",
                &format!("/api/v1/resources/{id}/reviews"),
                Some(token),
                Some(json!({"level": level, "decision": "approve", "comment": "符合要求"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{level}: {body}");
    }
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(centre),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// A playback grant for `target` (`resource_id` or `channel_id` JSON), as `viewer` (or
/// signed out).
pub async fn grant(env: &TestEnv, viewer: Option<&str>, target: Value) -> Value {
    let (status, grant) = env
        .call("POST", "/api/v1/playback-tokens", viewer, Some(target))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    grant
}

/// The events token of `viewer` for resource `id`.
pub async fn events_token(env: &TestEnv, viewer: Option<&str>, id: &str) -> String {
    grant(env, viewer, json!({"resource_id": id})).await["events_token"]
        .as_str()
        .expect("events token")
        .to_owned()
}

/// One event: `(kind, position s, seek origin s, player clock s)`.
pub type Ev = (&'static str, f64, Option<f64>, f64);

/// The JSON of an event numbered `seq`.
pub fn event(seq: i64, (kind, position, from, at): Ev) -> Value {
    let mut e = json!({"seq": seq, "kind": kind, "position": position,
        "elapsed_ms": (at * 1000.0) as i64});
    if let Some(f) = from {
        e["from"] = json!(f);
    }
    e
}

/// Posts one batch; returns status and body.
pub async fn post(env: &TestEnv, body: Value) -> (StatusCode, Value) {
    env.call("POST", "/api/v1/playback/events", None, Some(body))
        .await
}

/// A player on `target_key` (`resource_id`/`channel_id`) = `target`: sends each event as its
/// own request when the test clock reaches its player time (the clock starts now), and returns
/// the last receipt.
pub async fn play(
    env: &TestEnv,
    token: &str,
    target_key: &str,
    target: &str,
    playback_id: &str,
    events: &[Ev],
) -> Value {
    let start = env.now();
    let mut last = Value::Null;
    for (i, ev) in events.iter().enumerate() {
        let due = start + (ev.3 * 1000.0) as i64;
        let wait = due - env.now();
        if wait > 0 {
            env.clock.advance_ms(wait);
        }
        let (status, body) = post(
            env,
            json!({"token": token, target_key: target, "playback_id": playback_id,
                "events": [event(i as i64 + 1, *ev)]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "event {i} {ev:?}: {body}");
        last = body;
    }
    last
}

/// Heartbeats every 10 s from `from` to `to` (seconds of the video), starting at player time
/// `at` (playing at 1×), opened by `start` and closed by `end`.
pub fn straight(from: f64, to: f64, at: f64) -> Vec<Ev> {
    let mut out = vec![("start", from, None, at)];
    let mut pos = from;
    while pos + 10.0 < to {
        pos += 10.0;
        out.push(("heartbeat", pos, None, at + (pos - from)));
    }
    out.push(("end", to, None, at + (to - from)));
    out
}

/// GET with a token; asserts 200 and returns the body.
pub async fn get_ok(env: &TestEnv, token: &str, path: &str) -> Value {
    let (status, body) = env.call("GET", path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Posts one batch; returns the status and the `Retry-After` header.
pub async fn post_with_headers(env: &TestEnv, body: &Value) -> (StatusCode, Option<String>) {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/playback/events")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    let response = env.app.clone().oneshot(request).await.expect("response");
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status(), retry)
}

/// Removes stored objects from a directory, like the server's storage janitor: source files
/// (media refs), ladders (prefixes, recursively) and single objects (keys) under `root`.
#[derive(Debug)]
pub struct FileJanitor {
    pub root: std::path::PathBuf,
    pub fail: bool,
}

#[async_trait::async_trait]
impl yanxiu_control::resources::MediaJanitor for FileJanitor {
    async fn remove_media(
        &self,
        _resource_id: &str,
        media: &yanxiu_control::resources::StoredMedia,
    ) -> Result<(), yanxiu_control::resources::JanitorError> {
        if self.fail {
            return Err(yanxiu_control::resources::JanitorError(
                "storage is down".into(),
            ));
        }
        for prefix in &media.ladder_prefixes {
            let _ = std::fs::remove_dir_all(self.root.join(prefix));
        }
        for key in media.keys.iter().chain(&media.media_refs) {
            let _ = std::fs::remove_file(self.root.join(key));
        }
        Ok(())
    }
}

/// Writes the objects `publish_resource` names for resource `id` under `root`; returns them.
pub fn store_objects(root: &std::path::Path, id: &str) -> Vec<std::path::PathBuf> {
    let files = [
        format!("sources/{id}/source.mp4"),
        format!("ladders/{id}/job/master.m3u8"),
        format!("ladders/{id}/job/720p/seg-00001.m4s"),
        format!("ladders/{id}/job/poster.jpg"),
    ];
    files
        .iter()
        .map(|f| {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"media").unwrap();
            path
        })
        .collect()
}

/// The HTTP app of `env` with `janitor` removing stored objects.
pub fn app_with_janitor(env: &TestEnv, janitor: FileJanitor) -> axum::Router {
    let state = yanxiu_control::AppState::new(env.control.clone())
        .with_clock(env.clock.clone())
        .with_janitor(std::sync::Arc::new(janitor));
    yanxiu_control::router(state)
}

/// One JSON call on `app`.
pub async fn call_app(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    use tower::ServiceExt;
    let mut b = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let request = b
        .body(axum::body::Body::from(
            body.map(|v| v.to_string()).unwrap_or_default(),
        ))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
