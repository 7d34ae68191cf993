//! MPEG-TS payload to [`LiveEvent`]s, the way the RTMP server sends them:
//! H.264 Annex B access units become an avcC record (from the SPS and PPS
//! in the stream, sent again when they change) and length-prefixed NAL
//! units with a keyframe flag, HEVC ones likewise an hvcC (from the VPS, SPS
//! and PPS) as an Enhanced RTMP publisher sends it; AAC ADTS frames become an
//! `AudioSpecificConfig` and raw frames. 90 kHz timestamps (33 bits, they
//! wrap after ~26.5 h) become milliseconds from the start of the publish.
//! Pure, no IO: [`TsToEvents::push`] takes received bytes and returns events.
//!
//! The transcoder plans its renditions at the first video frame, from the
//! configs it has by then (RTMP sends both sequence headers first). In a
//! transport stream the first audio may come after the first video, so
//! the start is held back until the AAC config is known, when the program
//! has an AAC stream, for at most [`START_HOLD_MS`] of video.

use bytes::Bytes;
use yanxiu_packager::h264::{
    AvcDecoderConfig, NAL_IDR, NAL_PPS, NAL_SPS, annexb_nal_units, annexb_to_length_prefixed,
    nal_type,
};

use super::hevc;
use super::ts::{PesUnit, Track, TsDemuxer, TsError};
use crate::publish::event::{EndReason, LiveEvent};

/// 90 kHz ticks per millisecond.
const TICKS_PER_MS: u64 = 90;
/// MPEG-TS timestamps are 33 bits.
const WRAP: u64 = 1 << 33;
/// The first timestamp of a publish is put at this many milliseconds, so a
/// stream whose other track starts slightly earlier stays positive.
const START_MS: i64 = 1_000;
/// Longest the start of a publish waits for the AAC config (video time).
pub const START_HOLD_MS: i64 = 2_000;
/// Most events held back at the start.
const START_HOLD_EVENTS: usize = 2_048;
/// AAC sampling frequencies by ADTS index.
const AAC_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// The video codecs a publish may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VideoCodec {
    /// H.264: an avcC and length-prefixed NAL units.
    H264,
    /// HEVC: an hvcC and length-prefixed NAL units, laddered to H.264 downstream.
    Hevc,
}

/// Turns a publisher's MPEG-TS bytes into the events of its publish.
#[derive(Debug)]
pub struct TsToEvents {
    demuxer: TsDemuxer,
    clock: Clock,
    /// The video decoder configuration last sent (avcC or hvcC).
    avcc: Option<Bytes>,
    /// A keyframe was sent since the last config: frames may follow.
    video_started: bool,
    asc: Option<Bytes>,
    /// Events held back until the start (see the module comment); `None`
    /// once started.
    held: Option<Vec<LiveEvent>>,
}

impl TsToEvents {
    /// A converter taking PES packets (one video access unit, or a run of
    /// audio frames) up to `max_pes_bytes`.
    pub fn new(max_pes_bytes: usize) -> Self {
        Self {
            demuxer: TsDemuxer::new(max_pes_bytes),
            clock: Clock::default(),
            avcc: None,
            video_started: false,
            asc: None,
            held: Some(Vec::new()),
        }
    }

    /// The events `bytes` complete. An error ends the publish.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<LiveEvent>, EndReason> {
        let units = self.demuxer.push(bytes).map_err(|e| match e {
            TsError::Unsupported(what) => EndReason::UnsupportedMedia(what),
            TsError::Oversized(bytes) => EndReason::Oversized { bytes },
        })?;
        let mut events = Vec::new();
        for unit in units {
            match unit.track {
                Track::H264 => self.video(unit, VideoCodec::H264, &mut events)?,
                Track::H265 => self.video(unit, VideoCodec::Hevc, &mut events)?,
                Track::Adts => self.audio(unit, &mut events)?,
            }
        }
        Ok(self.hold_start(events))
    }

    /// Holds events back until the start may go (see the module comment),
    /// then lets them out with the AAC config first.
    fn hold_start(&mut self, events: Vec<LiveEvent>) -> Vec<LiveEvent> {
        let Some(held) = self.held.as_mut() else {
            return events;
        };
        held.extend(events);
        let first_video = held.iter().find_map(|e| match e {
            LiveEvent::Video { dts_ms, .. } => Some(*dts_ms),
            _ => None,
        });
        let last_video = held.iter().rev().find_map(|e| match e {
            LiveEvent::Video { dts_ms, .. } => Some(*dts_ms),
            _ => None,
        });
        let audio_known = self.asc.is_some() || !self.demuxer.has_audio();
        let waited_long = match (first_video, last_video) {
            (Some(first), Some(last)) => i64::from(last.wrapping_sub(first)) >= START_HOLD_MS,
            _ => false,
        };
        let ready = (audio_known && first_video.is_some())
            || waited_long
            || held.len() >= START_HOLD_EVENTS;
        if !ready {
            return Vec::new();
        }
        let mut held = self.held.take().unwrap_or_default();
        if let Some(at) = held
            .iter()
            .position(|e| matches!(e, LiveEvent::AudioConfig { .. }))
        {
            let config = held.remove(at);
            held.insert(0, config);
        }
        held
    }

    fn video(
        &mut self,
        unit: PesUnit,
        codec: VideoCodec,
        events: &mut Vec<LiveEvent>,
    ) -> Result<(), EndReason> {
        let Some(pts) = unit.pts else {
            // An access unit without a time cannot be placed; skip it.
            return Ok(());
        };
        let dts = unit.dts.unwrap_or(pts);
        let mut keyframe = false;
        let mut parameter_sets = false;
        for nal in annexb_nal_units(&unit.data) {
            match codec {
                VideoCodec::H264 => match nal_type(nal) {
                    Some(NAL_IDR) => keyframe = true,
                    Some(NAL_SPS | NAL_PPS) => parameter_sets = true,
                    _ => {}
                },
                VideoCodec::Hevc => match hevc::nal_type(nal) {
                    Some(t) if hevc::is_random_access(t) => keyframe = true,
                    Some(hevc::NAL_VPS | hevc::NAL_SPS | hevc::NAL_PPS) => parameter_sets = true,
                    _ => {}
                },
            }
        }
        if parameter_sets {
            // A broken parameter set gives no config: the last good one stays.
            let config = match codec {
                VideoCodec::H264 => {
                    AvcDecoderConfig::from_parameter_sets(annexb_nal_units(&unit.data))
                        .ok()
                        .map(|config| Bytes::from(config.to_bytes()))
                }
                VideoCodec::Hevc => hevc::hvcc_from_parameter_sets(annexb_nal_units(&unit.data)),
            };
            if let Some(config) = config
                && self.avcc.as_ref() != Some(&config)
            {
                self.avcc = Some(config.clone());
                self.video_started = false;
                events.push(match codec {
                    VideoCodec::H264 => LiveEvent::VideoConfig { avcc: config },
                    VideoCodec::Hevc => LiveEvent::HevcConfig { hvcc: config },
                });
            }
        }
        if self.avcc.is_none() || !(keyframe || self.video_started) {
            // Nothing decodes before a config and a keyframe.
            return Ok(());
        }
        self.video_started = true;
        let dts_ms = self.clock.ms(dts);
        let pts_ms = self.clock.ms(pts);
        let data = annexb_to_length_prefixed(&unit.data);
        if data.is_empty() {
            return Ok(());
        }
        events.push(LiveEvent::Video {
            dts_ms: wrap_ms(dts_ms),
            cts_ms: i32::try_from(pts_ms - dts_ms).unwrap_or(0),
            keyframe,
            data: Bytes::from(data),
        });
        Ok(())
    }

    fn audio(&mut self, unit: PesUnit, events: &mut Vec<LiveEvent>) -> Result<(), EndReason> {
        let Some(pts) = unit.pts else {
            return Ok(());
        };
        let mut rest = unit.data.as_slice();
        let mut index = 0u64;
        while !rest.is_empty() {
            let frame = parse_adts(rest).map_err(|e| EndReason::Protocol(e.to_owned()))?;
            if self.asc.as_deref() != Some(&frame.asc[..]) {
                let asc = Bytes::copy_from_slice(&frame.asc);
                self.asc = Some(asc.clone());
                events.push(LiveEvent::AudioConfig { asc });
            }
            // Each ADTS frame holds 1024 samples; later frames of one PES
            // packet follow the first at that pace.
            let offset = index * 1024 * 90_000 / u64::from(frame.rate);
            let dts_ms = self.clock.ms((pts + offset) % WRAP);
            events.push(LiveEvent::Audio {
                dts_ms: wrap_ms(dts_ms),
                data: Bytes::copy_from_slice(&rest[frame.header_len..frame.frame_len]),
            });
            rest = &rest[frame.frame_len..];
            index += 1;
        }
        Ok(())
    }
}

/// Milliseconds as the events carry them (RTMP-style 32-bit time).
fn wrap_ms(ms: i64) -> u32 {
    // Truncation is the point: event time wraps like RTMP time.
    (ms.max(0) as u64 & u64::from(u32::MAX)) as u32
}

/// 33-bit 90 kHz time to milliseconds since the publish began, across
/// wraps. The first timestamp seen (either track) is [`START_MS`].
#[derive(Debug, Default)]
struct Clock {
    /// The first timestamp, extended.
    base: Option<i64>,
    /// The last timestamp, extended (wraps added).
    last: i64,
}

impl Clock {
    fn ms(&mut self, raw: u64) -> i64 {
        let raw = (raw % WRAP) as i64;
        let extended = match self.base {
            None => {
                self.base = Some(raw);
                raw
            }
            Some(_) => {
                // The extension of `raw` nearest the last timestamp (tracks
                // interleave a little out of order; a wrap is a big jump).
                let wrap = WRAP as i64;
                let epoch = self.last.div_euclid(wrap);
                [epoch - 1, epoch, epoch + 1]
                    .into_iter()
                    .map(|e| e * wrap + raw)
                    .min_by_key(|candidate| (candidate - self.last).abs())
                    .unwrap_or(raw)
            }
        };
        self.last = extended;
        let base = self.base.unwrap_or(extended);
        START_MS + (extended - base) / TICKS_PER_MS as i64
    }
}

/// One ADTS frame's header facts.
#[derive(Debug, PartialEq, Eq)]
struct AdtsFrame {
    /// The AudioSpecificConfig it implies (object type, rate, channels).
    asc: [u8; 2],
    /// Sampling rate in Hz.
    rate: u32,
    /// Header length (7, or 9 with a CRC).
    header_len: usize,
    /// Whole frame length, header included.
    frame_len: usize,
}

/// Reads the ADTS header at the start of `data` (ISO/IEC 13818-7 6.2).
fn parse_adts(data: &[u8]) -> Result<AdtsFrame, &'static str> {
    let h = data.get(..7).ok_or("truncated ADTS header")?;
    if h[0] != 0xff || h[1] & 0xf6 != 0xf0 {
        return Err("ADTS sync word missing (only AAC in ADTS is accepted)");
    }
    let protection_absent = h[1] & 0x01 == 1;
    let object_type = (h[2] >> 6) + 1;
    let rate_index = (h[2] >> 2) & 0x0f;
    let channels = ((h[2] & 0x01) << 2) | (h[3] >> 6);
    let frame_len =
        (usize::from(h[3] & 0x03) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
    let header_len = if protection_absent { 7 } else { 9 };
    let rate = *AAC_RATES
        .get(usize::from(rate_index))
        .ok_or("reserved ADTS sampling frequency")?;
    if frame_len <= header_len || frame_len > data.len() {
        return Err("ADTS frame length out of range");
    }
    Ok(AdtsFrame {
        asc: [
            (object_type << 3) | (rate_index >> 1),
            ((rate_index & 1) << 7) | (channels << 3),
        ],
        rate,
        header_len,
        frame_len,
    })
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
