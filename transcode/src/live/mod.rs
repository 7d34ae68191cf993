//! Live transcoding: repairs the timestamps of a live input (RTMP access
//! units) and encodes the live ladder from it.
//!
//! - [`timestamps`]: pure timestamp repair (wraps, jumps, duplicates,
//!   non-monotonic DTS) with typed repair events.
//! - [`plan_live_ladder`]: pure choice of the live rungs for a source.
//! - [`keyframes`]: pure choice of the rungs' keyframes: on the source's
//!   keyframes with passthrough (so every rendition cuts segments at the
//!   same instants), on the GOP grid without.
//! - [`LiveTranscoder`]: decodes the video (H.264 from RTMP or WebRTC, VP8
//!   or VP9 from WebRTC) and the audio (AAC from RTMP, Opus from WebRTC)
//!   once and encodes every rung (plus an optional passthrough of a source
//!   H.264, or HEVC where allowed) and the AAC rendition, each in its own thread, and hands
//!   `TrackInput`s per rendition to the live packager on bounded channels.
//!   One transcoder serves a channel session across publisher reconnects,
//!   whatever codecs each publisher sends; [`LiveStats`] gives its running
//!   figures without locks.
//! - [`AacToOpus`]: an AAC source's audio as Opus packets for WebRTC
//!   (WHEP) viewers.

mod decoders;
mod encode;
mod ffi;
pub mod keyframes;
mod opus_feed;
mod output;
mod passthrough;
mod stats;
pub mod timestamps;
mod transcoder;

use bytes::Bytes;
use yanxiu_packager::media::{TrackConfig, TrackInput, TrackKind, VideoCodecConfig};

use crate::ladder::{LadderConfig, LadderError, LadderPlan, plan_ladder};
use crate::source::{Rotation, SourceVideo};
pub use decoders::hevc_picture_size;
pub use keyframes::{KeyframeDecision, RungKeyframes};
pub use opus_feed::{AacToOpus, OpusPacket};
pub use stats::{LiveStats, LiveStatsHandle, RenditionStats};
pub use timestamps::{LiveTrack, RepairConfig, RepairEvent, RepairedTime, TimestampRepair};
pub use transcoder::LiveTranscoder;

/// A video codec that is decoded and laddered, never passed through (WebRTC sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpxCodec {
    /// VP8 (RFC 6386).
    Vp8,
    /// VP9.
    Vp9,
}

/// One typed input access unit, as an RTMP server receives it (FLV tags),
/// or as a WebRTC server reassembles it from RTP.
///
/// A configuration (`VideoConfig`/`VpxConfig`, `AudioConfig`/`OpusConfig`)
/// says how the following `Video`/`Audio` units are coded, until the next
/// configuration of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveInput {
    /// The H.264 sequence header: an avcC record.
    VideoConfig {
        /// AVCDecoderConfigurationRecord.
        avcc: Bytes,
    },
    /// The HEVC sequence header (Enhanced RTMP, SRT): an hvcC record. The ladder is
    /// H.264; HEVC is decoded, and passed through too with
    /// [`LiveConfig::hevc_passthrough`].
    HevcConfig {
        /// HEVCDecoderConfigurationRecord.
        hvcc: Bytes,
    },
    /// One video access unit: H.264 (or HEVC after a `HevcConfig`), length-prefixed
    /// NAL units, after a `VideoConfig`; one VP8/VP9
    /// frame after a `VpxConfig`.
    Video {
        /// Presentation time, RTMP milliseconds (32-bit, wrapping).
        pts: u32,
        /// Decode time, RTMP milliseconds (32-bit, wrapping).
        dts: u32,
        /// Whether the unit is a keyframe (IDR).
        keyframe: bool,
        /// H.264: 4-byte length-prefixed NAL units; VP8/VP9: the frame.
        data: Bytes,
    },
    /// The AAC sequence header: an AudioSpecificConfig.
    AudioConfig {
        /// AudioSpecificConfig bytes.
        asc: Bytes,
    },
    /// One audio unit: a raw AAC frame after an `AudioConfig`, an Opus
    /// packet after an `OpusConfig`.
    Audio {
        /// Time, RTMP milliseconds (32-bit, wrapping).
        pts: u32,
        /// The raw AAC frame or Opus packet.
        data: Bytes,
    },
    /// A VP8 or VP9 source of `width`x`height` (sent again whenever the size or codec
    /// changes, and by each new publisher). Each following `Video` unit carries one
    /// compressed frame, `pts == dts`, `keyframe` as the bitstream says.
    VpxConfig {
        /// VP8 or VP9.
        codec: VpxCodec,
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
    },
    /// Opus audio at 48 kHz with `channels` channels (sent by each new publisher).
    /// Each following `Audio` unit carries one Opus packet (10–60 ms).
    OpusConfig {
        /// Channels: 1 or 2 (mapping family 0).
        channels: u16,
    },
    /// The stream ended (unpublish after the reconnect window).
    End,
}

/// Settings of a live transcode.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// The ladder templates, GOP/segment timing and x264 preset; rungs are
    /// never above the source.
    pub ladder: LadderConfig,
    /// Also offer a source H.264 as a rendition (no re-encode); encoded
    /// rungs at or above the source size are then left out. Only when the
    /// session's first source is H.264: a VP8/VP9 source is never passed
    /// through.
    pub passthrough: bool,
    /// Also offer a source HEVC as a rendition (no re-encode), for players
    /// that take HEVC, when the session's first source is HEVC. The H.264
    /// ladder stays whole (up to the source size): it is what every other
    /// player gets.
    pub hevc_passthrough: bool,
    /// x264 `tune=zerolatency`: no B-frames and no lookahead (LL-HLS).
    pub zero_latency: bool,
    /// Frame rate assumed for encoder rate control and gap filling.
    pub frame_rate: f64,
    /// Timestamp repair settings.
    pub repair: RepairConfig,
    /// Samples buffered per rendition channel.
    pub channel_capacity: usize,
}

impl Default for LiveConfig {
    /// 720p/480p/360p below the source plus passthrough of H.264 (not of
    /// HEVC), `veryfast`,
    /// 2 s GOPs and segments, zerolatency, 30 fps nominal.
    fn default() -> Self {
        let vod = LadderConfig::default();
        Self {
            ladder: LadderConfig {
                gop_seconds: 2.0,
                segment_seconds: 2.0,
                rungs: vod.rungs.into_iter().filter(|r| r.height <= 720).collect(),
                source_rung_threshold: 0.5,
                ..vod
            },
            passthrough: true,
            hevc_passthrough: false,
            zero_latency: true,
            frame_rate: 30.0,
            repair: RepairConfig::default(),
            channel_capacity: 256,
        }
    }
}

impl LiveConfig {
    /// Whether a source of `track` is passed through: H.264 with
    /// [`Self::passthrough`], HEVC with [`Self::hevc_passthrough`].
    pub fn passes_through(&self, track: &TrackConfig) -> bool {
        match &track.kind {
            TrackKind::Video {
                codec: VideoCodecConfig::H264(_),
                ..
            } => self.passthrough,
            TrackKind::Video {
                codec: VideoCodecConfig::Hevc(_),
                ..
            } => self.hevc_passthrough,
            TrackKind::Audio { .. } => false,
        }
    }
}

/// Plans the live rungs for a `width`x`height` source (and its audio
/// channels and rate): the ladder's templates at or below the source; when
/// the passed-through source is the ladder's top (`source_on_top`: an H.264
/// passthrough, which every player takes), only those strictly below it.
pub fn plan_live_ladder(
    config: &LiveConfig,
    width: u32,
    height: u32,
    audio: Option<(u16, u32)>,
    source_on_top: bool,
) -> Result<LadderPlan, LadderError> {
    let source = SourceVideo {
        width,
        height,
        sample_aspect_ratio: (1, 1),
        rotation: Rotation::None,
        frame_rate: config.frame_rate,
        hdr: crate::picture::HdrKind::None,
        full_range: false,
        scan: crate::picture::Scan::Progressive,
        matrix: crate::picture::Matrix::Bt709,
    };
    let mut plan = plan_ladder(&config.ladder, &source, audio)?;
    if source_on_top {
        let short = width.min(height);
        plan.rungs.retain(|r| r.width.min(r.height) < short);
    }
    Ok(plan)
}

/// What a rendition is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveRenditionKind {
    /// The source H.264 or HEVC, repackaged without re-encoding.
    Passthrough {
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
    },
    /// An encoded rung.
    Video {
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
    },
    /// The AAC rendition.
    Audio,
}

/// One output rendition: its name, kind, declared peak bitrate and the
/// channel its `TrackInput`s arrive on.
///
/// What arrives: one `Config`, samples, and one `End` when the transcode
/// succeeds (after a failure the channel closes without `End`). When a
/// publisher comes back with another video configuration (a reconnect
/// with other settings: another codec or picture size), every *video*
/// rendition receives a second `Config` right before its first sample of
/// the new configuration, at the same presentation time in all of them,
/// and that sample is a keyframe: the passthrough's carries the new
/// SPS/PPS and picture size, the encoded rungs repeat their unchanged
/// configuration (their output size stays the planned one). A consumer
/// treats a `Config` after samples as a discontinuity:
/// `LiveTrackPackager::reconnect(config, anchor)`, which writes a new init
/// section only when the configuration differs. The timeline itself stays
/// continuous and monotonic. The audio rendition gets no second `Config`
/// (it is AAC whatever the publisher sends).
///
/// A VP8/VP9 publisher that continues a session started with an H.264
/// passthrough: the passthrough gets no samples while it publishes (the
/// rungs do), its last sample keeps its own duration, and when an H.264
/// publisher comes back the passthrough gets a `Config` (even an unchanged
/// one) before its first keyframe, so its timeline has a gap there at a
/// discontinuity.
#[derive(Debug)]
pub struct LiveRendition {
    /// Name, e.g. `source`, `480p`, `audio`.
    pub name: String,
    /// What it is (for the passthrough: the size of the first publisher;
    /// a later `Config` may carry another).
    pub kind: LiveRenditionKind,
    /// Declared peak bitrate in bit/s (0 when unknown: passthrough).
    pub bitrate: u64,
    /// Its track inputs.
    pub samples: tokio::sync::mpsc::Receiver<TrackInput>,
}

/// Figures of a finished live transcode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveReport {
    /// Pictures decoded.
    pub video_frames: u64,
    /// Access units the decoders refused (damage skipped over).
    pub corrupt_units: u64,
    /// Units dropped by the repair (before the start of the timeline) or
    /// because they came before their configuration.
    pub dropped_units: u64,
    /// Timestamp repairs made.
    pub repairs: u64,
}

/// Live transcode failures.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A codec (decoder, encoder, scaler, resampler) failed.
    #[error("{stage}: {source}")]
    Codec {
        /// Which stage.
        stage: String,
        /// The libav error.
        source: ffmpeg_next::Error,
    },
    /// A codec this build needs is missing.
    #[error("codec {0} is not available in this FFmpeg build")]
    MissingCodec(&'static str),
    /// The input's codec headers are not usable.
    #[error("input headers not usable: {0}")]
    Bitstream(String),
    /// An Opus configuration with other than one or two channels.
    #[error("Opus with {0} channels is not supported (1 or 2)")]
    OpusChannels(u16),
    /// No ladder fits the source.
    #[error(transparent)]
    Ladder(#[from] LadderError),
    /// The ladder's audio encoder could not start.
    #[error(transparent)]
    Transcode(#[from] crate::TranscodeError),
    /// The input ended before any picture could be decoded.
    #[error("the stream ended before any picture was decoded")]
    NoFrames,
    /// A rendition's consumer went away (dropped its receiver). This ends
    /// the whole transcode: a channel does not silently lose a rendition its
    /// master playlist advertises.
    #[error("a rendition consumer stopped")]
    ConsumerGone,
    /// A thread could not start.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// A stage panicked.
    #[error("a live transcode stage panicked")]
    Panicked,
    /// A broken invariant.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl LiveError {
    fn codec(stage: &str, source: ffmpeg_next::Error) -> Self {
        Self::Codec {
            stage: stage.to_owned(),
            source,
        }
    }
}
