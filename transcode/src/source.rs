//! What the transcoder needs to know about a source's picture: coded size,
//! pixel aspect ratio, rotation and frame rate, and the display geometry
//! derived from them. Pure: no IO.

use serde::{Deserialize, Serialize};

use crate::picture::{HdrKind, Matrix, Scan};

/// Clockwise rotation to apply to the decoded picture for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Rotation {
    /// Displayed as decoded.
    #[default]
    None,
    /// Rotate 90° clockwise (a phone held upright, recorded in landscape).
    Clockwise90,
    /// Rotate 180° (upside down).
    Half,
    /// Rotate 90° counter-clockwise (270° clockwise).
    Clockwise270,
}

impl Rotation {
    /// From clockwise degrees; anything that is not a multiple of 90 is
    /// rounded to the nearest quarter turn.
    pub fn from_degrees(degrees: i64) -> Self {
        let quarter = ((degrees as f64 / 90.0).round() as i64).rem_euclid(4);
        match quarter {
            1 => Self::Clockwise90,
            2 => Self::Half,
            3 => Self::Clockwise270,
            _ => Self::None,
        }
    }

    /// Clockwise degrees: 0, 90, 180 or 270.
    pub fn degrees(self) -> u16 {
        match self {
            Self::None => 0,
            Self::Clockwise90 => 90,
            Self::Half => 180,
            Self::Clockwise270 => 270,
        }
    }

    /// Whether width and height trade places on display.
    pub fn swaps_axes(self) -> bool {
        matches!(self, Self::Clockwise90 | Self::Clockwise270)
    }

    /// The libavfilter chain that turns the decoded picture upright, if any.
    pub fn filter_chain(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Clockwise90 => Some("transpose=clock"),
            Self::Half => Some("hflip,vflip"),
            Self::Clockwise270 => Some("transpose=cclock"),
        }
    }
}

/// The picture of a source as decoded, before rotation and pixel-aspect
/// correction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SourceVideo {
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Sample (pixel) aspect ratio, numerator and denominator; `(1, 1)` for
    /// square pixels. A zero in either part is treated as square.
    pub sample_aspect_ratio: (u32, u32),
    /// Rotation to apply for display.
    pub rotation: Rotation,
    /// Average frame rate in frames per second (frames, not fields, for
    /// an interlaced source).
    pub frame_rate: f64,
    /// The high dynamic range the transfer states (tone-mapped to SDR).
    #[serde(default)]
    pub hdr: HdrKind,
    /// Whether the picture uses the full code range (else limited, "tv").
    #[serde(default)]
    pub full_range: bool,
    /// Progressive or interlaced, and which field comes first (deinterlaced).
    #[serde(default)]
    pub scan: Scan,
    /// Matrix coefficients of the YUV samples (converted to BT.709).
    #[serde(default)]
    pub matrix: Matrix,
}

/// Width and height of a picture as a viewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplaySize {
    /// Width in square pixels.
    pub width: u32,
    /// Height in square pixels.
    pub height: u32,
}

impl DisplaySize {
    /// The shorter edge: the "p" of a rung name (a portrait 1080x1920 picture
    /// is "1080p").
    pub fn short_edge(self) -> u32 {
        self.width.min(self.height)
    }

    /// The longer edge.
    pub fn long_edge(self) -> u32 {
        self.width.max(self.height)
    }

    /// Whether the picture is taller than wide.
    pub fn is_portrait(self) -> bool {
        self.height > self.width
    }

    /// Display aspect ratio, width over height.
    pub fn aspect(self) -> f64 {
        f64::from(self.width) / f64::from(self.height.max(1))
    }
}

impl SourceVideo {
    /// The sample aspect ratio as a factor, 1.0 when unknown or invalid.
    pub fn sar_factor(&self) -> f64 {
        let (num, den) = self.sample_aspect_ratio;
        if num == 0 || den == 0 {
            1.0
        } else {
            f64::from(num) / f64::from(den)
        }
    }

    /// The display size: pixel aspect applied to the width (ffmpeg's
    /// convention), then rotation. Exact, not rounded to even.
    pub fn display_size(&self) -> DisplaySize {
        let sar = self.sar_factor();
        let (mut w, mut h) = (f64::from(self.width), f64::from(self.height));
        if sar > 1.0 {
            w *= sar;
        } else if sar < 1.0 {
            h /= sar;
        }
        let (w, h) = (w.round().max(1.0) as u32, h.round().max(1.0) as u32);
        if self.rotation.swaps_axes() {
            DisplaySize {
                width: h,
                height: w,
            }
        } else {
            DisplaySize {
                width: w,
                height: h,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(width: u32, height: u32, sar: (u32, u32), rotation: Rotation) -> SourceVideo {
        SourceVideo {
            width,
            height,
            sample_aspect_ratio: sar,
            rotation,
            frame_rate: 25.0,
            hdr: HdrKind::None,
            full_range: false,
            scan: Scan::Progressive,
            matrix: Matrix::Unstated,
        }
    }

    #[test]
    fn square_pixels_display_as_coded() {
        let d = video(1920, 1080, (1, 1), Rotation::None).display_size();
        assert_eq!((d.width, d.height), (1920, 1080));
    }

    #[test]
    fn wide_pixels_stretch_the_width() {
        // PAL 16:9 anamorphic.
        let d = video(720, 576, (64, 45), Rotation::None).display_size();
        assert_eq!((d.width, d.height), (1024, 576));
    }

    #[test]
    fn tall_pixels_stretch_the_height() {
        let d = video(1440, 1080, (3, 4), Rotation::None).display_size();
        assert_eq!((d.width, d.height), (1440, 1440));
    }

    #[test]
    fn quarter_turns_swap_axes_and_half_turns_do_not() {
        let d = video(1920, 1080, (1, 1), Rotation::Clockwise90).display_size();
        assert_eq!((d.width, d.height), (1080, 1920));
        assert!(d.is_portrait());
        let d = video(1920, 1080, (1, 1), Rotation::Clockwise270).display_size();
        assert_eq!((d.width, d.height), (1080, 1920));
        let d = video(1920, 1080, (1, 1), Rotation::Half).display_size();
        assert_eq!((d.width, d.height), (1920, 1080));
    }

    #[test]
    fn rotation_applies_after_pixel_aspect() {
        let d = video(720, 576, (64, 45), Rotation::Clockwise90).display_size();
        assert_eq!((d.width, d.height), (576, 1024));
    }

    #[test]
    fn zero_sar_means_square() {
        let d = video(640, 480, (0, 1), Rotation::None).display_size();
        assert_eq!((d.width, d.height), (640, 480));
    }

    #[test]
    fn rotation_degrees_normalise_to_quarter_turns() {
        assert_eq!(Rotation::from_degrees(-90), Rotation::Clockwise270);
        assert_eq!(Rotation::from_degrees(450), Rotation::Clockwise90);
        assert_eq!(Rotation::from_degrees(181), Rotation::Half);
        assert_eq!(Rotation::from_degrees(0).filter_chain(), None);
        assert_eq!(
            Rotation::from_degrees(90).filter_chain(),
            Some("transpose=clock")
        );
    }
}
