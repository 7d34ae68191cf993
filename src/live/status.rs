//! The live figures of every channel: what the channel status API shows
//! (through the control plane's [`LiveStatusSource`]) and the per-channel
//! Prometheus metrics. Updated by the channel runners and the live HTTP
//! handlers; read by the API and `/metrics`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use yanxiu_control::live_status::{LiveInputInfo, LiveStatus, LiveStatusSource};

/// A viewer counts as current for this long after their last request.
const VIEWER_TTL: Duration = Duration::from_secs(20);
/// The input bitrate is averaged over this window.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Bytes and frames over a sliding window; pure (instants are arguments).
#[derive(Debug, Default, Clone)]
pub struct RateMeter {
    samples: VecDeque<(Instant, u64, bool)>,
}

impl RateMeter {
    /// Adds `bytes` received at `at`; `frame` when it was a video frame.
    pub fn add(&mut self, at: Instant, bytes: u64, frame: bool) {
        self.samples.push_back((at, bytes, frame));
        while let Some(&(first, _, _)) = self.samples.front() {
            if at.duration_since(first) > RATE_WINDOW {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Whether the samples span (nearly) the whole window, so the rates
    /// are steady figures rather than a start-up or tail estimate.
    pub fn is_full(&self, now: Instant) -> bool {
        self.samples
            .front()
            .is_some_and(|(first, _, _)| now.duration_since(*first) >= RATE_WINDOW.mul_f64(0.8))
    }

    /// `(bit/s, video frames/s)` over the window ending at `now`.
    pub fn rates(&self, now: Instant) -> (u64, f64) {
        let Some(&(first, _, _)) = self.samples.front() else {
            return (0, 0.0);
        };
        let span = now.duration_since(first).as_secs_f64().max(1.0);
        let bytes: u64 = self.samples.iter().map(|s| s.1).sum();
        let frames = self.samples.iter().filter(|s| s.2).count();
        ((bytes as f64 * 8.0 / span) as u64, frames as f64 / span)
    }
}

#[derive(Debug, Default)]
struct ChannelFigures {
    status: LiveStatus,
    viewers: HashMap<String, Instant>,
}

/// Every channel's live figures.
#[derive(Debug)]
pub struct LiveBoard {
    channels: Mutex<HashMap<String, ChannelFigures>>,
    metrics: LiveMetrics,
}

#[derive(Debug)]
struct LiveMetrics {
    up: IntGaugeVec,
    bitrate: IntGaugeVec,
    viewers: IntGaugeVec,
    dropped: IntGaugeVec,
    reconnects: IntCounterVec,
    refused: IntCounterVec,
    segments: IntGaugeVec,
}

impl LiveBoard {
    /// A board whose metrics are registered in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &["channel"]);
        let counter =
            |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["channel"]);
        let metrics = LiveMetrics {
            up: gauge("live_channel_up", "1 while the channel has a live session")?,
            bitrate: gauge(
                "live_input_bitrate_bps",
                "Input bitrate of the live channel",
            )?,
            viewers: gauge("live_viewers", "Current viewers of the live channel")?,
            dropped: gauge(
                "live_dropped_frames",
                "Frames dropped in the current session (damage, before a keyframe)",
            )?,
            reconnects: counter("live_reconnects_total", "Publisher reconnects")?,
            refused: IntCounterVec::new(
                Opts::new("live_publish_refused_total", "Publishes refused, by reason"),
                &["code"],
            )?,
            segments: gauge(
                "live_segments_persisted",
                "Segments stored for the current session",
            )?,
        };
        registry.register(Box::new(metrics.up.clone()))?;
        registry.register(Box::new(metrics.bitrate.clone()))?;
        registry.register(Box::new(metrics.viewers.clone()))?;
        registry.register(Box::new(metrics.dropped.clone()))?;
        registry.register(Box::new(metrics.reconnects.clone()))?;
        registry.register(Box::new(metrics.refused.clone()))?;
        registry.register(Box::new(metrics.segments.clone()))?;
        Ok(Self {
            channels: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    fn with<T>(&self, channel: &str, f: impl FnOnce(&mut ChannelFigures) -> T) -> T {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        f(channels.entry(channel.to_owned()).or_default())
    }

    /// A session started.
    pub fn started(&self, channel: &str, session_id: &str, since_ms: i64) {
        self.with(channel, |c| {
            c.status = LiveStatus {
                live: true,
                since: Some(since_ms),
                session_id: Some(session_id.to_owned()),
                ..LiveStatus::default()
            };
        });
        self.metrics.up.with_label_values(&[channel]).set(1);
    }

    /// A publisher came back (or replaced the live one).
    pub fn reconnected(&self, channel: &str) {
        self.with(channel, |c| {
            c.status.reconnects += 1;
            c.status.live = true;
        });
        self.metrics.reconnects.with_label_values(&[channel]).inc();
    }

    /// The publisher dropped; the session waits for it.
    pub fn publisher_lost(&self, channel: &str, why: &str) {
        self.with(channel, |c| c.status.last_error = Some(why.to_owned()));
    }

    /// A publish was refused with the refusal `code`.
    pub fn refused(&self, code: &str) {
        self.metrics.refused.with_label_values(&[code]).inc();
    }

    /// The input as last measured.
    pub fn input(&self, channel: &str, input: LiveInputInfo) {
        let bitrate = input.bitrate_bps.unwrap_or(0);
        self.with(channel, |c| c.status.input = Some(input));
        self.metrics
            .bitrate
            .with_label_values(&[channel])
            .set(i64::try_from(bitrate).unwrap_or(i64::MAX));
    }

    /// The renditions offered.
    pub fn renditions(&self, channel: &str, names: Vec<String>) {
        self.with(channel, |c| c.status.renditions = names);
    }

    /// Session counters: frames dropped so far and segments stored.
    pub fn counters(&self, channel: &str, dropped_frames: u64, segments: u64) {
        self.with(channel, |c| c.status.dropped_frames = dropped_frames);
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.metrics
            .dropped
            .with_label_values(&[channel])
            .set(as_i64(dropped_frames));
        self.metrics
            .segments
            .with_label_values(&[channel])
            .set(as_i64(segments));
    }

    /// Something went wrong in the session (kept as the last error).
    pub fn error(&self, channel: &str, what: &str) {
        self.with(channel, |c| c.status.last_error = Some(what.to_owned()));
    }

    /// The session ended: the channel is idle; its figures are forgotten.
    pub fn ended(&self, channel: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels.remove(channel);
        for gauge in [
            &self.metrics.up,
            &self.metrics.bitrate,
            &self.metrics.viewers,
            &self.metrics.dropped,
            &self.metrics.segments,
        ] {
            let _ = gauge.remove_label_values(&[channel]);
        }
    }

    /// A viewer (`who`: token, or address and user agent) requested something.
    pub fn viewed(&self, channel: &str, who: String, now: Instant) {
        let count = self.with(channel, |c| {
            c.viewers.insert(who, now);
            c.viewers
                .retain(|_, seen| now.duration_since(*seen) <= VIEWER_TTL);
            c.viewers.len() as u64
        });
        self.metrics
            .viewers
            .with_label_values(&[channel])
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}

impl LiveStatusSource for LiveBoard {
    fn live_status(&self, channel_id: &str) -> Option<LiveStatus> {
        let now = Instant::now();
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let figures = channels.get_mut(channel_id)?;
        figures
            .viewers
            .retain(|_, seen| now.duration_since(*seen) <= VIEWER_TTL);
        let mut status = figures.status.clone();
        status.viewers = figures.viewers.len() as u64;
        Some(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_meter_averages_bits_and_frames_over_its_window() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        for i in 0..50u64 {
            meter.add(start + Duration::from_millis(i * 100), 12_500, true);
        }
        let (bps, fps) = meter.rates(start + Duration::from_millis(4_900));
        assert!((950_000..=1_050_000).contains(&bps), "{bps}");
        assert!((9.0..=11.0).contains(&fps), "{fps}");
    }

    #[test]
    fn viewers_expire_and_an_ended_channel_reports_nothing() {
        let board = LiveBoard::new(&Registry::new()).unwrap();
        board.started("c", "s", 1);
        let now = Instant::now();
        board.viewed("c", "a".into(), now);
        board.viewed("c", "b".into(), now);
        board.viewed("c", "a".into(), now);
        let status = board.live_status("c").unwrap();
        assert!(status.live);
        assert_eq!(status.viewers, 2);
        board.ended("c");
        assert_eq!(board.live_status("c"), None);
    }
}
