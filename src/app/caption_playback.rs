//! Caption tracks for players: `/play/{resource}/captions/{language}.m3u8` (the track's
//! one-segment playlist) and `…/captions/{language}.vtt` (its WebVTT file), and the
//! subtitles group [`super::playback`] adds to the master playlist. The tracks are those of
//! the revision being played, so learners see the published captions and a reviewer's
//! preview the pending ones.
//!
//! Caption files change without the ladder changing, so when a revision has captions the
//! version its playlists stamp on URIs (see [`super::cache_policy`]) covers the caption
//! files' keys too: a new caption file is a new version, never an old cached one.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use yanxiu_control::playback::{PlaybackCaption, PlaybackLadder};
use yanxiu_packager::hls::{SubtitleTrack, subtitle_media_playlist};

use super::AppContext;
use super::cache_policy::{Answer, ladder_version};
use super::playback::{error, object, playlist_response};
use super::playlist::add_query_to_uris;

/// Where a track's playlist is, relative to the master.
fn track_playlist_uri(language: &str) -> String {
    format!("captions/{language}.m3u8")
}

/// The version stamped on a ladder's URIs: the ladder's, and with captions, theirs too.
pub fn playback_version(ladder: &PlaybackLadder) -> String {
    if ladder.captions.is_empty() {
        return ladder_version(&ladder.prefix);
    }
    let mut source = ladder.prefix.clone();
    for track in &ladder.captions {
        source.push('\n');
        source.push_str(&track.language);
        source.push('\t');
        source.push_str(&track.label);
        source.push('\t');
        source.push_str(&track.key);
    }
    ladder_version(&source)
}

/// The master playlist's subtitles group for `captions` (none when there are none).
pub fn subtitle_tracks(captions: &[PlaybackCaption]) -> Option<Vec<SubtitleTrack>> {
    (!captions.is_empty()).then(|| {
        captions
            .iter()
            .map(|c| SubtitleTrack {
                language: c.language.clone(),
                name: c.label.clone(),
                uri: track_playlist_uri(&c.language),
            })
            .collect()
    })
}

/// `captions/{rest}` of a ladder: a track's playlist or its WebVTT file.
pub async fn serve(
    app: &AppContext,
    ladder: &PlaybackLadder,
    rest: &str,
    version: &str,
    answer: Answer,
    token: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let found = rest.rsplit_once('.').and_then(|(language, extension)| {
        ladder
            .captions
            .iter()
            .find(|c| c.language == language)
            .map(|c| (c, extension))
    });
    match found {
        Some((track, "m3u8")) => {
            let text = subtitle_media_playlist(
                &format!("{}.vtt", track.language),
                ladder.duration_seconds.unwrap_or(0.0),
            );
            let stamped = add_query_to_uris(&text, &format!("v={version}"));
            let mut response = playlist_response(Bytes::from(stamped), token);
            if let Ok(v) = HeaderValue::from_str(&answer.cache_control()) {
                response.headers_mut().insert(header::CACHE_CONTROL, v);
            }
            response
        }
        Some((track, "vtt")) => object(app, &track.key, version, answer, headers).await,
        _ => error(
            StatusCode::NOT_FOUND,
            "playback.not_found",
            "文件不存在",
            "no such file",
            headers,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(captions: Vec<PlaybackCaption>) -> PlaybackLadder {
        PlaybackLadder {
            prefix: "ladders/r1/j1/".into(),
            complete: true,
            captions,
            duration_seconds: Some(60.0),
        }
    }

    fn track(language: &str, key: &str) -> PlaybackCaption {
        PlaybackCaption {
            language: language.into(),
            label: language.into(),
            key: key.into(),
        }
    }

    #[test]
    fn a_ladder_without_captions_keeps_its_own_version() {
        assert_eq!(
            playback_version(&ladder(Vec::new())),
            ladder_version("ladders/r1/j1/")
        );
        assert_eq!(subtitle_tracks(&[]), None);
    }

    #[test]
    fn a_changed_caption_file_changes_the_version() {
        let one = playback_version(&ladder(vec![track("en", "captions/r1/en-aa.vtt")]));
        let other = playback_version(&ladder(vec![track("en", "captions/r1/en-bb.vtt")]));
        assert_ne!(one, other);
        assert_ne!(one, playback_version(&ladder(Vec::new())));
        assert_eq!(
            one,
            playback_version(&ladder(vec![track("en", "captions/r1/en-aa.vtt")]))
        );
    }

    #[test]
    fn each_track_is_listed_at_its_own_playlist() {
        let tracks = subtitle_tracks(&[track("zh-CN", "k1"), track("en", "k2")]).unwrap();
        assert_eq!(tracks[0].uri, "captions/zh-CN.m3u8");
        assert_eq!(tracks[1].language, "en");
    }
}
