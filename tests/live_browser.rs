//! Live playback in a real browser: ffmpeg publishes to `yanxiu serve` over
//! RTMP, and hls.js (pinned, from npm) in Debian's headless Chromium plays
//! the channel's live master playlist for about ten seconds: once on a
//! low-latency (LL-HLS) channel, once on a standard one. The clock must
//! advance with the wall clock, no fatal error may occur, and the player
//! must stay close to the live edge (`hls.latency`).
//!
//! The browser is driven by `tests/browser/live.cjs` (over the same
//! `tests/browser/index.html` as the VOD test) through playwright-core,
//! which launches `/usr/bin/chromium` and never downloads a browser. The npm
//! packages are installed once per target directory under a file lock
//! (`target/test-tools/browser`, shared with `tests/browser_playback.rs`).
//! Chromium, Node.js and npm come from `scripts/install-deps.sh`; the test
//! fails, never skips, without them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::{CHROMIUM, LivePlayback, browser_node_modules, watch_live};
use common::live::{
    FfmpegPublish, LiveChannel, create_channel, ffmpeg_publisher, one_at_a_time, organiser,
    require_tool, start_live, wait_for_master, wait_for_segments,
};
use common::server::Server;

/// Seconds the player watches each channel once playback started.
const WATCH_SECONDS: f64 = 10.0;

/// Publishes to `channel`, waits for two segments, lets hls.js watch it,
/// and checks the playback; returns the report.
async fn publish_and_watch(
    s: &Server,
    modules: &Path,
    channel: &LiveChannel,
    max_latency: f64,
) -> LivePlayback {
    let mut publisher = ffmpeg_publisher(
        &channel.publish_url(s),
        &FfmpegPublish {
            size: "854x480",
            seconds: 60.0,
            extra: Vec::new(),
        },
    );
    wait_for_master(s, channel, Duration::from_secs(15)).await;
    wait_for_segments(s, channel, "source", 2, Duration::from_secs(20)).await;
    let report = watch_live(modules, &channel.master_url(s), WATCH_SECONDS).await;
    eprintln!("{}: {report:?}", channel.stream_name);
    assert!(publisher.running(), "{}", publisher.stderr());
    publisher.kill();

    report.assert_played(WATCH_SECONDS, 5.0);
    assert!(report.levels >= 2, "source and 360p: {report:?}");
    assert!(report.level_heights.contains(&480), "{report:?}");
    let latency = report
        .latency
        .or(report.live_sync_latency)
        .expect("a latency reported");
    assert!(
        latency > 0.0 && latency < max_latency,
        "latency {latency:.2} s below {max_latency} s: {report:?}"
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_plays_a_low_latency_and_a_standard_live_channel_near_the_live_edge() {
    require_tool(CHROMIUM, "--version");
    require_tool("node", "--version");
    require_tool("npm", "--version");
    let modules = browser_node_modules();
    let _turn = one_at_a_time().await;

    let s = start_live("rung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;

    let low = create_channel(&s, &token, "互动答疑直播", "low_latency").await;
    let report = publish_and_watch(&s, &modules, &low, 6.0).await;
    assert_eq!(report.low_latency_mode, Some(true), "{report:?}");
    assert!(report.target_latency.is_some(), "{report:?}");

    let standard = create_channel(&s, &token, "专家讲座直播", "standard").await;
    publish_and_watch(&s, &modules, &standard, 12.0).await;
}
