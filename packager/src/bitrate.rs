//! Sans-IO measurement of a track's elementary stream bitrate (for `btrt` and
//! the `esds` DecoderConfigDescriptor): average, peak over any one-second
//! window of decode time, and the largest sample.

use std::collections::VecDeque;

use crate::cmaf::TrackBitrate;

/// Accumulates sample sizes and decode times of one track.
#[derive(Debug)]
pub(crate) struct BitrateMeter {
    timescale: i64,
    window: VecDeque<(i64, u64)>,
    window_bytes: u64,
    max_window_bytes: u64,
    total_bytes: u64,
    total_ticks: u64,
    largest_sample: u64,
}

impl BitrateMeter {
    pub(crate) fn new(timescale: u32) -> Self {
        Self {
            timescale: i64::from(timescale.max(1)),
            window: VecDeque::new(),
            window_bytes: 0,
            max_window_bytes: 0,
            total_bytes: 0,
            total_ticks: 0,
            largest_sample: 0,
        }
    }

    /// Records one sample (decode order).
    pub(crate) fn push(&mut self, dts: i64, duration: u32, bytes: u64) {
        self.window.push_back((dts, bytes));
        self.window_bytes += bytes;
        while let Some(&(oldest, oldest_bytes)) = self.window.front() {
            if oldest > dts - self.timescale {
                break;
            }
            self.window.pop_front();
            self.window_bytes -= oldest_bytes;
        }
        self.max_window_bytes = self.max_window_bytes.max(self.window_bytes);
        self.total_bytes += bytes;
        self.total_ticks += u64::from(duration);
        self.largest_sample = self.largest_sample.max(bytes);
    }

    /// The figures so far; the peak is never below the average (short tracks
    /// never fill a one-second window).
    pub(crate) fn bitrate(&self) -> TrackBitrate {
        let average = if self.total_ticks == 0 {
            0
        } else {
            u128::from(self.total_bytes) * 8 * self.timescale as u128 / u128::from(self.total_ticks)
        };
        let average = u32::try_from(average).unwrap_or(u32::MAX);
        let peak = u32::try_from(self.max_window_bytes.saturating_mul(8)).unwrap_or(u32::MAX);
        TrackBitrate {
            buffer_size: u32::try_from(self.largest_sample).unwrap_or(u32::MAX),
            max_bitrate: peak.max(average),
            average_bitrate: average,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_gives_equal_peak_and_average() {
        // 30 fps, 1000 bytes a frame -> 240 kbit/s.
        let mut meter = BitrateMeter::new(90000);
        for i in 0..300 {
            meter.push(i * 3000, 3000, 1000);
        }
        let bitrate = meter.bitrate();
        assert_eq!(bitrate.average_bitrate, 240_000);
        assert_eq!(bitrate.max_bitrate, 240_000);
        assert_eq!(bitrate.buffer_size, 1000);
    }

    #[test]
    fn a_burst_raises_the_one_second_peak_only() {
        let mut meter = BitrateMeter::new(90000);
        for i in 0..300 {
            let bytes = if (60..90).contains(&i) { 4000 } else { 1000 };
            meter.push(i * 3000, 3000, bytes);
        }
        let bitrate = meter.bitrate();
        assert_eq!(bitrate.max_bitrate, 30 * 4000 * 8);
        assert_eq!(bitrate.average_bitrate, (270 * 1000 + 30 * 4000) * 8 / 10);
        assert_eq!(bitrate.buffer_size, 4000);
    }

    #[test]
    fn short_tracks_report_the_average_as_peak() {
        let mut meter = BitrateMeter::new(48000);
        meter.push(0, 1024, 300);
        let bitrate = meter.bitrate();
        assert_eq!(bitrate.average_bitrate, 300 * 8 * 48000 / 1024);
        assert_eq!(bitrate.max_bitrate, bitrate.average_bitrate);
    }
}
