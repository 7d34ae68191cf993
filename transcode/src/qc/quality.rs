//! Picture quality figures of one luma plane, pure: sharpness (about one
//! over the width of edges, in pixels: 1 for a crisp edge, 0.25 for an
//! edge smeared over four pixels) and blockiness (contrast across the
//! 8-pixel grid of block codecs over contrast elsewhere: 1 without visible
//! blocks, higher when blocks show).

use super::picture::Luma;

/// Central differences below this (0-255 scale) are noise, not edges.
const EDGE_FLOOR: i32 = 8;
/// Steps between neighbours above this (0-255) are picture content (an
/// edge that may happen to sit on the grid), not block artefacts, and are
/// left out of the blockiness.
const BLOCK_STEP_CAP: u8 = 24;
/// Fewer edge pixels than this share: the picture is flat (a blank slide)
/// and has no sharpness to measure.
const MIN_EDGE_SHARE: f64 = 0.001;

/// Sharpness of `luma`: the sum of |Laplacian| over the sum of |gradient|
/// on edge pixels. `None` for a flat picture.
pub fn sharpness(luma: &Luma<'_>) -> Option<f64> {
    if luma.width < 3 || luma.height < 3 {
        return None;
    }
    let (mut lap_sum, mut grad_sum, mut edges) = (0u64, 0u64, 0u64);
    for y in 1..luma.height - 1 {
        let (up, row, down) = (luma.row(y - 1), luma.row(y), luma.row(y + 1));
        for x in 1..luma.width - 1 {
            let p = i32::from(row[x]);
            let gx = i32::from(row[x + 1]) - i32::from(row[x - 1]);
            let gy = i32::from(down[x]) - i32::from(up[x]);
            let g = gx.abs() + gy.abs();
            if g < EDGE_FLOOR {
                continue;
            }
            let lap = 4 * p
                - i32::from(row[x + 1])
                - i32::from(row[x - 1])
                - i32::from(down[x])
                - i32::from(up[x]);
            lap_sum += u64::from(lap.unsigned_abs());
            grad_sum += g as u64;
            edges += 1;
        }
    }
    let pixels = (luma.width * luma.height) as f64;
    if grad_sum == 0 || (edges as f64) < pixels * MIN_EDGE_SHARE {
        return None;
    }
    Some(lap_sum as f64 / grad_sum as f64)
}

/// Blockiness of `luma`: mean absolute step between neighbours across the
/// 8-pixel grid over the mean step elsewhere, both directions, every other
/// line, steps of picture content (large ones) left out (plus one level in
/// both means, so flat pictures read 1).
pub fn blockiness(luma: &Luma<'_>) -> f64 {
    let (mut on_grid, mut on_n, mut off_grid, mut off_n) = (0u64, 0u64, 0u64, 0u64);
    for y in (0..luma.height).step_by(2) {
        let row = luma.row(y);
        for x in 1..luma.width {
            let d = row[x].abs_diff(row[x - 1]);
            if d > BLOCK_STEP_CAP {
                continue;
            }
            let d = u64::from(d);
            if x % 8 == 0 {
                on_grid += d;
                on_n += 1;
            } else {
                off_grid += d;
                off_n += 1;
            }
        }
    }
    for y in 1..luma.height {
        let (above, row) = (luma.row(y - 1), luma.row(y));
        for x in (0..luma.width).step_by(2) {
            let d = row[x].abs_diff(above[x]);
            if d > BLOCK_STEP_CAP {
                continue;
            }
            let d = u64::from(d);
            if y % 8 == 0 {
                on_grid += d;
                on_n += 1;
            } else {
                off_grid += d;
                off_n += 1;
            }
        }
    }
    let mean = |sum: u64, n: u64| if n == 0 { 0.0 } else { sum as f64 / n as f64 };
    (mean(on_grid, on_n) + 1.0) / (mean(off_grid, off_n) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect()
    }

    fn view(data: &[u8], width: usize, height: usize) -> Luma<'_> {
        Luma {
            width,
            height,
            stride: width,
            data,
        }
    }

    #[test]
    fn a_crisp_edge_is_sharper_than_a_smeared_one() {
        let crisp = picture(64, 64, |x, _| if x < 32 { 30 } else { 200 });
        // The same edge as a ramp over 8 pixels.
        let soft = picture(64, 64, |x, _| {
            (30 + (x.saturating_sub(28).min(8) * 170 / 8)) as u8
        });
        let s_crisp = sharpness(&view(&crisp, 64, 64)).expect("edges");
        let s_soft = sharpness(&view(&soft, 64, 64)).expect("edges");
        assert!((s_crisp - 1.0).abs() < 0.05, "{s_crisp}");
        assert!(s_soft < 0.3, "{s_soft}");
    }

    #[test]
    fn sharp_content_edges_on_the_grid_are_not_blocks() {
        // Bars whose edges all fall on the 8-pixel grid (as test cards do).
        let bars = picture(128, 128, |x, _| if (x / 16) % 2 == 0 { 20 } else { 220 });
        let b = blockiness(&view(&bars, 128, 128));
        assert!((b - 1.0).abs() < 0.05, "{b}");
    }

    #[test]
    fn a_flat_picture_has_no_sharpness_and_no_blocks() {
        let flat = picture(64, 64, |_, _| 128);
        assert_eq!(sharpness(&view(&flat, 64, 64)), None);
        assert_eq!(blockiness(&view(&flat, 64, 64)), 1.0);
    }

    #[test]
    fn blocks_of_flat_colour_read_blocky_and_a_smooth_gradient_does_not() {
        // A diagonal gradient quantised to 8x8 blocks, as a starved encoder shows it.
        let blocky = picture(128, 128, |x, y| ((x / 8 + y / 8) * 6) as u8);
        let smooth = picture(128, 128, |x, y| ((x + y) * 3 / 4) as u8);
        let b = blockiness(&view(&blocky, 128, 128));
        let s = blockiness(&view(&smooth, 128, 128));
        assert!(b > 3.0, "{b}");
        assert!((s - 1.0).abs() < 0.2, "{s}");
    }
}
