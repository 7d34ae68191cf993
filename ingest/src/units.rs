//! Human-readable quantities (sizes, durations, bit rates, frame rates),
//! identical in every language, for violation values and reports.

/// Bytes in binary units: `"512 B"`, `"1.50 KiB"`, `"4.00 GiB"`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// Seconds as `"8.00 s"` below a minute, else `"1:02:03"` / `"2:03"` (h:mm:ss / m:ss).
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return format!("{seconds} s");
    }
    if seconds < 60.0 {
        return format!("{seconds:.2} s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Bits per second as `"398.5 kbit/s"` or `"61.20 Mbit/s"`.
pub fn bit_rate(bits_per_second: u64) -> String {
    let b = bits_per_second as f64;
    if b >= 1_000_000.0 {
        format!("{:.2} Mbit/s", b / 1_000_000.0)
    } else {
        format!("{:.1} kbit/s", b / 1000.0)
    }
}

/// Frames per second with up to three decimals: `"25 fps"`, `"29.97 fps"`.
pub fn frame_rate(fps: f64) -> String {
    let text = format!("{fps:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} fps")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(4 * 1024 * 1024 * 1024), "4.00 GiB");
    }

    #[test]
    fn durations_switch_to_clock_format_from_one_minute() {
        assert_eq!(duration(0.5), "0.50 s");
        assert_eq!(duration(59.994), "59.99 s");
        assert_eq!(duration(123.0), "2:03");
        assert_eq!(duration(14400.0), "4:00:00");
    }

    #[test]
    fn bit_rates_use_kbit_and_mbit() {
        assert_eq!(bit_rate(398_543), "398.5 kbit/s");
        assert_eq!(bit_rate(60_000_000), "60.00 Mbit/s");
    }

    #[test]
    fn frame_rates_drop_trailing_zeros() {
        assert_eq!(frame_rate(25.0), "25 fps");
        assert_eq!(frame_rate(30000.0 / 1001.0), "29.97 fps");
        assert_eq!(frame_rate(22.784), "22.784 fps");
    }
}
