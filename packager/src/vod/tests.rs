//! Driver tests against `MemoryStorage` with synthetic samples.

use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::aac::AudioSpecificConfig;
use crate::h264::{AvcDecoderConfig, test_fixtures::x264_annexb_extradata};
use crate::media::{AudioCodecConfig, Sample, TrackConfig, VideoCodecConfig};
use crate::storage::MemoryStorage;

fn video_config() -> TrackConfig {
    TrackConfig {
        timescale: 90000,
        kind: TrackKind::Video {
            width: 320,
            height: 240,
            codec: VideoCodecConfig::H264(
                AvcDecoderConfig::from_extradata(&x264_annexb_extradata()).unwrap(),
            ),
        },
    }
}

fn audio_config() -> TrackConfig {
    TrackConfig {
        timescale: 48000,
        kind: TrackKind::Audio {
            sample_rate: 48000,
            channels: 2,
            codec: AudioCodecConfig::Aac(AudioSpecificConfig::from_bytes(&[0x11, 0x90]).unwrap()),
        },
    }
}

fn video_spec(name: &str) -> RenditionSpec {
    RenditionSpec {
        name: name.to_string(),
        kind: RenditionKind::Video { frame_rate: 30.0 },
    }
}

fn audio_spec() -> RenditionSpec {
    RenditionSpec {
        name: "audio".to_string(),
        kind: RenditionKind::Audio {
            language: Some("zh".to_string()),
            name: "中文".to_string(),
        },
    }
}

/// 30 fps video frames with a keyframe every second.
fn video_frame(index: i64, bytes: usize) -> Sample {
    Sample {
        dts: index * 3000,
        pts: index * 3000,
        duration: 3000,
        is_sync: index % 30 == 0,
        data: Bytes::from(vec![0u8; bytes]),
    }
}

fn audio_frame(index: i64) -> Sample {
    Sample {
        dts: index * 1024,
        pts: index * 1024,
        duration: 1024,
        is_sync: true,
        data: Bytes::from(vec![0u8; 200]),
    }
}

async fn packager(storage: &Arc<MemoryStorage>, prefix: &str) -> VodPackager {
    VodPackager::start(storage.clone(), prefix, VodOptions::default())
        .await
        .unwrap()
}

/// 10 s of video (300 frames) and audio (469 frames) into a fresh ladder.
async fn package_ten_seconds(storage: &Arc<MemoryStorage>) -> LadderSummary {
    let mut vod = packager(storage, "resources/42/").await;
    let video = vod.add_rendition(video_spec("240p"));
    let audio = vod.add_rendition(audio_spec());
    vod.handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap();
    vod.handle(audio, TrackInput::Config(audio_config()))
        .await
        .unwrap();
    for i in 0..300 {
        vod.handle(video, TrackInput::Sample(video_frame(i, 1000)))
            .await
            .unwrap();
    }
    for i in 0..469 {
        vod.handle(audio, TrackInput::Sample(audio_frame(i)))
            .await
            .unwrap();
    }
    vod.handle(video, TrackInput::End).await.unwrap();
    vod.handle(audio, TrackInput::End).await.unwrap();
    vod.finish().await.unwrap()
}

#[tokio::test]
async fn writes_each_rendition_then_the_master_playlist_last() {
    let storage = Arc::new(MemoryStorage::new());
    let summary = package_ten_seconds(&storage).await;
    let log = storage.put_log();
    assert_eq!(
        log.last().map(String::as_str),
        Some("resources/42/master.m3u8")
    );
    assert_eq!(summary.master_key, "resources/42/master.m3u8");
    assert_eq!(log.iter().filter(|k| k.ends_with("master.m3u8")).count(), 1);
    let keys = storage.keys();
    for key in [
        "resources/42/240p/init.mp4",
        "resources/42/240p/seg-00001.m4s",
        "resources/42/240p/seg-00003.m4s",
        "resources/42/240p/index.m3u8",
        "resources/42/audio/init.mp4",
        "resources/42/audio/seg-00003.m4s",
        "resources/42/audio/index.m3u8",
    ] {
        assert!(keys.contains(&key.to_string()), "missing {key}");
    }
    assert!(!keys.contains(&"resources/42/240p/seg-00004.m4s".to_string()));
    // The init segment is written first and rewritten with bitrates at the end.
    let init_puts: Vec<_> = log
        .iter()
        .enumerate()
        .filter(|(_, k)| k.as_str() == "resources/42/240p/init.mp4")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(init_puts.len(), 2);
    assert_eq!(init_puts[0], 0);
}

#[tokio::test]
async fn objects_get_content_types_and_cache_control() {
    let storage = Arc::new(MemoryStorage::new());
    package_ten_seconds(&storage).await;
    let segment = storage
        .put_options("resources/42/240p/seg-00001.m4s")
        .unwrap();
    assert_eq!(segment.content_type, "video/iso.segment");
    assert_eq!(
        segment.cache_control.as_deref(),
        Some("public, max-age=86400")
    );
    let init = storage.put_options("resources/42/240p/init.mp4").unwrap();
    assert_eq!(init.content_type, "video/mp4");
    let playlist = storage.put_options("resources/42/240p/index.m3u8").unwrap();
    assert_eq!(playlist.content_type, "application/vnd.apple.mpegurl");
    assert_eq!(playlist.cache_control.as_deref(), Some("no-cache"));
    let master = storage.put_options("resources/42/master.m3u8").unwrap();
    assert_eq!(master.cache_control.as_deref(), Some("no-cache"));
}

#[tokio::test]
async fn summary_reports_measured_figures() {
    let storage = Arc::new(MemoryStorage::new());
    let summary = package_ten_seconds(&storage).await;
    let video = &summary.renditions[0];
    assert_eq!(video.name, "240p");
    assert_eq!(video.segments, 3);
    assert!((video.duration_seconds - 10.0).abs() < 1e-9);
    assert_eq!(video.codec, "avc1.64000d");
    assert_eq!((video.width, video.height), (Some(320), Some(240)));
    // 1000-byte frames at 30 fps plus box overhead: a bit above 240 kbit/s.
    assert!(video.average_bitrate > 240_000 && video.average_bitrate < 260_000);
    assert!(video.peak_bitrate >= video.average_bitrate);
    let stored: u64 = storage
        .keys()
        .iter()
        .filter(|k| k.starts_with("resources/42/240p/"))
        .map(|k| stored_size(&storage, k))
        .sum();
    assert_eq!(video.bytes, stored);

    let audio = &summary.renditions[1];
    assert_eq!(audio.codec, "mp4a.40.2");
    assert_eq!((audio.width, audio.height), (None, None));
    assert!((audio.duration_seconds - 469.0 * 1024.0 / 48000.0).abs() < 1e-9);

    let master = String::from_utf8(
        storage
            .body("resources/42/master.m3u8")
            .expect("master stored")
            .to_vec(),
    )
    .unwrap();
    let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
    assert_eq!(
        parsed.variants[0].bandwidth,
        video.peak_bitrate + audio.peak_bitrate
    );
    assert_eq!(parsed.variants[0].uri, "240p/index.m3u8");
    assert_eq!(
        parsed.alternatives[0].uri.as_deref(),
        Some("audio/index.m3u8")
    );
}

#[tokio::test]
async fn a_ladder_whose_video_carries_608_captions_announces_them_in_the_master() {
    let storage = Arc::new(MemoryStorage::new());
    let options = VodOptions {
        closed_captions: Some(crate::hls::ClosedCaptions::cc1()),
        ..VodOptions::default()
    };
    let mut vod = VodPackager::start(storage.clone(), "resources/43/", options)
        .await
        .unwrap();
    let video = vod.add_rendition(video_spec("240p"));
    vod.handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap();
    for i in 0..60 {
        vod.handle(video, TrackInput::Sample(video_frame(i, 1000)))
            .await
            .unwrap();
    }
    vod.handle(video, TrackInput::End).await.unwrap();
    vod.finish().await.unwrap();

    let master = storage.body("resources/43/master.m3u8").expect("master");
    let parsed = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    let cc: Vec<_> = parsed
        .alternatives
        .iter()
        .filter(|m| m.media_type == m3u8_rs::AlternativeMediaType::ClosedCaptions)
        .collect();
    assert_eq!(cc.len(), 1);
    assert_eq!(cc[0].instream_id, Some(m3u8_rs::InstreamId::CC(1)));
    assert_eq!(
        parsed.variants[0].closed_captions,
        Some(m3u8_rs::ClosedCaptionGroupId::GroupId("cc".into()))
    );
}

fn stored_size(storage: &MemoryStorage, key: &str) -> u64 {
    storage.body(key).map_or(0, |b| b.len() as u64)
}

#[tokio::test]
async fn start_deletes_an_existing_master_playlist_first() {
    let storage = Arc::new(MemoryStorage::new());
    storage
        .put(
            "resources/42/master.m3u8",
            Bytes::from_static(b"#EXTM3U\n"),
            &PutOptions::for_key("master.m3u8"),
        )
        .await
        .unwrap();
    let _vod = packager(&storage, "resources/42").await;
    assert!(
        storage
            .head("resources/42/master.m3u8")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn objects_of_an_earlier_longer_run_are_removed_before_the_master_is_written() {
    let storage = Arc::new(MemoryStorage::new());
    for key in [
        "resources/42/240p/seg-00009.m4s",
        "resources/42/audio/stale.m4s",
    ] {
        storage
            .put(key, Bytes::from_static(b"old"), &PutOptions::for_key(key))
            .await
            .unwrap();
    }
    storage
        .put(
            "resources/42/poster.jpg",
            Bytes::from_static(b"jpg"),
            &PutOptions::for_key("poster.jpg"),
        )
        .await
        .unwrap();
    package_ten_seconds(&storage).await;
    let keys = storage.keys();
    assert!(!keys.contains(&"resources/42/240p/seg-00009.m4s".to_string()));
    assert!(!keys.contains(&"resources/42/audio/stale.m4s".to_string()));
    assert!(
        keys.contains(&"resources/42/poster.jpg".to_string()),
        "objects outside rendition directories are left alone"
    );
}

#[tokio::test]
async fn input_contract_violations_are_errors() {
    let storage = Arc::new(MemoryStorage::new());
    let mut vod = packager(&storage, "").await;
    let video = vod.add_rendition(video_spec("360p"));

    let err = vod
        .handle(video, TrackInput::Sample(video_frame(0, 10)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PackagerError::SampleBeforeConfig { .. }),
        "{err}"
    );

    let err = vod
        .handle(video, TrackInput::Config(audio_config()))
        .await
        .unwrap_err();
    assert!(matches!(err, PackagerError::KindMismatch { .. }), "{err}");

    vod.handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap();
    let err = vod
        .handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap_err();
    assert!(matches!(err, PackagerError::ConfigAlreadyReceived { .. }));

    let err = vod
        .handle(video, TrackInput::Sample(video_frame(1, 10)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PackagerError::InvalidSample { .. }) && err.to_string().contains("keyframe"),
        "{err}"
    );

    vod.handle(video, TrackInput::Sample(video_frame(0, 10)))
        .await
        .unwrap();
    let err = vod
        .handle(video, TrackInput::Sample(video_frame(0, 10)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not increase"), "{err}");

    let mut zero = video_frame(1, 10);
    zero.duration = 0;
    let err = vod
        .handle(video, TrackInput::Sample(zero))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("zero"), "{err}");

    vod.handle(video, TrackInput::End).await.unwrap();
    let err = vod.handle(video, TrackInput::End).await.unwrap_err();
    assert!(matches!(err, PackagerError::InputAfterEnd { .. }));
    assert!(storage.keys().contains(&"360p/index.m3u8".to_string()));
}

#[tokio::test]
async fn finish_requires_every_rendition_to_end() {
    let storage = Arc::new(MemoryStorage::new());
    let mut vod = packager(&storage, "").await;
    let video = vod.add_rendition(video_spec("360p"));
    vod.add_rendition(audio_spec());
    vod.handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap();
    vod.handle(video, TrackInput::Sample(video_frame(0, 10)))
        .await
        .unwrap();
    vod.handle(video, TrackInput::End).await.unwrap();
    let err = vod.finish().await.unwrap_err();
    assert!(
        matches!(err, PackagerError::RenditionNotEnded { ref rendition } if rendition == "audio")
    );
    assert!(storage.head("master.m3u8").await.unwrap().is_none());

    let vod = packager(&storage, "").await;
    assert!(matches!(
        vod.finish().await,
        Err(PackagerError::NoRenditions)
    ));
}

#[tokio::test]
async fn a_rendition_without_samples_is_an_error_at_its_end() {
    let storage = Arc::new(MemoryStorage::new());
    let mut vod = packager(&storage, "").await;
    let audio = vod.add_rendition(audio_spec());
    vod.handle(audio, TrackInput::Config(audio_config()))
        .await
        .unwrap();
    let err = vod.handle(audio, TrackInput::End).await.unwrap_err();
    assert!(matches!(err, PackagerError::NoSamples { .. }));
}

#[tokio::test]
async fn bad_and_duplicate_rendition_names_are_reported() {
    let storage = Arc::new(MemoryStorage::new());
    let mut vod = packager(&storage, "").await;
    let ok = vod.add_rendition(video_spec("720p"));
    let duplicate = vod.add_rendition(video_spec("720p"));
    let traversal = vod.add_rendition(video_spec("../x"));
    let hidden = vod.add_rendition(video_spec(".x"));
    vod.handle(ok, TrackInput::Config(video_config()))
        .await
        .unwrap();
    for id in [duplicate, traversal, hidden] {
        let err = vod
            .handle(id, TrackInput::Config(video_config()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, PackagerError::InvalidRenditionName { .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn invalid_prefixes_are_rejected() {
    let storage = Arc::new(MemoryStorage::new());
    for prefix in ["/abs/", "../up/", "a//b/"] {
        let result = VodPackager::start(storage.clone(), prefix, VodOptions::default()).await;
        assert!(
            matches!(result, Err(PackagerError::InvalidPrefix { .. })),
            "{prefix}"
        );
    }
}

mod growing;
