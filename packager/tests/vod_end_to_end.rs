//! End to end with real media and no transcoder: the ffmpeg CLI encodes
//! H.264 Annex B and ADTS AAC elementary streams, the test cuts them into
//! samples, `VodPackager` writes a ladder into a `LocalDirStorage` (also into
//! an `S3Storage` on a moto server, read back into a directory; and as a
//! growing ladder that a player starts on before it is finished), and
//! ffmpeg/ffprobe must decode the result frame-exactly. Fails (never skips)
//! when ffmpeg, ffprobe or moto is missing. Set `YANXIU_KEEP_E2E_OUTPUT=1` to
//! keep the written ladder for inspection.

// Test code: a panic is how a failed expectation is reported.
#![allow(clippy::unwrap_used)]

#[path = "../src/cmaf/test_box_reader.rs"]
mod box_reader;
#[path = "support/moto.rs"]
mod moto;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use yanxiu_packager::h264::{NAL_IDR, length_prefixed_nal_units, nal_type};
use yanxiu_packager::media::{
    AudioCodecConfig, Sample, TrackConfig, TrackInput, TrackKind, VideoCodecConfig,
};
use yanxiu_packager::storage::{LocalDirStorage, ObjectInfo, PutOptions, Storage, StorageError};
use yanxiu_packager::{LadderSummary, RenditionKind, RenditionSpec, VodOptions, VodPackager};

use support::elementary::{audio_track, video_track};
use support::ffmpeg::{FRAMES, encode_audio, encode_video, run};

const TICKS_PER_FRAME: u32 = 3000; // 90 kHz

/// A storage that also records the order of successful puts.
#[derive(Debug)]
struct RecordingStorage<S> {
    inner: S,
    puts: Mutex<Vec<String>>,
}

impl<S> RecordingStorage<S> {
    fn new(inner: S) -> Arc<Self> {
        Arc::new(Self {
            inner,
            puts: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait::async_trait]
impl<S: Storage> Storage for RecordingStorage<S> {
    async fn put(&self, key: &str, body: Bytes, opts: &PutOptions) -> Result<(), StorageError> {
        self.inner.put(key, body, opts).await?;
        self.puts.lock().unwrap().push(key.to_string());
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, StorageError> {
        self.inner.get_range(key, range).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        self.inner.head(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner.delete(key).await
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        self.inner.delete_prefix(prefix).await
    }
}

/// Runs a tool; panics with its stderr if it fails or is missing.
fn probe(path: &Path, stream: &str, entries: &str) -> String {
    run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            entries,
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    )
}

fn first_line(output: &str) -> &str {
    output
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

fn count_frames(path: &Path, stream: &str) -> usize {
    let output = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            stream,
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    );
    // The HLS demuxer lists a stream once per program and once on its own.
    first_line(&output)
        .parse()
        .unwrap_or_else(|e| panic!("frame count of {path:?}: {e}: {output:?}"))
}

async fn feed(
    vod: &mut VodPackager,
    id: yanxiu_packager::RenditionId,
    config: TrackConfig,
    samples: Vec<Sample>,
) {
    vod.handle(id, TrackInput::Config(config)).await.unwrap();
    for sample in samples {
        vod.handle(id, TrackInput::Sample(sample)).await.unwrap();
    }
    vod.handle(id, TrackInput::End).await.unwrap();
}

const SOURCES: [(&str, &str, u32, u32); 2] =
    [("240p", "320x240", 320, 240), ("120p", "160x120", 160, 120)];
const LADDER_PREFIX: &str = "resources/9/";

/// The encoded elementary streams of one test.
struct EncodedSources {
    video_files: Vec<PathBuf>,
    audio_file: PathBuf,
    input_audio_frames: usize,
}

fn encode_sources(dir: &Path) -> EncodedSources {
    let video_files: Vec<_> = SOURCES
        .iter()
        .map(|(name, size, _, _)| encode_video(dir, name, size))
        .collect();
    let audio_file = encode_audio(dir);
    assert_eq!(count_frames(&video_files[0], "v:0"), FRAMES);
    let input_audio_frames = count_frames(&audio_file, "a:0");
    EncodedSources {
        video_files,
        audio_file,
        input_audio_frames,
    }
}

/// One rendition's spec, track config and samples, cut from the sources.
struct RenditionTrack {
    spec: RenditionSpec,
    config: TrackConfig,
    samples: Vec<Sample>,
}

/// Cuts the encoded sources into the ladder's renditions: the videos in
/// [`SOURCES`] order, then the audio.
fn rendition_tracks(sources: &EncodedSources) -> Vec<RenditionTrack> {
    let mut tracks = Vec::new();
    let mut has_b_frames = false;
    for ((name, _, width, height), file) in SOURCES.iter().zip(&sources.video_files) {
        let track = video_track(&std::fs::read(file).unwrap(), TICKS_PER_FRAME);
        assert_eq!(track.samples.len(), FRAMES);
        has_b_frames |= track.samples.windows(2).any(|w| w[1].pts < w[0].pts);
        tracks.push(RenditionTrack {
            spec: RenditionSpec {
                name: name.to_string(),
                kind: RenditionKind::Video { frame_rate: 30.0 },
            },
            config: TrackConfig {
                timescale: 90_000,
                kind: TrackKind::Video {
                    width: *width,
                    height: *height,
                    codec: VideoCodecConfig::H264(track.config),
                },
            },
            samples: track.samples,
        });
    }
    assert!(
        has_b_frames,
        "x264 defaults should produce reordered frames"
    );

    let audio = audio_track(&std::fs::read(&sources.audio_file).unwrap());
    assert_eq!(audio.frames.len(), sources.input_audio_frames);
    assert_eq!((audio.sample_rate, audio.channels), (48_000, 2));
    tracks.push(RenditionTrack {
        spec: RenditionSpec {
            name: "audio".into(),
            kind: RenditionKind::Audio {
                language: Some("zh".into()),
                name: "中文".into(),
            },
        },
        config: TrackConfig {
            timescale: audio.sample_rate,
            kind: TrackKind::Audio {
                sample_rate: audio.sample_rate,
                channels: audio.channels,
                codec: AudioCodecConfig::Aac(audio.config),
            },
        },
        samples: audio
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
            .collect(),
    });
    tracks
}

/// Packages the sources into `storage` under [`LADDER_PREFIX`] and checks
/// that `master.m3u8` was the last object written, once.
async fn package<S: Storage>(
    sources: &EncodedSources,
    storage: Arc<RecordingStorage<S>>,
) -> LadderSummary {
    let mut vod = VodPackager::start(storage.clone(), LADDER_PREFIX, VodOptions::default())
        .await
        .unwrap();
    for track in rendition_tracks(sources) {
        let id = vod.add_rendition(track.spec);
        feed(&mut vod, id, track.config, track.samples).await;
    }
    let summary = vod.finish().await.unwrap();

    // master.m3u8 is the last object written.
    let puts = storage.puts.lock().unwrap().clone();
    assert_eq!(puts.last().unwrap(), &format!("{LADDER_PREFIX}master.m3u8"));
    assert_eq!(
        puts.iter().filter(|k| k.ends_with("master.m3u8")).count(),
        1
    );
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_h264_and_aac_ladder_decodes_frame_exactly() {
    let work = tempfile::tempdir().unwrap();
    let sources = encode_sources(work.path());
    let storage = RecordingStorage::new(LocalDirStorage::new(work.path().join("out")));
    let summary = package(&sources, storage).await;
    if std::env::var_os("YANXIU_KEEP_E2E_OUTPUT").is_some() {
        eprintln!("ladder kept in {:?}", work.path().join("out"));
    }
    verify_ladder(
        &work.path().join("out/resources/9"),
        &summary,
        sources.input_audio_frames,
    );
    if std::env::var_os("YANXIU_KEEP_E2E_OUTPUT").is_some() {
        let _kept = work.keep();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ladder_written_to_s3_reads_back_and_decodes_frame_exactly() {
    let work = tempfile::tempdir().unwrap();
    let sources = encode_sources(work.path());
    let s3 = moto::storage("vod-ladder", "media/").await;
    let storage = RecordingStorage::new(s3.clone());
    let summary = package(&sources, storage).await;

    // Read the whole ladder back from the bucket into a directory.
    let out = work.path().join("from-s3");
    let objects = s3.list(LADDER_PREFIX).await.unwrap();
    let mut names: Vec<_> = objects
        .iter()
        .map(|o| o.key[LADDER_PREFIX.len()..].to_string())
        .collect();
    names.sort();
    assert!(names.contains(&"master.m3u8".to_string()), "{names:?}");
    assert!(
        names.contains(&"240p/seg-00002.m4s".to_string()),
        "{names:?}"
    );
    for object in &objects {
        let body = s3.get(&object.key).await.unwrap();
        assert_eq!(body.len() as u64, object.size);
        let path = out.join(&object.key[LADDER_PREFIX.len()..]);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &body).unwrap();
        let head = s3
            .client()
            .head_object()
            .bucket(s3.bucket())
            .key(s3.object_key(&object.key))
            .send()
            .await
            .unwrap();
        let (content_type, cache_control) = if object.key.ends_with(".m3u8") {
            ("application/vnd.apple.mpegurl", "no-cache")
        } else if object.key.ends_with(".m4s") {
            ("video/iso.segment", "public, max-age=86400")
        } else {
            ("video/mp4", "public, max-age=86400")
        };
        assert_eq!(head.content_type(), Some(content_type), "{}", object.key);
        assert_eq!(head.cache_control(), Some(cache_control), "{}", object.key);
    }
    let stored: u64 = objects
        .iter()
        .filter(|o| o.key.starts_with(&format!("{LADDER_PREFIX}240p/")))
        .map(|o| o.size)
        .sum();
    assert_eq!(stored, summary.renditions[0].bytes);
    verify_ladder(&out, &summary, sources.input_audio_frames);
}

/// Runs ffmpeg, killing it (and failing) if it has not exited within `limit`.
fn run_with_deadline(args: &[&str], limit: std::time::Duration) -> std::process::Output {
    let mut child = Command::new("ffmpeg")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ffmpeg must be installed");
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("ffmpeg {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_ladder_plays_from_its_first_segments_and_ends_as_the_same_vod() {
    let work = tempfile::tempdir().unwrap();
    let sources = encode_sources(work.path());
    let storage = RecordingStorage::new(LocalDirStorage::new(work.path().join("out")));
    let options = VodOptions {
        growing: true,
        ..VodOptions::default()
    };
    let mut vod = VodPackager::start(storage.clone(), LADDER_PREFIX, options)
        .await
        .unwrap();
    let tracks = rendition_tracks(&sources);
    let mut fed = Vec::new();
    for track in tracks {
        let id = vod.add_rendition(track.spec.clone());
        vod.declare_bitrate(id, 500_000).unwrap();
        vod.handle(id, TrackInput::Config(track.config.clone()))
            .await
            .unwrap();
        fed.push((id, track));
    }
    // Each rendition up to 4.5 s: its first segment (4 s) is cut, nothing more.
    let mut rest = Vec::new();
    for (id, track) in fed {
        let cut = i64::from(track.config.timescale) * 9 / 2;
        let (first, later): (Vec<_>, Vec<_>) = track.samples.into_iter().partition(|s| s.dts < cut);
        assert!(!vod.is_playable());
        for sample in first {
            vod.handle(id, TrackInput::Sample(sample)).await.unwrap();
        }
        rest.push((id, later));
    }
    assert!(vod.is_playable(), "every rendition has a first segment");

    let out = work.path().join("out/resources/9");
    let master = out.join("master.m3u8");
    let provisional = m3u8_rs::parse_master_playlist_res(&std::fs::read(&master).unwrap()).unwrap();
    assert_eq!(provisional.variants.len(), 2);
    assert!(
        provisional
            .variants
            .iter()
            .all(|v| v.bandwidth == 1_000_000)
    );
    let growing_playlist = std::fs::read_to_string(out.join("240p/index.m3u8")).unwrap();
    assert!(
        growing_playlist.contains("#EXT-X-PLAYLIST-TYPE:EVENT")
            && !growing_playlist.contains("#EXT-X-ENDLIST"),
        "{growing_playlist}"
    );
    // A player starts now: the first 3 s decode from the growing ladder.
    let decoded = run_with_deadline(
        &[
            "-v",
            "error",
            "-live_start_index",
            "0",
            "-i",
            master.to_str().unwrap(),
            "-map",
            "0:v:0",
            "-map",
            "0:a:0",
            "-t",
            "3",
            "-f",
            "framecrc",
            "-",
        ],
        std::time::Duration::from_secs(30),
    );
    assert!(
        decoded.status.success() && decoded.stderr.is_empty(),
        "decoding the growing ladder failed: {}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let frames = String::from_utf8(decoded.stdout).unwrap();
    let count = |stream: &str| frames.lines().filter(|l| l.starts_with(stream)).count();
    // About 3 s of each (-t counts from the earliest stream start).
    assert!((85..=90).contains(&count("0,")), "video: {}", count("0,"));
    assert!(count("1,") >= 130, "audio: {}", count("1,"));

    for (id, later) in rest {
        for sample in later {
            vod.handle(id, TrackInput::Sample(sample)).await.unwrap();
        }
        vod.handle(id, TrackInput::End).await.unwrap();
    }
    let summary = vod.finish().await.unwrap();
    let puts = storage.puts.lock().unwrap().clone();
    assert_eq!(puts.last().unwrap(), &format!("{LADDER_PREFIX}master.m3u8"));
    verify_ladder(&out, &summary, sources.input_audio_frames);
}

/// Decodes the ladder in `out` (the directory holding `master.m3u8`) and
/// checks it against the sources and the summary.
fn verify_ladder(out: &Path, summary: &LadderSummary, input_audio_frames: usize) {
    let master = out.join("master.m3u8");

    // The whole ladder decodes without a single error message.
    let decode = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            master.to_str().unwrap(),
            "-map",
            "0",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg must be installed");
    assert!(decode.status.success());
    assert!(
        decode.stderr.is_empty(),
        "decoder complained: {}",
        String::from_utf8_lossy(&decode.stderr)
    );

    for (name, _, width, height) in SOURCES {
        let playlist = out.join(name).join("index.m3u8");
        assert_eq!(count_frames(&playlist, "v:0"), FRAMES, "{name} frame count");
        let duration: f64 = first_line(&probe(&playlist, "v:0", "format=duration"))
            .parse()
            .unwrap();
        assert!(
            (duration - 6.0).abs() <= 1.0 / 30.0,
            "{name} duration {duration}"
        );
        assert_eq!(
            first_line(&probe(&playlist, "v:0", "stream=width,height")),
            format!("{width},{height}")
        );
        // Presentation timestamps come out strictly increasing: the signed
        // composition offsets put every reordered frame in its place.
        let pts: Vec<i64> = probe(&playlist, "v:0", "frame=pts")
            .lines()
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| !l.is_empty())
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(pts.len(), FRAMES);
        assert!(
            pts.windows(2).all(|w| w[1] == w[0] + 3000),
            "{name} pts {pts:?}"
        );
        check_segments_start_with_keyframes(&out.join(name));
    }

    let audio_playlist = out.join("audio/index.m3u8");
    assert_eq!(count_frames(&audio_playlist, "a:0"), input_audio_frames);
    let audio_duration: f64 = first_line(&probe(&audio_playlist, "a:0", "format=duration"))
        .parse()
        .unwrap();
    let expected_audio = input_audio_frames as f64 * 1024.0 / 48_000.0;
    assert!((audio_duration - expected_audio).abs() < 1024.0 / 48_000.0);

    // Summary and master playlist agree with what was measured.
    let video = &summary.renditions[0];
    assert_eq!(video.segments, 2, "4 s + 2 s");
    assert!((video.duration_seconds - 6.0).abs() < 1e-9);
    assert_eq!(video.codec, "avc1.64000d");
    let audio_summary = &summary.renditions[2];
    assert_eq!(audio_summary.codec, "mp4a.40.2");
    let parsed = m3u8_rs::parse_master_playlist_res(&std::fs::read(&master).unwrap()).unwrap();
    let bandwidths: Vec<u64> = parsed.variants.iter().map(|v| v.bandwidth).collect();
    assert_eq!(
        parsed.variants[0].uri, "120p/index.m3u8",
        "ascending bandwidth"
    );
    assert_eq!(
        bandwidths[1],
        video.peak_bitrate + audio_summary.peak_bitrate
    );
    assert!(bandwidths[0] < bandwidths[1]);
    assert_eq!(
        parsed.variants[1].codecs.as_deref(),
        Some("avc1.64000d,mp4a.40.2")
    );
}

/// Every media segment's first sample is flagged sync, holds an IDR NAL unit,
/// and decodes (init + segment alone) to a keyframe.
fn check_segments_start_with_keyframes(rendition_dir: &Path) {
    let init = std::fs::read(rendition_dir.join("init.mp4")).unwrap();
    let mut segments: Vec<PathBuf> = std::fs::read_dir(rendition_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "m4s"))
        .collect();
    segments.sort();
    assert!(!segments.is_empty());
    for segment_path in segments {
        let segment = std::fs::read(&segment_path).unwrap();
        let moof = box_reader::child(&segment, "moof");
        let trun =
            box_reader::parse_trun(box_reader::path(moof.payload, &["traf", "trun"]).payload);
        assert_eq!(trun.samples[0].flags, Some(0x0200_0000), "{segment_path:?}");
        let first_sample_start = moof.offset + trun.data_offset.unwrap() as usize;
        let first_sample_size = trun.samples[0].size.unwrap() as usize;
        let first_sample = &segment[first_sample_start..first_sample_start + first_sample_size];
        assert!(
            length_prefixed_nal_units(first_sample).any(|nal| nal_type(nal) == Some(NAL_IDR)),
            "{segment_path:?} does not start with an IDR picture"
        );

        let standalone = segment_path.with_extension("mp4");
        std::fs::write(&standalone, [init.as_slice(), segment.as_slice()].concat()).unwrap();
        let first_frame = run(
            "ffprobe",
            &[
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-read_intervals",
                "%+#1",
                "-show_entries",
                "frame=key_frame,pict_type",
                "-of",
                "csv=p=0",
                standalone.to_str().unwrap(),
            ],
        );
        assert_eq!(
            first_line(&first_frame).trim_end_matches(','),
            "1,I",
            "{segment_path:?}"
        );
        std::fs::remove_file(standalone).unwrap();
    }
}
