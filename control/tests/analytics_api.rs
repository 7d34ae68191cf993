//! Viewing analytics through the HTTP API: players report events with their playback token;
//! watched time is the union of what was really watched (skipping ahead counts nothing of what
//! was skipped); duplicates, floods and absurd input are refused or ignored and change
//! nothing; figures (views, unique viewers, watch time, completion, peak concurrent viewers)
//! per resource, channel, department and period are scoped by the policy, as JSON and CSV.
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod learning_support;

use axum::http::StatusCode;
use common::TestEnv;
use learning_support::{
    World, event, events_token, get_ok, grant, play, post, post_with_headers, straight,
};
use serde_json::json;
use yanxiu_control::Role;

async fn skipping_ahead_counts_only_what_was_watched(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "牛顿定律", 100.0, 2.0).await;
    let token = events_token(&env, Some(&w.learner), &id).await;
    // Watches 0–30 s, jumps to 90 s and watches to the end: 40 s of 100.
    let receipt = play(
        &env,
        &token,
        "resource_id",
        &id,
        "pb-learner1-a",
        &[
            ("start", 0.0, None, 0.0),
            ("heartbeat", 10.0, None, 10.0),
            ("heartbeat", 20.0, None, 20.0),
            ("seek", 90.0, Some(30.0), 30.0),
            ("end", 100.0, None, 40.0),
        ],
    )
    .await;
    assert_eq!(receipt["watched_seconds"], 40.0, "{receipt}");
    let learning = &receipt["learning"];
    assert_eq!(learning["watched_seconds"], 40.0);
    assert_eq!(learning["required_seconds"], 80.0);
    assert_eq!(learning["earned"], false);

    let report = get_ok(
        &env,
        &w.centre,
        &format!("/api/v1/analytics/resources/{id}"),
    )
    .await;
    assert_eq!(report["views"], 1, "{report}");
    assert_eq!(report["unique_viewers"], 1);
    assert_eq!(report["watch_seconds"], 40.0);
    assert_eq!(report["completions"], 0);
    assert_eq!(report["peak_concurrent_viewers"], 1);
    assert_eq!(report["series"].as_array().unwrap().len(), 1);
    assert_eq!(report["series"][0]["period"], "2026-01-01");

    // The same batch again is a duplicate and changes nothing.
    let (status, again) = post(
        &env,
        json!({"token": token, "resource_id": id, "playback_id": "pb-learner1-a",
            "events": [event(5, ("end", 100.0, None, 40.0))]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["accepted"].clone(), again["duplicates"].clone()),
        (json!(0), json!(1))
    );
    let report = get_ok(
        &env,
        &w.centre,
        &format!("/api/v1/analytics/resources/{id}"),
    )
    .await;
    assert_eq!(report["watch_seconds"], 40.0);
}

async fn a_learner_earns_the_credit_hours_once_when_the_share_is_watched(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "电磁感应", 100.0, 2.5).await;
    let token = events_token(&env, Some(&w.learner2), &id).await;
    // First playback: 0–50 s. Second playback (later): rewatches 40–60, then 60–85.
    let first = play(
        &env,
        &token,
        "resource_id",
        &id,
        "pb-learner2-a",
        &straight(0.0, 50.0, 0.0),
    )
    .await;
    assert_eq!(first["learning"]["earned"], false, "{first}");
    env.clock.advance_ms(20 * 60_000);
    let token = events_token(&env, Some(&w.learner2), &id).await;
    let mut events = vec![("start", 40.0, None, 0.0), ("heartbeat", 50.0, None, 10.0)];
    events.extend([
        ("heartbeat", 60.0, None, 20.0),
        ("heartbeat", 70.0, None, 30.0),
    ]);
    events.extend([("heartbeat", 79.0, None, 39.0), ("pause", 80.0, None, 40.0)]);
    let second = play(&env, &token, "resource_id", &id, "pb-learner2-b", &events).await;
    assert_eq!(second["learning"]["watched_seconds"], 80.0, "{second}");
    assert_eq!(second["learning"]["earned"], true);
    let earned_at = second["learning"]["earned_at"].as_i64().unwrap();
    // Watching everything again earns nothing more.
    let token = events_token(&env, Some(&w.learner2), &id).await;
    let third = play(
        &env,
        &token,
        "resource_id",
        &id,
        "pb-learner2-c",
        &straight(0.0, 100.0, 0.0),
    )
    .await;
    assert_eq!(third["learning"]["earned_at"], earned_at, "{third}");
    assert_eq!(third["learning"]["watched_seconds"], 100.0);

    let transcript = get_ok(&env, &w.learner2, "/api/v1/me/learning").await;
    assert_eq!(transcript["total_credit_hours"], 2.5, "{transcript}");
    assert_eq!(transcript["credit_share"], 0.8);
    let item = &transcript["items"][0];
    assert_eq!(item["resource_id"], id);
    assert_eq!(item["name"], "电磁感应");
    assert_eq!(
        (item["earned"].clone(), item["credit_hours_earned"].clone()),
        (json!(true), json!(2.5))
    );
    let credits = get_ok(&env, &w.dept_admin, "/api/v1/learning/credits").await;
    assert_eq!(credits["items"].as_array().unwrap().len(), 1, "{credits}");
    assert_eq!(credits["items"][0]["username"], "learner2");
    let report = get_ok(
        &env,
        &w.centre,
        &format!("/api/v1/analytics/resources/{id}"),
    )
    .await;
    assert_eq!(
        (report["views"].clone(), report["unique_viewers"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(report["completions"], 1, "{report}");
    // Another learner's transcript is their own.
    let other = get_ok(&env, &w.learner, "/api/v1/me/learning").await;
    assert_eq!(other["items"], json!([]));
    assert_eq!(other["total_credit_hours"], 0.0);
}

async fn refused_batches_say_why_and_change_nothing(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "光的折射", 100.0, 1.0).await;
    let other = w.published(&env, "光的反射", 100.0, 1.0).await;
    let token = events_token(&env, Some(&w.learner), &id).await;
    let body = |events: serde_json::Value| json!({"token": token, "resource_id": id, "playback_id": "pb-refusals", "events": events});
    let cases = [
        (
            body(json!([event(1, ("start", 500.0, None, 0.0))])),
            "position",
        ),
        (
            body(json!([event(1, ("start", -1.0, None, 0.0))])),
            "position",
        ),
        (
            body(json!([event(1, ("seek", 5.0, Some(-7.0), 0.0))])),
            "position",
        ),
        (
            body(json!(
                (1..=51)
                    .map(|i| event(i, ("heartbeat", 1.0, None, 0.0)))
                    .collect::<Vec<_>>()
            )),
            "at most 50",
        ),
        (body(json!([])), "no events"),
        (
            body(json!([event(1, ("start", 0.0, None, 3600.0))])),
            "run ahead",
        ),
        (
            json!({"token": token, "resource_id": id, "playback_id": "x", "events": [event(1, ("start", 0.0, None, 0.0))]}),
            "playback_id",
        ),
        (
            json!({"token": token, "resource_id": id, "channel_id": "c", "playback_id": "pb-refusals", "events": []}),
            "exactly one",
        ),
    ];
    for (payload, words) in cases {
        let (status, _, text) = env
            .raw(
                "POST",
                "/api/v1/playback/events",
                None,
                Some(payload.to_string()),
                &[("accept-language", "en")],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{words}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "invalid_request");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(words),
            "{words}: {text}"
        );
    }
    let (status, zh) = post(&env, body(json!([event(1, ("start", 500.0, None, 0.0))]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        zh["error"]["message"]
            .as_str()
            .unwrap()
            .contains("播放位置"),
        "{zh}"
    );
    // Malformed JSON and an oversized body.
    let (status, _, _) = env
        .raw(
            "POST",
            "/api/v1/playback/events",
            None,
            Some("{".into()),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = env
        .raw(
            "POST",
            "/api/v1/playback/events",
            None,
            Some(" ".repeat(70_000)),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Tokens: forged, for another resource, a preview, a signed-out session.
    let ok_event = json!([event(1, ("start", 0.0, None, 0.0))]);
    let (status, v) = post(&env, json!({"token": "forged.token", "resource_id": id, "playback_id": "pb-refusals", "events": ok_event})).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("playback.invalid_token"))
    );
    let other_token = events_token(&env, Some(&w.learner), &other).await;
    let (status, v) = post(&env, json!({"token": other_token, "resource_id": id, "playback_id": "pb-refusals", "events": ok_event})).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("playback.wrong_target"))
    );
    let (_, signed_out) = env
        .login_as("leaver", &[Role::Learner], Some(&w.physics))
        .await;
    let leaver_token = events_token(&env, Some(&signed_out), &id).await;
    env.call(
        "DELETE",
        "/api/v1/sessions/current",
        Some(&signed_out),
        None,
    )
    .await;
    let (status, v) = post(&env, json!({"token": leaver_token, "resource_id": id, "playback_id": "pb-refusals", "events": ok_event})).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("playback.session_ended"))
    );
    // Nothing of it was stored.
    let report = get_ok(
        &env,
        &w.centre,
        &format!("/api/v1/analytics/resources/{id}"),
    )
    .await;
    assert_eq!(report["views"], 0, "{report}");
    // Unpublished: the learner's token no longer counts.
    let (status, _) = env
        .call(
            "POST",
            &format!("/api/v1/resources/{id}/unpublish"),
            Some(&w.centre),
            Some(json!({"reason": "下线"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = post(&env, body(ok_event.clone())).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("playback.not_available")),
        "{v}"
    );
    // Its producer may still preview it, but a preview is not counted.
    let preview = grant(&env, Some(&w.producer), json!({"resource_id": id})).await;
    assert!(preview["events_token"].is_null(), "{preview}");
    let preview = preview["token"].as_str().unwrap();
    let (status, v) = post(&env, json!({"token": preview, "resource_id": id, "playback_id": "pb-preview", "events": ok_event})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("预览"),
        "{v}"
    );
}

async fn a_flood_is_refused_with_retry_after(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "力的合成", 100.0, 1.0).await;
    let token = events_token(&env, Some(&w.learner), &id).await;
    let mut refused = None;
    for seq in 1..=40 {
        let payload = json!({"token": token, "resource_id": id, "playback_id": "pb-flood-0001",
            "events": [event(seq, ("heartbeat", 0.0, None, 0.0))]})
        .to_string();
        let (status, _, text) = env
            .raw(
                "POST",
                "/api/v1/playback/events",
                None,
                Some(payload),
                &[("accept-language", "en")],
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((seq, text));
            break;
        }
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let (seq, text) = refused.expect("the flood is cut off");
    assert_eq!(seq, 13, "a burst of 12, then refused");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    assert_eq!(v["error"]["message"], "too many requests, try again later");
    // The answer says when to come back (2 s at 30 a minute); the refused event was not stored.
    let payload = json!({"token": token, "resource_id": id, "playback_id": "pb-flood-0001",
        "events": [event(13, ("heartbeat", 0.0, None, 0.0))]});
    let (status, retry_after) = post_with_headers(&env, &payload).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("2"));
    let report = get_ok(
        &env,
        &w.centre,
        &format!("/api/v1/analytics/resources/{id}"),
    )
    .await;
    assert_eq!(report["views"], 1);
    env.clock.advance_ms(2_000);
    let (status, receipt) = post(&env, payload).await;
    assert_eq!(
        (status, receipt["accepted"].clone()),
        (StatusCode::OK, json!(1)),
        "{receipt}"
    );
}

async fn figures_are_scoped_by_department_and_ownership(env: TestEnv) {
    let w = World::new(&env).await;
    let physics = w.published(&env, "物理一", 100.0, 1.0).await;
    let maths = w.published_maths(&env, "数学一", 100.0).await;
    for (viewer, id, pb) in [
        (&w.learner, &physics, "pb-scope-0001"),
        (&w.learner2, &physics, "pb-scope-0002"),
        (&w.maths_learner, &maths, "pb-scope-0003"),
    ] {
        let token = events_token(&env, Some(viewer), id).await;
        play(
            &env,
            &token,
            "resource_id",
            id,
            pb,
            &straight(0.0, 30.0, 0.0),
        )
        .await;
    }
    let ids = |v: &serde_json::Value| {
        let mut out: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["id"]
                    .as_str()
                    .or(i["department_id"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect();
        out.sort();
        out
    };
    let all = get_ok(&env, &w.centre, "/api/v1/analytics/resources").await;
    assert_eq!(all["total"], 2, "{all}");
    assert_eq!(all["items"][0]["id"], physics, "most viewed first");
    assert_eq!(all["items"][0]["views"], 2);
    assert_eq!(all["items"][0]["name"], "物理一");
    let mine = get_ok(&env, &w.dept_admin, "/api/v1/analytics/resources").await;
    assert_eq!(ids(&mine), vec![physics.clone()]);
    let (status, _) = env
        .call(
            "GET",
            &format!("/api/v1/analytics/resources?department_id={}", w.maths),
            Some(&w.dept_admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env
        .call(
            "GET",
            &format!("/api/v1/analytics/resources/{maths}"),
            Some(&w.dept_admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let own = get_ok(&env, &w.producer, "/api/v1/analytics/resources").await;
    assert_eq!(ids(&own), vec![physics.clone()]);
    let (status, _) = env
        .call("GET", "/api/v1/analytics/resources", Some(&w.learner), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env
        .call(
            "GET",
            "/api/v1/analytics/departments",
            Some(&w.producer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let depts = get_ok(&env, &w.centre, "/api/v1/analytics/departments").await;
    assert_eq!(depts["items"].as_array().unwrap().len(), 2, "{depts}");
    let physics_row = depts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["department_id"] == w.physics)
        .unwrap()
        .clone();
    assert_eq!(
        (
            physics_row["views"].clone(),
            physics_row["department_name"].clone()
        ),
        (json!(2), json!("物理教研室"))
    );
    let mine = get_ok(&env, &w.dept_admin, "/api/v1/analytics/departments").await;
    assert_eq!(ids(&mine), vec![w.physics.clone()]);
    // Periods: none of it happened last year; a reversed period is refused.
    let last_year = get_ok(
        &env,
        &w.centre,
        "/api/v1/analytics/resources?from=1700000000000&to=1735689600000",
    )
    .await;
    assert_eq!(last_year["total"], 0);
    let (status, _) = env
        .call(
            "GET",
            "/api/v1/analytics/resources?from=5&to=5",
            Some(&w.centre),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // CSV in both languages.
    let (status, ctype, csv) = env
        .raw(
            "GET",
            "/api/v1/analytics/export",
            Some(&w.dept_admin),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("\u{feff}类型,ID,名称"));
    assert!(
        lines[1].starts_with(&format!("resource,{physics},物理一,{},2,2,", w.physics)),
        "{csv}"
    );
    let (_, _, en) = env
        .raw(
            "GET",
            "/api/v1/analytics/export",
            Some(&w.centre),
            None,
            &[("accept-language", "en")],
        )
        .await;
    assert!(en.starts_with("\u{feff}kind,id,name"), "{en}");
    assert_eq!(en.lines().count(), 3);
}

async fn signed_out_viewers_of_public_resources_count_without_learning_records(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "公开课", 60.0, 1.0).await;
    for pb in ["pb-anon-0001", "pb-anon-0002"] {
        let token = events_token(&env, None, &id).await;
        let receipt = play(
            &env,
            &token,
            "resource_id",
            &id,
            pb,
            &straight(0.0, 60.0, 0.0),
        )
        .await;
        assert!(receipt["learning"].is_null(), "{receipt}");
        assert_eq!(receipt["watched_seconds"], 60.0);
    }
    let report = get_ok(
        &env,
        &w.centre,
        &format!("/api/v1/analytics/resources/{id}"),
    )
    .await;
    assert_eq!(
        (report["views"].clone(), report["unique_viewers"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(report["completions"], 2);
    assert_eq!(
        report["peak_concurrent_viewers"], 1,
        "one after the other: {report}"
    );
}

async fn live_channels_count_time_spent_and_peak_concurrent_viewers(env: TestEnv) {
    let w = World::new(&env).await;
    let (_, organiser) = env
        .login_as("organiser", &[Role::EventOrganiser], Some(&w.physics))
        .await;
    let (status, channel) = env
        .call(
            "POST",
            "/api/v1/channels",
            Some(&organiser),
            Some(json!({"name": "教研直播", "department_id": w.physics})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let cid = channel["id"].as_str().unwrap().to_owned();
    let tokens = [
        grant(&env, Some(&w.learner), json!({"channel_id": cid})).await,
        grant(&env, Some(&w.learner2), json!({"channel_id": cid})).await,
        grant(&env, Some(&w.maths_learner), json!({"channel_id": cid})).await,
    ];
    let token = |i: usize| tokens[i]["events_token"].as_str().unwrap().to_owned();
    // Three viewers join 10 s apart; each reports every 15 s for a minute.
    let mut players = Vec::new();
    for i in 0..3 {
        players.push((token(i), format!("pb-live-000{i}"), i as i64 * 10_000));
    }
    let t0 = env.now();
    let mut seqs = [0i64; 3];
    for step in 0..=80 {
        let now = t0 + step * 1000;
        env.clock.advance_ms(now - env.now());
        for (i, (tok, pb, joined)) in players.iter().enumerate() {
            let t = now - t0 - joined;
            if t < 0 || t % 15_000 != 0 || t > 60_000 {
                continue;
            }
            seqs[i] += 1;
            let kind = if t == 0 {
                "start"
            } else if t == 60_000 {
                "end"
            } else {
                "heartbeat"
            };
            let (status, body) = post(&env, json!({"token": tok, "channel_id": cid, "playback_id": pb,
                "events": [event(seqs[i], (kind, 1000.0 + t as f64 / 1000.0, None, t as f64 / 1000.0))]})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    let report = get_ok(
        &env,
        &organiser,
        &format!("/api/v1/analytics/channels/{cid}"),
    )
    .await;
    assert_eq!(report["views"], 3, "{report}");
    assert_eq!(report["peak_concurrent_viewers"], 3);
    assert_eq!(report["peak_at"], t0 + 20_000);
    assert_eq!(report["watch_seconds"], 180.0);
    assert_eq!(report["kind"], "channel");
    let list = get_ok(&env, &w.dept_admin, "/api/v1/analytics/channels").await;
    assert_eq!(list["items"][0]["name"], "教研直播", "{list}");
}

async fn the_credit_export_lists_a_departments_learners(env: TestEnv) {
    let w = World::new(&env).await;
    let id = w.published(&env, "热学", 30.0, 1.5).await;
    for (viewer, pb) in [
        (&w.learner, "pb-credit-001"),
        (&w.maths_learner, "pb-credit-002"),
    ] {
        let token = events_token(&env, Some(viewer), &id).await;
        let r = play(
            &env,
            &token,
            "resource_id",
            &id,
            pb,
            &straight(0.0, 30.0, 0.0),
        )
        .await;
        assert_eq!(r["learning"]["earned"], true, "{r}");
    }
    let physics = get_ok(&env, &w.dept_admin, "/api/v1/learning/credits").await;
    assert_eq!(physics["items"].as_array().unwrap().len(), 1, "{physics}");
    assert_eq!(physics["total_credit_hours"], 1.5);
    let all = get_ok(&env, &w.centre, "/api/v1/learning/credits").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (status, _) = env
        .call(
            "GET",
            &format!("/api/v1/learning/credits?department_id={}", w.maths),
            Some(&w.dept_admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env
        .call("GET", "/api/v1/learning/credits", Some(&w.learner), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, csv) = env
        .raw(
            "GET",
            &format!("/api/v1/learning/credits/export?department_id={}", w.maths),
            Some(&w.centre),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("mlearner,mlearner,数学学科组,"),
        "{csv}"
    );
    assert!(lines[1].contains(",热学,1.5,2026-01-01 08:"), "{csv}");
}

both_backends!(
    skipping_ahead_counts_only_what_was_watched,
    a_learner_earns_the_credit_hours_once_when_the_share_is_watched,
    refused_batches_say_why_and_change_nothing,
    a_flood_is_refused_with_retry_after,
    figures_are_scoped_by_department_and_ownership,
    signed_out_viewers_of_public_resources_count_without_learning_records,
    live_channels_count_time_spent_and_peak_concurrent_viewers,
    the_credit_export_lists_a_departments_learners,
);
