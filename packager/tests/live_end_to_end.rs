//! Live end to end with real media: the ffmpeg CLI encodes H.264 (with
//! B-frames, a keyframe every second) and AAC elementary streams, the test
//! feeds their samples through `LiveTrackPackager` (part cutter + CMAF
//! writer) into a `LiveOrigin` while an LL-HLS style reader follows the
//! preload hints with blocking waits. ffmpeg must decode the reader's
//! init + parts, the origin's init + segments, and the ended playlist,
//! frame-exactly. Fails (never skips) when ffmpeg or ffprobe is missing.

// Test code: a panic is how a failed expectation is reported.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;
use yanxiu_packager::hls::live_playlist::{
    LivePlaylistConfig, LivePlaylistMode, LiveResource, LiveWindow,
};
use yanxiu_packager::hls::live_reload::PartId;
use yanxiu_packager::live::{
    LiveError, LiveOrigin, LiveOriginConfig, LiveRendition, LiveTrackPackager, RenditionKey,
    WallClockAnchor,
};
use yanxiu_packager::media::{AudioCodecConfig, Sample, TrackConfig, TrackKind, VideoCodecConfig};

use support::elementary::{audio_track, video_track};
use support::ffmpeg::{FRAMES, encode_audio, encode_video, run};

const TICKS_PER_FRAME: u32 = 3000; // 90 kHz
const SEGMENT_TARGET: Duration = Duration::from_secs(2);
const PART_TARGET: Duration = Duration::from_millis(500);

fn encode(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        read(encode_video(dir, "video-320x240", "320x240")),
        read(encode_audio(dir)),
    )
}

fn read(path: std::path::PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// `ffprobe -count_frames` of the first stream of `path`.
fn count_frames(path: &Path) -> usize {
    let output = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    );
    let first = output
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    first
        .parse()
        .unwrap_or_else(|e| panic!("frame count of {path:?}: {e}: {output:?}"))
}

/// Decodes `path` completely; fails on any decoding error.
fn decode_cleanly(path: &Path) {
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-xerror",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ],
    );
}

fn playlist_config(timescale: u32) -> LivePlaylistConfig {
    LivePlaylistConfig {
        timescale,
        segment_target: SEGMENT_TARGET,
        part_target: PART_TARGET,
        window: LiveWindow::Segments(10),
    }
}

/// Follows the playlist like an LL-HLS player: requests the hinted part
/// (blocking until it is published), moves to the next segment when a
/// segment ends, stops when the stream ends. Returns every part's bytes.
async fn follow_preload_hints(rendition: Arc<LiveRendition>) -> Vec<(PartId, Bytes)> {
    let mut parts = Vec::new();
    let mut next = PartId { msn: 0, part: 0 };
    loop {
        match rendition.wait_for_part(next, Duration::from_secs(10)).await {
            Ok(bytes) => {
                parts.push((next, bytes));
                next.part += 1;
            }
            Err(LiveError::NoSuchPart) if next.part == 0 => return parts,
            Err(LiveError::NoSuchPart) => {
                next = PartId {
                    msn: next.msn + 1,
                    part: 0,
                }
            }
            Err(other) => panic!("following {next:?}: {other}"),
        }
    }
}

/// Feeds samples with a yield between them, so the reader runs concurrently.
async fn feed(mut packager: LiveTrackPackager, samples: Vec<Sample>) {
    for sample in samples {
        packager.push(sample).unwrap();
        tokio::task::yield_now().await;
    }
    packager.finish().unwrap();
}

/// init + the listed resources concatenated into one file.
fn write_concatenated(path: &Path, init: &Bytes, pieces: impl IntoIterator<Item = Bytes>) {
    let mut file = init.to_vec();
    for piece in pieces {
        file.extend_from_slice(&piece);
    }
    std::fs::write(path, file).unwrap();
}

/// Writes the ended LL-HLS playlist and every resource it names.
fn write_playlist_dir(dir: &Path, rendition: &LiveRendition) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let playlist = rendition.playlist(LivePlaylistMode::LowLatency);
    for line in playlist.lines() {
        let name = line
            .strip_prefix("#EXT-X-MAP:URI=\"")
            .map(|rest| rest.trim_end_matches('"'))
            .or_else(|| (!line.starts_with('#')).then_some(line));
        if let Some(name) = name {
            let resource = LiveResource::parse(name).unwrap();
            std::fs::write(dir.join(name), rendition.resource(resource).unwrap()).unwrap();
        }
    }
    let path = dir.join("live.m3u8");
    std::fs::write(&path, playlist).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_h264_and_aac_through_the_cutter_and_origin_decode_frame_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (video_stream, audio_stream) = encode(dir.path());
    let video = video_track(&video_stream, TICKS_PER_FRAME);
    assert_eq!(video.samples.len(), FRAMES);
    assert!(
        video.samples.windows(2).any(|w| w[1].pts < w[0].pts),
        "x264 defaults should produce reordered frames"
    );
    let audio = audio_track(&audio_stream);
    let audio_frames = audio.frames.len();

    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let key = |rendition: &str| RenditionKey {
        channel: "opening-ceremony".into(),
        rendition: rendition.into(),
    };
    let video_rendition = origin.open(key("240p"), playlist_config(90_000)).unwrap();
    let audio_rendition = origin
        .open(key("audio"), playlist_config(audio.sample_rate))
        .unwrap();
    let started = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let video_packager = LiveTrackPackager::new(
        Arc::clone(&video_rendition),
        TrackConfig {
            timescale: 90_000,
            kind: TrackKind::Video {
                width: 320,
                height: 240,
                codec: VideoCodecConfig::H264(video.config),
            },
        },
        SEGMENT_TARGET,
        PART_TARGET,
        Some(WallClockAnchor {
            pts: video.samples[0].pts,
            at: started,
        }),
    );
    let audio_packager = LiveTrackPackager::new(
        Arc::clone(&audio_rendition),
        TrackConfig {
            timescale: audio.sample_rate,
            kind: TrackKind::Audio {
                sample_rate: audio.sample_rate,
                channels: audio.channels,
                codec: AudioCodecConfig::Aac(audio.config),
            },
        },
        SEGMENT_TARGET,
        PART_TARGET,
        None,
    );
    let audio_samples: Vec<Sample> = audio
        .frames
        .iter()
        .enumerate()
        .map(|(i, frame)| Sample {
            dts: i as i64 * 1024,
            pts: i as i64 * 1024,
            duration: 1024,
            is_sync: true,
            data: frame.clone(),
        })
        .collect();

    let video_reader = tokio::spawn(follow_preload_hints(Arc::clone(&video_rendition)));
    let audio_reader = tokio::spawn(follow_preload_hints(Arc::clone(&audio_rendition)));
    tokio::join!(
        feed(video_packager, video.samples),
        feed(audio_packager, audio_samples)
    );
    let video_parts = video_reader.await.unwrap();
    let audio_parts = audio_reader.await.unwrap();

    // Three 2 s video segments of four 0.5 s parts; audio parts are every
    // part the playlist listed.
    assert_eq!(video_parts.len(), 12);
    let video_playlist = video_rendition.playlist(LivePlaylistMode::LowLatency);
    let parsed = m3u8_rs::parse_media_playlist_res(video_playlist.as_bytes()).unwrap();
    assert!(parsed.end_list);
    assert_eq!(parsed.segments.len(), 3);
    assert_eq!(parsed.target_duration, 2);
    let times: Vec<_> = parsed
        .segments
        .iter()
        .map(|s| s.program_date_time.unwrap().timestamp())
        .collect();
    assert_eq!(times, [1_795_000_000, 1_795_000_002, 1_795_000_004]);
    let independent = video_playlist
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:") && l.ends_with("INDEPENDENT=YES"))
        .count();
    assert_eq!(independent, 6, "one keyframe per second starts a part");
    assert_eq!(
        audio_parts.len(),
        audio_rendition
            .playlist(LivePlaylistMode::LowLatency)
            .matches("#EXT-X-PART:")
            .count()
    );

    // Each segment is exactly its parts.
    for msn in 0..3 {
        let from_parts: Vec<u8> = video_parts
            .iter()
            .filter(|(id, _)| id.msn == msn)
            .flat_map(|(_, bytes)| bytes.to_vec())
            .collect();
        let segment = video_rendition
            .resource(LiveResource::Segment(msn))
            .unwrap();
        assert_eq!(segment.as_ref(), from_parts.as_slice(), "segment {msn}");
    }

    let video_init = video_rendition.resource(LiveResource::Init(0)).unwrap();
    let audio_init = audio_rendition.resource(LiveResource::Init(0)).unwrap();
    let parts_file = dir.path().join("video-parts.mp4");
    write_concatenated(
        &parts_file,
        &video_init,
        video_parts.into_iter().map(|(_, b)| b),
    );
    decode_cleanly(&parts_file);
    assert_eq!(count_frames(&parts_file), FRAMES);
    let audio_file = dir.path().join("audio-parts.mp4");
    write_concatenated(
        &audio_file,
        &audio_init,
        audio_parts.into_iter().map(|(_, b)| b),
    );
    decode_cleanly(&audio_file);
    assert_eq!(count_frames(&audio_file), audio_frames);

    // ffmpeg's HLS demuxer plays the ended LL-HLS playlist from the files it names.
    let playlist_path = write_playlist_dir(&dir.path().join("240p"), &video_rendition);
    decode_cleanly(&playlist_path);
    assert_eq!(count_frames(&playlist_path), FRAMES);
}

fn video_config(width: u32, height: u32, track: &support::elementary::VideoTrack) -> TrackConfig {
    TrackConfig {
        timescale: 90_000,
        kind: TrackKind::Video {
            width,
            height,
            codec: VideoCodecConfig::H264(track.config.clone()),
        },
    }
}

#[tokio::test]
async fn a_publisher_reconnect_continues_the_playlist_after_a_discontinuity() {
    let dir = tempfile::tempdir().unwrap();
    let first = video_track(
        &read(encode_video(dir.path(), "video-320x240", "320x240")),
        TICKS_PER_FRAME,
    );
    let second = video_track(
        &read(encode_video(dir.path(), "video-160x120", "160x120")),
        TICKS_PER_FRAME,
    );
    let origin = LiveOrigin::new(LiveOriginConfig::default());
    let rendition = origin
        .open(
            RenditionKey {
                channel: "evening-seminar".into(),
                rendition: "source".into(),
            },
            playlist_config(90_000),
        )
        .unwrap();
    let started = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let mut packager = LiveTrackPackager::new(
        Arc::clone(&rendition),
        video_config(320, 240, &first),
        SEGMENT_TARGET,
        PART_TARGET,
        Some(WallClockAnchor {
            pts: 0,
            at: started,
        }),
    );
    // The first publisher drops after 3 s.
    for sample in first.samples.iter().take(90).cloned() {
        packager.push(sample).unwrap();
    }
    // OBS reconnects 10 s later at a lower resolution; its timestamps restart at 0.
    packager
        .reconnect(
            video_config(160, 120, &second),
            Some(WallClockAnchor {
                pts: 0,
                at: started + time::Duration::seconds(13),
            }),
        )
        .unwrap();
    for sample in second.samples.iter().cloned() {
        packager.push(sample).unwrap();
    }
    assert_eq!(packager.dropped_before_keyframe(), 0);
    assert!(Arc::ptr_eq(packager.rendition(), &rendition));
    packager.finish().unwrap();

    let text = rendition.playlist(LivePlaylistMode::LowLatency);
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
    let uris: Vec<_> = parsed.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "seg-0.m4s",
            "seg-1.m4s",
            "seg-2.m4s",
            "seg-3.m4s",
            "seg-4.m4s"
        ]
    );
    let discontinuities: Vec<_> = parsed.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(discontinuities, [false, false, true, false, false]);
    let maps: Vec<_> = parsed
        .segments
        .iter()
        .map(|s| s.map.as_ref().map(|m| m.uri.as_str()))
        .collect();
    assert_eq!(
        maps,
        [Some("init-0.mp4"), None, Some("init-1.mp4"), None, None]
    );
    let times: Vec<_> = parsed
        .segments
        .iter()
        .map(|s| s.program_date_time.unwrap().timestamp() - 1_795_000_000)
        .collect();
    assert_eq!(times, [0, 2, 13, 15, 17]);

    // Each publisher's run (its init section and segments) decodes frame-exactly.
    let resource = |r| rendition.resource(r).unwrap();
    let first_run = dir.path().join("first-publisher.mp4");
    write_concatenated(
        &first_run,
        &resource(LiveResource::Init(0)),
        (0..2).map(|msn| resource(LiveResource::Segment(msn))),
    );
    assert_eq!(count_frames(&first_run), 90);
    let second_run = dir.path().join("second-publisher.mp4");
    write_concatenated(
        &second_run,
        &resource(LiveResource::Init(1)),
        (2..5).map(|msn| resource(LiveResource::Segment(msn))),
    );
    assert_eq!(count_frames(&second_run), FRAMES);
    // ffmpeg's HLS demuxer reads the whole playlist across the discontinuity
    // without a decoding error (it demuxes all 270 frames; its h264 decoder
    // drops some at the resolution change, so frames are counted per run above).
    let playlist_path = write_playlist_dir(&dir.path().join("source"), &rendition);
    decode_cleanly(&playlist_path);
    let packets = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            playlist_path.to_str().unwrap(),
        ],
    );
    assert_eq!(packets.lines().next().map(str::trim), Some("270"));
}
