//! Channels (provisioning, stream keys, publish authorization in process and over HTTP),
//! playback authorization (public, audience tokens, expiry, logout, disablement), the
//! catalogue with CSV import/export, and the OpenAPI document. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::TestEnv;
use serde_json::{Value, json};
use yanxiu_control::Role;
use yanxiu_control::channels::{PublishAuthorizer, PublishDenied};
use yanxiu_control::playback::{PlaybackAllowed, PlaybackDenied, PlaybackTarget};

async fn ingest(env: &TestEnv, stream_name: &str, key: &str) -> Value {
    let (status, body) = env
        .call(
            "POST",
            "/api/v1/ingest/authorize",
            None,
            Some(json!({"stream_name": stream_name, "stream_key": key})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    body
}

async fn channels_are_provisioned_with_a_one_time_key_and_authorize_publishing(env: TestEnv) {
    let dept = env.department("活动部").await;
    let other = env.department("语文学科组").await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&dept))
        .await;
    let (_, outsider) = env
        .login_as("outsider", &[Role::EventOrganiser], Some(&other))
        .await;
    let (_, learner) = env.login_as("learner", &[Role::Learner], None).await;
    let new = json!({"name": "2026 春季开学第一课", "department_id": dept, "latency_mode": "low_latency", "record_to_vod": true});
    assert_eq!(
        env.call(
            "POST",
            "/api/v1/channels",
            Some(&learner),
            Some(new.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, created) = env
        .call("POST", "/api/v1/channels", Some(&organiser), Some(new))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["stream_key"].as_str().unwrap().to_owned();
    let stream = created["stream_name"].as_str().unwrap().to_owned();
    assert!(
        created["rtmp_url"].as_str().unwrap().starts_with("rtmp://")
            && created["rtmp_url"].as_str().unwrap().ends_with(&stream)
    );
    assert!(created["whip_url"].as_str().unwrap().ends_with(&stream));
    assert!(
        created["playback_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/live/{id}/master.m3u8"))
    );
    assert_eq!(created["state"], "idle");
    assert_eq!(created["obs_stream_key"], format!("{stream}?key={key}"));
    assert!(
        created["srt_publish_url"].is_null(),
        "SRT ingest is off by default"
    );
    // The key is never shown again, nor stored in clear.
    let (_, read) = env
        .call(
            "GET",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            None,
        )
        .await;
    assert!(read.get("stream_key").is_none());
    assert_eq!(
        read["hevc_passthrough"], false,
        "HEVC passthrough is off unless asked"
    );
    // The organiser lets HEVC through as it came; the change is audited.
    let (status, changed) = env
        .call(
            "PATCH",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            Some(json!({"hevc_passthrough": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["hevc_passthrough"], true);
    assert_eq!(changed["latency_mode"], "low_latency", "the rest unchanged");
    assert!(
        env.control.channel(&id).await.unwrap().hevc_passthrough,
        "what the live service reads at the next session"
    );
    let with_hevc = json!({"name": "HEVC 直通", "department_id": dept, "hevc_passthrough": true});
    let (status, hevc_channel) = env
        .call(
            "POST",
            "/api/v1/channels",
            Some(&organiser),
            Some(with_hevc),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hevc_channel}");
    assert_eq!(hevc_channel["hevc_passthrough"], true);
    let stored: String = sqlx::query_scalar("SELECT stream_key_hash FROM channels WHERE id = $1")
        .bind(id.clone())
        .fetch_one(env.control.db().pool())
        .await
        .unwrap();
    assert_ne!(stored, key);
    let (_, audit) = (
        0,
        env.control
            .export_audit_csv(&Default::default())
            .await
            .unwrap(),
    );
    assert!(
        !audit.contains(&key),
        "stream keys never reach the audit log"
    );
    assert!(
        audit.contains("hevc_passthrough"),
        "the passthrough change is in the audit log"
    );

    // Publish authorization over HTTP (remote ingest) and in process (trait).
    let denied = ingest(&env, &stream, "sk_wrong").await;
    assert_eq!(denied, json!({"allowed": false, "reason": "wrong_key"}));
    let allowed = ingest(&env, &stream, &key).await;
    assert_eq!(allowed["allowed"], true);
    assert_eq!(allowed["grant"]["channel_id"], id.as_str());
    assert_eq!(allowed["grant"]["latency_mode"], "low_latency");
    assert_eq!(allowed["grant"]["record_to_vod"], true);
    assert_eq!(
        env.call(
            "GET",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            None
        )
        .await
        .1["state"],
        "live"
    );
    let (status, _) = env
        .call(
            "POST",
            "/api/v1/ingest/ended",
            None,
            Some(json!({"stream_name": stream, "stream_key": key})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call(
            "GET",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            None
        )
        .await
        .1["state"],
        "idle"
    );
    let authorizer: &dyn PublishAuthorizer = env.control.as_ref();
    assert!(
        authorizer
            .authorize_publish(&stream, &key, "10.0.0.9", env.now())
            .await
            .is_ok()
    );
    assert_eq!(
        authorizer
            .authorize_publish("ch-nope", &key, "10.0.0.9", env.now())
            .await,
        Err(PublishDenied::UnknownChannel)
    );

    // Rotation: the old key dies at once.
    assert_eq!(
        env.call(
            "POST",
            &format!("/api/v1/channels/{id}/rotate-key"),
            Some(&outsider),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, rotated) = env
        .call(
            "POST",
            &format!("/api/v1/channels/{id}/rotate-key"),
            Some(&organiser),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_key = rotated["stream_key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(ingest(&env, &stream, &key).await["allowed"], false);
    assert_eq!(ingest(&env, &stream, &new_key).await["allowed"], true);

    // Updates, schedule window, deletion.
    let patch = json!({"name": "开学第一课", "scheduled_start": env.now() + 3_600_000, "scheduled_end": env.now() + 7_200_000, "state": "idle"});
    let (status, updated) = env
        .call(
            "PATCH",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            Some(patch),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "开学第一课");
    assert_eq!(
        ingest(&env, &stream, &new_key).await["reason"],
        "outside_schedule"
    );
    env.clock.advance_ms(3_600_000);
    assert_eq!(ingest(&env, &stream, &new_key).await["allowed"], true);
    // An hour passed: the sessions idled out.
    let organiser = env.login("organiser").await;
    let outsider = env.login("outsider").await;
    let bad = json!({"audience": "restricted"});
    assert_eq!(
        env.call(
            "PATCH",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            Some(bad)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (_, list) = env
        .call("GET", "/api/v1/channels", Some(&organiser), None)
        .await;
    assert_eq!(list["total"], 2, "this one and the HEVC one");
    assert_eq!(
        env.call("GET", "/api/v1/channels", Some(&outsider), None)
            .await
            .1["total"],
        0
    );
    assert_eq!(
        env.call(
            "DELETE",
            &format!("/api/v1/channels/{id}"),
            Some(&organiser),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        ingest(&env, &stream, &new_key).await["reason"],
        "unknown_channel"
    );
    let rotations = env
        .control
        .search_audit(
            &yanxiu_control::audit::AuditQuery {
                action: Some("channel.".into()),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let actions: BTreeSet<String> = rotations.items.iter().map(|r| r.action.clone()).collect();
    for expected in [
        "channel.create",
        "channel.rotate_key",
        "channel.update",
        "channel.delete",
        "channel.publish",
        "channel.unpublish",
    ] {
        assert!(
            actions.contains(expected),
            "{expected} missing from {actions:?}"
        );
    }
}

/// Publishes a resource through the three levels; returns its id.
async fn published_resource(
    env: &TestEnv,
    dept: &str,
    tokens: &[String; 3],
    metadata: Value,
) -> String {
    let [producer, head, centre] = tokens;
    let (status, created) = env
        .call(
            "POST",
            "/api/v1/resources",
            Some(producer),
            Some(json!({"department_id": dept, "metadata": metadata})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    for (token, level) in [
        (producer, "self"),
        (head, "department"),
        (centre, "technical"),
    ] {
        let (status, body) = env
            .call(
                "POST",
                &format!("/api/v1/resources/{id}/reviews"),
                Some(token),
                Some(json!({"level": level, "decision": "approve"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        env.call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(centre),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    id
}

async fn staff(env: &TestEnv, dept: &str) -> [String; 3] {
    let (_, producer) = env
        .login_as("producer", &[Role::Producer], Some(dept))
        .await;
    let (_, head) = env
        .login_as("head", &[Role::DepartmentReviewer], Some(dept))
        .await;
    let (_, centre) = env.login_as("centre", &[Role::CentreReviewer], None).await;
    [producer, head, centre]
}

fn lecture(name: &str, order: i64) -> Value {
    json!({"name": name, "lecturer_name": "宋薇", "lecturer_unit": "北京市清华大学附属中学", "credit_hours": 2, "display_order": order})
}

async fn restricted_resources_need_a_live_token_bound_to_viewer_and_resource(env: TestEnv) {
    let dept = env.department("数学学科组").await;
    let tokens = staff(&env, &dept).await;
    let (_, admin) = env
        .login_as("dadmin", &[Role::DepartmentAdmin], Some(&dept))
        .await;
    let (enrolled, enrolled_token) = env.login_as("enrolled", &[Role::Learner], None).await;
    let (_, stranger) = env.login_as("stranger", &[Role::Learner], None).await;
    let (_, audience) = env
        .call(
            "POST",
            "/api/v1/audiences",
            Some(&admin),
            Some(json!({"name": "2026 骨干教师班", "department_id": dept})),
        )
        .await;
    let audience_id = audience["id"].as_str().unwrap().to_owned();
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/audiences/{audience_id}/members"),
            Some(&admin),
            Some(json!({"user_id": enrolled.id})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut restricted = lecture("班级专属课", 2);
    restricted["openness"] = json!("non_public");
    restricted["audience_id"] = json!(audience_id);
    let private_id = published_resource(&env, &dept, &tokens, restricted).await;
    let public_id = published_resource(&env, &dept, &tokens, lecture("公开课", 1)).await;
    let private = PlaybackTarget::Resource(private_id.clone());

    // Public: open without a token. Restricted: token required.
    assert_eq!(
        env.control
            .authorize_playback(
                &PlaybackTarget::Resource(public_id.clone()),
                None,
                env.now()
            )
            .await,
        Ok(PlaybackAllowed::Public)
    );
    let (_, grant) = env
        .call(
            "POST",
            "/api/v1/playback-tokens",
            None,
            Some(json!({"resource_id": public_id})),
        )
        .await;
    assert!(grant["token"].is_null());
    assert_eq!(
        env.control
            .authorize_playback(&private, None, env.now())
            .await,
        Err(PlaybackDenied::TokenRequired)
    );
    assert_eq!(
        env.call(
            "POST",
            "/api/v1/playback-tokens",
            None,
            Some(json!({"resource_id": private_id}))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.call(
            "POST",
            "/api/v1/playback-tokens",
            Some(&stranger),
            Some(json!({"resource_id": private_id}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, grant) = env
        .call(
            "POST",
            "/api/v1/playback-tokens",
            Some(&enrolled_token),
            Some(json!({"resource_id": private_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let token = grant["token"].as_str().unwrap().to_owned();
    assert!(
        grant["playback_url"]
            .as_str()
            .unwrap()
            .contains(&format!("/play/{private_id}/master.m3u8?token="))
    );
    // The HLS server asks for the master, each media playlist and every segment.
    for _request in [
        "master.m3u8",
        "720p/index.m3u8",
        "720p/seg-00001.m4s",
        "720p/seg-00002.m4s",
    ] {
        assert_eq!(
            env.control
                .authorize_playback(&private, Some(&token), env.now())
                .await,
            Ok(PlaybackAllowed::Token {
                user_id: enrolled.id.clone()
            })
        );
    }
    // Bound to the resource.
    let other = PlaybackTarget::Resource(public_id.clone());
    assert_eq!(
        env.control
            .authorize_playback(&other, Some(&token), env.now())
            .await,
        Ok(PlaybackAllowed::Public)
    );
    let mut other_private = lecture("另一门专属课", 3);
    other_private["openness"] = json!("non_public");
    other_private["audience_id"] = json!(audience_id);
    let env_ref = &env;
    let second = published_resource_again(env_ref, &dept, &tokens, other_private).await;
    assert_eq!(
        env.control
            .authorize_playback(&PlaybackTarget::Resource(second), Some(&token), env.now())
            .await,
        Err(PlaybackDenied::WrongTarget)
    );
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        env.control
            .authorize_playback(&private, Some(&forged), env.now())
            .await,
        Err(PlaybackDenied::InvalidToken)
    );
    // The remote check says the same.
    let (_, remote) = env
        .call(
            "GET",
            &format!("/api/v1/playback/authorize?resource_id={private_id}&token={token}"),
            None,
            None,
        )
        .await;
    assert_eq!(remote["allowed"], true);
    let (_, remote) = env
        .call(
            "GET",
            &format!("/api/v1/playback/authorize?resource_id={private_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        remote,
        json!({"allowed": false, "reason": "token_required", "status": 401})
    );
    // Staff who may read the resource can watch it for review.
    let (status, _) = env
        .call(
            "POST",
            "/api/v1/playback-tokens",
            Some(&tokens[2]),
            Some(json!({"resource_id": private_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Expiry.
    env.clock.advance_ms(240 * 60_000);
    assert_eq!(
        env.control
            .authorize_playback(&private, Some(&token), env.now())
            .await,
        Err(PlaybackDenied::TokenExpired)
    );
    // Logout kills tokens issued under the session.
    let session = env.login("enrolled").await;
    let (_, grant) = env
        .call(
            "POST",
            "/api/v1/playback-tokens",
            Some(&session),
            Some(json!({"resource_id": private_id})),
        )
        .await;
    let token = grant["token"].as_str().unwrap().to_owned();
    assert!(
        env.control
            .authorize_playback(&private, Some(&token), env.now())
            .await
            .is_ok()
    );
    env.call("DELETE", "/api/v1/sessions/current", Some(&session), None)
        .await;
    assert_eq!(
        env.control
            .authorize_playback(&private, Some(&token), env.now())
            .await,
        Err(PlaybackDenied::SessionEnded)
    );
    // Disablement kills them too.
    let session = env.login("enrolled").await;
    let (_, grant) = env
        .call(
            "POST",
            "/api/v1/playback-tokens",
            Some(&session),
            Some(json!({"resource_id": private_id})),
        )
        .await;
    let token = grant["token"].as_str().unwrap().to_owned();
    env.control
        .set_user_disabled(None, &enrolled.id, true, env.now())
        .await
        .unwrap();
    assert_eq!(
        env.control
            .authorize_playback(&private, Some(&token), env.now())
            .await,
        Err(PlaybackDenied::SessionEnded)
    );
    // Unpublished content is not available to anyone.
    let centre = env.login("centre").await;
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{public_id}/unpublish"),
            Some(&centre),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.control
            .authorize_playback(&PlaybackTarget::Resource(public_id), None, env.now())
            .await,
        Err(PlaybackDenied::NotAvailable)
    );
}

async fn published_resource_again(
    env: &TestEnv,
    dept: &str,
    tokens: &[String; 3],
    metadata: Value,
) -> String {
    published_resource(env, dept, tokens, metadata).await
}

async fn the_catalogue_lists_by_display_order_filters_by_category_and_round_trips_csv(
    env: TestEnv,
) {
    let dept = env.department("数学学科组").await;
    let tokens = staff(&env, &dept).await;
    let (_, admin) = env
        .login_as("dadmin", &[Role::DepartmentAdmin], Some(&dept))
        .await;
    let producer = env.control.user_by_name("producer").await.unwrap();
    let csv = "序号,一级分类,二级分类,资源名称,主讲人,工作单位,职称,学时,资源来源地址\n\
        2,名师课改示范课,政治与历史,全景式认识中国式现代化,宋薇,北京市清华大学附属中学,高级教师,4,https://pan.example/a\n\
        1,名师课改示范课,数学,函数的概念,李明,北京市第四中学,一级教师,2,\n\
        ,,,缺序号,王,某校,,1,\n";
    let (status, _, body) = env
        .raw(
            "POST",
            &format!(
                "/api/v1/catalogue/import?department_id={dept}&owner_id={}",
                producer.id
            ),
            Some(&admin),
            Some(csv.into()),
            &[("content-type", "text/csv")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["created"].as_array().unwrap().len(), 2);
    assert_eq!(report["problems"][0]["line"], 4);
    assert_eq!(
        env.call("POST", "/api/v1/catalogue/import", Some(&tokens[0]), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Imported rows are drafts: nothing in the catalogue until reviewed.
    assert_eq!(
        env.call("GET", "/api/v1/catalogue", None, None).await.1["total"],
        0
    );
    let [p, h, c] = &tokens;
    for id in report["created"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        for (token, level) in [(p, "self"), (h, "department"), (c, "technical")] {
            let (status, body) = env
                .call(
                    "POST",
                    &format!("/api/v1/resources/{id}/reviews"),
                    Some(token),
                    Some(json!({"level": level, "decision": "approve"})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        env.call(
            "POST",
            &format!("/api/v1/resources/{id}/publish"),
            Some(c),
            None,
        )
        .await;
    }
    let (_, cat) = env
        .call("GET", "/api/v1/catalogue?per_page=1", None, None)
        .await;
    assert_eq!(cat["total"], 2);
    assert_eq!(cat["items"][0]["name"], "函数的概念");
    let (_, page2) = env
        .call("GET", "/api/v1/catalogue?per_page=1&page=2", None, None)
        .await;
    assert_eq!(page2["items"][0]["name"], "全景式认识中国式现代化");
    let (_, filtered) = env
        .call(
            "GET",
            "/api/v1/catalogue?category2=%E6%94%BF%E6%B2%BB%E4%B8%8E%E5%8E%86%E5%8F%B2",
            None,
            None,
        )
        .await;
    assert_eq!(filtered["total"], 1);
    assert_eq!(
        filtered["items"][0]["lecturer_unit"],
        "北京市清华大学附属中学"
    );
    let (status, content_type, exported) = env
        .raw("GET", "/api/v1/catalogue/export", None, None, &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let lines: Vec<&str> = exported.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "序号,一级分类,二级分类,资源名称,主讲人,工作单位,职称,学时,资源来源地址"
    );
    assert_eq!(
        lines[1],
        "1,名师课改示范课,数学,函数的概念,李明,北京市第四中学,一级教师,2,"
    );
    assert_eq!(
        lines[2],
        "2,名师课改示范课,政治与历史,全景式认识中国式现代化,宋薇,北京市清华大学附属中学,高级教师,4,https://pan.example/a"
    );
}

async fn the_openapi_document_lists_every_route_of_the_router(env: TestEnv) {
    let (status, doc) = env.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = yanxiu_control::http::route_table()
        .routes()
        .iter()
        .map(|(m, p)| (m.as_str().to_owned(), (*p).to_owned()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations with no route: {unrouted:?}"
    );
    assert!(routed.len() >= 50);
    let login = &doc["paths"]["/api/v1/sessions"]["post"];
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["required"],
        json!(["username", "password"])
    );
    assert_eq!(
        env.call("GET", "/healthz", None, None).await.1,
        json!({"status": "ok"})
    );
}

both_backends!(
    channels_are_provisioned_with_a_one_time_key_and_authorize_publishing,
    restricted_resources_need_a_live_token_bound_to_viewer_and_resource,
    the_catalogue_lists_by_display_order_filters_by_category_and_round_trips_csv,
    the_openapi_document_lists_every_route_of_the_router,
);
