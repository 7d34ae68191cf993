//! The join of a chunked ladder: checks the parts' manifests against each
//! other and against storage, then writes what makes the segments a ladder
//! (per rendition `init.mp4` and `index.m3u8`, then `master.m3u8` last).
//! Nothing is written unless every check passes, so a half-written ladder
//! never has a master playlist; writing twice writes the same objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use yanxiu_packager::hls::{
    AudioRendition, MasterPlaylistSpec, MediaPlaylistState, SegmentEntry, VideoVariant,
};
use yanxiu_packager::storage::{PutOptions, Storage, StorageError};
use yanxiu_packager::vod::{LadderSummary, MASTER_PLAYLIST_NAME, RenditionSummary, VodOptions};

use super::{Part, PartManifest, SegmentRecord, TrackManifest, from_hex, segment_name};
use crate::ladder::LadderPlan;

/// The init segment's name in each rendition directory.
const INIT_NAME: &str = "init.mp4";
/// The media playlist's name in each rendition directory.
const PLAYLIST_NAME: &str = "index.m3u8";
/// How far the ladder's duration may be from the probed one, in seconds
/// (containers round, and the last frame's duration is a guess).
const DURATION_SLACK_SECONDS: f64 = 1.0;

/// Why the parts do not make a ladder.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// A chunk's manifest is missing, or two claim the same chunk.
    #[error("chunk {0} is missing or reported twice")]
    Chunk(u32),
    /// A rendition of the plan is missing from a part.
    #[error("rendition {rendition} is missing from part {part}")]
    MissingRendition {
        /// The rendition.
        rendition: String,
        /// Which part (`audio` or the chunk index).
        part: String,
    },
    /// Parts of one rendition imply different init segments.
    #[error("rendition {rendition}: chunk {chunk} has another init segment than chunk 0")]
    InitMismatch {
        /// The rendition.
        rendition: String,
        /// The chunk that differs.
        chunk: u32,
    },
    /// Segment numbers or decode times do not follow each other.
    #[error("rendition {rendition}: segment {sequence} {reason}")]
    Discontinuity {
        /// The rendition.
        rendition: String,
        /// The segment.
        sequence: u32,
        /// What is wrong.
        reason: String,
    },
    /// The rendition's length is not the source's.
    #[error("rendition {rendition} lasts {seconds:.3} s, the source {expected:.3} s")]
    Duration {
        /// The rendition.
        rendition: String,
        /// Its length.
        seconds: f64,
        /// The source's.
        expected: f64,
    },
    /// A segment in a manifest is not in storage (or has another size).
    #[error("rendition {rendition}: segment {sequence} is not in storage as reported")]
    NotStored {
        /// The rendition.
        rendition: String,
        /// The segment.
        sequence: u32,
    },
    /// A manifest field cannot be read.
    #[error("corrupt part manifest: {0}")]
    Corrupt(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One rendition of the joined ladder, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedRendition {
    /// The first part's track (codec, size, init segment).
    pub track: TrackManifest,
    /// Every segment, in order.
    pub segments: Vec<SegmentRecord>,
    /// Whether it is the audio rendition.
    pub audio: bool,
}

/// Checks the parts of a ladder (pure): one manifest per chunk from 0 on
/// and at most one audio part; every rung of `plan` in every chunk with the
/// same init segment; segment numbers from 1 without holes; each segment's
/// decode time where the previous one ended (no gap, no overlap at a chunk
/// join); each rendition as long as the source within a second. Returns
/// the renditions, video (in plan order) then audio.
pub fn check_parts(
    plan: &LadderPlan,
    duration_seconds: f64,
    parts: &[PartManifest],
) -> Result<Vec<JoinedRendition>, JoinError> {
    let (chunks, audio) = sort_parts(parts)?;
    if let Some((expected, _)) = chunks
        .keys()
        .enumerate()
        .find(|(expected, index)| **index as usize != *expected)
    {
        return Err(JoinError::Chunk(expected as u32));
    }
    if chunks.is_empty() {
        return Err(JoinError::Chunk(0));
    }
    let mut out = join_video(plan, chunks.values().copied())?;
    if let Some(part) = audio {
        let track = find(part, "audio", "audio")?;
        out.push(JoinedRendition {
            track: track.clone(),
            segments: track.segments.clone(),
            audio: true,
        });
    } else if plan.audio.is_some() {
        return Err(JoinError::MissingRendition {
            rendition: "audio".into(),
            part: "audio".into(),
        });
    }
    for r in &out {
        check_timeline(r)?;
        check_duration(r, duration_seconds)?;
    }
    Ok(out)
}

/// The ladder so far, for fast start (pure): the video of the chunks done
/// from chunk 0 on without a hole, and the audio cut to as many segments
/// (the audio part covers the whole source, the grid is the same). `None`
/// until chunk 0 is done and, when the plan has audio, the audio part.
/// Checked like [`check_parts`] but for the length.
pub fn growing_parts(
    plan: &LadderPlan,
    parts: &[PartManifest],
) -> Result<Option<Vec<JoinedRendition>>, JoinError> {
    let (chunks, audio) = sort_parts(parts)?;
    let done: Vec<&PartManifest> = chunks
        .iter()
        .enumerate()
        .take_while(|(expected, (index, _))| **index as usize == *expected)
        .map(|(_, (_, part))| *part)
        .collect();
    if done.is_empty() || (plan.audio.is_some() && audio.is_none()) {
        return Ok(None);
    }
    let mut out = join_video(plan, done.into_iter())?;
    let segments = out.iter().map(|r| r.segments.len()).min().unwrap_or(0);
    if let Some(part) = audio {
        let track = find(part, "audio", "audio")?;
        out.push(JoinedRendition {
            track: track.clone(),
            segments: track.segments.iter().take(segments).cloned().collect(),
            audio: true,
        });
    }
    for r in &out {
        check_timeline(r)?;
    }
    Ok(Some(out))
}

/// The video chunks by index and the audio part; a chunk reported twice is refused.
fn sort_parts(
    parts: &[PartManifest],
) -> Result<(BTreeMap<u32, &PartManifest>, Option<&PartManifest>), JoinError> {
    let mut chunks: BTreeMap<u32, &PartManifest> = BTreeMap::new();
    let mut audio = None;
    for part in parts {
        match part.part {
            Part::Video { range, .. } => {
                if chunks.insert(range.index, part).is_some() {
                    return Err(JoinError::Chunk(range.index));
                }
            }
            Part::Audio => audio = Some(part),
        }
    }
    Ok((chunks, audio))
}

/// Every rung of `plan` over `chunks` (in order), one init segment each.
fn join_video<'a>(
    plan: &LadderPlan,
    chunks: impl Iterator<Item = &'a PartManifest> + Clone,
) -> Result<Vec<JoinedRendition>, JoinError> {
    let mut out = Vec::new();
    for rung in &plan.rungs {
        let mut joined: Option<JoinedRendition> = None;
        for part in chunks.clone() {
            let index = match part.part {
                Part::Video { range, .. } => range.index,
                Part::Audio => continue,
            };
            let track = find(part, &rung.name, &index.to_string())?;
            match joined.as_mut() {
                None => {
                    joined = Some(JoinedRendition {
                        track: track.clone(),
                        segments: track.segments.clone(),
                        audio: false,
                    })
                }
                Some(j) => {
                    if j.track.init_hex != track.init_hex {
                        return Err(JoinError::InitMismatch {
                            rendition: rung.name.clone(),
                            chunk: index,
                        });
                    }
                    j.segments.extend(track.segments.iter().cloned());
                }
            }
        }
        if let Some(j) = joined {
            out.push(j);
        }
    }
    Ok(out)
}

fn find<'a>(
    part: &'a PartManifest,
    name: &str,
    which: &str,
) -> Result<&'a TrackManifest, JoinError> {
    part.tracks
        .iter()
        .find(|t| t.rendition == name)
        .ok_or_else(|| JoinError::MissingRendition {
            rendition: name.to_owned(),
            part: which.to_owned(),
        })
}

fn check_timeline(r: &JoinedRendition) -> Result<(), JoinError> {
    let rendition = &r.track.rendition;
    let broken = |sequence: u32, reason: String| JoinError::Discontinuity {
        rendition: rendition.clone(),
        sequence,
        reason,
    };
    let mut end: Option<i64> = None;
    for (i, s) in r.segments.iter().enumerate() {
        if s.sequence as usize != i + 1 {
            return Err(broken(s.sequence, format!("is number {} in order", i + 1)));
        }
        if s.duration == 0 {
            return Err(broken(s.sequence, "is empty".into()));
        }
        if let Some(end) = end
            && s.start_dts != end
        {
            return Err(broken(
                s.sequence,
                format!("starts at {} but the one before ends at {end}", s.start_dts),
            ));
        }
        end = Some(s.start_dts + i64::try_from(s.duration).unwrap_or(i64::MAX));
    }
    Ok(())
}

fn check_duration(r: &JoinedRendition, duration_seconds: f64) -> Result<(), JoinError> {
    let rendition = &r.track.rendition;
    let ticks: u64 = r.segments.iter().map(|s| s.duration).sum();
    let seconds = ticks as f64 / f64::from(r.track.timescale.max(1));
    if (seconds - duration_seconds).abs() > DURATION_SLACK_SECONDS {
        return Err(JoinError::Duration {
            rendition: rendition.clone(),
            seconds,
            expected: duration_seconds,
        });
    }
    Ok(())
}

/// Checks the parts ([`check_parts`]) and that every segment is in storage
/// with the size reported, then writes each rendition's init segment and
/// VOD playlist and the master playlist last. Returns the ladder's figures
/// (as the single pass reports them).
pub async fn join_ladder(
    plan: &LadderPlan,
    duration_seconds: f64,
    prefix: &str,
    parts: &[PartManifest],
    storage: Arc<dyn Storage>,
) -> Result<LadderSummary, JoinError> {
    let renditions = check_parts(plan, duration_seconds, parts)?;
    let stored: BTreeMap<String, u64> = storage
        .list(prefix)
        .await?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    for r in &renditions {
        for s in &r.segments {
            let key = format!("{prefix}{}/{}", r.track.rendition, segment_name(s.sequence));
            if stored.get(&key) != Some(&s.bytes) {
                return Err(JoinError::NotStored {
                    rendition: r.track.rendition.clone(),
                    sequence: s.sequence,
                });
            }
        }
    }
    let ladder = write_ladder(plan, prefix, &renditions, storage, false).await?;
    tracing::info!(master = %ladder.master_key, renditions = ladder.renditions.len(), "chunked ladder joined");
    Ok(ladder)
}

/// Fast start: writes the ladder so far ([`growing_parts`]) as growing
/// `EXT-X-PLAYLIST-TYPE:EVENT` playlists and a provisional master that
/// announces each rung's planned peak bit rate (little is measured yet).
/// The join rewrites all of them. Returns the number of video segments
/// written, `None` when nothing is playable yet (nothing written).
pub async fn publish_growing(
    plan: &LadderPlan,
    prefix: &str,
    renditions: &[JoinedRendition],
    storage: Arc<dyn Storage>,
) -> Result<Option<usize>, JoinError> {
    let Some(segments) = renditions
        .iter()
        .filter(|r| !r.audio)
        .map(|r| r.segments.len())
        .min()
        .filter(|n| *n > 0)
    else {
        return Ok(None);
    };
    write_ladder(plan, prefix, renditions, storage, true).await?;
    Ok(Some(segments))
}

/// Writes each rendition's init segment and playlist (VOD, or EVENT while
/// `growing`), then the master playlist.
async fn write_ladder(
    plan: &LadderPlan,
    prefix: &str,
    renditions: &[JoinedRendition],
    storage: Arc<dyn Storage>,
    growing: bool,
) -> Result<LadderSummary, JoinError> {
    let options = VodOptions::default();
    let mut master = MasterPlaylistSpec {
        closed_captions: plan.master_closed_captions(),
        ..MasterPlaylistSpec::default()
    };
    let mut summaries = Vec::new();
    // RFC 8216 6.2.1: a growing playlist keeps its target duration.
    let event_target = plan.segment_seconds.ceil().max(1.0) as u64;
    for r in renditions {
        let name = &r.track.rendition;
        let init = from_hex(&r.track.init_hex)
            .ok_or_else(|| JoinError::Corrupt(format!("{name}: init segment")))?;
        let mut playlist = MediaPlaylistState::new(INIT_NAME);
        for s in &r.segments {
            playlist.push(SegmentEntry {
                uri: segment_name(s.sequence),
                duration_ticks: s.duration,
                timescale: r.track.timescale,
                bytes: s.bytes,
            });
        }
        let text = if growing {
            playlist.render_event(event_target)
        } else {
            playlist.render_vod()
        };
        let init_key = format!("{prefix}{name}/{INIT_NAME}");
        let playlist_key = format!("{prefix}{name}/{PLAYLIST_NAME}");
        let bytes = init.len() as u64 + playlist.total_bytes() + text.len() as u64;
        storage
            .put(
                &init_key,
                Bytes::from(init),
                &PutOptions::for_key(&init_key)
                    .with_cache_control(options.media_cache_control.clone()),
            )
            .await?;
        storage
            .put(
                &playlist_key,
                Bytes::from(text),
                &PutOptions::for_key(&playlist_key)
                    .with_cache_control(options.playlist_cache_control.clone()),
            )
            .await?;
        let uri = format!("{name}/{PLAYLIST_NAME}");
        let (mut peak, average) = (playlist.peak_bitrate(), playlist.average_bitrate());
        if growing {
            peak = peak.max(planned_bitrate(plan, r));
        }
        if r.audio {
            master.audio.push(AudioRendition {
                uri,
                name: "default".to_owned(),
                language: None,
                channels: r.track.channels,
                codec: r.track.codec.clone(),
                peak_bitrate: peak,
                average_bitrate: average,
            });
        } else {
            master.variants.push(VideoVariant {
                uri,
                codec: r.track.codec.clone(),
                width: r.track.width.unwrap_or_default(),
                height: r.track.height.unwrap_or_default(),
                frame_rate: plan.frame_rate,
                peak_bitrate: peak,
                average_bitrate: average,
            });
        }
        summaries.push(RenditionSummary {
            name: name.clone(),
            segments: u32::try_from(r.segments.len()).unwrap_or(u32::MAX),
            duration_seconds: playlist.duration_seconds(),
            peak_bitrate: peak,
            average_bitrate: average,
            bytes,
            codec: r.track.codec.clone(),
            width: r.track.width,
            height: r.track.height,
        });
    }
    let master_key = format!("{prefix}{MASTER_PLAYLIST_NAME}");
    storage
        .put(
            &master_key,
            Bytes::from(master.render()),
            &PutOptions::for_key(&master_key)
                .with_cache_control(options.playlist_cache_control.clone()),
        )
        .await?;
    Ok(LadderSummary {
        master_key,
        renditions: summaries,
    })
}

/// The bit rate `plan` encodes a rendition at (video: the VBV maximum), in bit/s.
fn planned_bitrate(plan: &LadderPlan, r: &JoinedRendition) -> u64 {
    if r.audio {
        return plan.audio.as_ref().map_or(0, |a| u64::from(a.bitrate));
    }
    plan.rungs
        .iter()
        .find(|rung| rung.name == r.track.rendition)
        .map_or(0, |rung| u64::from(rung.max_bitrate_kbps) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkRange;
    use crate::ladder::{PlannedAudio, PlannedRung};

    fn plan() -> LadderPlan {
        let rung = |name: &str, height| PlannedRung {
            name: name.into(),
            width: height * 16 / 9,
            height,
            crf: 23,
            max_bitrate_kbps: 1000,
            buffer_kbits: 2000,
            profile: "high".into(),
        };
        LadderPlan {
            rungs: vec![rung("720p", 720), rung("360p", 360)],
            frame_rate: 25.0,
            picture: Default::default(),
            gop_seconds: 2.0,
            segment_seconds: 4.0,
            preset: "veryfast".into(),
            audio: Some(PlannedAudio {
                channels: 2,
                sample_rate: 48_000,
                bitrate: 128_000,
                loudness: None,
            }),
            closed_captions: false,
        }
    }

    /// A track of `count` 4 s segments from segment `first` (0-based).
    fn track(name: &str, timescale: u32, first: u32, count: u32, init: &str) -> TrackManifest {
        let seg = 4 * u64::from(timescale);
        TrackManifest {
            rendition: name.into(),
            timescale,
            codec: "avc1.64001f".into(),
            width: Some(1280),
            height: Some(720),
            channels: None,
            init_hex: init.into(),
            segments: (first..first + count)
                .map(|i| SegmentRecord {
                    sequence: i + 1,
                    start_dts: i64::from(i) * seg as i64,
                    duration: seg,
                    bytes: 1000,
                })
                .collect(),
        }
    }

    fn chunk(index: u32, count: u32, last: bool) -> PartManifest {
        let first = index * 5;
        PartManifest {
            part: Part::Video {
                range: ChunkRange {
                    index,
                    first_segment: first,
                    segments: (!last).then_some(count),
                },
                poster: false,
            },
            tracks: vec![
                track("720p", 90_000, first, count, "aa"),
                track("360p", 90_000, first, count, "bb"),
            ],
            files: vec![],
            video_frames: 100,
        }
    }

    fn audio(count: u32) -> PartManifest {
        PartManifest {
            part: Part::Audio,
            tracks: vec![track("audio", 48_000, 0, count, "cc")],
            files: vec![],
            video_frames: 0,
        }
    }

    #[test]
    fn chunks_in_any_order_join_into_one_timeline_per_rendition() {
        let parts = vec![chunk(1, 5, true), audio(10), chunk(0, 5, false)];
        let joined = check_parts(&plan(), 40.0, &parts).expect("joins");
        let names: Vec<_> = joined.iter().map(|r| r.track.rendition.as_str()).collect();
        assert_eq!(names, ["720p", "360p", "audio"]);
        assert!(joined.iter().all(|r| r.segments.len() == 10));
        assert!(joined[2].audio);
    }

    #[test]
    fn a_missing_chunk_is_refused() {
        let parts = vec![chunk(0, 5, false), chunk(2, 5, true), audio(15)];
        assert!(matches!(
            check_parts(&plan(), 60.0, &parts),
            Err(JoinError::Chunk(1))
        ));
    }

    #[test]
    fn a_chunk_with_another_init_segment_is_refused() {
        let mut second = chunk(1, 5, true);
        second.tracks[0].init_hex = "ab".into();
        let parts = vec![chunk(0, 5, false), second, audio(10)];
        assert!(matches!(
            check_parts(&plan(), 40.0, &parts),
            Err(JoinError::InitMismatch { chunk: 1, .. })
        ));
    }

    #[test]
    fn a_gap_or_overlap_at_a_join_is_refused() {
        let mut second = chunk(1, 5, true);
        second.tracks[1].segments[0].start_dts += 3600;
        let parts = vec![chunk(0, 5, false), second, audio(10)];
        let err = check_parts(&plan(), 40.0, &parts).expect_err("gap");
        assert!(
            matches!(err, JoinError::Discontinuity { sequence: 6, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_ladder_shorter_than_the_source_is_refused() {
        let parts = vec![chunk(0, 5, false), chunk(1, 5, true), audio(10)];
        assert!(matches!(
            check_parts(&plan(), 50.0, &parts),
            Err(JoinError::Duration { .. })
        ));
    }

    #[test]
    fn the_audio_part_is_required_when_the_plan_has_audio() {
        let parts = vec![chunk(0, 5, false), chunk(1, 5, true)];
        assert!(matches!(
            check_parts(&plan(), 40.0, &parts),
            Err(JoinError::MissingRendition { .. })
        ));
    }

    #[test]
    fn the_growing_ladder_waits_for_chunk_zero_and_the_audio() {
        let plan = plan();
        assert!(
            growing_parts(&plan, &[chunk(1, 5, true), audio(10)])
                .expect("checked")
                .is_none()
        );
        assert!(
            growing_parts(&plan, &[chunk(0, 5, false)])
                .expect("checked")
                .is_none()
        );
    }

    #[test]
    fn the_growing_ladder_stops_at_the_first_missing_chunk_and_cuts_the_audio_to_it() {
        let parts = vec![
            chunk(0, 5, false),
            chunk(2, 5, false),
            audio(15),
            chunk(3, 5, true),
        ];
        let joined = growing_parts(&plan(), &parts)
            .expect("checked")
            .expect("playable");
        assert!(joined.iter().all(|r| r.segments.len() == 5), "{joined:?}");
        assert!(joined[2].audio);
    }

    #[tokio::test]
    async fn a_growing_ladder_has_event_playlists_and_a_master_with_the_planned_peak() {
        let storage: Arc<dyn Storage> = Arc::new(yanxiu_packager::storage::MemoryStorage::new());
        let joined = growing_parts(&plan(), &[chunk(0, 5, false), audio(10)])
            .expect("checked")
            .expect("playable");
        let written = publish_growing(&plan(), "l/", &joined, storage.clone())
            .await
            .expect("written");
        assert_eq!(written, Some(5));
        let playlist = storage.get("l/audio/index.m3u8").await.expect("playlist");
        let text = String::from_utf8_lossy(&playlist);
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "{text}");
        assert!(text.contains("seg-00005.m4s") && !text.contains("seg-00006.m4s"));
        assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
        let master = storage.get("l/master.m3u8").await.expect("master");
        // 720p is planned at 1000 kbit/s, more than its 2 kbit/s so far
        assert!(
            String::from_utf8_lossy(&master).contains("BANDWIDTH=1128000"),
            "{}",
            String::from_utf8_lossy(&master)
        );
    }

    #[tokio::test]
    async fn nothing_is_written_when_a_segment_is_not_in_storage() {
        let storage: Arc<dyn Storage> = Arc::new(yanxiu_packager::storage::MemoryStorage::new());
        let parts = vec![chunk(0, 5, false), chunk(1, 5, true), audio(10)];
        let err = join_ladder(&plan(), 40.0, "l/", &parts, storage.clone())
            .await
            .expect_err("segments missing");
        assert!(matches!(err, JoinError::NotStored { .. }));
        assert!(storage.list("l/").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn a_complete_ladder_gets_playlists_and_the_master_last() {
        let storage: Arc<dyn Storage> = Arc::new(yanxiu_packager::storage::MemoryStorage::new());
        let parts = vec![chunk(0, 5, false), chunk(1, 5, true), audio(10)];
        for name in ["720p", "360p", "audio"] {
            for n in 1..=10 {
                let key = format!("l/{name}/{}", segment_name(n));
                let body = Bytes::from(vec![0u8; 1000]);
                storage
                    .put(&key, body, &PutOptions::for_key(&key))
                    .await
                    .expect("put");
            }
        }
        let ladder = join_ladder(&plan(), 40.0, "l/", &parts, storage.clone())
            .await
            .expect("joined");
        assert_eq!(ladder.master_key, "l/master.m3u8");
        assert_eq!(ladder.renditions.len(), 3);
        assert!(ladder.renditions.iter().all(|r| r.segments == 10));
        let playlist = storage.get("l/720p/index.m3u8").await.expect("playlist");
        let text = String::from_utf8_lossy(&playlist);
        assert!(text.contains("seg-00010.m4s") && text.contains("#EXT-X-ENDLIST"));
        let master = storage.get("l/master.m3u8").await.expect("master");
        assert!(String::from_utf8_lossy(&master).contains("720p/index.m3u8"));
        assert_eq!(
            storage.get("l/720p/init.mp4").await.expect("init").as_ref(),
            &[0xaa]
        );
    }
}
