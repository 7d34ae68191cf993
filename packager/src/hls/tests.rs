//! Playlist tests: rendered text is parsed back with m3u8-rs.

use m3u8_rs::{AlternativeMediaType, MediaPlaylistType, Resolution};

use super::*;

fn segment(uri: &str, duration_ticks: u64, bytes: u64) -> SegmentEntry {
    SegmentEntry {
        uri: uri.to_string(),
        duration_ticks,
        timescale: 90_000,
        bytes,
    }
}

fn three_segment_playlist() -> MediaPlaylistState {
    let mut playlist = MediaPlaylistState::new("init.mp4");
    playlist.push(segment("seg-00001.m4s", 360_000, 500_000));
    playlist.push(segment("seg-00002.m4s", 405_450, 700_000));
    playlist.push(segment("seg-00003.m4s", 180_180, 150_000));
    playlist
}

#[test]
fn vod_media_playlist_parses_back_with_all_required_tags() {
    let text = three_segment_playlist().render_vod();
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
    assert_eq!(parsed.version, Some(7));
    assert_eq!(parsed.target_duration, 5);
    assert_eq!(parsed.playlist_type, Some(MediaPlaylistType::Vod));
    assert!(parsed.independent_segments);
    assert!(parsed.end_list);
    let uris: Vec<_> = parsed.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        uris,
        vec!["seg-00001.m4s", "seg-00002.m4s", "seg-00003.m4s"]
    );
    assert_eq!(
        parsed.segments[0].map.as_ref().map(|m| m.uri.as_str()),
        Some("init.mp4")
    );
    assert!(parsed.segments[1].map.is_none());
    assert!((parsed.segments[1].duration - 4.505).abs() < 0.0005);
}

#[test]
fn extinf_is_written_to_the_millisecond_in_its_shortest_form() {
    let text = three_segment_playlist().render_vod();
    assert!(text.contains("#EXTINF:4,\nseg-00001.m4s"), "{text}");
    assert!(text.contains("#EXTINF:4.505,\nseg-00002.m4s"), "{text}");
    assert!(text.contains("#EXTINF:2.002,\nseg-00003.m4s"), "{text}");
    assert!(text.contains("#EXT-X-MAP:URI=\"init.mp4\""));
    assert!(text.trim_end().ends_with("#EXT-X-ENDLIST"));
}

#[test]
fn event_playlist_has_the_same_segments_without_endlist() {
    let playlist = three_segment_playlist();
    let text = playlist.render_event(4);
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
    assert_eq!(parsed.playlist_type, Some(MediaPlaylistType::Event));
    assert!(!parsed.end_list);
    assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
    assert_eq!(parsed.segments.len(), 3);
    assert_eq!(
        parsed.target_duration, 5,
        "a longer segment raises the target"
    );
    assert_eq!(
        parsed.segments[0].map.as_ref().map(|m| m.uri.as_str()),
        Some("init.mp4")
    );
}

#[test]
fn event_playlist_target_duration_starts_at_the_segment_target() {
    let mut playlist = MediaPlaylistState::new("init.mp4");
    playlist.push(segment("seg-00001.m4s", 180_000, 1000)); // 2 s
    let parsed = m3u8_rs::parse_media_playlist_res(playlist.render_event(4).as_bytes()).unwrap();
    assert_eq!(parsed.target_duration, 4);
    let vod = m3u8_rs::parse_media_playlist_res(playlist.render_vod().as_bytes()).unwrap();
    assert_eq!(
        vod.target_duration, 2,
        "the final playlist has the measured target"
    );
}

#[test]
fn target_duration_is_the_longest_segment_rounded_up() {
    let mut playlist = MediaPlaylistState::new("init.mp4");
    assert_eq!(playlist.target_duration(), 1, "empty playlist");
    playlist.push(segment("a", 360_000, 1));
    assert_eq!(playlist.target_duration(), 4, "exactly 4 s stays 4");
    playlist.push(segment("b", 360_001, 1));
    assert_eq!(playlist.target_duration(), 5, "one tick over rounds up");
    playlist.push(segment("c", 90_000, 1));
    assert_eq!(
        playlist.target_duration(),
        5,
        "shorter segments do not lower it"
    );
}

#[test]
fn peak_bitrate_uses_runs_between_half_and_one_and_a_half_target_durations() {
    let mut playlist = MediaPlaylistState::new("init.mp4");
    playlist.push(segment("1", 360_000, 400_000)); // 4 s, 800 kbit/s
    playlist.push(segment("2", 360_000, 800_000)); // 4 s, 1.6 Mbit/s
    playlist.push(segment("3", 45_000, 200_000)); // 0.5 s alone: 3.2 Mbit/s, too short to count
    assert_eq!(playlist.target_duration(), 4);
    // Best qualifying run: segments 2+3, 1 MB over 4.5 s.
    assert_eq!(playlist.peak_bitrate(), 1_777_778);
    // 1.4 MB over 8.5 s, rounded up.
    assert_eq!(playlist.average_bitrate(), 1_317_648);
}

#[test]
fn peak_bitrate_of_a_very_short_playlist_is_its_average() {
    let mut playlist = MediaPlaylistState::new("init.mp4");
    playlist.push(segment("1", 90_000, 10_000));
    assert_eq!(playlist.peak_bitrate(), 80_000);
    assert_eq!(MediaPlaylistState::new("init.mp4").peak_bitrate(), 0);
}

fn ladder() -> MasterPlaylistSpec {
    MasterPlaylistSpec {
        variants: vec![
            VideoVariant {
                uri: "720p/index.m3u8".into(),
                codec: "avc1.64001f".into(),
                width: 1280,
                height: 720,
                frame_rate: 29.97,
                peak_bitrate: 3_000_000,
                average_bitrate: 2_500_000,
            },
            VideoVariant {
                uri: "360p/index.m3u8".into(),
                codec: "avc1.64001e".into(),
                width: 640,
                height: 360,
                frame_rate: 30.0,
                peak_bitrate: 900_000,
                average_bitrate: 700_000,
            },
        ],
        audio: vec![AudioRendition {
            uri: "audio/index.m3u8".into(),
            name: "中文 \"讲座\"".into(),
            language: Some("zh".into()),
            channels: Some(2),
            codec: "mp4a.40.2".into(),
            peak_bitrate: 130_000,
            average_bitrate: 128_000,
        }],
        closed_captions: None,
    }
}

#[test]
fn master_playlist_bandwidth_is_video_peak_plus_audio_peak_sorted_ascending() {
    let text = ladder().render();
    let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
    assert_eq!(parsed.version, Some(7));
    assert!(parsed.independent_segments);
    let variants: Vec<_> = parsed
        .variants
        .iter()
        .map(|v| (v.uri.as_str(), v.bandwidth, v.average_bandwidth))
        .collect();
    assert_eq!(
        variants,
        vec![
            ("360p/index.m3u8", 1_030_000, Some(828_000)),
            ("720p/index.m3u8", 3_130_000, Some(2_628_000)),
        ]
    );
    let low = &parsed.variants[0];
    assert_eq!(low.codecs.as_deref(), Some("avc1.64001e,mp4a.40.2"));
    assert_eq!(
        low.resolution,
        Some(Resolution {
            width: 640,
            height: 360
        })
    );
    assert_eq!(low.frame_rate, Some(30.0));
    assert_eq!(low.audio.as_deref(), Some("audio"));
}

#[test]
fn master_playlist_frame_rate_has_three_decimals() {
    let text = ladder().render();
    assert!(text.contains("FRAME-RATE=29.970"), "{text}");
    assert!(text.contains("FRAME-RATE=30.000"), "{text}");
}

#[test]
fn master_playlist_declares_the_audio_group() {
    let text = ladder().render();
    let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
    assert_eq!(parsed.alternatives.len(), 1);
    let audio = &parsed.alternatives[0];
    assert_eq!(audio.media_type, AlternativeMediaType::Audio);
    assert_eq!(audio.group_id, "audio");
    assert_eq!(audio.name, "中文 讲座", "quotes are removed from NAME");
    assert_eq!(audio.language.as_deref(), Some("zh"));
    assert!(audio.default);
    assert!(audio.autoselect);
    assert_eq!(audio.uri.as_deref(), Some("audio/index.m3u8"));
    assert_eq!(audio.channels.as_deref(), Some("2"));
}

#[test]
fn a_ladder_with_608_captions_declares_one_closed_captions_group_named_by_every_variant() {
    let spec = MasterPlaylistSpec {
        closed_captions: Some(ClosedCaptions::cc1()),
        ..ladder()
    };
    let text = spec.render();
    let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
    let captions: Vec<_> = parsed
        .alternatives
        .iter()
        .filter(|m| m.media_type == AlternativeMediaType::ClosedCaptions)
        .collect();
    assert_eq!(captions.len(), 1, "{text}");
    let cc = captions[0];
    assert_eq!(cc.group_id, CLOSED_CAPTIONS_GROUP_ID);
    assert_eq!(cc.group_id, "cc");
    assert_eq!(cc.instream_id, Some(m3u8_rs::InstreamId::CC(1)));
    assert_eq!(cc.name, "隐藏字幕 / Closed captions (CC1)");
    assert!(cc.default && cc.autoselect);
    assert_eq!(
        cc.uri, None,
        "608 captions are in the video, not in a playlist"
    );
    assert!(text.contains(
        "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"隐藏字幕 / Closed captions (CC1)\",\
         DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID=\"CC1\""
    ), "{text}");
    assert_eq!(parsed.variants.len(), 2);
    for variant in &parsed.variants {
        assert_eq!(
            variant.closed_captions,
            Some(m3u8_rs::ClosedCaptionGroupId::GroupId("cc".into())),
            "{text}"
        );
        assert_eq!(variant.audio.as_deref(), Some(AUDIO_GROUP_ID));
    }
    // The audio group is still there, unchanged.
    assert_eq!(
        parsed
            .alternatives
            .iter()
            .filter(|m| m.media_type == AlternativeMediaType::Audio)
            .count(),
        1
    );
}

#[test]
fn a_ladder_without_608_captions_has_no_closed_captions_group_or_attribute() {
    let text = ladder().render();
    assert!(!text.contains("CLOSED-CAPTIONS"), "{text}");
    let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
    assert!(parsed.variants.iter().all(|v| v.closed_captions.is_none()));
}

#[test]
fn audio_only_ladder_lists_the_audio_playlist_as_a_variant() {
    let spec = MasterPlaylistSpec {
        variants: vec![],
        ..ladder()
    };
    let parsed = m3u8_rs::parse_master_playlist_res(spec.render().as_bytes()).unwrap();
    assert!(parsed.alternatives.is_empty());
    assert_eq!(parsed.variants.len(), 1);
    assert_eq!(parsed.variants[0].uri, "audio/index.m3u8");
    assert_eq!(parsed.variants[0].bandwidth, 130_000);
    assert_eq!(parsed.variants[0].codecs.as_deref(), Some("mp4a.40.2"));
}

#[test]
fn video_only_ladder_has_no_audio_group() {
    let spec = MasterPlaylistSpec {
        audio: vec![],
        ..ladder()
    };
    let parsed = m3u8_rs::parse_master_playlist_res(spec.render().as_bytes()).unwrap();
    assert!(parsed.alternatives.is_empty());
    assert!(parsed.variants.iter().all(|v| v.audio.is_none()));
    assert_eq!(parsed.variants[0].bandwidth, 900_000);
    assert_eq!(parsed.variants[0].codecs.as_deref(), Some("avc1.64001e"));
}

#[test]
fn a_recording_with_a_reconnect_lists_a_discontinuity_and_switches_init_sections() {
    let mut playlist = MediaPlaylistState::new("init-0.mp4");
    playlist.push(segment("seg-0.m4s", 180_000, 1000));
    playlist.start_discontinuity(None);
    playlist.push(segment("seg-1.m4s", 180_000, 1000));
    playlist.start_discontinuity(Some("init-1.mp4".into()));
    playlist.push(segment("seg-2.m4s", 180_000, 1000));
    playlist.push(segment("seg-3.m4s", 180_000, 1000));
    let text = playlist.render_vod();
    let parsed = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
        other => panic!("not a media playlist: {other:?}\n{text}"),
    };
    let discontinuities: Vec<bool> = parsed.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(discontinuities, [false, true, true, false]);
    let maps: Vec<Option<String>> = parsed
        .segments
        .iter()
        .map(|s| s.map.as_ref().map(|m| m.uri.clone()))
        .collect();
    assert_eq!(
        maps,
        [
            Some("init-0.mp4".to_owned()),
            None,
            Some("init-1.mp4".to_owned()),
            None
        ]
    );
}

#[test]
fn a_discontinuity_before_the_first_segment_only_sets_its_init_section() {
    let mut playlist = MediaPlaylistState::new("init-0.mp4");
    playlist.start_discontinuity(Some("init-3.mp4".into()));
    playlist.push(segment("seg-9.m4s", 180_000, 1000));
    let text = playlist.render_vod();
    assert!(!text.contains("EXT-X-DISCONTINUITY"), "{text}");
    assert!(text.contains("#EXT-X-MAP:URI=\"init-3.mp4\""), "{text}");
}

#[test]
fn a_rendered_playlist_reads_back_with_its_breaks_init_switches_and_sizes() {
    let mut playlist = MediaPlaylistState::new("init-0.mp4");
    playlist.push(segment("seg-0.m4s", 180_000, 1000));
    playlist.start_discontinuity(None);
    playlist.push(segment("seg-1.m4s", 180_000, 1000));
    playlist.start_discontinuity(Some("init-1.mp4".into()));
    playlist.push(segment("seg-2.m4s", 171_000, 1000));
    let event = playlist.render_event(2);
    let back = MediaPlaylistState::parse(&event, |uri| if uri == "seg-2.m4s" { 7 } else { 1000 })
        .expect("a media playlist");
    assert_eq!(back.segments().len(), 3);
    assert_eq!(back.segments()[2].bytes, 7);
    assert!((back.duration_seconds() - 5.9).abs() < 0.001);
    assert_eq!(back.render_vod(), playlist.render_vod());
    assert_eq!(MediaPlaylistState::parse("#EXTM3U\n", |_| 0), None);
}
