//! Live streaming end to end through `yanxiu serve`: real RTMP publishers
//! (ffmpeg, GStreamer `rtmp2sink`) push to the server's RTMP port, and the
//! tests play what the origin serves (`/live/{channel}/…`) with ffmpeg,
//! read the channel's status, events and metrics, and the recording the
//! session leaves behind.
//!
//! The tests run one at a time ([`one_at_a_time`]): each encodes in real
//! time and the server runs a live ladder, on a two-core machine.

mod common;

use std::time::{Duration, Instant};

use common::live::{
    FfmpegPublish, create_channel, decode_live, events, ffmpeg_publisher, get_text,
    gstreamer_publisher, metrics, of_kind, one_at_a_time, organiser, parse_master, server_log,
    start_live, wait_for_master, wait_for_segments, wait_for_status,
};

/// How long a master playlist may take to appear after a publish starts.
const MASTER_WAIT: Duration = Duration::from_secs(15);

/// Every video rendition of `master` and the audio rendition, by name
/// (the URI's first path segment).
fn rendition_names(master: &m3u8_rs::MasterPlaylist) -> Vec<String> {
    let name = |uri: &str| uri.split('/').next().unwrap_or(uri).to_owned();
    let mut names: Vec<String> = master.variants.iter().map(|v| name(&v.uri)).collect();
    names.extend(
        master
            .alternatives
            .iter()
            .filter_map(|a| a.uri.as_deref())
            .map(name),
    );
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ffmpeg_publisher_goes_live_with_a_ladder_below_the_source_status_and_metrics() {
    let _turn = one_at_a_time().await;
    // 1080p is configured but never offered above a 720p source.
    let s = start_live("rung_heights = [1080, 360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "物理公开课：光的折射", "low_latency").await;

    let started = Instant::now();
    let mut publisher = ffmpeg_publisher(&channel.publish_url(&s), &FfmpegPublish::default());
    let master_text = wait_for_master(&s, &channel, MASTER_WAIT).await;
    eprintln!(
        "master after {:.1} s:\n{master_text}",
        started.elapsed().as_secs_f64()
    );
    let master = parse_master(&master_text);

    // source (passthrough, 1280x720) and 360p, never 1080p; audio as a group.
    let mut video: Vec<(String, (u64, u64), String)> = master
        .variants
        .iter()
        .map(|v| {
            let resolution = v.resolution.expect("RESOLUTION on every variant");
            (
                v.uri.clone(),
                (resolution.width, resolution.height),
                v.codecs.clone().expect("CODECS on every variant"),
            )
        })
        .collect();
    video.sort_by_key(|v| v.1);
    assert_eq!(
        video
            .iter()
            .map(|v| (v.0.as_str(), v.1))
            .collect::<Vec<_>>(),
        [
            ("360p/index.m3u8", (640, 360)),
            ("source/index.m3u8", (1280, 720))
        ],
        "{master_text}"
    );
    for (uri, _, codecs) in &video {
        assert!(
            codecs.starts_with("avc1.") && codecs.contains("mp4a.40.2"),
            "{uri}: CODECS {codecs}"
        );
    }
    let audio: Vec<_> = master
        .alternatives
        .iter()
        .filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Audio)
        .collect();
    assert_eq!(audio.len(), 1, "{master_text}");
    assert_eq!(audio[0].uri.as_deref(), Some("audio/index.m3u8"));
    assert!(
        master
            .variants
            .iter()
            .all(|v| v.audio.as_deref() == Some(audio[0].group_id.as_str())),
        "every variant names the audio group: {master_text}"
    );

    // After a few seconds every rendition lists at least two segments,
    // LL-HLS parts included, and each decodes without an error.
    let renditions = rendition_names(&master);
    assert_eq!(renditions.len(), 3, "{renditions:?}");
    for rendition in &renditions {
        let playlist = wait_for_segments(&s, &channel, rendition, 2, Duration::from_secs(20)).await;
        assert!(!playlist.end_list, "{rendition} is live");
        assert!(
            playlist
                .segments
                .iter()
                .all(|seg| seg.duration > 1.5 && seg.duration < 2.5),
            "{rendition}: 2 s segments: {playlist:?}"
        );
        let (_, text) = get_text(&channel.media_url(&s, rendition)).await;
        assert!(
            text.contains("#EXT-X-PART:"),
            "{rendition} has parts:\n{text}"
        );
        assert!(text.contains("#EXT-X-PRELOAD-HINT:"), "{text}");
        assert!(text.contains("CAN-BLOCK-RELOAD=YES"), "{text}");
    }
    for rendition in &renditions {
        decode_live(&channel.media_url(&s, rendition), 4);
    }

    // The status API shows the input as measured, a viewer, no damage.
    let live = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "a steady input bitrate",
        |b| {
            b["status"]["input"]["bitrate_bps"]
                .as_u64()
                .is_some_and(|r| r > 0)
        },
    )
    .await;
    eprintln!("status: {live}");
    assert_eq!(live["state"], "live", "{live}");
    let st = &live["status"];
    assert_eq!(st["live"], true, "{live}");
    assert!(st["since"].as_i64().is_some(), "{live}");
    assert!(st["session_id"].as_str().is_some(), "{live}");
    assert_eq!(st["input"]["video_codec"], "h264", "{live}");
    assert_eq!(st["input"]["width"], 1280, "{live}");
    assert_eq!(st["input"]["height"], 720, "{live}");
    let fps = st["input"]["frame_rate"].as_f64().unwrap_or_default();
    assert!((fps - 30.0).abs() < 3.0, "about 30 fps: {live}");
    assert!(st["viewers"].as_u64().unwrap_or_default() >= 1, "{live}");
    assert_eq!(st["dropped_frames"], 0, "{live}");
    let mut offered: Vec<String> = st["renditions"]
        .as_array()
        .expect("renditions")
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    offered.sort();
    assert_eq!(offered, ["360p", "audio", "source"], "{live}");

    let prometheus = metrics(&s).await;
    let up = format!("yanxiu_live_channel_up{{channel=\"{}\"}} 1", channel.id);
    assert!(prometheus.contains(&up), "{up} in:\n{prometheus}");
    let started_events = of_kind(&events(&s, &token, &channel).await, "started").len();
    assert_eq!(started_events, 1);

    assert!(publisher.running(), "{}", publisher.stderr());
    publisher.kill();
    assert!(
        !server_log(&s).contains(&channel.stream_key),
        "the stream key is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gstreamer_rtmp2sink_publisher_goes_live_and_its_segments_decode() {
    let _turn = one_at_a_time().await;
    let s = start_live("rung_heights = [360]\npreset = \"ultrafast\"\n");
    let token = organiser(&s).await;
    let channel = create_channel(&s, &token, "化学实验直播", "standard").await;

    let mut publisher = gstreamer_publisher(&channel.publish_url(&s), 30);
    let master_text = wait_for_master(&s, &channel, MASTER_WAIT).await;
    let master = parse_master(&master_text);
    let renditions = rendition_names(&master);
    assert!(
        renditions.contains(&"source".to_owned()) && renditions.contains(&"audio".to_owned()),
        "{master_text}"
    );
    for rendition in &renditions {
        wait_for_segments(&s, &channel, rendition, 2, Duration::from_secs(20)).await;
        decode_live(&channel.media_url(&s, rendition), 3);
    }
    let live = wait_for_status(
        &s,
        &token,
        &channel,
        Duration::from_secs(10),
        "the GStreamer input measured",
        |b| b["status"]["input"]["width"] == 640,
    )
    .await;
    assert_eq!(live["status"]["live"], true, "{live}");
    assert_eq!(live["status"]["input"]["height"], 360, "{live}");
    assert_eq!(live["status"]["input"]["audio_codec"], "aac", "{live}");
    assert!(publisher.running(), "{}", publisher.stderr());
}
