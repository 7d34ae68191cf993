//! The content interlace check: field order flags lie in both directions,
//! so the first pictures of the video stream are decoded and run through
//! libavfilter's `idet`, whose counts [`crate::classify::content_scan`]
//! judges. Bounded by a picture count and a wall-clock budget; any failure
//! (an undecodable stream, a seek the container refuses) means "no
//! answer", never a failed probe.
//!
//! The same pictures tell whether the stream carries closed captions:
//! libav's decoders hand each picture's CEA-608/708 bytes (ATSC A/53 user
//! data) over as frame side data, so looking costs no extra decoding.

use std::time::Instant;

use ff::{Rational, codec, filter, format, frame};
use ffmpeg_next as ff;

use crate::report::IdetCounts;

/// What the first pictures of a video stream showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct PictureScan {
    /// `idet`'s counts; `None` when nothing could be counted.
    pub idet: Option<IdetCounts>,
    /// Whether any decoded picture carried closed captions (A/53 side data).
    pub closed_captions: bool,
}

/// Decodes the first `max_frames` pictures of stream `index` (from the
/// start of the file), stopping at `until`: runs `idet` over them and
/// looks for closed captions on them. Pictures larger than `max_pixels`
/// are not decoded.
pub(super) fn scan_pictures(
    input: &mut format::context::Input,
    index: usize,
    max_frames: usize,
    max_pixels: u64,
    until: Instant,
) -> PictureScan {
    let mut closed_captions = false;
    let idet = idet_counts(
        input,
        index,
        max_frames,
        max_pixels,
        until,
        &mut closed_captions,
    );
    PictureScan {
        idet,
        closed_captions,
    }
}

/// Whether `picture` carries CEA-608/708 caption bytes.
fn has_captions(picture: &frame::Video) -> bool {
    picture
        .side_data(frame::side_data::Type::A53CC)
        .is_some_and(|side| !side.data().is_empty())
}

/// `idet`'s counts over the pictures [`scan_pictures`] decodes; sets
/// `captions` when one of them carries closed captions.
fn idet_counts(
    input: &mut format::context::Input,
    index: usize,
    max_frames: usize,
    max_pixels: u64,
    until: Instant,
    captions: &mut bool,
) -> Option<IdetCounts> {
    if max_frames == 0 || Instant::now() >= until {
        return None;
    }
    input.seek(0, ..).ok()?;
    let stream = input.stream(index)?;
    let time_base = stream.time_base();
    let mut ctx = codec::context::Context::from_parameters(stream.parameters()).ok()?;
    ctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 2,
        ..Default::default()
    });
    let mut options = ff::Dictionary::new();
    options.set("max_pixels", &max_pixels.min(i32::MAX as u64).to_string());
    let codec = ff::decoder::find(ctx.id())?;
    let mut decoder = ctx
        .decoder()
        .open_as_with(codec, options)
        .ok()?
        .video()
        .ok()?;

    let mut check = Check {
        graph: None,
        time_base,
        fed: 0,
        counts: None,
    };
    let mut packet = codec::packet::Packet::empty();
    let mut decoded = frame::Video::empty();
    let most_reads = max_frames.saturating_mul(16);
    for _ in 0..most_reads {
        if check.fed >= max_frames || Instant::now() >= until {
            break;
        }
        match packet.read(input) {
            Ok(()) => {}
            Err(ff::Error::Eof) => {
                if decoder.send_eof().is_ok() {
                    while decoder.receive_frame(&mut decoded).is_ok() {
                        *captions |= has_captions(&decoded);
                        check.feed(&decoded)?;
                    }
                }
                break;
            }
            Err(_) => break,
        }
        if packet.stream() != index || decoder.send_packet(&packet).is_err() {
            continue;
        }
        while check.fed < max_frames && decoder.receive_frame(&mut decoded).is_ok() {
            *captions |= has_captions(&decoded);
            check.feed(&decoded)?;
        }
    }
    check.finish();
    check.counts
}

/// The `buffer → idet → buffersink` graph and the latest counts.
struct Check {
    graph: Option<filter::Graph>,
    time_base: Rational,
    fed: usize,
    counts: Option<IdetCounts>,
}

impl Check {
    fn feed(&mut self, picture: &frame::Video) -> Option<()> {
        if self.graph.is_none() {
            self.graph = Some(idet_graph(picture, self.time_base)?);
        }
        let graph = self.graph.as_mut()?;
        graph.get("in")?.source().add(picture).ok()?;
        self.fed += 1;
        self.pull();
        Some(())
    }

    fn pull(&mut self) {
        let Some(graph) = self.graph.as_mut() else {
            return;
        };
        let Some(mut sink) = graph.get("out") else {
            return;
        };
        let mut out = frame::Video::empty();
        while sink.sink().frame(&mut out).is_ok() {
            let metadata = out.metadata();
            // Counts are written with two decimals ("75.00").
            let count = |key: &str| {
                metadata
                    .get(&format!("lavfi.idet.multiple.{key}"))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(|v| v.round() as u64)
            };
            if let (Some(tff), Some(bff), Some(progressive), Some(undetermined)) = (
                count("tff"),
                count("bff"),
                count("progressive"),
                count("undetermined"),
            ) {
                self.counts = Some(IdetCounts {
                    tff,
                    bff,
                    progressive,
                    undetermined,
                });
            }
        }
    }

    fn finish(&mut self) {
        if let Some(graph) = self.graph.as_mut()
            && let Some(mut src) = graph.get("in")
            && src.source().flush().is_ok()
        {
            self.pull();
        }
    }
}

fn idet_graph(first: &frame::Video, time_base: Rational) -> Option<filter::Graph> {
    let mut graph = filter::Graph::new();
    let sar = first.aspect_ratio();
    let sar = if sar.0 <= 0 || sar.1 <= 0 {
        Rational(1, 1)
    } else {
        sar
    };
    let time_base = if time_base.0 <= 0 || time_base.1 <= 0 {
        Rational(1, 90_000)
    } else {
        time_base
    };
    let pix: ff::ffi::AVPixelFormat = first.format().into();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        first.width(),
        first.height(),
        pix as i32,
        time_base.0,
        time_base.1,
        sar.0,
        sar.1
    );
    graph.add(&filter::find("buffer")?, "in", &args).ok()?;
    graph.add(&filter::find("buffersink")?, "out", "").ok()?;
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse("idet"))
        .ok()?;
    graph.validate().ok()?;
    Some(graph)
}
