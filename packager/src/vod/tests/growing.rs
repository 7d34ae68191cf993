//! Fast start: with `VodOptions::growing` the ladder is playable while it is
//! written. Every put is recorded with its body, so each intermediate
//! playlist is parsed as a player would have fetched it.

use std::sync::Mutex;

use m3u8_rs::{MasterPlaylist, MediaPlaylist, MediaPlaylistType};

use super::*;
use crate::storage::ObjectInfo;

/// `MemoryStorage` that also keeps every body put, in order.
#[derive(Debug, Default)]
struct SnapshotStorage {
    inner: MemoryStorage,
    puts: Mutex<Vec<(String, Bytes)>>,
}

impl SnapshotStorage {
    fn puts(&self) -> Vec<(String, Bytes)> {
        self.puts.lock().unwrap().clone()
    }

    fn keys_put(&self) -> Vec<String> {
        self.puts().into_iter().map(|(key, _)| key).collect()
    }
}

#[async_trait::async_trait]
impl Storage for SnapshotStorage {
    async fn put(&self, key: &str, body: Bytes, opts: &PutOptions) -> Result<(), StorageError> {
        self.inner.put(key, body.clone(), opts).await?;
        self.puts.lock().unwrap().push((key.to_string(), body));
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

fn growing() -> VodOptions {
    VodOptions {
        growing: true,
        ..VodOptions::default()
    }
}

fn media(body: &Bytes) -> MediaPlaylist {
    m3u8_rs::parse_media_playlist_res(body).expect("media playlist parses")
}

fn master(body: &Bytes) -> MasterPlaylist {
    m3u8_rs::parse_master_playlist_res(body).expect("master playlist parses")
}

const VIDEO_DECLARED: u64 = 300_000;
const AUDIO_DECLARED: u64 = 64_000;

/// What the feeding loop observed about `is_playable`.
struct Fed {
    summary: LadderSummary,
    /// Index into the put log at which `is_playable` first became true.
    playable_after_puts: Option<usize>,
}

/// 10 s of video and audio fed in decode-time order, as a transcoder would.
async fn feed_ten_seconds_interleaved(storage: &Arc<SnapshotStorage>, declare: bool) -> Fed {
    let mut vod = VodPackager::start(storage.clone(), "res/7/", growing())
        .await
        .unwrap();
    let video = vod.add_rendition(video_spec("240p"));
    let audio = vod.add_rendition(audio_spec());
    if declare {
        vod.declare_bitrate(video, VIDEO_DECLARED).unwrap();
        vod.declare_bitrate(audio, AUDIO_DECLARED).unwrap();
    }
    vod.handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap();
    vod.handle(audio, TrackInput::Config(audio_config()))
        .await
        .unwrap();
    let mut playable_after_puts = None;
    let (mut v, mut a) = (0i64, 0i64);
    while v < 300 || a < 469 {
        // Seconds of the next frame of each track; the earlier one goes first.
        let video_time = v as f64 / 30.0;
        let audio_time = a as f64 * 1024.0 / 48_000.0;
        if v < 300 && (a >= 469 || video_time <= audio_time) {
            vod.handle(video, TrackInput::Sample(video_frame(v, 1000)))
                .await
                .unwrap();
            v += 1;
        } else {
            vod.handle(audio, TrackInput::Sample(audio_frame(a)))
                .await
                .unwrap();
            a += 1;
        }
        if playable_after_puts.is_none() && vod.is_playable() {
            playable_after_puts = Some(storage.puts().len());
        }
    }
    vod.handle(video, TrackInput::End).await.unwrap();
    vod.handle(audio, TrackInput::End).await.unwrap();
    assert!(vod.is_playable());
    let summary = vod.finish().await.unwrap();
    Fed {
        summary,
        playable_after_puts,
    }
}

#[tokio::test]
async fn media_playlists_grow_as_event_playlists_one_segment_at_a_time() {
    let storage = Arc::new(SnapshotStorage::default());
    let fed = feed_ten_seconds_interleaved(&storage, true).await;
    let puts = storage.puts();
    let first_final = puts
        .iter()
        .position(|(key, body)| key.ends_with("index.m3u8") && media(body).end_list)
        .expect("final playlists are written");
    for rendition in ["240p", "audio"] {
        let playlist_key = format!("res/7/{rendition}/index.m3u8");
        let mut listed = 0;
        let mut first_target = None;
        for (index, (key, body)) in puts[..first_final].iter().enumerate() {
            if *key != playlist_key {
                continue;
            }
            let playlist = media(body);
            assert_eq!(playlist.playlist_type, Some(MediaPlaylistType::Event));
            assert!(!playlist.end_list, "no ENDLIST while growing");
            // EXT-X-TARGETDURATION never changes while a playlist grows.
            let target = *first_target.get_or_insert(playlist.target_duration);
            assert_eq!(playlist.target_duration, target, "{rendition}");
            // One more segment than the previous version, or (at the end of
            // the rendition) the same segments again.
            assert!(
                playlist.segments.len() == listed + 1 || playlist.segments.len() == listed,
                "{rendition}: {} segments after {listed}",
                playlist.segments.len()
            );
            listed = playlist.segments.len();
            let newest = format!("res/7/{rendition}/{}", playlist.segments[listed - 1].uri);
            let newest_put = puts.iter().position(|(k, _)| *k == newest).unwrap();
            assert!(newest_put < index, "{newest} listed before it was stored");
        }
        assert_eq!(listed, 3, "{rendition} grew to all its segments");
    }
    assert_eq!(fed.summary.renditions[0].segments, 3);
}

#[tokio::test]
async fn the_master_appears_once_every_rendition_has_its_first_segment() {
    let storage = Arc::new(SnapshotStorage::default());
    let fed = feed_ten_seconds_interleaved(&storage, true).await;
    let keys = storage.keys_put();
    let first_master = keys.iter().position(|k| k == "res/7/master.m3u8").unwrap();
    let before = &keys[..first_master];
    for needed in [
        "res/7/240p/init.mp4",
        "res/7/240p/seg-00001.m4s",
        "res/7/240p/index.m3u8",
        "res/7/audio/init.mp4",
        "res/7/audio/seg-00001.m4s",
        "res/7/audio/index.m3u8",
    ] {
        assert!(
            before.iter().any(|k| k == needed),
            "{needed} not before the master"
        );
    }
    // It is written right after the last of those first playlists, long before the end.
    let last_needed = before
        .iter()
        .rposition(|k| k.ends_with("index.m3u8"))
        .unwrap();
    assert_eq!(first_master, last_needed + 1);
    assert!(
        !before
            .iter()
            .any(|k| k.ends_with("seg-00002.m4s") && k.contains("audio"))
    );
    assert_eq!(fed.playable_after_puts, Some(first_master + 1));

    // Provisional bandwidths are the declared ones.
    let provisional = master(&storage.puts()[first_master].1);
    assert_eq!(provisional.variants.len(), 1);
    assert_eq!(
        provisional.variants[0].bandwidth,
        VIDEO_DECLARED + AUDIO_DECLARED
    );
    assert_eq!(provisional.variants[0].uri, "240p/index.m3u8");
    assert_eq!(
        provisional.alternatives[0].uri.as_deref(),
        Some("audio/index.m3u8")
    );
    assert!(provisional.variants[0].average_bandwidth.unwrap() <= VIDEO_DECLARED + AUDIO_DECLARED);
}

#[tokio::test]
async fn finish_turns_every_playlist_into_vod_and_writes_the_measured_master_last() {
    let storage = Arc::new(SnapshotStorage::default());
    let fed = feed_ten_seconds_interleaved(&storage, true).await;
    let puts = storage.puts();
    let (last_key, last_body) = puts.last().unwrap();
    assert_eq!(last_key, "res/7/master.m3u8");
    assert_eq!(
        puts.iter()
            .filter(|(k, _)| k.ends_with("master.m3u8"))
            .count(),
        2,
        "provisional and final"
    );
    let video = &fed.summary.renditions[0];
    let audio = &fed.summary.renditions[1];
    let final_master = master(last_body);
    assert_eq!(
        final_master.variants[0].bandwidth,
        video.peak_bitrate + audio.peak_bitrate
    );
    for rendition in ["240p", "audio"] {
        let key = format!("res/7/{rendition}/index.m3u8");
        let playlist = media(&storage.inner.body(&key).unwrap());
        assert_eq!(playlist.playlist_type, Some(MediaPlaylistType::Vod));
        assert!(playlist.end_list);
        assert_eq!(playlist.segments.len(), 3);
        let final_put = puts.iter().rposition(|(k, _)| *k == key).unwrap();
        let vod_puts = puts
            .iter()
            .filter(|(k, body)| *k == key && media(body).end_list)
            .count();
        assert_eq!(vod_puts, 1, "{rendition} becomes VOD once, at finish");
        assert!(final_put < puts.len() - 1);
    }
    // Bytes count each object once, as last stored.
    let stored: u64 = storage
        .inner
        .keys()
        .iter()
        .filter(|k| k.starts_with("res/7/240p/"))
        .map(|k| storage.inner.body(k).map_or(0, |b| b.len() as u64))
        .sum();
    assert_eq!(video.bytes, stored);
}

#[tokio::test]
async fn without_a_declared_bitrate_the_provisional_master_uses_what_was_measured() {
    let storage = Arc::new(SnapshotStorage::default());
    feed_ten_seconds_interleaved(&storage, false).await;
    let puts = storage.puts();
    let (first_master, _) = puts
        .iter()
        .enumerate()
        .find(|(_, (k, _))| k == "res/7/master.m3u8")
        .unwrap();
    let provisional = master(&puts[first_master].1);
    // One 4 s video segment of 1000-byte frames: a bit above 240 kbit/s.
    let bandwidth = provisional.variants[0].bandwidth;
    assert!(
        bandwidth > 240_000 + 60_000 && bandwidth < 400_000,
        "{bandwidth}"
    );
}

#[tokio::test]
async fn without_growing_playlists_are_written_once_and_playable_only_after_finish() {
    let storage = Arc::new(MemoryStorage::new());
    let mut vod = packager(&storage, "res/8/").await;
    let video = vod.add_rendition(video_spec("240p"));
    vod.handle(video, TrackInput::Config(video_config()))
        .await
        .unwrap();
    for i in 0..300 {
        vod.handle(video, TrackInput::Sample(video_frame(i, 1000)))
            .await
            .unwrap();
    }
    vod.handle(video, TrackInput::End).await.unwrap();
    assert!(!vod.is_playable());
    vod.finish().await.unwrap();
    let log = storage.put_log();
    assert_eq!(log.iter().filter(|k| k.ends_with("index.m3u8")).count(), 1);
    assert_eq!(log.last().map(String::as_str), Some("res/8/master.m3u8"));
}

#[tokio::test]
async fn declaring_a_bitrate_for_an_unknown_rendition_is_an_error() {
    let storage = Arc::new(MemoryStorage::new());
    let mut other = packager(&storage, "a/").await;
    let mut vod = packager(&storage, "b/").await;
    other.add_rendition(video_spec("240p"));
    let foreign = other.add_rendition(video_spec("120p"));
    assert!(matches!(
        vod.declare_bitrate(foreign, 1),
        Err(PackagerError::UnknownRendition(1))
    ));
}
