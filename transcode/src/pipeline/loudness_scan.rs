//! The loudness pre-scan: reads the source's sound alone (the demuxer skips
//! the video), converts it exactly as the audio rendition will (rate and
//! channel count), and measures its EBU R128 integrated loudness and true
//! peak. Runs before the single transcode pass when the ladder asks for a
//! loudness target; decoding sound costs little next to decoding pictures.

use std::path::Path;

use ebur128::{Channel, EbuR128, Mode};
use ffmpeg_next::{codec, format, frame};

use super::audio::ToPlanarF32;
use super::ffi;
use crate::TranscodeError;
use crate::ladder::PlannedAudio;
use crate::loudness::LoudnessMeasurement;

const STAGE: &str = "loudness scan";

/// Consecutive unreadable packets tolerated before giving up.
const MAX_CONSECUTIVE_READ_ERRORS: u32 = 64;

/// Measures stream `audio_stream` of `input` as `plan` will encode it.
pub fn measure(
    input: &Path,
    audio_stream: usize,
    plan: &PlannedAudio,
) -> Result<LoudnessMeasurement, TranscodeError> {
    let mut source = format::input(input).map_err(|e| TranscodeError::open(input, e))?;
    let stream = source.stream(audio_stream).ok_or(TranscodeError::NoAudio)?;
    let ctx = codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| TranscodeError::decoder(STAGE, e))?;
    let mut decoder = ctx
        .decoder()
        .audio()
        .map_err(|e| TranscodeError::decoder(STAGE, e))?;
    ffi::discard_all_but(&mut source, audio_stream);

    let mut meter = Meter::new(plan)?;
    let mut to_f32 = ToPlanarF32::new(plan.sample_rate, plan.channels);
    let mut packet = codec::packet::Packet::empty();
    let mut decoded = frame::Audio::empty();
    let mut consecutive_errors = 0;
    loop {
        match packet.read(&mut source) {
            Ok(()) => consecutive_errors = 0,
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => {
                consecutive_errors += 1;
                if consecutive_errors > MAX_CONSECUTIVE_READ_ERRORS {
                    return Err(TranscodeError::decoder(STAGE, e));
                }
                continue;
            }
        }
        // A packet the decoder refuses is skipped, as the transcode does.
        if packet.stream() != audio_stream || decoder.send_packet(&packet).is_err() {
            continue;
        }
        while decoder.receive_frame(&mut decoded).is_ok() {
            meter.add(&to_f32.convert(&mut decoded)?)?;
        }
    }
    if decoder.send_eof().is_ok() {
        while decoder.receive_frame(&mut decoded).is_ok() {
            meter.add(&to_f32.convert(&mut decoded)?)?;
        }
    }
    while let Some(tail) = to_f32.flush() {
        meter.add(&tail)?;
    }
    Ok(meter.finish())
}

/// Integrated loudness and true peak over planar float frames.
struct Meter {
    meter: EbuR128,
    channels: u32,
}

impl Meter {
    fn new(plan: &PlannedAudio) -> Result<Self, TranscodeError> {
        let channels = u32::from(plan.channels.max(1));
        let bad = |_| TranscodeError::Internal("loudness meter");
        let mut meter =
            EbuR128::new(channels, plan.sample_rate, Mode::I | Mode::TRUE_PEAK).map_err(bad)?;
        if channels == 1 {
            // A mono lecture microphone is heard on both speakers, as the
            // QC measures it.
            meter.set_channel(0, Channel::DualMono).map_err(bad)?;
        }
        Ok(Self { meter, channels })
    }

    fn add(&mut self, f: &frame::Audio) -> Result<(), TranscodeError> {
        let n = f.samples();
        if n == 0 || f.planes() != self.channels as usize {
            return Ok(());
        }
        let planes: Vec<&[f32]> = (0..f.planes())
            .map(|c| {
                let plane = f.plane::<f32>(c);
                &plane[..n.min(plane.len())]
            })
            .collect();
        self.meter
            .add_frames_planar_f32(&planes)
            .map_err(|_| TranscodeError::Internal("loudness meter"))
    }

    fn finish(self) -> LoudnessMeasurement {
        let peak = (0..self.channels)
            .filter_map(|c| self.meter.true_peak(c).ok())
            .fold(0.0_f64, f64::max);
        LoudnessMeasurement {
            integrated_lufs: self.meter.loudness_global().ok().filter(|l| l.is_finite()),
            true_peak_dbtp: (peak > 0.0).then(|| 20.0 * peak.log10()),
        }
    }
}
