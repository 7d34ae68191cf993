//! Pure mapping of a WebRTC publisher's RTP media times onto one
//! millisecond timeline for the live pipeline. No clock inside: arrival
//! times are arguments.
//!
//! Each track is anchored at its first frame: the anchor's timeline time
//! is its arrival time after the publish's first frame, later frames follow
//! the track's own RTP clock (so jitter does not reach the timestamps).
//! Arrival times of the two tracks' first frames may differ from their
//! capture times by the network and jitter-buffer delay; once both tracks
//! have an RTCP sender report, the audio anchor is moved once so that audio
//! and video meet where the sender's shared NTP clock says they do.

use std::time::{Duration, Instant, SystemTime};

/// Timeline time of the publish's first frame. Leaves room for the audio
/// anchor to move earlier without going below zero.
const ORIGIN_MS: i64 = 1_000;
/// A sender-report correction larger than this is not believed.
const MAX_SYNC_CORRECTION_MS: f64 = 1_000.0;

/// One of the two tracks of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The video track.
    Video,
    /// The audio track.
    Audio,
}

#[derive(Debug, Clone, Copy, Default)]
struct Anchor {
    /// RTP ticks (extended) and timeline milliseconds of the first frame.
    first: Option<(u64, f64)>,
    rate: u32,
    /// Latest sender report: NTP wall-clock time and its RTP time.
    report: Option<(SystemTime, u64)>,
}

impl Anchor {
    /// Sender wall-clock time of the anchor frame, from the report.
    fn anchor_wallclock(&self) -> Option<SystemTime> {
        let (ticks, _) = self.first?;
        let (ntp, report_ticks) = self.report?;
        let delta = rtp_delta(ticks, report_ticks);
        let seconds = delta as f64 / f64::from(self.rate.max(1));
        if seconds >= 0.0 {
            ntp.checked_add(Duration::from_secs_f64(seconds))
        } else {
            ntp.checked_sub(Duration::from_secs_f64(-seconds))
        }
    }
}

/// Signed distance `a - b` of two RTP times, tolerant of one side being
/// only 32 bits (reports carry the raw 32-bit timestamp).
fn rtp_delta(a: u64, b: u64) -> i64 {
    i64::from((a as u32).wrapping_sub(b as u32) as i32)
}

/// The timeline of one publish.
#[derive(Debug, Default)]
pub struct MediaClock {
    origin: Option<Instant>,
    video: Anchor,
    audio: Anchor,
    synced: bool,
    correction_ms: f64,
}

impl MediaClock {
    /// A timeline that starts at the first frame given to it.
    pub fn new() -> Self {
        Self::default()
    }

    fn anchor(&mut self, track: Track) -> &mut Anchor {
        match track {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        }
    }

    /// The timeline time (ms, 32-bit as RTMP carries it) of a frame of
    /// `track` with extended RTP time `ticks` at `rate` Hz that arrived at
    /// `arrival`.
    pub fn time_ms(&mut self, track: Track, ticks: u64, rate: u32, arrival: Instant) -> u32 {
        let origin = *self.origin.get_or_insert(arrival);
        let anchor = self.anchor(track);
        anchor.rate = rate.max(1);
        let (first_ticks, first_ms) = *anchor.first.get_or_insert_with(|| {
            let since = arrival.saturating_duration_since(origin);
            (ticks, since.as_secs_f64() * 1000.0)
        });
        let elapsed =
            (ticks as i128 - first_ticks as i128) as f64 * 1000.0 / f64::from(rate.max(1));
        let ms = ORIGIN_MS as f64 + first_ms + elapsed;
        let ms = ms.round() as i64;
        ms.rem_euclid(1 << 32) as u32
    }

    /// A sender report of `track`: the sender's wall clock `ntp` was at RTP
    /// time `rtp_ticks`. The first time both tracks have one, the audio
    /// anchor moves to where the reports place it.
    pub fn sender_report(&mut self, track: Track, ntp: SystemTime, rtp_ticks: u64) {
        self.anchor(track).report = Some((ntp, rtp_ticks));
        if self.synced {
            return;
        }
        let (Some(video_at), Some(audio_at), Some((_, video_ms)), Some((_, audio_ms))) = (
            self.video.anchor_wallclock(),
            self.audio.anchor_wallclock(),
            self.video.first,
            self.audio.first,
        ) else {
            return;
        };
        self.synced = true;
        let captured_apart_ms = match audio_at.duration_since(video_at) {
            Ok(d) => d.as_secs_f64() * 1000.0,
            Err(e) => -e.duration().as_secs_f64() * 1000.0,
        };
        let correction = (video_ms + captured_apart_ms) - audio_ms;
        if correction.abs() <= MAX_SYNC_CORRECTION_MS
            && let Some((_, ms)) = self.audio.first.as_mut()
        {
            *ms += correction;
            self.correction_ms = correction;
        }
    }

    /// How far the sender reports moved the audio (ms; 0 until they did).
    pub fn sync_correction_ms(&self) -> f64 {
        self.correction_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_their_rtp_clock_from_their_first_arrival() {
        let t0 = Instant::now();
        let mut clock = MediaClock::new();
        assert_eq!(clock.time_ms(Track::Video, 90_000, 90_000, t0), 1_000);
        // Arrival jitter does not move later frames: only RTP time counts.
        let late = t0 + Duration::from_millis(900);
        assert_eq!(
            clock.time_ms(Track::Video, 90_000 + 3_000, 90_000, late),
            1_033
        );
        // Audio anchored at its own first arrival, 20 ms after the video.
        let audio_at = t0 + Duration::from_millis(20);
        assert_eq!(clock.time_ms(Track::Audio, 5_000, 48_000, audio_at), 1_020);
        assert_eq!(clock.time_ms(Track::Audio, 5_960, 48_000, late), 1_040);
    }

    #[test]
    fn sender_reports_move_the_audio_to_where_the_sender_captured_it() {
        let t0 = Instant::now();
        let mut clock = MediaClock::new();
        clock.time_ms(Track::Video, 0, 90_000, t0);
        // Audio arrived 100 ms after the video, but was captured at the
        // same instant (its frames sat in the sender's jitter path longer).
        clock.time_ms(
            Track::Audio,
            48_000,
            48_000,
            t0 + Duration::from_millis(100),
        );
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // Both reports: video RTP 90_000 and audio RTP 96_000 at wall + 1 s.
        clock.sender_report(Track::Video, wall + Duration::from_secs(1), 90_000);
        assert_eq!(clock.sync_correction_ms(), 0.0, "one report is not enough");
        clock.sender_report(Track::Audio, wall + Duration::from_secs(1), 96_000);
        assert!((clock.sync_correction_ms() + 100.0).abs() < 1e-6);
        assert_eq!(
            clock.time_ms(Track::Audio, 48_000, 48_000, t0),
            clock.time_ms(Track::Video, 0, 90_000, t0)
        );
        // Later reports do not move the audio again.
        clock.sender_report(Track::Audio, wall + Duration::from_secs(3), 96_000);
        assert!((clock.sync_correction_ms() + 100.0).abs() < 1e-6);
    }

    #[test]
    fn an_unbelievable_sender_report_leaves_the_arrival_anchors() {
        let t0 = Instant::now();
        let mut clock = MediaClock::new();
        clock.time_ms(Track::Video, 0, 90_000, t0);
        clock.time_ms(Track::Audio, 0, 48_000, t0);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        clock.sender_report(Track::Video, wall, 0);
        clock.sender_report(Track::Audio, wall + Duration::from_secs(60), 0);
        assert_eq!(clock.sync_correction_ms(), 0.0);
    }

    #[test]
    fn rtp_times_that_wrap_32_bits_keep_counting_up() {
        let t0 = Instant::now();
        let mut clock = MediaClock::new();
        let before = u64::from(u32::MAX) - 2_999;
        let first = clock.time_ms(Track::Video, before, 90_000, t0);
        // Extended RTP times keep counting past 2^32.
        let after = clock.time_ms(Track::Video, before + 6_000, 90_000, t0);
        assert_eq!(after - first, 67);
        assert_eq!(rtp_delta(5, u64::from(u32::MAX)), 6);
    }
}
