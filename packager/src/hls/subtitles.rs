//! Caption tracks in HLS: a master playlist's `SUBTITLES` rendition group and
//! the one-segment WebVTT media playlist of each track (RFC 8216 4.3.4.1,
//! 3.1.4). Caption files are attached after a ladder is written, so the group
//! is added to an already rendered master rather than at transcode time.

use std::collections::HashMap;

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, MediaPlaylist, MediaPlaylistType, MediaSegment,
    Playlist, QuotedOrUnquoted,
};

use super::{PLAYLIST_VERSION, render};

/// `GROUP-ID` of the caption renditions.
pub const SUBTITLES_GROUP_ID: &str = "subs";

/// One caption track, as the master playlist lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleTrack {
    /// RFC 5646 language tag (`zh-CN`, `en`), written as `LANGUAGE`.
    pub language: String,
    /// What players show in their caption menu, written as `NAME`.
    pub name: String,
    /// The track's media playlist URI relative to the master, e.g. `captions/en.m3u8`.
    pub uri: String,
}

/// Why a master playlist could not take a subtitles group.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubtitlesError {
    /// The stored text is not a master playlist.
    #[error("the stored master playlist could not be read: {0}")]
    UnreadableMaster(String),
}

/// The master playlist `master` with `tracks` as its `SUBTITLES="subs"` group.
///
/// Each track becomes `EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"` with its
/// `LANGUAGE`, `NAME` and `URI`, `AUTOSELECT=YES` (players pick the one in the
/// viewer's language), none `DEFAULT` (captions stay off until asked for:
/// they are not forced subtitles). Every variant names the group. Any
/// subtitles group already present is replaced, so applying it twice gives
/// the same text. With no tracks, the master comes back unchanged.
pub fn with_subtitles(master: &str, tracks: &[SubtitleTrack]) -> Result<String, SubtitlesError> {
    if tracks.is_empty() {
        return Ok(master.to_string());
    }
    let mut playlist = match m3u8_rs::parse_playlist_res(master.as_bytes()) {
        Ok(Playlist::MasterPlaylist(playlist)) => playlist,
        Ok(Playlist::MediaPlaylist(_)) => {
            return Err(SubtitlesError::UnreadableMaster(
                "a media playlist, not a master".into(),
            ));
        }
        Err(e) => return Err(SubtitlesError::UnreadableMaster(e.to_string())),
    };
    playlist
        .alternatives
        .retain(|media| media.media_type != AlternativeMediaType::Subtitles);
    playlist
        .alternatives
        .extend(tracks.iter().map(|track| AlternativeMedia {
            media_type: AlternativeMediaType::Subtitles,
            uri: Some(track.uri.clone()),
            group_id: SUBTITLES_GROUP_ID.to_string(),
            language: Some(attribute_text(&track.language)),
            name: attribute_text(&track.name),
            default: false,
            autoselect: true,
            ..AlternativeMedia::default()
        }));
    for variant in &mut playlist.variants {
        variant.subtitles = Some(SUBTITLES_GROUP_ID.to_string());
        // m3u8-rs reads FRAME-RATE as a float and would print it in shortest form; HLS
        // wants 3 decimals, as the master was written.
        if let Some(rate) = variant.frame_rate.take() {
            variant
                .other_attributes
                .get_or_insert_with(HashMap::new)
                .insert(
                    "FRAME-RATE".to_string(),
                    QuotedOrUnquoted::Unquoted(format!("{rate:.3}")),
                );
        }
    }
    Ok(render(|out| playlist.write_to(out)))
}

/// The VOD media playlist of one caption track: a single WebVTT segment at
/// `vtt_uri` lasting `duration_seconds` (the media's duration, so players
/// line the track up with the whole presentation).
///
/// A non-finite or non-positive duration is taken as one second: the playlist
/// stays valid and players still load the cues, whose own times place them.
pub fn subtitle_media_playlist(vtt_uri: &str, duration_seconds: f64) -> String {
    let duration = if duration_seconds.is_finite() && duration_seconds > 0.0 {
        // EXTINF to the millisecond, like the media playlists.
        (duration_seconds * 1000.0).round() / 1000.0
    } else {
        1.0
    };
    let playlist = MediaPlaylist {
        version: Some(PLAYLIST_VERSION),
        target_duration: duration.ceil() as u64,
        media_sequence: 0,
        playlist_type: Some(MediaPlaylistType::Vod),
        end_list: true,
        independent_segments: true,
        segments: vec![MediaSegment {
            uri: vtt_uri.to_string(),
            duration: duration as f32,
            ..MediaSegment::default()
        }],
        ..MediaPlaylist::default()
    };
    render(|out| playlist.write_to(out))
}

/// Quoted-string attribute values may not contain `"`, CR or LF (RFC 8216 4.2).
fn attribute_text(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::{AudioRendition, MasterPlaylistSpec, VideoVariant};

    fn ladder_master() -> String {
        ladder_spec().render()
    }

    fn ladder_spec() -> MasterPlaylistSpec {
        let variant = |height: u32, peak: u64| VideoVariant {
            uri: format!("{height}p/index.m3u8"),
            codec: "avc1.64001f".into(),
            width: height * 16 / 9,
            height,
            frame_rate: 25.0,
            peak_bitrate: peak,
            average_bitrate: peak / 2,
        };
        MasterPlaylistSpec {
            variants: vec![variant(360, 800_000), variant(720, 2_500_000)],
            audio: vec![AudioRendition {
                uri: "audio/index.m3u8".into(),
                name: "audio".into(),
                language: None,
                channels: Some(2),
                codec: "mp4a.40.2".into(),
                peak_bitrate: 128_000,
                average_bitrate: 128_000,
            }],
            closed_captions: None,
        }
    }

    fn tracks() -> Vec<SubtitleTrack> {
        vec![
            SubtitleTrack {
                language: "zh-CN".into(),
                name: "中文".into(),
                uri: "captions/zh-CN.m3u8".into(),
            },
            SubtitleTrack {
                language: "en".into(),
                name: "English \"CC\"".into(),
                uri: "captions/en.m3u8".into(),
            },
        ]
    }

    #[test]
    fn each_track_becomes_a_subtitles_rendition_and_every_variant_names_the_group() {
        let text = with_subtitles(&ladder_master(), &tracks()).unwrap();
        let master = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        let subs: Vec<_> = master
            .alternatives
            .iter()
            .filter(|m| m.media_type == AlternativeMediaType::Subtitles)
            .collect();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].language.as_deref(), Some("zh-CN"));
        assert_eq!(subs[0].name, "中文");
        assert_eq!(subs[0].uri.as_deref(), Some("captions/zh-CN.m3u8"));
        assert_eq!(subs[1].name, "English CC", "quotes are dropped from NAME");
        assert!(subs.iter().all(|m| m.group_id == SUBTITLES_GROUP_ID));
        assert!(subs.iter().all(|m| m.autoselect && !m.default));
        assert_eq!(master.variants.len(), 2);
        assert!(
            master
                .variants
                .iter()
                .all(|v| v.subtitles.as_deref() == Some(SUBTITLES_GROUP_ID)
                    && v.audio.as_deref() == Some("audio"))
        );
    }

    #[test]
    fn uploaded_subtitles_and_608_closed_captions_are_both_announced() {
        let master = MasterPlaylistSpec {
            closed_captions: Some(crate::hls::ClosedCaptions::cc1()),
            ..ladder_spec()
        }
        .render();
        let text = with_subtitles(&master, &tracks()).unwrap();
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        let count = |kind: AlternativeMediaType| {
            parsed
                .alternatives
                .iter()
                .filter(|m| m.media_type == kind)
                .count()
        };
        assert_eq!(count(AlternativeMediaType::Subtitles), 2, "{text}");
        assert_eq!(count(AlternativeMediaType::ClosedCaptions), 1, "{text}");
        assert_eq!(count(AlternativeMediaType::Audio), 1, "{text}");
        let cc = parsed
            .alternatives
            .iter()
            .find(|m| m.media_type == AlternativeMediaType::ClosedCaptions)
            .unwrap();
        assert_eq!(cc.instream_id, Some(m3u8_rs::InstreamId::CC(1)));
        assert!(cc.default && cc.autoselect);
        for variant in &parsed.variants {
            assert_eq!(variant.subtitles.as_deref(), Some(SUBTITLES_GROUP_ID));
            assert_eq!(
                variant.closed_captions,
                Some(m3u8_rs::ClosedCaptionGroupId::GroupId(
                    crate::hls::CLOSED_CAPTIONS_GROUP_ID.into()
                ))
            );
        }
    }

    #[test]
    fn the_ladder_itself_is_kept_when_subtitles_are_added() {
        let original = m3u8_rs::parse_master_playlist_res(ladder_master().as_bytes()).unwrap();
        let text = with_subtitles(&ladder_master(), &tracks()).unwrap();
        let master = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        for (before, after) in original.variants.iter().zip(&master.variants) {
            assert_eq!(before.uri, after.uri);
            assert_eq!(before.bandwidth, after.bandwidth);
            assert_eq!(before.codecs, after.codecs);
            assert_eq!(before.resolution, after.resolution);
        }
        assert_eq!(text.matches("FRAME-RATE=25.000").count(), 2, "{text}");
        assert!(text.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
    }

    #[test]
    fn adding_subtitles_twice_replaces_the_group_instead_of_doubling_it() {
        let once = with_subtitles(&ladder_master(), &tracks()).unwrap();
        let twice = with_subtitles(&once, &tracks()).unwrap();
        assert_eq!(once, twice);
        let fewer = with_subtitles(&once, &tracks()[1..]).unwrap();
        assert_eq!(fewer.matches("TYPE=SUBTITLES").count(), 1);
    }

    #[test]
    fn without_tracks_the_master_is_unchanged() {
        assert_eq!(
            with_subtitles(&ladder_master(), &[]).unwrap(),
            ladder_master()
        );
    }

    #[test]
    fn a_media_playlist_is_refused_as_a_master() {
        let media = subtitle_media_playlist("captions/en.vtt", 12.0);
        assert!(matches!(
            with_subtitles(&media, &tracks()),
            Err(SubtitlesError::UnreadableMaster(_))
        ));
    }

    #[test]
    fn the_track_playlist_is_one_vod_segment_as_long_as_the_media() {
        let text = subtitle_media_playlist("captions/en.vtt", 1234.5678);
        let playlist = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(playlist.playlist_type, Some(MediaPlaylistType::Vod));
        assert!(playlist.end_list);
        assert_eq!(playlist.target_duration, 1235);
        assert_eq!(playlist.segments.len(), 1);
        assert_eq!(playlist.segments[0].uri, "captions/en.vtt");
        assert!((f64::from(playlist.segments[0].duration) - 1234.568).abs() < 0.01);
    }

    #[test]
    fn an_unknown_duration_still_gives_a_valid_track_playlist() {
        for duration in [0.0, -3.0, f64::NAN] {
            let text = subtitle_media_playlist("captions/en.vtt", duration);
            let playlist = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
            assert_eq!(playlist.target_duration, 1);
            assert_eq!(playlist.segments.len(), 1);
        }
    }
}
