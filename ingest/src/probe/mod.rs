//! Probing a media file with libavformat: what container, streams,
//! codecs, sizes and rates it holds, as a [`MediaReport`].
//!
//! Probing is bounded so hostile or broken uploads cannot hang or exhaust
//! the server: the container is recognised from the content alone (never
//! the file name), libav reads at most [`ProbeLimits::probe_size_bytes`]
//! and [`ProbeLimits::analyze_duration`] to learn the streams, a wall-clock
//! [`ProbeLimits::deadline`] interrupts any read, and a picture-size guard
//! refuses headers that declare enormous pictures before any decoder
//! allocates for them. A container index pointing past the end of the file
//! (an interrupted upload) makes the file unreadable, not merely short.

mod error;
mod interlace;
mod libav;

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ffmpeg_next as ff;

pub use self::error::{ProbeError, UnreadableReason};
pub use crate::report::{
    AudioInfo, HdrKind, IdetCounts, MediaReport, StreamKind, StreamReport, VideoInfo, VideoSignal,
};
use crate::{classify, geometry};

/// Bounds on the work one probe may do.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeLimits {
    /// Most bytes libav reads to learn the streams (`probesize`); also the
    /// most bytes read to recognise the container from the content.
    pub probe_size_bytes: u64,
    /// Most media time libav analyses to learn the streams (`analyzeduration`).
    pub analyze_duration: Duration,
    /// Wall-clock budget for the whole probe; libav reads are interrupted
    /// when it passes and the probe fails with [`ProbeError::Timeout`].
    pub deadline: Duration,
    /// Largest picture edge a stream may declare, in pixels.
    pub max_edge: u32,
    /// Largest picture area a stream may declare or a probing decoder may
    /// allocate, in pixels.
    pub max_pixels: u64,
    /// Video packets whose timestamps are read to tell constant from
    /// variable frame rate.
    pub timestamp_packets: usize,
    /// Pictures decoded for the content interlace check (`idet`), which also
    /// looks for closed captions on them; 0 skips both.
    pub interlace_frames: usize,
    /// Most wall-clock time the content interlace check may take (within
    /// [`ProbeLimits::deadline`]); it answers with what it counted by then.
    pub interlace_budget: Duration,
}

impl Default for ProbeLimits {
    /// 8 MiB / 10 s of media to learn the streams, 10 s wall clock,
    /// pictures up to 16384 pixels per edge and 8192 × 8192 in area (twice
    /// 8K UHD), 300 video packets for the frame-rate check, 200 pictures
    /// and at most 4 s for the content interlace check.
    fn default() -> ProbeLimits {
        ProbeLimits {
            probe_size_bytes: 8 * 1024 * 1024,
            analyze_duration: Duration::from_secs(10),
            deadline: Duration::from_secs(10),
            max_edge: 16384,
            max_pixels: 8192 * 8192,
            timestamp_packets: 300,
            interlace_frames: 200,
            interlace_budget: Duration::from_secs(4),
        }
    }
}

/// Most bytes read to recognise the container from the content.
const SNIFF_BYTES: u64 = 2 * 1024 * 1024;

/// Makes libav print only fatal problems on stderr (its per-file warnings
/// about broken input would otherwise interleave with a tool's own output).
pub fn silence_libav_logs() {
    ff::util::log::set_level(ff::util::log::Level::Fatal);
}

fn init_libav() -> Result<(), ProbeError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| ff::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| ProbeError::Io {
            source: std::io::Error::other(format!("libav init failed: {e}")),
        })
}

/// Probes the media file at `path` within `limits`.
pub fn probe_file(path: &Path, limits: &ProbeLimits) -> Result<MediaReport, ProbeError> {
    let started = Instant::now();
    let deadline = started + limits.deadline;
    let timed_out = || ProbeError::Timeout {
        after: limits.deadline,
    };

    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ProbeError::NotFound {
            path: path.to_path_buf(),
        },
        _ => ProbeError::Io { source: e },
    })?;
    if !metadata.is_file() {
        return Err(ProbeError::Unreadable {
            reason: UnreadableReason::NotARegularFile,
        });
    }
    let size_bytes = metadata.len();
    if size_bytes == 0 {
        return Err(ProbeError::Empty);
    }

    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(SNIFF_BYTES.min(limits.probe_size_bytes.max(2048)))
        .read_to_end(&mut head)?;

    init_libav()?;
    let format = libav::sniff_format(&head).ok_or(ProbeError::NotMedia { detected_as: None })?;
    let format_name = format.name();
    if classify::is_still_image_demuxer(&format_name) {
        return Err(ProbeError::NotMedia {
            detected_as: Some(format_name),
        });
    }

    let mut options = ff::Dictionary::new();
    options.set("probesize", &limits.probe_size_bytes.max(32).to_string());
    options.set(
        "analyzeduration",
        &limits.analyze_duration.as_micros().to_string(),
    );
    let mut input = libav::open_input(path, format, options, move || Instant::now() >= deadline)
        .map_err(|e| {
            if Instant::now() >= deadline {
                timed_out()
            } else {
                ProbeError::Unreadable {
                    reason: UnreadableReason::HeadersUnreadable {
                        format: format_name.clone(),
                        libav: e.to_string(),
                    },
                }
            }
        })?;

    check_picture_sizes(&input, limits)?;
    libav::find_stream_info(&mut input, limits.max_pixels).map_err(|e| {
        if Instant::now() >= deadline {
            timed_out()
        } else {
            ProbeError::Unreadable {
                reason: UnreadableReason::StreamInfoUnreadable {
                    libav: e.to_string(),
                },
            }
        }
    })?;
    check_picture_sizes(&input, limits)?;
    if input.nb_streams() == 0 {
        return Err(ProbeError::Unreadable {
            reason: UnreadableReason::NoStreams,
        });
    }
    if let Some(needed_bytes) = input.streams().filter_map(|s| libav::indexed_end(&s)).max()
        && needed_bytes > size_bytes
    {
        return Err(ProbeError::Unreadable {
            reason: UnreadableReason::Truncated {
                size_bytes,
                needed_bytes,
            },
        });
    }

    let scan_stream = input
        .streams()
        .find(|s| kind_of(s) == StreamKind::Video)
        .map(|s| s.index());
    let (timestamps, reached_end) = match scan_stream {
        Some(index) => read_timestamps(&mut input, index, limits.timestamp_packets),
        None => (Vec::new(), false),
    };
    if Instant::now() >= deadline {
        return Err(timed_out());
    }
    let pictures = scan_stream
        .map(|index| {
            let until = deadline.min(Instant::now() + limits.interlace_budget);
            interlace::scan_pictures(
                &mut input,
                index,
                limits.interlace_frames,
                limits.max_pixels,
                until,
            )
        })
        .unwrap_or_default();

    let streams: Vec<StreamReport> = input
        .streams()
        .map(|s| {
            let verdict = (Some(s.index()) == scan_stream)
                .then(|| {
                    classify::timestamps_are_variable(classify::TimestampSample {
                        decode_order: &timestamps,
                        reached_end,
                    })
                })
                .flatten();
            let pictures = Some(pictures).filter(|_| Some(s.index()) == scan_stream);
            stream_report(&s, verdict, pictures.unwrap_or_default())
        })
        .collect();
    let codecs: Vec<&str> = streams.iter().map(|s| s.codec.as_str()).collect();
    let container_family = classify::container_family(&format_name, &codecs);
    let duration = input.duration();
    Ok(MediaReport {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size_bytes,
        container: format_name,
        container_family,
        duration_seconds: (duration > 0 && duration != ff::ffi::AV_NOPTS_VALUE)
            .then(|| duration as f64 / f64::from(ff::ffi::AV_TIME_BASE)),
        bit_rate: u64::try_from(input.bit_rate()).ok().filter(|b| *b > 0),
        streams,
    })
}

/// Refuses streams that declare pictures beyond the limits.
fn check_picture_sizes(
    input: &ff::format::context::Input,
    limits: &ProbeLimits,
) -> Result<(), ProbeError> {
    for stream in input.streams() {
        let facts = libav::codec_facts(&stream);
        let (w, h) = (facts.width, facts.height);
        if w > limits.max_edge
            || h > limits.max_edge
            || u64::from(w) * u64::from(h) > limits.max_pixels
        {
            return Err(ProbeError::Unreadable {
                reason: UnreadableReason::PictureTooLarge {
                    stream: stream.index(),
                    width: w,
                    height: h,
                    max_edge: limits.max_edge,
                    max_pixels: limits.max_pixels,
                },
            });
        }
    }
    Ok(())
}

/// Presentation (else decode) timestamps of the first `max_packets`
/// packets of stream `index`, in decode order, and whether the read
/// reached the end of the file (so every packet of the stream was seen).
/// Stops early at the end of the file, at any read error (a truncated
/// tail, an interrupted read) or after reading 8 × `max_packets` packets of
/// all streams.
fn read_timestamps(
    input: &mut ff::format::context::Input,
    index: usize,
    max_packets: usize,
) -> (Vec<i64>, bool) {
    let mut timestamps = Vec::with_capacity(max_packets);
    let mut packet = ff::Packet::empty();
    for _ in 0..max_packets.saturating_mul(8) {
        if timestamps.len() >= max_packets {
            break;
        }
        match packet.read(input) {
            Ok(()) => {}
            Err(ff::Error::Eof) => return (timestamps, true),
            Err(_) => break,
        }
        if packet.stream() == index
            && let Some(ts) = packet.pts().or(packet.dts())
        {
            timestamps.push(ts);
        }
    }
    (timestamps, false)
}

fn kind_of(stream: &ff::Stream) -> StreamKind {
    use ff::media::Type;
    match stream.parameters().medium() {
        Type::Video
            if stream
                .disposition()
                .contains(ff::format::stream::Disposition::ATTACHED_PIC) =>
        {
            StreamKind::Attachment
        }
        Type::Video => StreamKind::Video,
        Type::Audio => StreamKind::Audio,
        Type::Subtitle => StreamKind::Subtitle,
        Type::Data => StreamKind::Data,
        Type::Attachment => StreamKind::Attachment,
        Type::Unknown => StreamKind::Unknown,
    }
}

fn positive_rate(rate: ff::Rational) -> Option<f64> {
    (rate.numerator() > 0 && rate.denominator() > 0).then(|| f64::from(rate))
}

fn stream_report(
    stream: &ff::Stream,
    timestamp_verdict: Option<bool>,
    pictures: interlace::PictureScan,
) -> StreamReport {
    let kind = kind_of(stream);
    let facts = libav::codec_facts(stream);
    let parameters = stream.parameters();
    let codec_id = parameters.id();
    let decoder = || {
        ff::codec::Context::from_parameters(stream.parameters())
            .ok()
            .map(|c| c.decoder())
    };
    let duration = stream.duration();
    let time_base = stream.time_base();
    let duration_seconds =
        (duration > 0 && duration != ff::ffi::AV_NOPTS_VALUE && time_base.denominator() > 0)
            .then(|| duration as f64 * f64::from(time_base));

    let video = (kind == StreamKind::Video).then(|| {
        let rotation = rotation_of(stream);
        let sar = geometry::pick_sample_aspect_ratio(facts.container_sar, facts.codec_sar);
        let (display_width, display_height) =
            geometry::display_size(facts.width, facts.height, sar, rotation);
        let avg_frame_rate = positive_rate(stream.avg_frame_rate());
        let real_frame_rate = positive_rate(stream.rate());
        let pixel_format = decoder()
            .and_then(|d| d.video().ok())
            .map(|v| v.format())
            .filter(|f| *f != ff::format::Pixel::None)
            .map(|f| {
                f.descriptor()
                    .map_or_else(|| format!("{f:?}").to_lowercase(), |d| d.name().to_owned())
            });
        VideoInfo {
            width: facts.width,
            height: facts.height,
            pixel_format,
            rotation,
            sample_aspect_ratio: sar,
            display_width,
            display_height,
            avg_frame_rate,
            real_frame_rate,
            frame_rate_is_variable: classify::frame_rate_is_variable(
                timestamp_verdict,
                avg_frame_rate,
                real_frame_rate,
            ),
            closed_captions: pictures.closed_captions,
            signal: video_signal(&facts, pictures.idet),
        }
    });
    let audio = (kind == StreamKind::Audio).then(|| AudioInfo {
        channels: facts.channels,
        sample_rate: facts.sample_rate,
        sample_format: decoder()
            .and_then(|d| d.audio().ok())
            .map(|a| a.format())
            .filter(|f| *f != ff::format::Sample::None)
            .map(|f| f.name().to_owned()),
        channel_layout: facts.channel_layout.clone(),
    });

    StreamReport {
        index: stream.index(),
        kind,
        codec: codec_id.name().to_owned(),
        codec_long: facts.codec_long,
        profile: facts.profile,
        level: facts.level,
        bit_rate: u64::try_from(parameters.bit_rate()).ok().filter(|b| *b > 0),
        duration_seconds,
        video,
        audio,
    }
}

/// The colour description and scan of a video stream: the flags, and the
/// content check's counts when it ran.
fn video_signal(facts: &libav::CodecFacts, idet: Option<IdetCounts>) -> VideoSignal {
    let scan = classify::scan_of(facts.field_order, idet.and_then(classify::content_scan));
    VideoSignal {
        color_transfer: facts.color_transfer.clone(),
        color_primaries: facts.color_primaries.clone(),
        color_matrix: facts.color_matrix.clone(),
        color_range: facts.color_range.clone(),
        field_order: facts.field_order,
        hdr: HdrKind::from_transfer(facts.color_transfer.as_deref()),
        interlaced: scan.is_interlaced(),
        scan,
        interlace_check: idet,
    }
}

/// Clockwise display rotation: the display matrix side data, else the
/// legacy `rotate` tag, else 0.
fn rotation_of(stream: &ff::Stream) -> u16 {
    let from_matrix = stream.side_data().find_map(|side| {
        if side.kind() != ff::codec::packet::side_data::Type::DisplayMatrix {
            return None;
        }
        let data = side.data();
        if data.len() < 36 {
            return None;
        }
        let mut matrix = [0_i32; 9];
        for (value, bytes) in matrix.iter_mut().zip(data.chunks_exact(4)) {
            *value = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        Some(geometry::rotation_from_display_matrix(&matrix))
    });
    from_matrix
        .or_else(|| {
            stream
                .metadata()
                .get("rotate")
                .and_then(geometry::rotation_from_tag)
        })
        .unwrap_or(0)
}
