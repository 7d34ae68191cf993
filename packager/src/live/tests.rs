//! Live origin tests: blocking waits, eviction and the memory budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::hls::live_playlist::LivePlaylistError;
use crate::hls::live_playlist::{
    LivePart, LivePlaylistConfig, LivePlaylistMode, LiveResource, LiveWindow,
};
use crate::hls::live_reload::{BadReloadRequest, PartId};

fn key(rendition: &str) -> RenditionKey {
    RenditionKey {
        channel: "lecture-hall".to_string(),
        rendition: rendition.to_string(),
    }
}

fn playlist_config(window: usize) -> LivePlaylistConfig {
    LivePlaylistConfig {
        timescale: 90_000,
        segment_target: Duration::from_secs(2),
        part_target: Duration::from_millis(500),
        window: LiveWindow::Segments(window),
    }
}

const PART: LivePart = LivePart {
    duration_ticks: 45_000,
    independent: false,
};

/// Publishes a 2 s segment of four 0.5 s parts of `part_bytes` bytes each.
fn publish_segment(rendition: &LiveRendition, part_bytes: usize) {
    for index in 0..4u8 {
        let end = (index == 3).then(SegmentEnd::default);
        rendition
            .publish_part(Bytes::from(vec![index; part_bytes]), PART, end)
            .expect("live rendition");
    }
}

#[tokio::test]
async fn wait_for_wakes_when_the_requested_part_arrives() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(key("720p"), playlist_config(4))
        .expect("valid config");
    publish_segment(&rendition, 10);
    let waiter = {
        let rendition = Arc::clone(&rendition);
        tokio::spawn(async move {
            let started = Instant::now();
            let result = rendition.wait_for(1, Some(1), Duration::from_secs(5)).await;
            (result, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    rendition
        .publish_part(Bytes::from_static(b"p0"), PART, None)
        .expect("live");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiter.is_finished(),
        "part 1-0 does not satisfy _HLS_part=1"
    );
    rendition
        .publish_part(Bytes::from_static(b"p1"), PART, None)
        .expect("live");
    let (result, waited) = waiter.await.expect("waiter task");
    assert_eq!(result, Ok(()));
    assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(2));
    assert!(
        rendition
            .playlist(LivePlaylistMode::LowLatency)
            .contains("part-1-1.m4s")
    );
}

#[tokio::test]
async fn wait_for_times_out_when_nothing_arrives_and_refuses_requests_too_far_ahead() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(key("720p"), playlist_config(4))
        .expect("valid config");
    publish_segment(&rendition, 10);
    let started = Instant::now();
    assert_eq!(
        rendition
            .wait_for(1, Some(0), Duration::from_millis(150))
            .await,
        Err(LiveError::Timeout)
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        rendition.wait_for(9, None, Duration::from_secs(5)).await,
        Err(LiveError::BadRequest(BadReloadRequest::MsnTooFarAhead {
            requested: 9
        }))
    );
    // Already satisfied: answered at once.
    assert_eq!(rendition.wait_for(0, Some(3), Duration::ZERO).await, Ok(()));
}

#[tokio::test]
async fn the_end_of_the_stream_answers_every_waiter() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(key("audio"), playlist_config(4))
        .expect("valid config");
    publish_segment(&rendition, 10);
    let waiter = {
        let rendition = Arc::clone(&rendition);
        tokio::spawn(async move {
            rendition
                .wait_for_part(PartId { msn: 1, part: 0 }, Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    rendition.end().expect("no open segment");
    assert_eq!(
        waiter.await.expect("waiter task"),
        Err(LiveError::NoSuchPart)
    );
}

#[tokio::test]
async fn a_preload_hint_request_gets_the_part_bytes_once_published() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(key("720p"), playlist_config(4))
        .expect("valid config");
    let waiter = {
        let rendition = Arc::clone(&rendition);
        tokio::spawn(async move {
            rendition
                .wait_for_part(PartId { msn: 0, part: 0 }, Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    rendition
        .publish_part(Bytes::from_static(b"first"), PART, None)
        .expect("live");
    assert_eq!(
        waiter.await.expect("waiter task"),
        Ok(Bytes::from_static(b"first"))
    );
}

#[test]
fn segments_are_the_concatenation_of_their_parts_and_leave_memory_with_the_window() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(key("720p"), playlist_config(3))
        .expect("valid config");
    rendition.set_init(Bytes::from_static(b"init"));
    for _ in 0..5 {
        publish_segment(&rendition, 100);
    }
    let segment = rendition
        .resource(LiveResource::Segment(4))
        .expect("listed");
    let expected: Vec<u8> = (0..4u8).flat_map(|i| vec![i; 100]).collect();
    assert_eq!(segment, Bytes::from(expected));
    assert_eq!(
        rendition.resource(LiveResource::Part(PartId { msn: 4, part: 2 })),
        Some(Bytes::from(vec![2u8; 100]))
    );
    // Window of 3: segments 0 and 1 are gone, with their parts.
    assert_eq!(rendition.resource(LiveResource::Segment(1)), None);
    assert_eq!(
        rendition.resource(LiveResource::Part(PartId { msn: 1, part: 0 })),
        None
    );
    assert!(rendition.resource(LiveResource::Segment(2)).is_some());
    assert_eq!(rendition.bytes_in_memory(), 3 * 400);
    assert_eq!(
        rendition.resource(LiveResource::Init(0)),
        Some(Bytes::from_static(b"init"))
    );
}

#[test]
fn memory_stays_within_the_budget_while_older_segments_stay_listed() {
    let origin = LiveOrigin::new(LiveOriginConfig {
        max_rendition_bytes: 10_000,
    });
    let rendition = origin
        .open(key("1080p"), playlist_config(10))
        .expect("valid config");
    for _ in 0..10 {
        publish_segment(&rendition, 1000);
        assert!(rendition.bytes_in_memory() <= 10_000);
    }
    let playlist = rendition.playlist(LivePlaylistMode::Standard);
    assert!(playlist.contains("seg-0.m4s"), "still listed: {playlist}");
    assert_eq!(rendition.resource(LiveResource::Segment(0)), None);
    assert!(rendition.resource(LiveResource::Segment(9)).is_some());
    assert!(rendition.resource(LiveResource::Segment(8)).is_some());
}

#[test]
fn a_reconnect_keeps_the_old_init_while_segments_use_it() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(key("720p"), playlist_config(3))
        .expect("valid config");
    rendition.set_init(Bytes::from_static(b"old"));
    publish_segment(&rendition, 10);
    rendition
        .start_discontinuity(Some(Bytes::from_static(b"new")))
        .expect("no open segment");
    publish_segment(&rendition, 10);
    assert_eq!(
        rendition.resource(LiveResource::Init(0)),
        Some(Bytes::from_static(b"old"))
    );
    assert_eq!(
        rendition.resource(LiveResource::Init(1)),
        Some(Bytes::from_static(b"new"))
    );
    publish_segment(&rendition, 10);
    assert!(rendition.resource(LiveResource::Init(0)).is_some());
    publish_segment(&rendition, 10);
    assert_eq!(rendition.resource(LiveResource::Init(0)), None);
    // Reopening the same key continues the same rendition.
    let again = origin
        .open(key("720p"), playlist_config(3))
        .expect("valid config");
    assert!(Arc::ptr_eq(&again, &rendition));
    assert_eq!(origin.renditions_of("lecture-hall"), ["720p"]);
    assert!(origin.close(&key("720p")).is_some());
    assert!(origin.get(&key("720p")).is_none());
}

#[test]
fn an_origin_playlist_reports_the_other_renditions_of_the_channel() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let video = origin
        .open(key("720p"), playlist_config(4))
        .expect("valid config");
    let audio = origin
        .open(key("audio"), playlist_config(4))
        .expect("valid config");
    let elsewhere = origin
        .open(
            RenditionKey {
                channel: "another-channel".to_string(),
                rendition: "720p".to_string(),
            },
            playlist_config(4),
        )
        .expect("valid config");
    publish_segment(&video, 10);
    publish_segment(&audio, 10);
    audio
        .publish_part(Bytes::from_static(b"a"), PART, None)
        .expect("live");
    publish_segment(&elsewhere, 10);
    let text = origin
        .playlist(&key("720p"), LivePlaylistMode::LowLatency, |name| {
            format!("../{name}/live.m3u8")
        })
        .expect("open rendition");
    let reports: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("#EXT-X-RENDITION-REPORT"))
        .collect();
    assert_eq!(
        reports,
        ["#EXT-X-RENDITION-REPORT:URI=\"../audio/live.m3u8\",LAST-MSN=1,LAST-PART=0"]
    );
    assert!(
        origin
            .playlist(&key("360p"), LivePlaylistMode::LowLatency, |n| n
                .to_string())
            .is_none()
    );
}

#[test]
fn an_invalid_playlist_configuration_opens_nothing() {
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    assert_eq!(
        origin.open(key("720p"), playlist_config(1)).err(),
        Some(LiveError::Playlist(LivePlaylistError::WindowTooShort))
    );
    assert!(origin.get(&key("720p")).is_none());
}

#[test]
fn a_segment_that_never_ends_still_stays_within_the_memory_budget() {
    let origin = LiveOrigin::new(LiveOriginConfig {
        max_rendition_bytes: 1000,
    });
    let rendition = origin
        .open(key("720p"), playlist_config(3))
        .expect("valid config");
    for _ in 0..50 {
        rendition
            .publish_part(Bytes::from(vec![7u8; 100]), PART, None)
            .expect("live");
        assert!(rendition.bytes_in_memory() <= 1000);
    }
    let newest = PartId { msn: 0, part: 49 };
    assert!(rendition.resource(LiveResource::Part(newest)).is_some());
    assert_eq!(
        rendition.resource(LiveResource::Part(PartId { msn: 0, part: 0 })),
        None
    );
}
