//! Two `serve` nodes on one PostgreSQL database, each with its own data directory (no shared
//! disk): a live channel is held by the node its publisher reached (a lease in the database);
//! a publish of the same channel reaching the other node is refused there with
//! `held_elsewhere`; viewers on the other node play the channel, proxied to the holder; once
//! the session ends the lease is released and the other node may take the channel.

mod common;
#[path = "../control/tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::time::Duration;

use common::live::{
    FfmpegPublish, create_channel, decode_live, events, ffmpeg_publisher, get_text, of_kind,
    one_at_a_time, organiser, start_live_on, wait_for_events, wait_for_master, wait_for_segments,
    wait_until_not_live,
};
use common::server::another_node;

const MASTER_WAIT: Duration = Duration::from_secs(20);

fn publish(seconds: f64) -> FfmpegPublish {
    FfmpegPublish {
        size: "640x360",
        seconds,
        extra: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_runs_on_one_node_and_plays_from_every_node() {
    let _turn = one_at_a_time().await;
    let database = pg::fresh_database().await;
    let a = start_live_on(
        &database,
        "reconnect_window_seconds = 1\nrung_heights = [360]\npreset = \"ultrafast\"\n",
    );
    let b = another_node(&a, 0);
    let token = organiser(&a).await;
    let channel = create_channel(&a, &token, "两个节点的直播", "standard").await;

    let mut on_a = ffmpeg_publisher(&channel.publish_url(&a), &publish(120.0));
    wait_for_master(&a, &channel, MASTER_WAIT).await;
    wait_for_segments(&a, &channel, "source", 3, MASTER_WAIT).await;

    // The same channel published to the other node is refused there.
    let mut on_b = ffmpeg_publisher(&channel.publish_url(&b), &publish(10.0));
    let refused = on_b.wait(Duration::from_secs(30));
    assert!(!refused.success(), "the second publish was not refused");
    let list = wait_for_events(
        &b,
        &token,
        &channel,
        Duration::from_secs(10),
        "a held_elsewhere refusal",
        |e| {
            of_kind(e, "refused")
                .iter()
                .any(|r| r["detail"]["code"] == "held_elsewhere")
        },
    )
    .await;
    let refusal = of_kind(&list, "refused")
        .into_iter()
        .find(|r| r["detail"]["code"] == "held_elsewhere")
        .expect("refusal");
    assert!(
        refusal["detail"]["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("另一台服务器")),
        "{refusal}"
    );
    assert!(on_a.running(), "the holder's publisher kept going");

    // Viewers on the other node get the channel, proxied from the holder.
    let (code, master) = get_text(&channel.master_url(&b)).await;
    assert_eq!(code, 200, "{master}");
    assert!(master.contains("/index.m3u8?v="), "{master}");
    let variant = master
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("index.m3u8"))
        .expect("a variant");
    let (code, media) = get_text(&format!("{}/live/{}/{variant}", b.base, channel.id)).await;
    assert_eq!(code, 200, "{media}");
    let segment = media
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(".m4s"))
        .unwrap_or_else(|| panic!("a segment: {media}"));
    let rendition = variant.split('/').next().expect("rendition");
    let (code, body) = get_text(&format!(
        "{}/live/{}/{rendition}/{segment}",
        b.base, channel.id
    ))
    .await;
    assert_eq!(code, 200, "{body}");
    decode_live(&channel.master_url(&b), 4);

    // The session ends on A; its lease goes with it and B may take the channel.
    on_a.kill();
    wait_until_not_live(&a, &channel, Duration::from_secs(30)).await;
    let mut again = ffmpeg_publisher(&channel.publish_url(&b), &publish(120.0));
    wait_for_master(&b, &channel, MASTER_WAIT).await;
    wait_for_segments(&b, &channel, "source", 3, MASTER_WAIT).await;
    let (code, master) = get_text(&channel.master_url(&a)).await;
    assert_eq!(code, 200, "A proxies to the new holder: {master}");
    decode_live(&channel.master_url(&a), 3);
    again.kill();
    let started = of_kind(&events(&a, &token, &channel).await, "started").len();
    assert_eq!(started, 2, "one session on each node, in turn");
}
