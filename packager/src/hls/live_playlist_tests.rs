//! Live playlist tests: rendered text parsed back with m3u8-rs, LL-HLS tags
//! (which m3u8-rs keeps as unknown tags, or drops after the last segment)
//! read from the text lines.

use std::time::Duration;

use m3u8_rs::MediaPlaylist;
use time::OffsetDateTime;

use super::*;

const TIMESCALE: u32 = 90_000;

fn config(window: LiveWindow) -> LivePlaylistConfig {
    LivePlaylistConfig {
        timescale: TIMESCALE,
        segment_target: Duration::from_secs(2),
        part_target: Duration::from_millis(500),
        window,
    }
}

/// Pushes one 2 s segment of four 0.5 s parts (the first independent).
fn push_segment(playlist: &mut LiveMediaPlaylist, at: Option<OffsetDateTime>) -> u64 {
    for index in 0..4 {
        playlist
            .push_part(LivePart {
                duration_ticks: 45_000,
                independent: index == 0,
            })
            .expect("open playlist");
    }
    playlist.complete_segment(at).expect("segment open")
}

fn parse(text: &str) -> MediaPlaylist {
    m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("a valid media playlist")
}

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn low_latency_playlist_declares_server_control_part_target_and_parts() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(6)));
    push_segment(&mut playlist, None);
    push_segment(&mut playlist, None);
    playlist
        .push_part(LivePart {
            duration_ticks: 45_000,
            independent: true,
        })
        .expect("open");
    let text = playlist.render(LivePlaylistMode::LowLatency);
    let parsed = parse(&text);
    assert_eq!(parsed.target_duration, 2);
    assert_eq!(parsed.version, Some(7));
    assert!(!parsed.end_list);
    assert_eq!(parsed.media_sequence, 0);
    let uris: Vec<_> = parsed.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(uris, ["seg-0.m4s", "seg-1.m4s"]);
    assert!(
        parsed
            .segments
            .iter()
            .all(|s| (s.duration - 2.0).abs() < 1e-6)
    );
    assert_eq!(
        parsed.segments[0].map.as_ref().map(|m| m.uri.as_str()),
        Some("init-0.mp4")
    );

    let server_control = lines_starting(&text, "#EXT-X-SERVER-CONTROL:");
    assert_eq!(
        server_control,
        ["#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000"]
    );
    assert_eq!(
        lines_starting(&text, "#EXT-X-PART-INF:"),
        ["#EXT-X-PART-INF:PART-TARGET=0.500"]
    );
    // Parts of both complete segments, then the open one's, each before its segment.
    let parts = lines_starting(&text, "#EXT-X-PART:");
    assert_eq!(parts.len(), 9);
    assert_eq!(
        parts[0],
        "#EXT-X-PART:DURATION=0.500,URI=\"part-0-0.m4s\",INDEPENDENT=YES"
    );
    assert_eq!(parts[1], "#EXT-X-PART:DURATION=0.500,URI=\"part-0-1.m4s\"");
    assert_eq!(
        parts[8],
        "#EXT-X-PART:DURATION=0.500,URI=\"part-2-0.m4s\",INDEPENDENT=YES"
    );
    // m3u8-rs attaches each segment's parts to it (and the playlist-level
    // LL-HLS tags to the first segment).
    let part_tags = |segment: &m3u8_rs::MediaSegment| {
        segment
            .unknown_tags
            .iter()
            .filter(|t| t.tag == "X-PART")
            .count()
    };
    assert_eq!(part_tags(&parsed.segments[0]), 4);
    assert_eq!(part_tags(&parsed.segments[1]), 4);
    // The preload hint names the next part of the open segment and ends the playlist.
    assert_eq!(
        text.lines().last(),
        Some("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-2-1.m4s\"")
    );
}

#[test]
fn preload_hint_names_the_first_part_of_the_next_segment_after_a_segment_ends() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(6)));
    assert_eq!(
        playlist.render(LivePlaylistMode::LowLatency).lines().last(),
        Some("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-0-0.m4s\"")
    );
    push_segment(&mut playlist, None);
    assert_eq!(playlist.next_part(), PartId { msn: 1, part: 0 });
    assert_eq!(
        playlist.render(LivePlaylistMode::LowLatency).lines().last(),
        Some("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-1-0.m4s\"")
    );
}

#[test]
fn standard_mode_renders_the_same_segments_without_ll_hls_tags() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(6)));
    push_segment(&mut playlist, None);
    playlist
        .push_part(LivePart {
            duration_ticks: 45_000,
            independent: true,
        })
        .expect("open");
    let text = playlist.render(LivePlaylistMode::Standard);
    let parsed = parse(&text);
    assert_eq!(parsed.segments.len(), 1);
    for tag in [
        "#EXT-X-PART",
        "#EXT-X-SERVER-CONTROL",
        "#EXT-X-PRELOAD-HINT",
    ] {
        assert!(!text.contains(tag), "{tag} in a standard playlist:\n{text}");
    }
    assert!(parsed.segments[0].unknown_tags.is_empty());
    assert!(text.ends_with("seg-0.m4s\n"));
}

#[test]
fn media_sequence_increments_as_the_window_slides() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(3)));
    for expected_first in [0, 0, 0, 1, 2, 3] {
        push_segment(&mut playlist, None);
        let parsed = parse(&playlist.render(LivePlaylistMode::LowLatency));
        assert_eq!(parsed.media_sequence, expected_first);
        assert!(parsed.segments.len() <= 3);
        assert_eq!(
            parsed.segments.last().map(|s| s.uri.clone()),
            Some(segment_uri(playlist.position().last_segment.unwrap_or(0)))
        );
        // The first listed segment always carries the init section.
        assert!(parsed.segments[0].map.is_some());
    }
    assert!(!playlist.lists_segment(2));
    assert!(playlist.lists_segment(3));
}

#[test]
fn dvr_window_keeps_the_last_hours_of_segments() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Dvr(Duration::from_secs(3600))));
    for _ in 0..2000 {
        push_segment(&mut playlist, None);
    }
    let parsed = parse(&playlist.render(LivePlaylistMode::Standard));
    // 1800 segments of 2 s cover the hour exactly.
    assert_eq!(parsed.segments.len(), 1800);
    assert_eq!(parsed.media_sequence, 200);
}

#[test]
fn parts_are_listed_only_for_the_last_three_target_durations() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(10)));
    for _ in 0..8 {
        push_segment(&mut playlist, None);
    }
    let parsed = parse(&playlist.render(LivePlaylistMode::LowLatency));
    let with_parts: Vec<_> = parsed
        .segments
        .iter()
        .filter(|s| s.unknown_tags.iter().any(|t| t.tag == "X-PART"))
        .map(|s| s.uri.as_str())
        .collect();
    // Target 2 s: parts are kept while less than 6 s of newer media follows.
    assert_eq!(with_parts, ["seg-5.m4s", "seg-6.m4s", "seg-7.m4s"]);
    assert!(!playlist.lists_part(PartId { msn: 4, part: 3 }));
    assert!(playlist.lists_part(PartId { msn: 5, part: 3 }));
    assert!(!playlist.lists_part(PartId { msn: 5, part: 4 }));
}

#[test]
fn a_reconnect_adds_a_discontinuity_and_a_new_init_section() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(3)));
    push_segment(&mut playlist, None);
    push_segment(&mut playlist, None);
    assert_eq!(playlist.start_discontinuity(true), Ok(1));
    push_segment(&mut playlist, None);
    let text = playlist.render(LivePlaylistMode::LowLatency);
    let parsed = parse(&text);
    assert!(!parsed.segments[1].discontinuity);
    assert!(parsed.segments[2].discontinuity);
    assert_eq!(
        parsed.segments[2].map.as_ref().map(|m| m.uri.as_str()),
        Some("init-1.mp4")
    );
    assert_eq!(parsed.discontinuity_sequence, 0);

    // The segment with the discontinuity tag slides out: the sequence counts it.
    for _ in 0..3 {
        push_segment(&mut playlist, None);
    }
    let parsed = parse(&playlist.render(LivePlaylistMode::Standard));
    assert_eq!(parsed.media_sequence, 3);
    assert_eq!(parsed.discontinuity_sequence, 1);
    assert!(parsed.segments.iter().all(|s| !s.discontinuity));
    assert_eq!(
        parsed.segments[0].map.as_ref().map(|m| m.uri.as_str()),
        Some("init-1.mp4")
    );
    assert_eq!(playlist.oldest_init_generation(), 1);
}

#[test]
fn a_discontinuity_needs_the_open_segment_completed_and_none_is_written_before_the_first() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(3)));
    assert_eq!(playlist.start_discontinuity(true), Ok(0));
    playlist
        .push_part(LivePart {
            duration_ticks: 45_000,
            independent: true,
        })
        .expect("open");
    assert_eq!(
        playlist.start_discontinuity(false),
        Err(LivePlaylistError::SegmentStillOpen)
    );
    assert_eq!(playlist.end(), Err(LivePlaylistError::SegmentStillOpen));
    playlist.complete_segment(None).expect("open");
    assert!(
        !playlist
            .render(LivePlaylistMode::LowLatency)
            .contains("#EXT-X-DISCONTINUITY")
    );
    assert_eq!(
        playlist.complete_segment(None),
        Err(LivePlaylistError::NoOpenSegment)
    );
}

#[test]
fn program_date_time_is_written_in_utc_with_milliseconds() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(3)));
    let start = OffsetDateTime::from_unix_timestamp(1_763_711_381)
        .expect("in range")
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("valid offset"));
    push_segment(&mut playlist, Some(start));
    push_segment(&mut playlist, Some(start + time::Duration::seconds(2)));
    let parsed = parse(&playlist.render(LivePlaylistMode::LowLatency));
    let times: Vec<_> = parsed
        .segments
        .iter()
        .map(|s| s.program_date_time.map(|t| t.timestamp_millis()))
        .collect();
    assert_eq!(times, [Some(1_763_711_381_000), Some(1_763_711_383_000)]);
    assert!(
        playlist
            .render(LivePlaylistMode::Standard)
            .contains("#EXT-X-PROGRAM-DATE-TIME:2025-11-21T07:49:41.000Z")
    );
}

#[test]
fn target_duration_never_shrinks_and_covers_a_long_segment() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(2)));
    playlist
        .push_part(LivePart {
            duration_ticks: 5 * 90_000 + 1,
            independent: true,
        })
        .expect("open");
    playlist.complete_segment(None).expect("open");
    assert_eq!(playlist.target_duration(), 5);
    for _ in 0..3 {
        push_segment(&mut playlist, None);
    }
    assert_eq!(
        parse(&playlist.render(LivePlaylistMode::Standard)).target_duration,
        5
    );
}

#[test]
fn an_ended_playlist_has_endlist_and_no_preload_hint() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(3)));
    push_segment(&mut playlist, None);
    playlist.end().expect("no open segment");
    let text = playlist.render(LivePlaylistMode::LowLatency);
    assert!(parse(&text).end_list);
    assert!(!text.contains("PRELOAD-HINT"));
    assert_eq!(
        playlist.push_part(LivePart {
            duration_ticks: 1,
            independent: true
        }),
        Err(LivePlaylistError::Ended)
    );
}

#[test]
fn resource_names_round_trip_and_foreign_names_are_refused() {
    let id = PartId { msn: 12, part: 3 };
    assert_eq!(
        LiveResource::parse(&part_uri(id)),
        Some(LiveResource::Part(id))
    );
    assert_eq!(
        LiveResource::parse(&segment_uri(7)),
        Some(LiveResource::Segment(7))
    );
    assert_eq!(
        LiveResource::parse(&init_uri(2)),
        Some(LiveResource::Init(2))
    );
    for name in [
        "seg-.m4s",
        "seg-+1.m4s",
        "part-1.m4s",
        "part-1-x.m4s",
        "../seg-1.m4s",
        "init-1.m4s",
    ] {
        assert_eq!(LiveResource::parse(name), None, "{name}");
    }
}

#[test]
fn rendition_reports_follow_the_playlist_in_low_latency_mode_only() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(3)));
    push_segment(&mut playlist, None);
    let audio = RenditionReport {
        uri: "../audio/live.m3u8".to_string(),
        position: PlaylistPosition {
            last_segment: Some(0),
            last_part: Some(PartId { msn: 1, part: 2 }),
            ended: false,
        },
    };
    let empty = RenditionReport {
        uri: "../360p/live.m3u8".to_string(),
        position: PlaylistPosition::default(),
    };
    let reports = [audio, empty];
    let text = playlist.render_with_reports(LivePlaylistMode::LowLatency, &reports);
    assert_eq!(
        lines_starting(&text, "#EXT-X-RENDITION-REPORT"),
        ["#EXT-X-RENDITION-REPORT:URI=\"../audio/live.m3u8\",LAST-MSN=1,LAST-PART=2"]
    );
    assert!(text.ends_with("LAST-PART=2\n"));
    parse(&text);
    let standard = playlist.render_with_reports(LivePlaylistMode::Standard, &reports);
    assert!(!standard.contains("RENDITION-REPORT"));
}

#[test]
fn configurations_that_cannot_make_a_valid_live_playlist_are_refused() {
    assert_eq!(config(LiveWindow::Segments(3)).validate(), Ok(()));
    assert_eq!(
        config(LiveWindow::Dvr(Duration::from_secs(6))).validate(),
        Ok(())
    );
    let cases = [
        (
            LivePlaylistConfig {
                timescale: 0,
                ..config(LiveWindow::Segments(6))
            },
            LivePlaylistError::ZeroTimescale,
        ),
        (
            LivePlaylistConfig {
                part_target: Duration::ZERO,
                ..config(LiveWindow::Segments(6))
            },
            LivePlaylistError::PartTargetOutOfRange,
        ),
        (
            LivePlaylistConfig {
                part_target: Duration::from_secs(3),
                ..config(LiveWindow::Segments(6))
            },
            LivePlaylistError::PartTargetOutOfRange,
        ),
        (
            config(LiveWindow::Segments(2)),
            LivePlaylistError::WindowTooShort,
        ),
        (
            config(LiveWindow::Dvr(Duration::from_secs(5))),
            LivePlaylistError::WindowTooShort,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected), "{config:?}");
    }
}

#[test]
fn a_listed_segment_reports_its_duration_discontinuity_and_init_generation() {
    let mut playlist = LiveMediaPlaylist::new(config(LiveWindow::Segments(2)));
    let first = push_segment(&mut playlist, None);
    playlist.start_discontinuity(true).unwrap();
    let second = push_segment(&mut playlist, None);
    let facts = playlist.listed_segment(second).unwrap();
    assert!(facts.discontinuity);
    assert_eq!(facts.init_generation, 1);
    assert_eq!(facts.timescale, 90_000);
    assert!(facts.duration_ticks > 0);
    assert!(!playlist.listed_segment(first).unwrap().discontinuity);
    push_segment(&mut playlist, None);
    assert_eq!(
        playlist.listed_segment(first),
        None,
        "slid out of the window"
    );
}
