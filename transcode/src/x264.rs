//! Opening libx264 for one rung, the same way for VOD and live: the rung's
//! size, CRF capped by VBV, fixed GOP with keyframes forced by the caller
//! on a shared time grid (closed GOPs, no scene cuts), global headers for
//! CMAF, BT.709 limited-range colour tags in the VUI, the pictures' closed
//! captions (A/53) written as SEI, and optionally
//! `tune=zerolatency` for low-latency live.

use ffmpeg_next::util::color;
use ffmpeg_next::{Dictionary, Rational, codec, encoder, format};

use crate::ladder::PlannedRung;
use crate::timing::VIDEO_TIMESCALE;

/// Why libx264 could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum X264Error {
    /// This FFmpeg build has no libx264.
    #[error("encoder libx264 is not available in this FFmpeg build")]
    Missing,
    /// libavcodec refused the settings.
    #[error(transparent)]
    Open(#[from] ffmpeg_next::Error),
}

/// Encoder settings besides the rung's own.
#[derive(Debug, Clone, Copy)]
pub struct X264Settings<'a> {
    /// x264 preset.
    pub preset: &'a str,
    /// Nominal frame rate (rate control and VBV).
    pub frame_rate: f64,
    /// Frames per GOP.
    pub gop_frames: u32,
    /// `tune=zerolatency`: no B-frames, no lookahead.
    pub zero_latency: bool,
}

/// Opens libx264 for `rung`; timestamps are in [`VIDEO_TIMESCALE`] ticks.
pub fn open(rung: &PlannedRung, settings: X264Settings<'_>) -> Result<encoder::Video, X264Error> {
    let codec = encoder::find_by_name("libx264").ok_or(X264Error::Missing)?;
    let mut ctx = codec::context::Context::new_with_codec(codec);
    ctx.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut video = ctx.encoder().video()?;
    video.set_width(rung.width);
    video.set_height(rung.height);
    video.set_format(format::Pixel::YUV420P);
    video.set_time_base(Rational(1, VIDEO_TIMESCALE as i32));
    video.set_frame_rate(Some(Rational::from(settings.frame_rate)));
    video.set_aspect_ratio(Rational(1, 1));
    video.set_gop(settings.gop_frames);
    // Every rendition is BT.709 SDR, limited range (the picture stage
    // tone-maps HDR); libx264 writes these into the SPS VUI.
    video.set_color_primaries(color::Primaries::BT709);
    video.set_color_transfer_characteristic(color::TransferCharacteristic::BT709);
    video.set_colorspace(color::Space::BT709);
    video.set_color_range(color::Range::MPEG);
    let mut opts = Dictionary::new();
    opts.set("preset", settings.preset);
    if settings.zero_latency {
        opts.set("tune", "zerolatency");
    }
    opts.set("profile", &rung.profile);
    opts.set("crf", &rung.crf.to_string());
    opts.set("maxrate", &format!("{}k", rung.max_bitrate_kbps));
    opts.set("bufsize", &format!("{}k", rung.buffer_kbits));
    opts.set("forced-idr", "1");
    // CEA-608/708 captions a picture carries (A/53 side data) go out as SEI.
    opts.set("a53cc", "1");
    opts.set(
        "x264-params",
        &format!("scenecut=0:open-gop=0:min-keyint={}", settings.gop_frames),
    );
    Ok(video.open_with(opts)?)
}
