//! Opus for WebRTC viewers of an AAC source: an RTMP publisher's AAC is
//! decoded and re-encoded to 20 ms Opus packets (libopus), so a WHEP
//! viewer of an RTMP channel hears it. Video is never re-encoded for
//! viewers; audio is cheap enough (about a percent of a core per
//! channel) to convert once per channel, and only while someone watches.
//!
//! Synchronous and clock-free: the caller passes each AAC frame with its
//! presentation time and gets the Opus packets that are ready, with
//! theirs. A gap or jump in the input times (a reconnect, lost audio)
//! restarts the output timeline there rather than drifting.

use std::collections::VecDeque;

use bytes::Bytes;
use ffmpeg_next::{ChannelLayout, Rational, codec, decoder, encoder, format, frame};

use super::LiveError;
use super::decoders::AudioSource;
use crate::pipeline::audio::ToPlanarF32;

/// Opus's clock, and the rate libopus is fed at.
const OPUS_RATE: u32 = 48_000;
/// Samples per ms at [`OPUS_RATE`].
const SAMPLES_PER_MS: i64 = 48;
/// One Opus frame: 20 ms, what WebRTC players expect.
const FRAME_SAMPLES: usize = 960;
/// Opus bit rates for speech and music from a lecture hall.
const STEREO_BITRATE: usize = 64_000;
const MONO_BITRATE: usize = 32_000;

/// One Opus packet for the viewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    /// Presentation time, ms on the publish's timeline (wrapping, as the
    /// input's).
    pub pts_ms: u32,
    /// The packet (one 20 ms frame).
    pub data: Bytes,
}

/// Converts one publish's AAC frames into Opus packets.
pub struct AacToOpus {
    decoder: decoder::Audio,
    converter: ToPlanarF32,
    encoder: encoder::Audio,
    channels: usize,
    /// Interleaved samples at 48 kHz waiting to fill a frame.
    queue: VecDeque<f32>,
    /// Time (48 kHz samples) of the first queued sample.
    queue_at: Option<i64>,
    decoded: frame::Audio,
    packet: codec::packet::Packet,
}

impl std::fmt::Debug for AacToOpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AacToOpus")
            .field("channels", &self.channels)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl AacToOpus {
    /// A converter for the AAC described by `asc` (its AudioSpecificConfig).
    /// Sources with more than two channels are mixed down to stereo.
    pub fn new(asc: &[u8]) -> Result<Self, LiveError> {
        ffmpeg_next::init().map_err(|e| LiveError::codec("init", e))?;
        let source = AudioSource::aac(asc)?;
        let channels = source.channels().clamp(1, 2);
        let decoder = source.open_decoder()?;
        let encoder = open_opus(channels)?;
        Ok(Self {
            decoder,
            converter: ToPlanarF32::new(OPUS_RATE, channels),
            encoder,
            channels: usize::from(channels),
            queue: VecDeque::new(),
            queue_at: None,
            decoded: frame::Audio::empty(),
            packet: codec::packet::Packet::empty(),
        })
    }

    /// Channels of the Opus output (1 or 2).
    pub fn channels(&self) -> u16 {
        if self.channels == 1 { 1 } else { 2 }
    }

    /// Converts one raw AAC frame presented at `pts_ms`; returns the Opus
    /// packets now complete. A frame the decoder refuses is skipped (the
    /// output resumes with the next good one).
    pub fn push(&mut self, pts_ms: u32, aac: &[u8]) -> Result<Vec<OpusPacket>, LiveError> {
        let mut out = Vec::new();
        let packet = codec::packet::Packet::copy(aac);
        if self.decoder.send_packet(&packet).is_err() {
            return Ok(out);
        }
        let mut at = i64::from(pts_ms) * SAMPLES_PER_MS;
        while self.decoder.receive_frame(&mut self.decoded).is_ok() {
            let converted = self.converter.convert(&mut self.decoded)?;
            let samples = converted.samples();
            let expected = self.queue_at.map(|q| q + self.queued_samples() as i64);
            // Small differences are rounding (AAC frames are 21.33 ms); a
            // larger one is a gap or a jump: the output follows the input.
            if expected.is_none_or(|e| (at - e).abs() > FRAME_SAMPLES as i64) {
                self.queue.clear();
                self.queue_at = Some(at);
            }
            self.enqueue(&converted);
            at += samples as i64;
            self.encode_ready(&mut out)?;
        }
        Ok(out)
    }

    fn queued_samples(&self) -> usize {
        self.queue.len() / self.channels
    }

    fn enqueue(&mut self, planar: &frame::Audio) {
        let n = planar.samples();
        let planes: Vec<&[f32]> = (0..self.channels)
            .map(|c| &planar.plane::<f32>(c)[..n])
            .collect();
        for i in 0..n {
            self.queue.extend(planes.iter().map(|p| p[i]));
        }
    }

    fn encode_ready(&mut self, out: &mut Vec<OpusPacket>) -> Result<(), LiveError> {
        let err = |e| LiveError::codec("opus encoder", e);
        let layout = ChannelLayout::default(self.channels as i32);
        while self.queued_samples() >= FRAME_SAMPLES {
            let at = self.queue_at.unwrap_or(0);
            let mut input = frame::Audio::new(
                format::Sample::F32(format::sample::Type::Packed),
                FRAME_SAMPLES,
                layout,
            );
            input.set_rate(OPUS_RATE);
            input.set_pts(Some(at));
            let bytes = input.data_mut(0);
            for (dst, sample) in bytes
                .chunks_exact_mut(4)
                .zip(self.queue.drain(..FRAME_SAMPLES * self.channels))
            {
                dst.copy_from_slice(&sample.to_ne_bytes());
            }
            self.queue_at = Some(at + FRAME_SAMPLES as i64);
            self.encoder.send_frame(&input).map_err(err)?;
            while self.encoder.receive_packet(&mut self.packet).is_ok() {
                let Some(data) = self.packet.data() else {
                    continue;
                };
                let pts = self.packet.pts().unwrap_or(at);
                out.push(OpusPacket {
                    pts_ms: (pts / SAMPLES_PER_MS) as u32,
                    data: Bytes::copy_from_slice(data),
                });
            }
        }
        Ok(())
    }
}

/// libopus at 48 kHz, 20 ms frames. libavcodec's own Opus encoder is
/// experimental; libopus is what Debian's FFmpeg has.
fn open_opus(channels: u16) -> Result<encoder::Audio, LiveError> {
    let err = |e| LiveError::codec("opus encoder", e);
    let codec = encoder::find_by_name("libopus").ok_or(LiveError::MissingCodec("libopus"))?;
    let ctx = codec::context::Context::new_with_codec(codec);
    let mut audio = ctx.encoder().audio().map_err(err)?;
    audio.set_rate(OPUS_RATE as i32);
    audio.set_channel_layout(ChannelLayout::default(i32::from(channels)));
    audio.set_format(format::Sample::F32(format::sample::Type::Packed));
    audio.set_bit_rate(if channels == 1 {
        MONO_BITRATE
    } else {
        STEREO_BITRATE
    });
    audio.set_time_base(Rational(1, OPUS_RATE as i32));
    audio.open().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AAC-LC frames of a 1 kHz tone made by libavcodec's AAC encoder,
    /// with the AudioSpecificConfig.
    fn aac_tone(rate: u32, channels: u16, seconds: f64) -> (Vec<u8>, Vec<Vec<u8>>) {
        ffmpeg_next::init().expect("ffmpeg");
        let codec = encoder::find(codec::Id::AAC).expect("aac encoder");
        let mut ctx = codec::context::Context::new_with_codec(codec);
        ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        let mut enc = ctx.encoder().audio().expect("audio encoder");
        let layout = ChannelLayout::default(i32::from(channels));
        enc.set_rate(rate as i32);
        enc.set_channel_layout(layout);
        enc.set_format(format::Sample::F32(format::sample::Type::Planar));
        enc.set_bit_rate(128_000);
        enc.set_time_base(Rational(1, rate as i32));
        let mut enc = enc.open().expect("open aac");
        let asc = crate::pipeline::ffi::extradata(&enc);
        let frame_size = enc.frame_size() as usize;
        let total = (seconds * f64::from(rate)) as usize;
        let mut frames = Vec::new();
        let mut packet = codec::packet::Packet::empty();
        let mut drain = |enc: &mut encoder::Audio, frames: &mut Vec<Vec<u8>>| {
            while enc.receive_packet(&mut packet).is_ok() {
                frames.push(packet.data().unwrap_or_default().to_vec());
            }
        };
        for start in (0..total).step_by(frame_size) {
            let mut f = frame::Audio::new(
                format::Sample::F32(format::sample::Type::Planar),
                frame_size,
                layout,
            );
            f.set_rate(rate);
            f.set_pts(Some(start as i64));
            for c in 0..usize::from(channels) {
                for (i, s) in f.plane_mut::<f32>(c).iter_mut().enumerate() {
                    let t = (start + i) as f32 / rate as f32;
                    *s = 0.25 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin();
                }
            }
            enc.send_frame(&f).expect("send");
            drain(&mut enc, &mut frames);
        }
        enc.send_eof().expect("eof");
        drain(&mut enc, &mut frames);
        (asc, frames)
    }

    /// Decodes Opus packets back to samples of the first channel at 48 kHz.
    fn decode_opus(channels: u16, packets: &[OpusPacket]) -> Vec<f32> {
        let source = AudioSource::opus(channels).expect("opus source");
        let mut dec = source.open_decoder().expect("opus decoder");
        let mut converter = ToPlanarF32::new(OPUS_RATE, channels);
        let mut samples = Vec::new();
        let mut decoded = frame::Audio::empty();
        for p in packets {
            dec.send_packet(&codec::packet::Packet::copy(&p.data))
                .expect("a decodable packet");
            while dec.receive_frame(&mut decoded).is_ok() {
                let planar = converter.convert(&mut decoded).expect("convert");
                samples.extend_from_slice(&planar.plane::<f32>(0)[..planar.samples()]);
            }
        }
        samples
    }

    fn push_all(
        conv: &mut AacToOpus,
        rate: u32,
        frames: &[Vec<u8>],
        from_ms: u32,
    ) -> Vec<OpusPacket> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let pts_ms = from_ms + (i as u64 * 1024 * 1000 / u64::from(rate)) as u32;
            out.extend(conv.push(pts_ms, f).expect("push"));
        }
        out
    }

    #[test]
    fn a_stereo_aac_tone_comes_out_as_20_ms_opus_packets_of_the_same_tone() {
        let (asc, frames) = aac_tone(44_100, 2, 2.0);
        let mut conv = AacToOpus::new(&asc).expect("converter");
        assert_eq!(conv.channels(), 2);
        let packets = push_all(&mut conv, 44_100, &frames, 5_000);
        // Two seconds are about a hundred 20 ms packets.
        assert!((95..=102).contains(&packets.len()), "{}", packets.len());
        for pair in packets.windows(2) {
            assert_eq!(pair[1].pts_ms - pair[0].pts_ms, 20, "{:?}", &pair[1].pts_ms);
        }
        assert!(
            packets[0].pts_ms.abs_diff(5_000) <= 20,
            "{}",
            packets[0].pts_ms
        );
        // Opus TOC: CELT fullband 20 ms, stereo flag set.
        assert!(packets.iter().all(|p| p.data[0] & 0x04 != 0));
        let samples = decode_opus(2, &packets);
        let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let rms = (middle.iter().map(|s| s * s).sum::<f32>() / middle.len() as f32).sqrt();
        // A 0.25 sine has an RMS of 0.177.
        assert!((0.14..0.21).contains(&rms), "rms {rms}");
        let crossings = middle
            .windows(2)
            .filter(|w| w[0] <= 0.0 && w[1] > 0.0)
            .count() as f64;
        let hz = crossings / (middle.len() as f64 / f64::from(OPUS_RATE));
        assert!((990.0..1010.0).contains(&hz), "{hz} Hz");
    }

    #[test]
    fn mono_aac_gives_mono_opus() {
        let (asc, frames) = aac_tone(48_000, 1, 0.5);
        let mut conv = AacToOpus::new(&asc).expect("converter");
        assert_eq!(conv.channels(), 1);
        let packets = push_all(&mut conv, 48_000, &frames, 0);
        assert!(packets.len() >= 20, "{}", packets.len());
        assert!(packets.iter().all(|p| p.data[0] & 0x04 == 0));
    }

    #[test]
    fn a_jump_in_the_input_restarts_the_output_timeline_there() {
        let (asc, frames) = aac_tone(48_000, 2, 1.0);
        let mut conv = AacToOpus::new(&asc).expect("converter");
        let before = push_all(&mut conv, 48_000, &frames[..20], 1_000);
        let after = push_all(&mut conv, 48_000, &frames[20..], 60_000);
        let last = before.last().expect("packets before the jump").pts_ms;
        assert!(last < 1_500, "{last}");
        // The encoder still holds the frame before the jump; what follows
        // starts at the new time.
        let all: Vec<u32> = before.iter().chain(&after).map(|p| p.pts_ms).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        let first = after.iter().map(|p| p.pts_ms).find(|&t| t > 2_000);
        assert!(
            first.is_some_and(|t| (60_000..60_040).contains(&t)),
            "{first:?}"
        );
    }

    #[test]
    fn a_corrupt_frame_is_skipped_and_the_tone_goes_on() {
        let (asc, frames) = aac_tone(48_000, 2, 1.0);
        let mut conv = AacToOpus::new(&asc).expect("converter");
        let mut out = push_all(&mut conv, 48_000, &frames[..10], 0);
        out.extend(
            conv.push(214, &[0xff; 7])
                .expect("a bad frame is not an error"),
        );
        out.extend(push_all(&mut conv, 48_000, &frames[11..], 235));
        assert!(out.len() >= 45, "{}", out.len());
    }

    #[test]
    fn a_config_that_is_not_aac_is_refused() {
        assert!(AacToOpus::new(&[]).is_err());
    }
}
