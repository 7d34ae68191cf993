//! The passthrough rendition: the source H.264 access units, repackaged
//! without re-encoding, on the repaired timeline. Owns the rule for a
//! publisher that comes back with other settings: the new configuration is
//! announced (a second `TrackInput::Config`) right before the first sample
//! that needs it, which is always a keyframe. And for a publisher that
//! sends no H.264 (VP8/VP9): the rendition pauses, and its next sample, at
//! a later H.264 publisher's first keyframe, follows a `Config` again.

use bytes::Bytes;
use yanxiu_packager::media::TrackConfig;

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

    /// The source is no longer H.264 (a VP8/VP9 publisher continues the
    /// session): sends the held-back sample with its last known duration
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
