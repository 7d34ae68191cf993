//! The passthrough rendition: the source's access units (H.264, or HEVC
//! where the channel allows it), repackaged without re-encoding, on the
//! repaired timeline. Its codec is the one the session started with: the
//! master playlist announces it, so it never changes. Owns the rule for a
//! publisher that comes back with other settings: the new configuration is
//! announced (a second `TrackInput::Config`) right before the first sample
//! that needs it, which is always a keyframe. And for a publisher that
//! sends another codec (VP8/VP9, or HEVC in an H.264 passthrough and the
//! other way round): the rendition pauses, and its next sample, at a later
//! publisher's first keyframe in its codec, follows a `Config` again.

use bytes::Bytes;
use yanxiu_packager::media::{TrackConfig, TrackKind, VideoCodecConfig};

use super::LiveError;
use super::output::RenditionOut;
use crate::timing::SampleShaper;

/// The running passthrough rendition.
#[derive(Debug)]
pub struct Passthrough {
    out: RenditionOut,
    shaper: SampleShaper,
    /// The configuration the consumer has.
    config: TrackConfig,
    /// A configuration to announce before the next keyframe.
    pending: Option<TrackConfig>,
    /// Paused ([`Self::pause`]): the next configuration is announced even
    /// when it is unchanged.
    paused: bool,
}

impl Passthrough {
    /// Starts the rendition: sends `config` first.
    pub fn start(
        out: RenditionOut,
        config: TrackConfig,
        nominal_duration: u32,
        shift: i64,
    ) -> Result<Self, LiveError> {
        out.config(config.clone())?;
        Ok(Self {
            out,
            shaper: SampleShaper::new(nominal_duration, shift),
            config,
            pending: None,
            paused: false,
        })
    }

    /// Whether a source of `track` can continue this rendition: the same
    /// codec (another size or other parameter sets are fine).
    pub fn accepts(&self, track: &TrackConfig) -> bool {
        video_codec(track).is_some() && video_codec(track) == video_codec(&self.config)
    }

    /// The source's configuration changed (a new sequence header); samples
    /// from the next keyframe on use it. An unchanged configuration (the
    /// same publisher again) changes nothing. Returns whether it changed.
    /// After a pause the configuration is always announced again (a
    /// discontinuity), and this returns true.
    pub fn reconfigure(&mut self, config: TrackConfig) -> bool {
        if config == self.config && !self.paused {
            self.pending = None;
            return false;
        }
        self.pending = Some(config);
        true
    }

    /// Adds one access unit (times in 90 kHz ticks, repaired). A pending
    /// configuration is announced before the first keyframe; the sample
    /// held back for its duration is sent before the announcement, with the
    /// last known duration.
    pub fn push(
        &mut self,
        dts: i64,
        pts: i64,
        keyframe: bool,
        data: Bytes,
    ) -> Result<(), LiveError> {
        if keyframe && let Some(config) = self.pending.take() {
            if let Some(last) = self.shaper.finish() {
                self.out.sample(last)?;
            }
            self.out.config(config.clone())?;
            self.config = config;
            self.paused = false;
        }
        if let Some(sample) = self.shaper.push(dts, pts, keyframe, data) {
            self.out.sample(sample)?;
        }
        Ok(())
    }

    /// The source is in another codec (a VP8/VP9 publisher continues the
    /// session, or HEVC continues an H.264 passthrough): sends the held-back sample with its last known duration
    /// (the rendition gets nothing until an H.264 publisher comes back,
    /// and must not stretch its last sample over that time) and drops any
    /// pending configuration.
    pub fn pause(&mut self) -> Result<(), LiveError> {
        self.pending = None;
        self.paused = true;
        if let Some(last) = self.shaper.finish() {
            self.out.sample(last)?;
        }
        Ok(())
    }

    /// Sends the held-back sample and ends the rendition.
    pub fn finish(mut self) -> Result<(), LiveError> {
        if let Some(last) = self.shaper.finish() {
            self.out.sample(last)?;
        }
        self.out.end()
    }
}

/// Which video codec a track is in (`None` for audio).
fn video_codec(track: &TrackConfig) -> Option<std::mem::Discriminant<VideoCodecConfig>> {
    match &track.kind {
        TrackKind::Video { codec, .. } => Some(std::mem::discriminant(codec)),
        TrackKind::Audio { .. } => None,
    }
}
