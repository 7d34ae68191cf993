//! The poster of an audio-only lecture: the waveform of the whole sound,
//! drawn from the samples the audio stage encodes anyway (no second
//! decode). Pure: float samples in, RGB pixels out; the pipeline encodes
//! the picture as the ladder's `poster.jpg`.

/// The poster's size: the player's 16:9 frame.
pub const POSTER_SIZE: (u32, u32) = (1280, 720);

/// Columns of the envelope (one per pixel column of the poster's plot).
const COLUMNS: usize = 1152;

/// The poster's colours, RGB.
const BACKGROUND: [u8; 3] = [0x0f, 0x17, 0x2a];
const AXIS: [u8; 3] = [0x33, 0x41, 0x55];
const PEAK: [u8; 3] = [0x3b, 0x82, 0xf6];
const BODY: [u8; 3] = [0x93, 0xc5, 0xfd];

/// Recordings are scaled up so that their own loudest peak fills the plot,
/// but never by more than this peak (−20 dBFS) would be: hiss and silence
/// stay a flat line.
const SILENCE_FLOOR: f32 = 0.1;

/// The envelope of one column: the largest magnitude and the energy of
/// the samples in it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Column {
    peak: f32,
    energy: f64,
    count: u64,
}

impl Column {
    fn rms(&self) -> f32 {
        if self.count == 0 {
            0.0
        } else {
            (self.energy / self.count as f64).sqrt() as f32
        }
    }
}

/// The envelope of a sound, accumulated sample by sample over the
/// duration it is expected to last.
#[derive(Debug, Clone)]
pub struct Waveform {
    columns: Vec<Column>,
    samples_per_column: f64,
    seen: u64,
}

impl Waveform {
    /// An envelope for a sound of about `expected_samples` samples (per
    /// channel). Samples past the expectation land in the last column.
    pub fn new(expected_samples: u64) -> Waveform {
        Waveform {
            columns: vec![Column::default(); COLUMNS],
            samples_per_column: (expected_samples as f64 / COLUMNS as f64).max(1.0),
            seen: 0,
        }
    }

    /// Adds planar samples, one slice per channel (a sample's magnitude is
    /// the largest of its channels').
    pub fn push(&mut self, planes: &[&[f32]]) {
        let frames = planes.iter().map(|p| p.len()).min().unwrap_or(0);
        for i in 0..frames {
            let magnitude = planes
                .iter()
                .map(|p| p[i].abs())
                .filter(|m| m.is_finite())
                .fold(0.0f32, f32::max)
                .min(1.0);
            let index =
                ((self.seen as f64 / self.samples_per_column) as usize).min(self.columns.len() - 1);
            let column = &mut self.columns[index];
            column.peak = column.peak.max(magnitude);
            column.energy += f64::from(magnitude) * f64::from(magnitude);
            column.count += 1;
            self.seen += 1;
        }
    }

    /// Samples added so far (per channel).
    pub fn samples(&self) -> u64 {
        self.seen
    }

    /// The poster: `width` × `height` RGB pixels, row by row. The sound
    /// heard runs left to right over the plot, the peaks in blue, the
    /// loudness body in light blue, about a centre line.
    pub fn render(&self, width: u32, height: u32) -> Vec<u8> {
        let (w, h) = (width as usize, height as usize);
        let mut pixels = BACKGROUND.repeat(w * h);
        if w == 0 || h == 0 {
            return pixels;
        }
        let margin = w / 20;
        let plot_width = w.saturating_sub(2 * margin).max(1);
        let centre = h / 2;
        let half = (h / 4).max(1) as f32;
        let used = ((self.seen as f64 / self.samples_per_column).ceil() as usize)
            .clamp(1, self.columns.len());
        let loudest = self.columns[..used]
            .iter()
            .map(|c| c.peak)
            .fold(0.0f32, f32::max);
        let scale = 1.0 / loudest.max(SILENCE_FLOOR);
        let mut paint = |x: usize, y: usize, colour: [u8; 3]| {
            let at = (y * w + x) * 3;
            pixels[at..at + 3].copy_from_slice(&colour);
        };
        for x in margin..margin + plot_width {
            paint(x.min(w - 1), centre.min(h - 1), AXIS);
        }
        for dx in 0..plot_width {
            let column = &self.columns[dx * used / plot_width];
            let x = (margin + dx).min(w - 1);
            let reach = |v: f32| ((v * scale).min(1.0) * half).round() as usize;
            let (peak, body) = (reach(column.peak), reach(column.rms()));
            for dy in 1..=peak {
                let colour = if dy <= body { BODY } else { PEAK };
                if centre >= dy {
                    paint(x, centre - dy, colour);
                }
                if centre + dy < h {
                    paint(x, centre + dy, colour);
                }
            }
        }
        pixels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
        let at = ((y * width + x) * 3) as usize;
        [rgb[at], rgb[at + 1], rgb[at + 2]]
    }

    /// A 440 Hz tone at `amplitude` for `seconds` at 48 kHz.
    fn tone(seconds: f64, amplitude: f32) -> Vec<f32> {
        let n = (seconds * 48_000.0) as usize;
        (0..n)
            .map(|i| amplitude * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin())
            .collect()
    }

    #[test]
    fn sound_then_silence_draws_bars_on_the_left_and_a_flat_line_on_the_right() {
        let mut w = Waveform::new(48_000 * 10);
        w.push(&[&tone(5.0, 0.5), &tone(5.0, 0.5)]);
        let silence = vec![0.0f32; 48_000 * 5];
        w.push(&[&silence, &silence]);
        assert_eq!(w.samples(), 480_000);
        let (width, height) = (640, 360);
        let rgb = w.render(width, height);
        assert_eq!(rgb.len(), (width * height * 3) as usize);
        // A quarter in: the loud half, scaled to fill the plot's half height.
        assert_eq!(pixel(&rgb, width, 160, 180 - 80), PEAK);
        assert_eq!(pixel(&rgb, width, 160, 180 + 80), PEAK);
        assert_eq!(pixel(&rgb, width, 160, 180 - 20), BODY);
        // Three quarters in: silence, the centre line only.
        assert_eq!(pixel(&rgb, width, 480, 180), AXIS);
        assert_eq!(pixel(&rgb, width, 480, 179), BACKGROUND);
        assert_eq!(pixel(&rgb, width, 480, 100), BACKGROUND);
    }

    #[test]
    fn a_quiet_recording_is_scaled_up_to_its_own_loudest_peak() {
        let mut quiet = Waveform::new(48_000);
        quiet.push(&[&tone(1.0, 0.15)]);
        let mut loud = Waveform::new(48_000);
        loud.push(&[&tone(1.0, 0.9)]);
        assert_eq!(quiet.render(320, 180), loud.render(320, 180));
    }

    #[test]
    fn silence_stays_a_flat_line() {
        let mut w = Waveform::new(48_000);
        w.push(&[&vec![0.001f32; 48_000]]);
        let rgb = w.render(320, 180);
        assert_eq!(pixel(&rgb, 320, 160, 90), AXIS);
        assert_eq!(pixel(&rgb, 320, 160, 89), BACKGROUND);
    }

    #[test]
    fn a_sound_shorter_than_expected_still_spans_the_whole_plot() {
        let mut w = Waveform::new(48_000 * 100);
        w.push(&[&tone(10.0, 0.5)]);
        let rgb = w.render(640, 360);
        assert_eq!(pixel(&rgb, 640, 600, 180 - 80), PEAK);
    }

    #[test]
    fn a_sound_longer_than_expected_or_odd_input_does_not_panic() {
        let mut w = Waveform::new(10);
        w.push(&[&tone(1.0, 0.5), &[0.1, f32::NAN]]);
        w.push(&[&[f32::INFINITY, -2.0]]);
        w.push(&[]);
        assert_eq!(w.samples(), 4);
        assert_eq!(w.render(0, 0).len(), 0);
        assert_eq!(w.render(3, 2).len(), 18);
    }
}
