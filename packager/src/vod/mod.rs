//! The async driver that writes a VOD HLS ladder through a [`Storage`]:
//! per rendition `{name}/init.mp4`, `{name}/seg-NNNNN.m4s`, `{name}/index.m3u8`,
//! then `master.m3u8` last. With [`VodOptions::growing`] the ladder is
//! playable while it is written: media playlists grow as EVENT playlists,
//! a provisional master appears once every rendition has its first segment,
//! and `finish` turns every playlist into VOD and rewrites the master.
//! Per-rendition decisions are made by the pure `RenditionState`; this
//! module only stores what it returns.

mod rendition;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::cmaf::CmafError;
use crate::hls::{AudioRendition, ClosedCaptions, MasterPlaylistSpec, VideoVariant};
use crate::media::{TrackInput, TrackKind};
use crate::storage::{PutOptions, Storage, StorageError, validate_prefix};
use rendition::{ObjectKind, PLAYLIST_NAME, PendingObject, RenditionState};

/// Name of the master playlist under the ladder prefix.
pub const MASTER_PLAYLIST_NAME: &str = "master.m3u8";

/// Why packaging failed.
#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    /// Storing an object failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A media segment could not be written.
    #[error("rendition {rendition}: {source}")]
    Segment {
        /// The rendition.
        rendition: String,
        /// Why.
        #[source]
        source: CmafError,
    },
    /// The ladder prefix is not a valid key prefix.
    #[error("invalid ladder prefix {prefix:?} (输出路径前缀无效)")]
    InvalidPrefix {
        /// The prefix.
        prefix: String,
    },
    /// A `RenditionId` from another packager.
    #[error("unknown rendition id {0} (未知的清晰度编号)")]
    UnknownRendition(usize),
    /// The rendition name cannot be a directory name, or is used twice.
    #[error("invalid rendition name {rendition:?}: {reason} (清晰度名称无效)")]
    InvalidRenditionName {
        /// The name.
        rendition: String,
        /// Why.
        reason: &'static str,
    },
    /// A second `TrackInput::Config`.
    #[error("rendition {rendition} already has a track config (清晰度 {rendition} 已收到轨道配置)")]
    ConfigAlreadyReceived {
        /// The rendition.
        rendition: String,
    },
    /// A video config for an audio rendition or the reverse.
    #[error(
        "rendition {rendition} got a track of the wrong media kind (清晰度 {rendition} 收到的轨道类型不符)"
    )]
    KindMismatch {
        /// The rendition.
        rendition: String,
    },
    /// A track config with timescale 0.
    #[error("rendition {rendition} track timescale is zero (清晰度 {rendition} 的时间基为零)")]
    InvalidTimescale {
        /// The rendition.
        rendition: String,
    },
    /// A sample arrived before the config.
    #[error(
        "rendition {rendition} got a sample before its track config (清晰度 {rendition} 在轨道配置之前收到样本)"
    )]
    SampleBeforeConfig {
        /// The rendition.
        rendition: String,
    },
    /// `End` arrived before the config.
    #[error(
        "rendition {rendition} ended before its track config (清晰度 {rendition} 在轨道配置之前结束)"
    )]
    EndBeforeConfig {
        /// The rendition.
        rendition: String,
    },
    /// A sample broke the input contract.
    #[error("rendition {rendition} sample at dts {dts}: {reason} (清晰度 {rendition} 的样本无效)")]
    InvalidSample {
        /// The rendition.
        rendition: String,
        /// The sample's dts.
        dts: i64,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// Input after `End`.
    #[error("rendition {rendition} got input after its end (清晰度 {rendition} 结束后又收到输入)")]
    InputAfterEnd {
        /// The rendition.
        rendition: String,
    },
    /// `End` without any sample.
    #[error("rendition {rendition} ended without samples (清晰度 {rendition} 没有任何样本)")]
    NoSamples {
        /// The rendition.
        rendition: String,
    },
    /// `finish` before every rendition ended.
    #[error("rendition {rendition} has not ended (清晰度 {rendition} 尚未结束)")]
    RenditionNotEnded {
        /// The rendition.
        rendition: String,
    },
    /// `finish` without renditions.
    #[error("the ladder has no renditions (没有任何清晰度)")]
    NoRenditions,
}

/// Settings of a VOD ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VodOptions {
    /// Target segment duration (cuts happen at the first keyframe at or after each multiple).
    pub segment_target: Duration,
    /// `Cache-Control` for `init.mp4` and segments.
    pub media_cache_control: Option<String>,
    /// `Cache-Control` for `index.m3u8` and `master.m3u8`.
    pub playlist_cache_control: Option<String>,
    /// Fast start: after every segment, rewrite the rendition's
    /// `index.m3u8` as a growing `EXT-X-PLAYLIST-TYPE:EVENT` playlist
    /// (no `EXT-X-ENDLIST`); write `master.m3u8` as soon as every rendition
    /// has its init segment, first segment and playlist (bandwidths from
    /// [`VodPackager::declare_bitrate`], else measured so far); at
    /// [`VodPackager::finish`] rewrite every playlist as VOD with
    /// `EXT-X-ENDLIST`, then the master with measured figures. Add every
    /// rendition before feeding any input. `playlist_cache_control` must
    /// then let players refetch playlists (the default `no-cache` does).
    pub growing: bool,
    /// CEA-608 captions the video renditions carry in their pictures
    /// (A/53 SEI): the master announces them as a `CLOSED-CAPTIONS` group
    /// every video variant names. `None` (the default): no captions.
    pub closed_captions: Option<ClosedCaptions>,
}

impl Default for VodOptions {
    /// 4 s segments; media cacheable for a day; playlists revalidated on every
    /// request (a re-packaged ladder rewrites them in place).
    fn default() -> Self {
        Self {
            segment_target: Duration::from_secs(4),
            media_cache_control: Some("public, max-age=86400".to_string()),
            playlist_cache_control: Some("no-cache".to_string()),
            growing: false,
            closed_captions: None,
        }
    }
}

/// One rendition of the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionSpec {
    /// Directory name, e.g. `720p` or `audio` (ASCII letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// Video or audio, with what the track config does not say.
    pub kind: RenditionKind,
}

/// Kind-specific rendition parameters; width, height, codecs and channels
/// come from the `TrackConfig` the rendition receives.
#[derive(Debug, Clone, PartialEq)]
pub enum RenditionKind {
    /// A video rendition (one `EXT-X-STREAM-INF`).
    Video {
        /// Frames per second, for `FRAME-RATE`.
        frame_rate: f64,
    },
    /// An audio rendition (one `EXT-X-MEDIA` in the `audio` group).
    Audio {
        /// `LANGUAGE` (RFC 5646, e.g. `zh`), if known.
        language: Option<String>,
        /// `NAME` shown in player menus.
        name: String,
    },
}

/// Handle of a rendition within one [`VodPackager`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenditionId(usize);

/// Measured figures of a finished ladder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LadderSummary {
    /// Key of the master playlist.
    pub master_key: String,
    /// One entry per rendition, in the order they were added.
    pub renditions: Vec<RenditionSummary>,
}

/// Measured figures of one rendition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenditionSummary {
    /// Directory name.
    pub name: String,
    /// Number of media segments.
    pub segments: u32,
    /// Sum of the segment durations, seconds.
    pub duration_seconds: f64,
    /// HLS peak segment bitrate, bit/s.
    pub peak_bitrate: u64,
    /// Average segment bitrate, bit/s.
    pub average_bitrate: u64,
    /// Bytes stored for the rendition: segments, final init segment and playlist.
    pub bytes: u64,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Width for video renditions.
    pub width: Option<u32>,
    /// Height for video renditions.
    pub height: Option<u32>,
}

/// Writes one VOD ladder. Feed each rendition `Config`, samples, `End`
/// through [`VodPackager::handle`], then call [`VodPackager::finish`].
#[derive(Debug)]
pub struct VodPackager {
    storage: Arc<dyn Storage>,
    prefix: String,
    options: VodOptions,
    renditions: Vec<RenditionState>,
    /// A (provisional or final) `master.m3u8` is stored.
    master_written: bool,
}

impl VodPackager {
    /// Starts a ladder under `prefix` (`""` or `"resources/123/"`; a missing
    /// trailing `/` is added). First deletes an existing `{prefix}master.m3u8`
    /// so a half-rewritten ladder is never reachable.
    pub async fn start(
        storage: Arc<dyn Storage>,
        prefix: &str,
        options: VodOptions,
    ) -> Result<Self, PackagerError> {
        let mut prefix = prefix.to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        if validate_prefix(&prefix).is_err() {
            return Err(PackagerError::InvalidPrefix { prefix });
        }
        storage
            .delete(&format!("{prefix}{MASTER_PLAYLIST_NAME}"))
            .await?;
        Ok(Self {
            storage,
            prefix,
            options,
            renditions: Vec::new(),
            master_written: false,
        })
    }

    /// Adds a rendition. A bad or duplicate name is reported by the first
    /// `handle` call for it (and by `finish`).
    pub fn add_rendition(&mut self, spec: RenditionSpec) -> RenditionId {
        let problem = rendition_name_problem(&spec.name).or_else(|| {
            self.renditions
                .iter()
                .any(|r| r.spec.name == spec.name)
                .then_some("used by another rendition (与其他清晰度重名)")
        });
        self.renditions
            .push(RenditionState::new(spec, problem, self.options.growing));
        RenditionId(self.renditions.len() - 1)
    }

    /// Announces the bitrate a rendition is encoded at, in bit/s (for video
    /// the encoder's VBV maxrate, for audio its bitrate). With
    /// [`VodOptions::growing`] the provisional master playlist advertises it
    /// as the rendition's peak bandwidth, since little has been measured when
    /// it is written; the final master always uses measured figures.
    pub fn declare_bitrate(
        &mut self,
        id: RenditionId,
        bits_per_second: u64,
    ) -> Result<(), PackagerError> {
        let rendition = self
            .renditions
            .get_mut(id.0)
            .ok_or(PackagerError::UnknownRendition(id.0))?;
        rendition.declared_bitrate = Some(bits_per_second);
        Ok(())
    }

    /// Whether players can start: `master.m3u8` is stored (with
    /// [`VodOptions::growing`], once every rendition has its first segment;
    /// otherwise only `finish` writes it).
    pub fn is_playable(&self) -> bool {
        self.master_written
    }

    /// `Config` writes `{name}/init.mp4`; `Sample` is segmented and each
    /// finished segment written as `{name}/seg-00001.m4s`, ... (followed,
    /// when growing, by the EVENT `{name}/index.m3u8` and possibly the
    /// provisional master); `End` flushes the last segment, rewrites
    /// `init.mp4` with measured bitrates and writes `{name}/index.m3u8`.
    pub async fn handle(
        &mut self,
        id: RenditionId,
        input: TrackInput,
    ) -> Result<(), PackagerError> {
        let segment_target = self.options.segment_target;
        let rendition = self
            .renditions
            .get_mut(id.0)
            .ok_or(PackagerError::UnknownRendition(id.0))?;
        if let Some(reason) = rendition.spec_problem {
            return Err(PackagerError::InvalidRenditionName {
                rendition: rendition.spec.name.clone(),
                reason,
            });
        }
        let objects = match input {
            TrackInput::Config(config) => vec![rendition.config(config, segment_target)?],
            TrackInput::Sample(sample) => rendition.sample(sample)?,
            TrackInput::End => rendition.end()?,
        };
        let stored_any = !objects.is_empty();
        for object in objects {
            self.store(id.0, object).await?;
        }
        if stored_any && self.should_publish_provisional_master() {
            self.put_master(true).await?;
            tracing::info!(prefix = %self.prefix, "growing ladder is playable");
        }
        Ok(())
    }

    /// Growing, no master yet, and every rendition can be started.
    fn should_publish_provisional_master(&self) -> bool {
        self.options.growing
            && !self.master_written
            && !self.renditions.is_empty()
            && self.renditions.iter().all(RenditionState::is_started)
    }

    /// Renders and stores `master.m3u8`; returns its key.
    async fn put_master(&mut self, provisional: bool) -> Result<String, PackagerError> {
        let master = self.master_playlist(provisional).render();
        let master_key = format!("{}{MASTER_PLAYLIST_NAME}", self.prefix);
        let options = PutOptions::for_key(&master_key)
            .with_cache_control(self.options.playlist_cache_control.clone());
        self.storage
            .put(&master_key, Bytes::from(master), &options)
            .await?;
        self.master_written = true;
        Ok(master_key)
    }

    /// Requires every rendition to have ended. Rewrites growing playlists as
    /// VOD, removes objects an earlier run left in the rendition directories,
    /// writes `{prefix}master.m3u8` last and returns the measured figures.
    pub async fn finish(mut self) -> Result<LadderSummary, PackagerError> {
        if self.renditions.is_empty() {
            return Err(PackagerError::NoRenditions);
        }
        for rendition in &self.renditions {
            if let Some(reason) = rendition.spec_problem {
                return Err(PackagerError::InvalidRenditionName {
                    rendition: rendition.spec.name.clone(),
                    reason,
                });
            }
            if !rendition.ended {
                return Err(PackagerError::RenditionNotEnded {
                    rendition: rendition.spec.name.clone(),
                });
            }
        }
        for index in 0..self.renditions.len() {
            if self.renditions[index].playlist_is_growing() {
                let playlist = self.renditions[index].final_playlist();
                self.store(index, playlist).await?;
            }
        }
        for rendition in &self.renditions {
            self.remove_stale_objects(&rendition.spec.name, &rendition.written)
                .await?;
        }

        let master_key = self.put_master(false).await?;
        tracing::info!(master = %master_key, renditions = self.renditions.len(), "VOD ladder written");
        Ok(LadderSummary {
            master_key,
            renditions: self
                .renditions
                .iter()
                .map(RenditionState::summary)
                .collect(),
        })
    }

    async fn store(&mut self, index: usize, object: PendingObject) -> Result<(), PackagerError> {
        let Some(rendition) = self.renditions.get_mut(index) else {
            return Err(PackagerError::UnknownRendition(index));
        };
        let key = format!("{}{}/{}", self.prefix, rendition.spec.name, object.name);
        let cache_control = match object.kind {
            ObjectKind::Media => self.options.media_cache_control.clone(),
            ObjectKind::Playlist => self.options.playlist_cache_control.clone(),
        };
        let options = PutOptions::for_key(&key).with_cache_control(cache_control);
        self.storage
            .put(&key, object.body.clone(), &options)
            .await?;
        rendition.stored(&object);
        Ok(())
    }

    async fn remove_stale_objects(
        &self,
        name: &str,
        written: &BTreeSet<String>,
    ) -> Result<(), PackagerError> {
        let directory = format!("{}{name}/", self.prefix);
        for object in self.storage.list(&directory).await? {
            let relative = &object.key[directory.len()..];
            if !written.contains(relative) {
                tracing::debug!(key = %object.key, "removing object left by an earlier run");
                self.storage.delete(&object.key).await?;
            }
        }
        Ok(())
    }

    /// The master playlist; `provisional` while the ladder grows: a
    /// declared bitrate stands in for the peak, the average is what has been
    /// measured so far (never above the peak).
    fn master_playlist(&self, provisional: bool) -> MasterPlaylistSpec {
        let mut spec = MasterPlaylistSpec {
            closed_captions: self.options.closed_captions.clone(),
            ..MasterPlaylistSpec::default()
        };
        for rendition in &self.renditions {
            let Some(config) = rendition.track_config() else {
                continue;
            };
            let playlist = rendition.playlist();
            let (peak_bitrate, average_bitrate) = match rendition.declared_bitrate {
                Some(declared) if provisional => {
                    (declared, playlist.average_bitrate().min(declared))
                }
                _ => (playlist.peak_bitrate(), playlist.average_bitrate()),
            };
            let uri = format!("{}/{PLAYLIST_NAME}", rendition.spec.name);
            match (&rendition.spec.kind, &config.kind) {
                (RenditionKind::Video { frame_rate }, TrackKind::Video { width, height, .. }) => {
                    spec.variants.push(VideoVariant {
                        uri,
                        codec: config.codec_string(),
                        width: *width,
                        height: *height,
                        frame_rate: *frame_rate,
                        peak_bitrate,
                        average_bitrate,
                    });
                }
                (RenditionKind::Audio { language, name }, TrackKind::Audio { channels, .. }) => {
                    spec.audio.push(AudioRendition {
                        uri,
                        name: name.clone(),
                        language: language.clone(),
                        channels: Some(*channels),
                        codec: config.codec_string(),
                        peak_bitrate,
                        average_bitrate,
                    });
                }
                // Rejected when the config arrived.
                _ => {}
            }
        }
        spec
    }
}

/// Why a rendition name cannot be used as a directory name, if it cannot.
fn rendition_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty (名称为空)");
    }
    if name.len() > 64 {
        return Some("longer than 64 characters (超过 64 个字符)");
    }
    if name.starts_with('.') {
        return Some("starts with '.' (不能以点开头)");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Some(
            "only ASCII letters, digits, '.', '_' and '-' are allowed (只能包含字母、数字、点、下划线和连字符)",
        );
    }
    None
}

#[cfg(test)]
mod tests;
