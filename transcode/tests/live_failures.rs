//! Failure handling of the live transcoder on real media: a consumer that
//! drops its rendition receiver mid-stream ends the whole transcode with
//! `ConsumerGone` (no deadlock, whichever thread feeds that rendition), the
//! other renditions close without `End`, the input refuses further units,
//! and the running figures are readable all along.
#![allow(clippy::unwrap_used)]

mod live_common;

use std::time::Duration;

use live_common::{access_units, config, make_flv};
use yanxiu_packager::media::TrackInput;
use yanxiu_transcode::live::{LiveError, LiveInput, LiveTranscoder};

async fn drop_a_rendition_mid_stream(victim: &str) {
    let dir = tempfile::tempdir().unwrap();
    let flv = make_flv(dir.path(), "source", "640x360", 6, &["-g", "60"]);
    let mut units = access_units(&flv, |ms| 2000 + ms as u32);
    units.push(LiveInput::End);
    let total = units.len();
    // Small channels: a rendition nobody reads stalls the transcode quickly.
    let mut config = config(true, &[240, 180]);
    config.channel_capacity = 8;
    let mut live = LiveTranscoder::start(config).unwrap();
    let input = live.input();
    let feeder = tokio::spawn(async move {
        let mut sent = 0;
        for unit in units {
            if input.send(unit).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let mut victim_rx = None;
    let mut others = Vec::new();
    for mut r in live.renditions().await.unwrap() {
        if r.name == victim {
            victim_rx = Some(r);
            continue;
        }
        others.push(tokio::spawn(async move {
            let mut inputs = Vec::new();
            while let Some(i) = r.samples.recv().await {
                inputs.push(i);
            }
            (r.name, inputs)
        }));
    }
    let mut victim_rx = victim_rx.unwrap();
    let mut received = 0;
    while received < 10 {
        if let Some(TrackInput::Sample(_)) = victim_rx.samples.recv().await {
            received += 1;
        }
    }
    // The figures while it runs.
    let stats = live.stats();
    assert!(stats.video_frames_decoded > 0, "{stats:?}");
    assert!(stats.video_units_received >= stats.video_frames_decoded);
    assert!(stats.video_bytes_received > 0, "{stats:?}");
    assert!(stats.audio_units_received > 0, "{stats:?}");
    assert!(stats.last_repaired_video_dts.is_some(), "{stats:?}");
    let names: Vec<&str> = stats.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["source", "240p", "180p", "audio"]);
    let victim_stats = stats.renditions.iter().find(|r| r.name == victim).unwrap();
    // A sample is counted once its send returns: the consumer may be one
    // ahead.
    assert!(victim_stats.samples >= received - 1, "{stats:?}");

    drop(victim_rx);
    let result = tokio::time::timeout(Duration::from_secs(60), live.finish())
        .await
        .expect("the transcode ends instead of deadlocking");
    assert!(
        matches!(result, Err(LiveError::ConsumerGone)),
        "{victim}: {result:?}"
    );
    let sent = tokio::time::timeout(Duration::from_secs(10), feeder)
        .await
        .expect("the feeder is not left blocked")
        .unwrap();
    assert!(sent < total, "the input refused units after the failure");
    for other in others {
        let (name, inputs) = other.await.unwrap();
        assert!(
            matches!(inputs.first(), Some(TrackInput::Config(_))),
            "{name}"
        );
        assert!(
            !inputs.iter().any(|i| matches!(i, TrackInput::End)),
            "{name}: closed without End after a failure"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_encoded_rung_mid_stream_ends_the_transcode_with_consumer_gone() {
    drop_a_rendition_mid_stream("240p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_passthrough_mid_stream_ends_the_transcode_with_consumer_gone() {
    drop_a_rendition_mid_stream("source").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_audio_mid_stream_ends_the_transcode_with_consumer_gone() {
    drop_a_rendition_mid_stream("audio").await;
}
