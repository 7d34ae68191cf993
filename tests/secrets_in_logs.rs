//! No secret reaches the server's log, on any path it travels, with the log at `debug`:
//! passwords (right, wrong, changed), session and API tokens, playback tokens (in a header
//! and in a URL), stream keys (current and rotated, over WHIP) and upload credentials.

mod common;

use common::fixtures::fixtures_dir;
use common::live::{create_channel, organiser, rotate_key, server_log, start_live_with_log};
use common::server::{PASSWORD, api, http, upload};
use reqwest::Method;
use serde_json::json;

fn chromium_offer() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser/chromium-offer.sdp"
    );
    std::fs::read_to_string(path).expect("the Chromium offer fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_token_or_stream_key_reaches_the_server_log() {
    let s = start_live_with_log("", "debug");
    let mut secrets: Vec<(&str, String)> = vec![("password", PASSWORD.to_owned())];

    // Passwords: a wrong one, the right one, a change.
    let wrong = "Wrong-Secret-pass-77";
    secrets.push(("wrong password", wrong.to_owned()));
    let (status, _) = api(
        &s,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(json!({"username": "organiser", "password": wrong})),
    )
    .await;
    assert_eq!(status, 401);
    let session = organiser(&s).await;
    secrets.push(("session token", session.clone()));

    // An API token, made and used (also for a resumable upload).
    let (status, body) = api(
        &s,
        Method::POST,
        "/api/v1/api-tokens",
        Some(&session),
        Some(json!({"name": "OBS 脚本", "days": 1})),
    )
    .await;
    assert!(status < 300, "{body}");
    let api_token = body["token"].as_str().expect("token").to_owned();
    secrets.push(("API token", api_token.clone()));
    let producer = common::server::login(&s, "producer").await;
    secrets.push(("producer session", producer.clone()));
    upload(&s, &producer, &fixtures_dir().join("random.bin"), None).await;

    // Stream keys: the first one, rotated; WHIP with the old and the new key.
    let channel = create_channel(&s, &api_token, "密钥不入日志", "low_latency").await;
    secrets.push(("first stream key", channel.stream_key.clone()));
    let channel = rotate_key(&s, &session, &channel).await;
    secrets.push(("stream key", channel.stream_key.clone()));
    let whip = format!("{}/whip/{}", s.base, channel.stream_name);
    for (key, expected) in [(&secrets[5].1, 403u16), (&channel.stream_key, 201)] {
        let response = http()
            .post(&whip)
            .bearer_auth(key)
            .header("content-type", "application/sdp")
            .body(chromium_offer())
            .send()
            .await
            .expect("WHIP POST");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, expected, "{body}");
        if let Some(location) = location {
            let end = http()
                .delete(format!("{}{location}", s.base))
                .bearer_auth(key)
                .send()
                .await
                .expect("WHIP DELETE");
            assert!(end.status().is_success(), "{}", end.status());
        }
    }

    // A playback token, in a header and in a URL.
    let (status, body) = api(
        &s,
        Method::POST,
        "/api/v1/playback-tokens",
        Some(&session),
        Some(json!({"channel_id": channel.id})),
    )
    .await;
    assert!(status < 300, "{body}");
    // A public channel needs no playback token; the player's events token is signed alike.
    let playback = body["token"]
        .as_str()
        .or(body["events_token"].as_str())
        .expect("a signed token")
        .to_owned();
    secrets.push(("playback token", playback.clone()));
    let _ = http()
        .get(format!(
            "{}/live/{}/master.m3u8?token={playback}",
            s.base, channel.id
        ))
        .send()
        .await
        .expect("GET playlist");

    // The password changed.
    let new_password = "Changed-Secret-2026!x";
    secrets.push(("new password", new_password.to_owned()));
    let (status, body) = api(
        &s,
        Method::PUT,
        "/api/v1/me/password",
        Some(&session),
        Some(json!({"current_password": PASSWORD, "new_password": new_password})),
    )
    .await;
    assert!(status < 300, "{body}");

    let log = server_log(&s);
    assert!(
        log.lines().count() > 20,
        "the server logged at debug:\n{log}"
    );
    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the {what} appears in the server's log"
        );
    }
}
