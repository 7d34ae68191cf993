//! Live on object storage: `yanxiu serve` with the S3 backend against a
//! real S3-compatible server (moto, started by the test). An ffmpeg
//! publisher goes live; every segment and its growing playlist reach the
//! bucket while live; when the session ends the recording's VOD playlists
//! and master are in the bucket, the draft resource points at them, and
//! ffmpeg decodes the recording through `/play` with a preview token.

mod common;
#[path = "../packager/tests/support/moto.rs"]
mod moto;

use std::time::Duration;

use serde_json::json;
use yanxiu_packager::storage::Storage;

use common::live::{
    FfmpegPublish, create_channel, decode_all, ffmpeg_publisher, of_kind, organiser, start_live,
    wait_for_events, wait_for_master,
};
use common::server::api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_on_s3_is_stored_while_live_and_its_recording_plays_from_the_bucket() {
    let bucket = moto::new_bucket("live-flow").await;
    let s = start_live(&format!(
        "reconnect_window_seconds = 1\nrung_heights = [360]\n\n[storage]\nbackend = \"s3\"\n\n[storage.s3]\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{bucket}\"\nprefix = \"yanxiu/\"\npath_style = true\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
        moto::server().endpoint,
        moto::REGION,
        moto::ACCESS_KEY_ID,
        moto::SECRET_ACCESS_KEY
    ));
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "S3 直播", "standard").await;
    let mut publisher = ffmpeg_publisher(
        &channel.publish_url(&s),
        &FfmpegPublish {
            size: "1280x720",
            seconds: 9.0,
            ..FfmpegPublish::default()
        },
    );
    wait_for_master(&s, &channel, Duration::from_secs(20)).await;
    let store = yanxiu_packager::storage::S3Storage::new(moto::config(&bucket, "yanxiu/"))
        .await
        .expect("s3 storage");

    // While live: segments and the growing playlists are in the bucket.
    let prefix = format!("live/{}/", channel.id);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let objects = store.list(&prefix).await.expect("list");
        let segments = objects.iter().filter(|o| o.key.ends_with(".m4s")).count();
        let playlists = objects
            .iter()
            .filter(|o| o.key.ends_with("/index.m3u8"))
            .count();
        if segments >= 4 && playlists >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "live segments did not reach the bucket: {objects:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let status = publisher.wait(Duration::from_secs(30));
    assert!(status.success(), "publisher: {}", publisher.stderr());
    let events = wait_for_events(
        &s,
        &token,
        &channel,
        Duration::from_secs(30),
        "the recording",
        |list| !of_kind(list, "recorded").is_empty() && !of_kind(list, "stopped").is_empty(),
    )
    .await;
    let recorded = of_kind(&events, "recorded")[0];
    let resource_id = recorded["detail"]["resource_id"]
        .as_str()
        .expect("recording resource id")
        .to_owned();
    let session_id = recorded["detail"]["session_id"].as_str().expect("session");

    // The recording is complete in the bucket: VOD playlists and the master.
    let session_prefix = format!("{prefix}{session_id}/");
    let master = store
        .get(&format!("{session_prefix}master.m3u8"))
        .await
        .expect("recording master in the bucket");
    let master = String::from_utf8_lossy(&master).into_owned();
    for rendition in ["source", "360p", "audio"] {
        assert!(
            master.contains(&format!("{rendition}/index.m3u8")),
            "{master}"
        );
        let playlist = store
            .get(&format!("{session_prefix}{rendition}/index.m3u8"))
            .await
            .expect("rendition playlist");
        let playlist = String::from_utf8_lossy(&playlist).into_owned();
        assert!(
            playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD") && playlist.contains("#EXT-X-ENDLIST"),
            "{playlist}"
        );
    }

    // The draft resource points at it and plays through /play with a preview token.
    let (code, resource) = api(
        &s,
        reqwest::Method::GET,
        &format!("/api/v1/resources/{resource_id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(code, 200, "{resource}");
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");
    let (code, grant) = api(
        &s,
        reqwest::Method::POST,
        "/api/v1/playback-tokens",
        Some(&token),
        Some(json!({ "resource_id": resource_id })),
    )
    .await;
    assert!(code < 300, "playback token: {grant}");
    let preview = grant["token"].as_str().expect("preview token");
    decode_all(&format!(
        "{}/play/{resource_id}/master.m3u8?token={preview}",
        s.base
    ));
}
