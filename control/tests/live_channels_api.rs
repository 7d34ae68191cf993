//! Live channels in operation: rotated and disabled keys refused with their reasons, the
//! channel event history (paging, scope, bound), the live status with and without the
//! serving process's figures, and recordings that become one reviewable draft per session.
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Backend, TestEnv};
use serde_json::{Value, json};
use tower::ServiceExt;
use yanxiu_control::channel_events::ChannelEventKind;
use yanxiu_control::http::AppState;
use yanxiu_control::live_status::{LiveInputInfo, LiveStatus, LiveStatusSource};
use yanxiu_control::recordings::RecordingFacts;
use yanxiu_control::{PageRequest, PublishAuthorizer, PublishDenied, Role};

/// A channel created over HTTP by `token`: (id, stream name, key).
async fn channel(env: &TestEnv, token: &str, dept: &str, name: &str) -> (String, String, String) {
    let (status, created) = env
        .call(
            "POST",
            "/api/v1/channels",
            Some(token),
            Some(json!({"name": name, "department_id": dept, "record_to_vod": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let field = |k: &str| created[k].as_str().unwrap().to_owned();
    (field("id"), field("stream_name"), field("stream_key"))
}

async fn publish(env: &TestEnv, stream: &str, key: &str) -> Result<String, PublishDenied> {
    env.control
        .authorize_publish(stream, key, "198.51.100.7", env.now())
        .await
        .map(|g| g.channel_id)
}

async fn events(env: &TestEnv, token: &str, id: &str, query: &str) -> (StatusCode, Value) {
    env.call(
        "GET",
        &format!("/api/v1/channels/{id}/events{query}"),
        Some(token),
        None,
    )
    .await
}

async fn rotate(env: &TestEnv, token: &str, id: &str) -> String {
    let (status, body) = env
        .call(
            "POST",
            &format!("/api/v1/channels/{id}/rotate-key"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["stream_key"].as_str().unwrap().to_owned()
}

async fn a_rotated_key_is_refused_as_rotated_even_after_a_second_rotation(env: TestEnv) {
    let dept = env.department("活动部").await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (id, stream, first) = channel(&env, &organiser, &dept, "开学第一课").await;
    let second = rotate(&env, &organiser, &id).await;
    assert_eq!(
        publish(&env, &stream, &first).await,
        Err(PublishDenied::KeyRotated)
    );
    let third = rotate(&env, &organiser, &id).await;
    assert_eq!(
        publish(&env, &stream, &first).await,
        Err(PublishDenied::KeyRotated)
    );
    assert_eq!(
        publish(&env, &stream, &second).await,
        Err(PublishDenied::KeyRotated)
    );
    assert_eq!(
        publish(&env, &stream, "sk_never_issued").await,
        Err(PublishDenied::WrongKey)
    );
    // Over HTTP (remote ingest) the reason is the same code.
    let (_, remote) = env
        .call(
            "POST",
            "/api/v1/ingest/authorize",
            None,
            Some(json!({"stream_name": stream, "stream_key": second})),
        )
        .await;
    assert_eq!(remote, json!({"allowed": false, "reason": "key_rotated"}));
    assert_eq!(publish(&env, &stream, &third).await, Ok(id.clone()));

    // Every refusal is in the channel's history, newest first, without any key.
    let (status, page) = events(&env, &organiser, &id, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let codes: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["kind"], "refused");
            assert_eq!(e["channel_id"], id.as_str());
            e["detail"]["code"].as_str().unwrap()
        })
        .collect();
    // The remote check came without a client address (no connect info in tests).
    assert_eq!(page["items"][0]["detail"]["peer"], "unknown");
    assert_eq!(page["items"][1]["detail"]["peer"], "198.51.100.7");
    assert_eq!(
        codes,
        [
            "key_rotated",
            "wrong_key",
            "key_rotated",
            "key_rotated",
            "key_rotated"
        ]
    );
    assert_eq!(
        page["items"][0]["detail"]["message_en"],
        PublishDenied::KeyRotated.message_en()
    );
    assert_eq!(
        page["items"][0]["detail"]["message_zh"],
        PublishDenied::KeyRotated.message_zh()
    );
    let text = page.to_string();
    for key in [&first, &second, &third] {
        assert!(!text.contains(key.as_str()), "a stream key in the events");
    }
}

async fn a_disabled_channel_refuses_publishing_and_the_refusal_is_in_its_events(env: TestEnv) {
    let dept = env.department("活动部").await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (id, stream, key) = channel(&env, &organiser, &dept, "教研直播").await;
    let (_, read) = env
        .call(
            "GET",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            None,
        )
        .await;
    assert_eq!(read["enabled"], true, "channels start enabled");
    // Disabling a live channel is allowed.
    assert_eq!(publish(&env, &stream, &key).await, Ok(id.clone()));
    let (status, patched) = env
        .call(
            "PATCH",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["state"], "live");
    env.control.publish_ended(&id, env.now()).await.unwrap();
    assert_eq!(
        publish(&env, &stream, &key).await,
        Err(PublishDenied::Disabled)
    );
    // A wrong key still says only that the key is wrong.
    assert_eq!(
        publish(&env, &stream, "sk_guess").await,
        Err(PublishDenied::WrongKey)
    );
    let (_, page) = events(&env, &organiser, &id, "").await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"][1]["kind"], "refused");
    assert_eq!(page["items"][1]["detail"]["code"], "disabled");
    assert_eq!(page["items"][1]["detail"]["message_zh"], "频道已停用");
    // Unknown stream names have no channel: audited, but in no channel's history.
    assert_eq!(
        publish(&env, "ch-nothing", &key).await,
        Err(PublishDenied::UnknownChannel)
    );
    let (_, page) = events(&env, &organiser, &id, "").await;
    assert_eq!(page["total"], 2);
    // Enabled again, the key works.
    env.call(
        "PATCH",
        &format!("/api/v1/channels/{id}"),
        Some(&organiser),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(publish(&env, &stream, &key).await, Ok(id.clone()));
    let audit = env
        .control
        .search_audit(
            &yanxiu_control::audit::AuditQuery {
                action: Some("channel.update".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|r| serde_json::from_str::<Value>(&r.detail).unwrap() == json!({"enabled": false}))
    );
}

async fn channel_events_are_paged_newest_first_and_scoped_like_channel_reads(env: TestEnv) {
    let dept = env.department("活动部").await;
    let other = env.department("语文学科组").await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (_, other_admin) = env
        .login_as("otheradmin", &[Role::DepartmentAdmin], Some(&other))
        .await;
    let (_, own_admin) = env
        .login_as("ownadmin", &[Role::DepartmentAdmin], Some(&dept))
        .await;
    let (_, learner) = env.login_as("learner", &[Role::Learner], None).await;
    let (id, _, _) = channel(&env, &organiser, &dept, "开学典礼").await;
    let kinds = [
        ChannelEventKind::Started,
        ChannelEventKind::Error,
        ChannelEventKind::Reconnected,
        ChannelEventKind::Stopped,
        ChannelEventKind::Recorded,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        env.control
            .record_channel_event(&id, kind, json!({"n": i}), env.now() + i as i64)
            .await
            .unwrap();
    }
    let (status, first) = events(&env, &organiser, &id, "?page=1&per_page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&first["total"], &first["page"], &first["per_page"]),
        (&json!(5), &json!(1), &json!(2))
    );
    let kinds_of = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds_of(&first), ["recorded", "stopped"]);
    assert_eq!(first["items"][0]["at"], env.now() + 4);
    assert_eq!(first["items"][0]["detail"], json!({"n": 4}));
    let (_, third) = events(&env, &organiser, &id, "?page=3&per_page=2").await;
    assert_eq!(kinds_of(&third), ["started"]);
    let (status, _) = events(&env, &own_admin, &id, "").await;
    assert_eq!(status, StatusCode::OK);
    for outsider in [&other_admin, &learner] {
        let (status, body) = events(&env, outsider, &id, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = env
            .call(
                "GET",
                &format!("/api/v1/channels/{id}/status"),
                Some(outsider),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = events(&env, &organiser, "no-such-channel", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(matches!(
        env.control
            .record_channel_event(
                "no-such-channel",
                ChannelEventKind::Started,
                json!({}),
                env.now()
            )
            .await,
        Err(yanxiu_control::ControlError::NotFound("channel"))
    ));
}

/// A serving process's figures, settable by the test.
#[derive(Debug, Default)]
struct FakeLiveFigures(Mutex<HashMap<String, LiveStatus>>);

impl LiveStatusSource for FakeLiveFigures {
    fn live_status(&self, channel_id: &str) -> Option<LiveStatus> {
        self.0.lock().unwrap().get(channel_id).cloned()
    }
}

async fn get_json(app: &axum::Router, path: &str, token: &str, lang: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT_LANGUAGE, lang)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn the_status_shows_the_serving_process_figures_or_idle_with_the_last_error(env: TestEnv) {
    let dept = env.department("活动部").await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (id, stream, key) = channel(&env, &organiser, &dept, "开学第一课").await;
    let path = format!("/api/v1/channels/{id}/status");

    // No source, no events: idle.
    let (status, body) = get_json(&env.app, &path, &organiser, "zh-CN").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"channel_id": id, "state": "idle", "enabled": true, "status": {
            "live": false, "since": null, "session_id": null, "reconnects": 0, "input": null,
            "renditions": [], "viewers": 0, "dropped_frames": 0, "last_error": null}})
    );
    // A refusal then a pipeline error: the newest problem is the last error, in the
    // caller's language.
    publish(&env, &stream, "sk_guess").await.unwrap_err();
    let (_, body) = get_json(&env.app, &path, &organiser, "en").await;
    assert_eq!(body["status"]["last_error"], "wrong stream key");
    env.control
        .record_channel_event(
            &id,
            ChannelEventKind::Error,
            json!({"code": "encoder_stalled", "message_zh": "编码器停止响应", "message_en": "the encoder stalled"}),
            env.now(),
        )
        .await
        .unwrap();
    env.control
        .record_channel_event(&id, ChannelEventKind::Stopped, json!({}), env.now())
        .await
        .unwrap();
    let (_, body) = get_json(&env.app, &path, &organiser, "zh-CN,zh;q=0.9").await;
    assert_eq!(body["status"]["last_error"], "编码器停止响应");
    assert_eq!(body["status"]["live"], false);

    // With the serving process's figures.
    let figures = Arc::new(FakeLiveFigures::default());
    let app = yanxiu_control::router(
        AppState::new(env.control.clone())
            .with_clock(env.clock.clone())
            .with_live_status(figures.clone()),
    );
    let (_, body) = get_json(&app, &path, &organiser, "en").await;
    assert_eq!(
        body["status"]["last_error"], "the encoder stalled",
        "nothing from the source: idle with the last problem"
    );
    assert_eq!(publish(&env, &stream, &key).await, Ok(id.clone()));
    let live = LiveStatus {
        live: true,
        since: Some(env.now()),
        session_id: Some("sess-1".into()),
        reconnects: 1,
        input: Some(LiveInputInfo {
            video_codec: Some("h264".into()),
            audio_codec: Some("aac".into()),
            width: Some(1920),
            height: Some(1080),
            frame_rate: Some(30.0),
            bitrate_bps: Some(4_500_000),
        }),
        renditions: vec!["source".into(), "720p".into(), "480p".into()],
        viewers: 42,
        dropped_frames: 3,
        last_error: None,
    };
    figures.0.lock().unwrap().insert(id.clone(), live.clone());
    let (status, body) = get_json(&app, &path, &organiser, "en").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "live");
    assert_eq!(
        serde_json::from_value::<LiveStatus>(body["status"].clone()).unwrap(),
        live
    );
    // The documented schemas name exactly the fields of the real responses.
    let (_, doc) = env.call("GET", "/api/v1/openapi.json", None, None).await;
    let (_, events_page) = events(&env, &organiser, &id, "").await;
    for (schema, real) in [
        ("ChannelStatus", &body),
        ("LiveStatus", &body["status"]),
        ("LiveInput", &body["status"]["input"]),
        ("ChannelEventPage", &events_page),
        ("ChannelEvent", &events_page["items"][0]),
    ] {
        let documented: std::collections::BTreeSet<&String> = doc["components"]["schemas"][schema]
            ["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("schema {schema}"))
            .keys()
            .collect();
        let actual: std::collections::BTreeSet<&String> =
            real.as_object().unwrap().keys().collect();
        assert_eq!(documented, actual, "{schema}");
    }
    assert_eq!(
        doc["paths"]["/api/v1/channels/{id}/status"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/ChannelStatus"
    );
}

async fn a_recording_becomes_one_reviewable_draft_per_session_owned_by_the_organiser(env: TestEnv) {
    let dept = env.department("活动部").await;
    let (organiser_user, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (_, head) = env
        .login_as("head", &[Role::DepartmentReviewer], Some(&dept))
        .await;
    let (id, _, _) = channel(&env, &organiser, &dept, "开学第一课").await;
    let facts = |session: &str| RecordingFacts {
        session_id: session.into(),
        started_at: env.now() - 3_600_000,
        ended_at: env.now(),
        duration_seconds: 3600.0,
        ladder_prefix: format!("live/{id}/{session}"),
        renditions: vec![
            json!({"name": "720p", "width": 1280, "height": 720, "bandwidth": 3_000_000}),
            json!({"name": "480p", "width": 854, "height": 480, "bandwidth": 1_200_000}),
        ],
        poster_key: Some(format!("live/{id}/{session}/poster.jpg")),
    };
    let first = env
        .control
        .record_live_recording(&id, facts("sess-1"), env.now())
        .await
        .unwrap();
    let again = env
        .control
        .record_live_recording(&id, facts("sess-1"), env.now() + 1000)
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "one resource per session");
    let other = env
        .control
        .record_live_recording(&id, facts("sess-2"), env.now())
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(first.owner_id, organiser_user.id);
    assert_eq!(first.department_id, dept);
    assert_eq!(
        first.latest.metadata.name,
        "开学第一课 直播录像 2026-01-01 07:00"
    );
    assert_eq!(
        first.latest.media.media_ref.as_deref(),
        Some(format!("live:{id}/sess-1").as_str())
    );
    assert_eq!(
        first.latest.media.ladder_prefix.as_deref(),
        Some(format!("live/{id}/sess-1").as_str())
    );

    // The organiser sees a ready draft.
    let (status, body) = env
        .call(
            "GET",
            &format!("/api/v1/resources/{}", first.id),
            Some(&organiser),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["latest"]["state"], "draft");
    assert_eq!(body["processing"]["status"], "ready");
    assert_eq!(
        body["processing"]["renditions"].as_array().unwrap().len(),
        2
    );
    let (_, list) = env
        .call("GET", "/api/v1/resources", Some(&organiser), None)
        .await;
    assert_eq!(list["total"], 2);

    // The channel's history and the audit log name the resource.
    let page = env
        .control
        .channel_events(&id, PageRequest::default())
        .await
        .unwrap();
    let recorded: Vec<_> = page
        .items
        .iter()
        .filter(|e| e.kind == ChannelEventKind::Recorded)
        .collect();
    assert_eq!(recorded.len(), 2, "one event per recording, not per call");
    assert_eq!(recorded[1].detail["resource_id"], first.id.as_str());
    assert_eq!(recorded[1].detail["session_id"], "sess-1");
    let audit = env
        .control
        .search_audit(
            &yanxiu_control::audit::AuditQuery {
                action: Some("channel.recording".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(audit.total, 2);

    // It goes through the normal review: the organiser signs, the department approves.
    for (token, level, expected) in [
        (&organiser, "self", "self_reviewed"),
        (&head, "department", "department_approved"),
    ] {
        let (status, body) = env
            .call(
                "POST",
                &format!("/api/v1/resources/{}/reviews", first.id),
                Some(token),
                Some(json!({"level": level, "decision": "approve", "comment": "同意"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["latest"]["state"], expected);
    }
    // Bad facts are refused before anything is made.
    let mut broken = facts("sess-3");
    broken.renditions.clear();
    assert!(
        env.control
            .record_live_recording(&id, broken, env.now())
            .await
            .is_err()
    );
    assert!(
        env.control
            .record_live_recording("no-such-channel", facts("sess-4"), env.now())
            .await
            .is_err()
    );
}

async fn a_key_guessing_client_cannot_grow_a_channel_history_beyond_its_bound(backend: Backend) {
    assert_eq!(
        yanxiu_control::LiveConfig::default().events_kept_per_channel,
        1000
    );
    let mut config = common::test_config();
    config.live.events_kept_per_channel = 5;
    let env = TestEnv::with_config(backend, config).await;
    let dept = env.department("活动部").await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (id, stream, _) = channel(&env, &organiser, &dept, "开学第一课").await;
    for i in 0..12 {
        env.clock.advance_ms(10);
        assert_eq!(
            publish(&env, &stream, &format!("sk_guess_{i}")).await,
            Err(PublishDenied::WrongKey)
        );
    }
    let (_, page) = events(&env, &organiser, &id, "").await;
    assert_eq!(page["total"], 5);
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM channel_events WHERE channel_id = $1")
            .bind(id.clone())
            .fetch_one(env.control.db().pool())
            .await
            .unwrap();
    assert_eq!(stored, 5);
    let times: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    let newest = env.now();
    assert_eq!(
        times,
        [newest, newest - 10, newest - 20, newest - 30, newest - 40],
        "the newest events are kept"
    );
}

#[tokio::test]
async fn on_sqlite_a_key_guessing_client_cannot_grow_a_channel_history_beyond_its_bound() {
    a_key_guessing_client_cannot_grow_a_channel_history_beyond_its_bound(Backend::Sqlite).await
}

#[tokio::test]
async fn on_postgres_a_key_guessing_client_cannot_grow_a_channel_history_beyond_its_bound() {
    a_key_guessing_client_cannot_grow_a_channel_history_beyond_its_bound(Backend::Postgres).await
}

both_backends!(
    a_rotated_key_is_refused_as_rotated_even_after_a_second_rotation,
    a_disabled_channel_refuses_publishing_and_the_refusal_is_in_its_events,
    channel_events_are_paged_newest_first_and_scoped_like_channel_reads,
    the_status_shows_the_serving_process_figures_or_idle_with_the_last_error,
    a_recording_becomes_one_reviewable_draft_per_session_owned_by_the_organiser,
);
