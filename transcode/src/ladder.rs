//! Ladder configuration (TOML) and planning: which renditions to encode for
//! a given source, at which sizes and rates. Pure: no IO, no clock.
//!
//! Rules: rung heights name the picture's *short* edge (a portrait phone clip
//! gets a 1080x1920 "1080p" rung); a rung is never larger than the source;
//! the display aspect ratio (after pixel aspect and rotation) is kept; every
//! dimension is even. When the source sits between two template heights, and
//! well above the highest one it reaches, a top rung at the source's own size
//! is added so no resolution is thrown away; a source smaller than every
//! template still gets one rung at its own size.

use serde::{Deserialize, Serialize};
use yanxiu_packager::hls::ClosedCaptions;

use crate::loudness::LoudnessTarget;
use crate::picture::{PicturePlan, plan_picture};
use crate::source::{DisplaySize, SourceVideo};

/// Errors in a ladder configuration or plan.
#[derive(Debug, thiserror::Error)]
pub enum LadderError {
    /// The TOML could not be parsed or has unknown keys.
    #[error("ladder file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// The file could not be read.
    #[error("cannot read ladder file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A value is out of its allowed range.
    #[error("ladder setting {field} is invalid: {reason}")]
    Invalid {
        /// Which setting.
        field: String,
        /// Why.
        reason: String,
    },
    /// The source has no usable picture size or frame rate.
    #[error("source picture is not usable: {0}")]
    BadSource(String),
}

/// A ladder: GOP and segment timing, encoder preset, rung templates, audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LadderConfig {
    /// Closed-GOP length in seconds; keyframes are forced on this grid in
    /// every rung so rungs switch cleanly.
    pub gop_seconds: f64,
    /// Target segment length in seconds; a whole multiple of `gop_seconds`.
    pub segment_seconds: f64,
    /// x264 preset for every rung (`ultrafast` … `veryslow`).
    pub preset: String,
    /// Rung templates, any order.
    pub rungs: Vec<RungTemplate>,
    /// Add a top rung at the source's own size when the highest template the
    /// source reaches is below this fraction of its short edge.
    pub source_rung_threshold: f64,
    /// Audio rendition settings.
    pub audio: AudioConfig,
    /// Parallel encoding of long sources: a source longer than this many
    /// seconds is cut into chunks encoded by several workers at once
    /// (see [`crate::chunk`]); 0 turns chunking off.
    pub chunk_threshold_seconds: f64,
    /// Target chunk length in seconds (rounded to whole segments).
    pub chunk_seconds: f64,
    /// Highest output frame rate: an interlaced source is deinterlaced to
    /// one picture per field (50i → 50p) only when its field rate fits.
    pub max_frame_rate: f64,
}

/// One rung of the ladder before it meets a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungTemplate {
    /// Short-edge size in pixels (720 for "720p").
    pub height: u32,
    /// x264 constant rate factor; the cap below bounds it.
    pub crf: u8,
    /// VBV maximum rate in kbit/s (the CRF cap).
    pub max_bitrate_kbps: u32,
    /// VBV buffer in kbit.
    pub buffer_kbits: u32,
    /// H.264 profile: `baseline`, `main` or `high`.
    #[serde(default = "default_profile")]
    pub profile: String,
}

fn default_profile() -> String {
    "high".to_owned()
}

/// The audio rendition's encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// AAC bit rate per channel in kbit/s.
    pub bitrate_per_channel_kbps: u32,
    /// Downmix to at most this many channels (lecture audio: stereo).
    pub max_channels: u16,
    /// Output sample rate; 44100 and 48000 sources keep their own rate.
    pub sample_rate: u32,
    /// Integrated loudness (LUFS, EBU R128) the rendition is normalised to
    /// by one static gain; absent: the sound is left as it is (the default).
    pub loudness_target_lufs: Option<f64>,
    /// With a loudness target: the true peak after the gain stays at or
    /// below this (dBTP).
    pub true_peak_ceiling_dbtp: f64,
    /// With a loudness target: the most the sound is made louder (dB).
    pub loudness_max_gain_db: f64,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            bitrate_per_channel_kbps: 64,
            max_channels: 2,
            sample_rate: 48_000,
            loudness_target_lufs: None,
            true_peak_ceiling_dbtp: -1.0,
            loudness_max_gain_db: 20.0,
        }
    }
}

impl AudioConfig {
    /// The loudness target, when one is set.
    pub fn loudness(&self) -> Option<LoudnessTarget> {
        self.loudness_target_lufs.map(|target_lufs| LoudnessTarget {
            target_lufs,
            true_peak_ceiling_dbtp: self.true_peak_ceiling_dbtp,
            max_gain_db: self.loudness_max_gain_db,
        })
    }
}

impl Default for LadderConfig {
    /// The default lecture ladder: 1080p/720p/480p/360p, x264 `veryfast`,
    /// CRF capped by VBV, 2 s closed GOPs, 4 s segments, 64 kbit/s per
    /// channel AAC. Lectures are mostly still slides and a speaker, so the
    /// caps sit below typical sports/film ladders.
    fn default() -> Self {
        let rung = |height, crf, max_bitrate_kbps: u32| RungTemplate {
            height,
            crf,
            max_bitrate_kbps,
            buffer_kbits: max_bitrate_kbps * 2,
            profile: default_profile(),
        };
        Self {
            gop_seconds: 2.0,
            segment_seconds: 4.0,
            preset: "veryfast".to_owned(),
            rungs: vec![
                rung(1080, 23, 5000),
                rung(720, 23, 2800),
                rung(480, 24, 1400),
                rung(360, 25, 800),
            ],
            source_rung_threshold: 0.9,
            audio: AudioConfig::default(),
            chunk_threshold_seconds: 600.0,
            chunk_seconds: 60.0,
            max_frame_rate: 60.0,
        }
    }
}

const PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

impl LadderConfig {
    /// Parses and checks a ladder from TOML; missing keys take defaults.
    pub fn from_toml_str(text: &str) -> Result<Self, LadderError> {
        let config: Self = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    /// Reads, parses and checks a ladder file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, LadderError> {
        let text = std::fs::read_to_string(path).map_err(|source| LadderError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Checks every value; the planner relies on these.
    pub fn check(&self) -> Result<(), LadderError> {
        let invalid = |field: &str, reason: String| LadderError::Invalid {
            field: field.to_owned(),
            reason,
        };
        if !(0.5..=10.0).contains(&self.gop_seconds) {
            return Err(invalid("gop_seconds", "must be 0.5 to 10".into()));
        }
        let ratio = self.segment_seconds / self.gop_seconds;
        if ratio < 1.0 || (ratio - ratio.round()).abs() > 1e-6 || self.segment_seconds > 12.0 {
            return Err(invalid(
                "segment_seconds",
                "must be a whole multiple of gop_seconds and at most 12".into(),
            ));
        }
        if !PRESETS.contains(&self.preset.as_str()) {
            return Err(invalid(
                "preset",
                format!("unknown x264 preset {:?}", self.preset),
            ));
        }
        if self.rungs.is_empty() || self.rungs.len() > 8 {
            return Err(invalid("rungs", "need 1 to 8 rungs".into()));
        }
        for (i, r) in self.rungs.iter().enumerate() {
            let field = format!("rungs[{i}]");
            if !(64..=4320).contains(&r.height) {
                return Err(invalid(&field, "height must be 64 to 4320".into()));
            }
            if r.crf > 51 {
                return Err(invalid(&field, "crf must be 0 to 51".into()));
            }
            if !(50..=100_000).contains(&r.max_bitrate_kbps) || r.buffer_kbits == 0 {
                return Err(invalid(
                    &field,
                    "max_bitrate_kbps must be 50 to 100000 and buffer_kbits positive".into(),
                ));
            }
            if !["baseline", "main", "high"].contains(&r.profile.as_str()) {
                return Err(invalid(&field, format!("unknown profile {:?}", r.profile)));
            }
        }
        let mut heights: Vec<u32> = self.rungs.iter().map(|r| r.height).collect();
        heights.sort_unstable();
        if heights.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("rungs", "two rungs have the same height".into()));
        }
        if self.chunk_threshold_seconds < 0.0 || !self.chunk_threshold_seconds.is_finite() {
            return Err(invalid(
                "chunk_threshold_seconds",
                "must be 0 (off) or more".into(),
            ));
        }
        if !(self.segment_seconds..=3600.0).contains(&self.chunk_seconds) {
            return Err(invalid(
                "chunk_seconds",
                "must be at least one segment and at most 3600".into(),
            ));
        }
        if !(10.0..=240.0).contains(&self.max_frame_rate) {
            return Err(invalid("max_frame_rate", "must be 10 to 240".into()));
        }
        if !(0.5..=1.0).contains(&self.source_rung_threshold) {
            return Err(invalid("source_rung_threshold", "must be 0.5 to 1".into()));
        }
        let a = &self.audio;
        if !(16..=256).contains(&a.bitrate_per_channel_kbps) || !(1..=8).contains(&a.max_channels) {
            return Err(invalid(
                "audio",
                "bitrate_per_channel_kbps 16-256, max_channels 1-8".into(),
            ));
        }
        if ![32_000, 44_100, 48_000].contains(&a.sample_rate) {
            return Err(invalid(
                "audio.sample_rate",
                "must be 32000, 44100 or 48000".into(),
            ));
        }
        if let Some(target) = a.loudness() {
            target
                .check()
                .map_err(|e| invalid("audio", e.to_string()))?;
        }
        Ok(())
    }
}

/// A rung fitted to a source: the exact encode settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRung {
    /// Rendition name and directory, e.g. `720p`.
    pub name: String,
    /// Output width, even.
    pub width: u32,
    /// Output height, even.
    pub height: u32,
    /// x264 CRF.
    pub crf: u8,
    /// VBV maximum rate in kbit/s.
    pub max_bitrate_kbps: u32,
    /// VBV buffer in kbit.
    pub buffer_kbits: u32,
    /// H.264 profile.
    pub profile: String,
}

/// The audio rendition fitted to a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAudio {
    /// Output channels.
    pub channels: u16,
    /// Output sample rate.
    pub sample_rate: u32,
    /// AAC bit rate in bit/s.
    pub bitrate: u32,
    /// Loudness normalisation (VOD only), when the ladder asks for it.
    pub loudness: Option<LoudnessTarget>,
}

/// Everything the encoder needs: rungs largest first, timing, audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderPlan {
    /// Video rungs, largest first.
    pub rungs: Vec<PlannedRung>,
    /// Output frame rate: the source's, or its field rate when every
    /// field of an interlaced source becomes a picture; 0 for an
    /// audio-only plan (no rung).
    pub frame_rate: f64,
    /// Deinterlacing and tone mapping before the rungs scale.
    #[serde(default)]
    pub picture: PicturePlan,
    /// GOP length in seconds.
    pub gop_seconds: f64,
    /// Target segment length in seconds.
    pub segment_seconds: f64,
    /// x264 preset.
    pub preset: String,
    /// The audio rendition, when the source has audio.
    pub audio: Option<PlannedAudio>,
    /// The source's pictures carry CEA-608 captions (ATSC A/53 user data,
    /// as the probe found): every rung carries them on (libx264 writes each
    /// picture's caption bytes as SEI) and the master playlist announces
    /// them as a `CLOSED-CAPTIONS` group. Set by
    /// [`LadderPlan::with_closed_captions`].
    #[serde(default)]
    pub closed_captions: bool,
}

impl LadderPlan {
    /// The plan, carrying the source's CEA-608 captions or not.
    pub fn with_closed_captions(mut self, carried: bool) -> Self {
        self.closed_captions = carried;
        self
    }

    /// The master playlist's closed-captions group (channel CC1) when the
    /// rungs carry captions.
    pub fn master_closed_captions(&self) -> Option<ClosedCaptions> {
        self.closed_captions.then(ClosedCaptions::cc1)
    }

    /// Frames per GOP at the output frame rate (at least 1).
    pub fn gop_frames(&self) -> u32 {
        ((self.gop_seconds * self.frame_rate).round() as u32).max(1)
    }
}

/// Rounds to the nearest even number, at least 2.
fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// The even output size for a rung whose short edge is `short` (even),
/// keeping the display aspect ratio of `display` and never exceeding it.
fn fit(display: DisplaySize, short: u32) -> (u32, u32) {
    let aspect = display.aspect();
    let (max_w, max_h) = ((display.width & !1).max(2), (display.height & !1).max(2));
    let (w, h) = if display.is_portrait() {
        (short, even(f64::from(short) / aspect))
    } else {
        (even(f64::from(short) * aspect), short)
    };
    (w.min(max_w), h.min(max_h))
}

/// The audio rendition for a source with `channels` channels at `rate` Hz.
fn plan_audio(config: &LadderConfig, channels: u16, rate: u32) -> PlannedAudio {
    let channels = channels.clamp(1, config.audio.max_channels);
    let sample_rate = if rate == 44_100 || rate == 48_000 {
        rate
    } else {
        config.audio.sample_rate
    };
    PlannedAudio {
        channels,
        sample_rate,
        bitrate: u32::from(channels) * config.audio.bitrate_per_channel_kbps * 1000,
        loudness: config.audio.loudness(),
    }
}

/// Plans the ladder of an audio-only source (a lecture without picture)
/// with `channels` channels at `rate` Hz: no video rung, the audio
/// rendition alone, segmented like every ladder.
pub fn plan_audio_only(
    config: &LadderConfig,
    channels: u16,
    rate: u32,
) -> Result<LadderPlan, LadderError> {
    config.check()?;
    if channels == 0 {
        return Err(LadderError::BadSource("the sound has no channels".into()));
    }
    Ok(LadderPlan {
        rungs: Vec::new(),
        frame_rate: 0.0,
        picture: PicturePlan::default(),
        gop_seconds: config.gop_seconds,
        segment_seconds: config.segment_seconds,
        preset: config.preset.clone(),
        audio: Some(plan_audio(config, channels, rate)),
        closed_captions: false,
    })
}

/// Plans the ladder for a source picture (and whether it has audio, and its
/// channel count and sample rate).
pub fn plan_ladder(
    config: &LadderConfig,
    video: &SourceVideo,
    audio: Option<(u16, u32)>,
) -> Result<LadderPlan, LadderError> {
    config.check()?;
    if video.width < 2 || video.height < 2 {
        return Err(LadderError::BadSource(format!(
            "picture {}x{} is too small",
            video.width, video.height
        )));
    }
    if !(video.frame_rate.is_finite() && video.frame_rate > 0.0 && video.frame_rate <= 240.0) {
        return Err(LadderError::BadSource(format!(
            "frame rate {} is not usable",
            video.frame_rate
        )));
    }
    let picture = plan_picture(video, config.max_frame_rate);
    let display = video.display_size();
    let source_short = display.short_edge();

    let mut templates = config.rungs.clone();
    templates.sort_by_key(|t| std::cmp::Reverse(t.height));
    let fitting: Vec<&RungTemplate> = templates
        .iter()
        .filter(|t| t.height <= source_short)
        .collect();

    let mut rungs = Vec::new();
    let highest_fitting = fitting.first().map(|t| t.height);
    let wants_source_rung = match highest_fitting {
        None => true,
        Some(h) => {
            f64::from(h) < config.source_rung_threshold * f64::from(source_short)
                && templates.iter().any(|t| t.height > source_short)
        }
    };
    if wants_source_rung {
        // Settings of the smallest template at or above the source, scaled
        // by area; a tiny source uses the smallest template's settings.
        let base = templates
            .iter()
            .rev()
            .find(|t| t.height >= source_short)
            .or(templates.last())
            .ok_or_else(|| LadderError::BadSource("no rung templates".into()))?;
        let (width, height) = fit(display, (source_short & !1).max(2));
        let scale = (f64::from(source_short) / f64::from(base.height))
            .powi(2)
            .min(1.0);
        let max_bitrate_kbps = ((f64::from(base.max_bitrate_kbps) * scale).round() as u32).max(100);
        rungs.push(PlannedRung {
            name: format!("{}p", width.min(height)),
            width,
            height,
            crf: base.crf,
            max_bitrate_kbps,
            buffer_kbits: ((f64::from(base.buffer_kbits) * scale).round() as u32).max(200),
            profile: base.profile.clone(),
        });
    }
    for t in fitting {
        let (width, height) = fit(display, t.height);
        rungs.push(PlannedRung {
            name: format!("{}p", t.height),
            width,
            height,
            crf: t.crf,
            max_bitrate_kbps: t.max_bitrate_kbps,
            buffer_kbits: t.buffer_kbits,
            profile: t.profile.clone(),
        });
    }

    let audio = audio.map(|(channels, rate)| plan_audio(config, channels, rate));

    Ok(LadderPlan {
        rungs,
        frame_rate: picture.output_frame_rate(video.frame_rate),
        picture,
        gop_seconds: config.gop_seconds,
        segment_seconds: config.segment_seconds,
        preset: config.preset.clone(),
        audio,
        closed_captions: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Rotation;

    fn source(width: u32, height: u32) -> SourceVideo {
        SourceVideo {
            width,
            height,
            sample_aspect_ratio: (1, 1),
            rotation: Rotation::None,
            frame_rate: 30.0,
            hdr: crate::picture::HdrKind::None,
            full_range: false,
            scan: crate::picture::Scan::Progressive,
            matrix: crate::picture::Matrix::Unstated,
        }
    }

    fn sizes(plan: &LadderPlan) -> Vec<(String, u32, u32)> {
        plan.rungs
            .iter()
            .map(|r| (r.name.clone(), r.width, r.height))
            .collect()
    }

    fn plan(video: SourceVideo) -> LadderPlan {
        plan_ladder(&LadderConfig::default(), &video, Some((2, 48_000))).unwrap()
    }

    #[test]
    fn a_1080p_source_gets_the_full_default_ladder() {
        let p = plan(source(1920, 1080));
        assert_eq!(
            sizes(&p),
            vec![
                ("1080p".into(), 1920, 1080),
                ("720p".into(), 1280, 720),
                ("480p".into(), 854, 480),
                ("360p".into(), 640, 360),
            ]
        );
        assert_eq!(p.gop_frames(), 60);
    }

    #[test]
    fn a_720p_source_is_never_upscaled() {
        let p = plan(source(1280, 720));
        assert_eq!(p.rungs[0].name, "720p");
        assert!(p.rungs.iter().all(|r| r.height <= 720));
        assert_eq!(p.rungs.len(), 3);
    }

    #[test]
    fn a_4k_source_is_capped_at_the_highest_template() {
        let p = plan(source(3840, 2160));
        assert_eq!(p.rungs[0].name, "1080p");
        assert_eq!(p.rungs.len(), 4);
    }

    #[test]
    fn a_4x3_source_keeps_its_aspect_ratio() {
        let p = plan(source(640, 480));
        assert_eq!(
            sizes(&p),
            vec![("480p".into(), 640, 480), ("360p".into(), 480, 360)]
        );
    }

    #[test]
    fn a_rotated_phone_clip_gets_portrait_rungs_named_by_short_edge() {
        let mut v = source(1920, 1080);
        v.rotation = Rotation::Clockwise90;
        let p = plan(v);
        assert_eq!(p.rungs[0].name, "1080p");
        assert_eq!((p.rungs[0].width, p.rungs[0].height), (1080, 1920));
        assert_eq!((p.rungs[1].width, p.rungs[1].height), (720, 1280));
        assert_eq!((p.rungs[3].width, p.rungs[3].height), (360, 640));
    }

    #[test]
    fn anamorphic_pixels_give_square_pixel_rungs_at_the_display_aspect() {
        let mut v = source(720, 576);
        v.sample_aspect_ratio = (64, 45);
        let p = plan(v);
        // 576 is well above 480, so a 576p top rung keeps the resolution.
        assert_eq!(
            sizes(&p),
            vec![
                ("576p".into(), 1024, 576),
                ("480p".into(), 854, 480),
                ("360p".into(), 640, 360),
            ]
        );
    }

    #[test]
    fn odd_source_dimensions_give_even_rungs() {
        let p = plan(source(853, 479));
        for r in &p.rungs {
            assert_eq!(r.width % 2, 0, "{r:?}");
            assert_eq!(r.height % 2, 0, "{r:?}");
        }
        assert_eq!(
            sizes(&p),
            vec![("478p".into(), 852, 478), ("360p".into(), 642, 360)]
        );
    }

    #[test]
    fn a_source_just_above_a_template_gets_no_near_duplicate_rung() {
        let p = plan(source(1298, 730));
        assert_eq!(p.rungs[0].name, "720p");
    }

    #[test]
    fn a_source_smaller_than_every_template_gets_one_rung_at_its_size() {
        let p = plan(source(320, 240));
        assert_eq!(sizes(&p), vec![("240p".into(), 320, 240)]);
        assert!(p.rungs[0].max_bitrate_kbps <= 800);
    }

    #[test]
    fn a_source_rung_takes_the_next_template_up_scaled_by_area() {
        let p = plan(source(1776, 1000));
        assert_eq!(p.rungs[0].name, "1000p");
        let expected = (5000.0 * (1000.0f64 / 1080.0).powi(2)).round() as u32;
        assert_eq!(p.rungs[0].max_bitrate_kbps, expected);
        assert_eq!(p.rungs.len(), 4 + 1 - 1); // 1000p, 720p, 480p, 360p
    }

    #[test]
    fn audio_is_downmixed_to_stereo_and_odd_rates_resampled() {
        let p = plan_ladder(
            &LadderConfig::default(),
            &source(1280, 720),
            Some((6, 22_050)),
        )
        .unwrap();
        let a = p.audio.unwrap();
        assert_eq!((a.channels, a.sample_rate, a.bitrate), (2, 48_000, 128_000));
        let p = plan_ladder(
            &LadderConfig::default(),
            &source(1280, 720),
            Some((1, 44_100)),
        )
        .unwrap();
        let a = p.audio.unwrap();
        assert_eq!((a.channels, a.sample_rate, a.bitrate), (1, 44_100, 64_000));
        let p = plan_ladder(&LadderConfig::default(), &source(1280, 720), None).unwrap();
        assert!(p.audio.is_none());
    }

    #[test]
    fn an_audio_only_source_gets_the_audio_rendition_alone() {
        let p = plan_audio_only(&LadderConfig::default(), 1, 44_100).unwrap();
        assert!(p.rungs.is_empty());
        let a = p.audio.unwrap();
        assert_eq!((a.channels, a.sample_rate, a.bitrate), (1, 44_100, 64_000));
        assert_eq!(p.segment_seconds, LadderConfig::default().segment_seconds);
        let p = plan_audio_only(&LadderConfig::default(), 6, 96_000).unwrap();
        let a = p.audio.unwrap();
        assert_eq!((a.channels, a.sample_rate), (2, 48_000));
        assert!(plan_audio_only(&LadderConfig::default(), 0, 48_000).is_err());
    }

    #[test]
    fn the_gop_follows_the_frame_rate() {
        let mut v = source(1280, 720);
        v.frame_rate = 30000.0 / 1001.0;
        assert_eq!(plan(v).gop_frames(), 60);
        v.frame_rate = 25.0;
        assert_eq!(plan(v).gop_frames(), 50);
    }

    #[test]
    fn a_ladder_file_overrides_only_what_it_names() {
        let c = LadderConfig::from_toml_str(
            "preset = \"ultrafast\"\n[[rungs]]\nheight = 360\ncrf = 28\nmax_bitrate_kbps = 600\nbuffer_kbits = 1200\n",
        )
        .unwrap();
        assert_eq!(c.preset, "ultrafast");
        assert_eq!(c.rungs.len(), 1);
        assert_eq!(c.gop_seconds, 2.0);
        assert_eq!(c.rungs[0].profile, "high");
    }

    #[test]
    fn bad_ladder_files_are_refused_with_the_setting_named() {
        let cases = [
            ("segment_seconds = 5.0", "segment_seconds"),
            ("gop_seconds = 0.1", "gop_seconds"),
            ("preset = \"quick\"", "preset"),
            ("rungs = []", "rungs"),
            ("bogus = 1", "unknown field"),
            (
                "[[rungs]]\nheight = 720\ncrf = 60\nmax_bitrate_kbps = 600\nbuffer_kbits = 1200",
                "rungs[0]",
            ),
        ];
        for (text, needle) in cases {
            let err = LadderConfig::from_toml_str(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?} gave {err}");
        }
    }

    #[test]
    fn loudness_normalisation_is_off_unless_a_target_is_set() {
        let v = source(1920, 1080);
        let off = plan_ladder(&LadderConfig::default(), &v, Some((2, 48_000))).unwrap();
        assert_eq!(off.audio.unwrap().loudness, None);
        let c = LadderConfig::from_toml_str("[audio]\nloudness_target_lufs = -16\n").unwrap();
        let on = plan_ladder(&c, &v, Some((2, 48_000))).unwrap();
        assert_eq!(
            on.audio.unwrap().loudness,
            Some(LoudnessTarget {
                target_lufs: -16.0,
                true_peak_ceiling_dbtp: -1.0,
                max_gain_db: 20.0,
            })
        );
        let err = LadderConfig::from_toml_str("[audio]\nloudness_target_lufs = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("loudness_target_lufs"), "{err}");
    }

    #[test]
    fn the_default_ladder_file_matches_the_built_in_default() {
        let text = include_str!("../ladders/lecture-default.toml");
        assert_eq!(
            LadderConfig::from_toml_str(text).unwrap(),
            LadderConfig::default()
        );
    }

    #[test]
    fn an_interlaced_25_fps_source_is_planned_at_its_50_fps_field_rate() {
        let mut v = source(1920, 1080);
        v.frame_rate = 25.0;
        v.scan = crate::picture::Scan::TopFieldFirst;
        let p = plan(v);
        assert_eq!(p.frame_rate, 50.0);
        assert_eq!(p.gop_frames(), 100);
        assert!(p.picture.deinterlace.is_some());
        let capped = LadderConfig {
            max_frame_rate: 30.0,
            ..LadderConfig::default()
        };
        let p = plan_ladder(&capped, &v, None).unwrap();
        assert_eq!(p.frame_rate, 25.0);
    }

    #[test]
    fn an_hdr_source_is_planned_with_tone_mapping() {
        let mut v = source(1280, 720);
        v.hdr = crate::picture::HdrKind::Hlg;
        assert!(plan(v).picture.tone_map.is_some());
        assert_eq!(plan(source(1280, 720)).picture, PicturePlan::default());
    }

    #[test]
    fn unusable_sources_are_refused() {
        let mut v = source(1280, 720);
        v.frame_rate = 0.0;
        assert!(plan_ladder(&LadderConfig::default(), &v, None).is_err());
        assert!(plan_ladder(&LadderConfig::default(), &source(1, 1), None).is_err());
    }
}
