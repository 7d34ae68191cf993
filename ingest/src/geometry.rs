//! Picture geometry, pure: rotation from a display matrix or a `rotate` tag,
//! and the displayed picture size after the sample aspect ratio (SAR) and
//! the rotation are applied.

/// Clockwise display rotation in degrees (0, 90, 180 or 270) from a libav
/// display matrix (nine 32-bit values, 16.16 fixed point except the last
/// column, in libav's in-memory order `[a b u; c d v; x y w]`).
///
/// Follows ffmpeg's own reading: `theta = -av_display_rotation_get(m)`,
/// normalised to `[0, 360)` and rounded to the nearest multiple of 90.
/// A degenerate matrix (zero scale) means no rotation.
pub fn rotation_from_display_matrix(matrix: &[i32; 9]) -> u16 {
    let fixed = |v: i32| f64::from(v) / 65536.0;
    let scale0 = fixed(matrix[0]).hypot(fixed(matrix[3]));
    let scale1 = fixed(matrix[1]).hypot(fixed(matrix[4]));
    if scale0 == 0.0 || scale1 == 0.0 {
        return 0;
    }
    // av_display_rotation_get() returns the counter-clockwise angle.
    let counter_clockwise = -(fixed(matrix[1]) / scale1)
        .atan2(fixed(matrix[0]) / scale0)
        .to_degrees();
    normalise_rotation(-counter_clockwise)
}

/// Reads the legacy `rotate` stream tag (clockwise degrees, e.g. `"90"`,
/// `"-90"`, `"270.0"`) as a rotation; `None` when it is not a number.
pub fn rotation_from_tag(tag: &str) -> Option<u16> {
    let degrees: f64 = tag.trim().parse().ok()?;
    degrees.is_finite().then(|| normalise_rotation(degrees))
}

/// Normalises clockwise degrees to 0, 90, 180 or 270 (nearest quarter turn).
pub fn normalise_rotation(degrees: f64) -> u16 {
    if !degrees.is_finite() {
        return 0;
    }
    let quarter_turns = (degrees / 90.0).round().rem_euclid(4.0);
    // rem_euclid(4.0) of a rounded value is exactly 0, 1, 2 or 3.
    (quarter_turns as u16) * 90
}

/// The displayed picture size of a coded `width` × `height` picture with the
/// given sample aspect ratio and clockwise rotation.
///
/// The SAR stretches the width (ffmpeg's convention for anamorphic video:
/// 720x576 at 64:45 displays as 1024x576); a quarter turn (90 or 270)
/// swaps the edges. Each edge is rounded to the nearest even number (half
/// away from zero, so 853 becomes 854) because 4:2:0 encoders need even
/// sizes. An unknown size (zero) stays zero.
pub fn display_size(width: u32, height: u32, sar: (u32, u32), rotation: u16) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (0, 0);
    }
    let (num, den) = sar;
    let stretched = if num > 0 && den > 0 {
        f64::from(width) * f64::from(num) / f64::from(den)
    } else {
        f64::from(width)
    };
    let w = round_to_even(stretched);
    let h = round_to_even(f64::from(height));
    if rotation % 180 == 90 { (h, w) } else { (w, h) }
}

/// Rounds a positive length to the nearest even integer, at least 2.
pub fn round_to_even(length: f64) -> u32 {
    let halves = (length / 2.0).round().max(1.0);
    // Lengths are picture edges: far below u32::MAX / 2.
    (halves as u32).saturating_mul(2)
}

/// The sample aspect ratio to report: the container's when valid, else the
/// codec's, else 1:1 (libav's `av_guess_sample_aspect_ratio` order),
/// reduced to lowest terms.
pub fn pick_sample_aspect_ratio(container: (i32, i32), codec: (i32, i32)) -> (u32, u32) {
    let valid = |(n, d): (i32, i32)| n > 0 && d > 0;
    let (n, d) = if valid(container) {
        container
    } else if valid(codec) {
        codec
    } else {
        (1, 1)
    };
    let (n, d) = (n.unsigned_abs(), d.unsigned_abs());
    let g = gcd(n, d);
    (n / g, d / g)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix libavutil's `av_display_rotation_set(m, angle)` writes
    /// (same formula as FFmpeg 5.1's libavutil/display.c). For it
    /// `av_display_rotation_get` returns `-angle`, so ffmpeg's display
    /// rotation `theta` is `angle`, clockwise.
    fn libav_rotation_set(angle: f64) -> [i32; 9] {
        let radians = -angle.to_radians();
        let (c, s) = (radians.cos(), radians.sin());
        // CONV_DB truncates toward zero.
        let fp = |v: f64| (v * 65536.0) as i32;
        [fp(c), fp(-s), 0, fp(s), fp(c), 0, 0, 0, 1 << 30]
    }

    #[test]
    fn identity_matrix_means_no_rotation() {
        assert_eq!(rotation_from_display_matrix(&libav_rotation_set(0.0)), 0);
    }

    #[test]
    fn matrices_written_by_libav_match_values_read_back_from_ffmpeg_5_1() {
        // Printed by libavutil 57 (FFmpeg 5.1): av_display_rotation_set(m, 90)
        // gives this matrix and av_display_rotation_get(m) = -90.
        assert_eq!(
            libav_rotation_set(90.0),
            [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]
        );
        assert_eq!(
            libav_rotation_set(30.0),
            [56755, 32767, 0, -32767, 56755, 0, 0, 0, 1 << 30]
        );
    }

    #[test]
    fn display_matrix_rotation_is_ffmpegs_clockwise_theta() {
        assert_eq!(rotation_from_display_matrix(&libav_rotation_set(90.0)), 90);
        assert_eq!(
            rotation_from_display_matrix(&libav_rotation_set(-90.0)),
            270
        );
        assert_eq!(
            rotation_from_display_matrix(&libav_rotation_set(180.0)),
            180
        );
        assert_eq!(
            rotation_from_display_matrix(&libav_rotation_set(270.0)),
            270
        );
    }

    #[test]
    fn phone_portrait_tkhd_matrix_reads_as_90_clockwise() {
        // The matrix a phone (and media-fixtures/generate.sh) writes into tkhd
        // for a portrait clip: a=0 b=1 c=-1 d=0, tx = coded height. ffprobe
        // reports it as "rotation of -90.00 degrees" (av_display_rotation_get).
        let m = [0, 65536, 0, -65536, 0, 0, 720 << 16, 0, 1 << 30];
        assert_eq!(rotation_from_display_matrix(&m), 90);
    }

    #[test]
    fn near_quarter_turns_round_to_the_nearest_quarter() {
        assert_eq!(rotation_from_display_matrix(&libav_rotation_set(89.0)), 90);
        assert_eq!(rotation_from_display_matrix(&libav_rotation_set(30.0)), 0);
        assert_eq!(normalise_rotation(44.0), 0);
        assert_eq!(normalise_rotation(46.0), 90);
        assert_eq!(normalise_rotation(-90.0), 270);
        assert_eq!(normalise_rotation(450.0), 90);
        assert_eq!(normalise_rotation(359.9), 0);
        assert_eq!(normalise_rotation(f64::NAN), 0);
    }

    #[test]
    fn degenerate_matrix_means_no_rotation() {
        assert_eq!(rotation_from_display_matrix(&[0; 9]), 0);
    }

    #[test]
    fn rotate_tag_parses_signed_and_fractional_degrees() {
        assert_eq!(rotation_from_tag("90"), Some(90));
        assert_eq!(rotation_from_tag(" -90 "), Some(270));
        assert_eq!(rotation_from_tag("180.0"), Some(180));
        assert_eq!(rotation_from_tag("abc"), None);
        assert_eq!(rotation_from_tag("inf"), None);
    }

    #[test]
    fn display_size_applies_sar_to_the_width() {
        assert_eq!(display_size(720, 576, (64, 45), 0), (1024, 576));
        assert_eq!(display_size(720, 576, (16, 15), 0), (768, 576));
        assert_eq!(display_size(1440, 1080, (4, 3), 0), (1920, 1080));
    }

    #[test]
    fn display_size_swaps_edges_for_quarter_turns_only() {
        assert_eq!(display_size(1280, 720, (1, 1), 90), (720, 1280));
        assert_eq!(display_size(1280, 720, (1, 1), 270), (720, 1280));
        assert_eq!(display_size(1280, 720, (1, 1), 180), (1280, 720));
    }

    #[test]
    fn display_size_applies_sar_before_rotation() {
        assert_eq!(display_size(720, 576, (64, 45), 90), (576, 1024));
    }

    #[test]
    fn display_size_rounds_odd_edges_to_even() {
        assert_eq!(display_size(853, 479, (1, 1), 0), (854, 480));
        assert_eq!(display_size(1, 1, (1, 1), 0), (2, 2));
    }

    #[test]
    fn display_size_ignores_an_invalid_sar_and_keeps_unknown_sizes_zero() {
        assert_eq!(display_size(640, 360, (0, 1), 0), (640, 360));
        assert_eq!(display_size(640, 360, (1, 0), 0), (640, 360));
        assert_eq!(display_size(0, 360, (1, 1), 0), (0, 0));
    }

    #[test]
    fn sample_aspect_ratio_prefers_the_container_then_the_codec_then_square() {
        assert_eq!(pick_sample_aspect_ratio((64, 45), (1, 1)), (64, 45));
        assert_eq!(pick_sample_aspect_ratio((0, 1), (128, 90)), (64, 45));
        assert_eq!(pick_sample_aspect_ratio((0, 0), (0, 1)), (1, 1));
    }
}
