//! Shared helpers of the live transcode tests: FLVs (H.264 + AAC, as RTMP
//! sends) and WebMs (VP8/VP9 + Opus, as WebRTC sends) made with the ffmpeg
//! CLI, demuxed with libavformat into `LiveInput`s, fed to a
//! `LiveTranscoder`, and every rendition's `TrackInput`s collected.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use yanxiu_packager::media::{Sample, TrackConfig, TrackInput, TrackKind};
use yanxiu_transcode::ladder::RungTemplate;
use yanxiu_transcode::live::{
    LiveConfig, LiveError, LiveInput, LiveRenditionKind, LiveReport, LiveStats, LiveTranscoder,
    VpxCodec,
};

/// One GOP of the test configurations, in 90 kHz ticks.
pub const GOP_TICKS: i64 = 180_000;

/// Encodes testsrc2 at `size` and 30 fps with a 44.1 kHz sine, `seconds`
/// long, to `path` with the video arguments `video` and AAC audio.
fn encode_test_source(path: &Path, size: &str, seconds: u32, video: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=30"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .arg("-t")
        .arg(seconds.to_string())
        .args(video)
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"])
        .arg(path)
        .status()
        .expect("the ffmpeg CLI must be installed");
    assert!(
        status.success(),
        "ffmpeg made {} ({video:?})",
        path.display()
    );
}

/// Makes `name.flv`: testsrc2 at `size` and 30 fps with a sine, `seconds`
/// long, x264 ultrafast with the extra video arguments `x264` (GOP
/// settings), AAC audio.
pub fn make_flv(dir: &Path, name: &str, size: &str, seconds: u32, x264: &[&str]) -> PathBuf {
    let path = dir.join(format!("{name}.flv"));
    let mut video = vec!["-c:v", "libx264", "-preset", "ultrafast"];
    video.extend_from_slice(x264);
    encode_test_source(&path, size, seconds, &video);
    path
}

/// Makes `name.webm` as a browser would publish it: testsrc2 at `size`
/// and 30 fps with a 48 kHz sine, `seconds` long, `video` (`libvpx` or
/// `libvpx-vp9`) in real-time mode (no alt-ref frames) with a keyframe
/// every second, Opus in packets of `opus_ms` milliseconds.
pub fn make_webm(
    dir: &Path,
    name: &str,
    video: &str,
    size: &str,
    seconds: u32,
    opus_ms: u32,
) -> PathBuf {
    let path = dir.join(format!("{name}.webm"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=30"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .arg("-t")
        .arg(seconds.to_string())
        .args(["-c:v", video, "-deadline", "realtime", "-cpu-used", "8"])
        .args(["-lag-in-frames", "0", "-g", "30", "-b:v", "1M"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "64k"])
        .arg("-frame_duration")
        .arg(opus_ms.to_string())
        .arg(&path)
        .status()
        .expect("the ffmpeg CLI must be installed");
    assert!(
        status.success(),
        "ffmpeg made {name}.webm ({video}, libopus)"
    );
    path
}

/// A WebM's frames as a WebRTC publish: `VpxConfig` and `OpusConfig`,
/// then one `Video` unit per frame (`pts == dts`) and one `Audio` unit per
/// Opus packet (no `End`), every millisecond time `t` sent as `time(t)`.
pub fn webm_units(path: &Path, time: impl Fn(i64) -> u32) -> Vec<LiveInput> {
    use ffmpeg_next::codec::{Id, context::Context};
    ffmpeg_next::init().unwrap();
    let mut input = ffmpeg_next::format::input(path).unwrap();
    let best = |t| input.streams().best(t).unwrap();
    let (video, audio) = (
        best(ffmpeg_next::media::Type::Video),
        best(ffmpeg_next::media::Type::Audio),
    );
    let codec = match video.parameters().id() {
        Id::VP8 => VpxCodec::Vp8,
        Id::VP9 => VpxCodec::Vp9,
        other => panic!("not VP8/VP9: {other:?}"),
    };
    let picture = Context::from_parameters(video.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let sound = Context::from_parameters(audio.parameters())
        .unwrap()
        .decoder()
        .audio()
        .unwrap();
    assert_eq!(audio.parameters().id(), Id::OPUS);
    let ms = |t: i64, tb: ffmpeg_next::Rational| {
        t * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator())
    };
    let (video, video_tb, audio, audio_tb) = (
        video.index(),
        video.time_base(),
        audio.index(),
        audio.time_base(),
    );
    let mut units = vec![
        LiveInput::VpxConfig {
            codec,
            width: picture.width(),
            height: picture.height(),
        },
        LiveInput::OpusConfig {
            channels: sound.channels(),
        },
    ];
    for (stream, packet) in input.packets() {
        let data = Bytes::copy_from_slice(packet.data().unwrap_or_default());
        let t = packet.pts().or(packet.dts()).unwrap_or(0);
        if stream.index() == video {
            let t = time(ms(t, video_tb));
            units.push(LiveInput::Video {
                pts: t,
                dts: t,
                keyframe: packet.is_key(),
                data,
            });
        } else if stream.index() == audio {
            units.push(LiveInput::Audio {
                pts: time(ms(t, audio_tb)),
                data,
            });
        }
    }
    units
}

/// The video units of a publish.
pub fn video_units(units: &[LiveInput]) -> usize {
    units
        .iter()
        .filter(|u| matches!(u, LiveInput::Video { .. }))
        .count()
}

/// The span (ms) of a publish's `Video` (or `Audio`) unit times, from the
/// first to the last unit's start.
pub fn span_ms(units: &[LiveInput], video: bool) -> i64 {
    let times: Vec<i64> = units
        .iter()
        .filter_map(|u| match u {
            LiveInput::Video { pts, .. } if video => Some(i64::from(*pts)),
            LiveInput::Audio { pts, .. } if !video => Some(i64::from(*pts)),
            _ => None,
        })
        .collect();
    times.iter().max().unwrap() - times.iter().min().unwrap()
}

/// The time a rendition covers, in its timescale: from its first sample's
/// decode time to the end of its last.
pub fn covered(c: &Collected) -> i64 {
    let samples = c.samples();
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    last.dts + i64::from(last.duration) - first.dts
}

fn extradata(stream: &ffmpeg_next::format::stream::Stream<'_>) -> Bytes {
    let params = stream.parameters();
    // SAFETY: the parameters belong to an open input; we copy the bytes out
    // while it is alive.
    unsafe {
        let p = params.as_ptr();
        Bytes::copy_from_slice(std::slice::from_raw_parts(
            (*p).extradata,
            (*p).extradata_size as usize,
        ))
    }
}

/// Makes `name.mp4`: testsrc2 at `size` and 30 fps with a sine, `seconds`
/// long, HEVC (libx265 ultrafast, `hvc1`, with the x265 parameters
/// `x265_params`: GOP settings) and AAC audio, as an Enhanced RTMP
/// publisher sends them.
pub fn make_hevc_mp4(
    dir: &Path,
    name: &str,
    size: &str,
    seconds: u32,
    x265_params: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.mp4"));
    let params = format!("{x265_params}:log-level=error");
    let video = [
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        &params,
    ];
    encode_test_source(
        &path,
        size,
        seconds,
        &[&video[..], &["-tag:v", "hvc1"]].concat(),
    );
    path
}

/// A file's sequence headers and access units (no `End`), with every
/// millisecond timestamp `t` sent as `time(t)`, as one RTMP publish: an
/// FLV's H.264 (`VideoConfig`) or an MP4's HEVC (`HevcConfig`, as Enhanced
/// RTMP sends it), and AAC.
pub fn access_units(path: &Path, time: impl Fn(i64) -> u32) -> Vec<LiveInput> {
    ffmpeg_next::init().unwrap();
    let mut input = ffmpeg_next::format::input(path).unwrap();
    let video = input
        .streams()
        .best(ffmpeg_next::media::Type::Video)
        .unwrap();
    let (video, video_tb, hevc) = (
        video.index(),
        video.time_base(),
        video.parameters().id() == ffmpeg_next::codec::Id::HEVC,
    );
    let audio = input
        .streams()
        .best(ffmpeg_next::media::Type::Audio)
        .unwrap();
    let (audio, audio_tb) = (audio.index(), audio.time_base());
    let video_config = extradata(&input.stream(video).unwrap());
    let mut units = vec![
        if hevc {
            LiveInput::HevcConfig { hvcc: video_config }
        } else {
            LiveInput::VideoConfig { avcc: video_config }
        },
        LiveInput::AudioConfig {
            asc: extradata(&input.stream(audio).unwrap()),
        },
    ];
    let ms = |t: i64, tb: ffmpeg_next::Rational| {
        t * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator())
    };
    for (stream, packet) in input.packets() {
        let data = Bytes::copy_from_slice(packet.data().unwrap_or_default());
        let dts = packet.dts().unwrap_or(0);
        let pts = packet.pts().unwrap_or(dts);
        if stream.index() == video {
            let (dts, pts) = (ms(dts, video_tb), ms(pts, video_tb));
            units.push(LiveInput::Video {
                dts: time(dts),
                pts: time(dts).wrapping_add((pts - dts) as u32),
                keyframe: packet.is_key(),
                data,
            });
        } else if stream.index() == audio {
            units.push(LiveInput::Audio {
                pts: time(ms(pts, audio_tb)),
                data,
            });
        }
    }
    units
}

/// The source keyframes' presentation times (ms) of a publish.
pub fn source_keyframes_ms(units: &[LiveInput]) -> Vec<u32> {
    units
        .iter()
        .filter_map(|u| match u {
            LiveInput::Video {
                pts,
                keyframe: true,
                ..
            } => Some(*pts),
            _ => None,
        })
        .collect()
}

/// The live configuration of the tests: passthrough or not, 2 s GOPs,
/// x264 ultrafast, rungs of `heights`.
pub fn config(passthrough: bool, heights: &[u32]) -> LiveConfig {
    let mut config = LiveConfig {
        passthrough,
        ..LiveConfig::default()
    };
    config.ladder.preset = "ultrafast".to_owned();
    config.ladder.rungs = heights
        .iter()
        .map(|&height| RungTemplate {
            height,
            crf: 28,
            max_bitrate_kbps: 1000,
            buffer_kbits: 2000,
            profile: "high".to_owned(),
        })
        .collect();
    assert_eq!(config.ladder.gop_seconds * 90_000.0, GOP_TICKS as f64);
    config
}

/// Everything one rendition received, in order.
#[derive(Debug)]
pub struct Collected {
    /// The rendition's name.
    pub name: String,
    /// Its kind.
    pub kind: LiveRenditionKind,
    /// Its inputs.
    pub inputs: Vec<TrackInput>,
}

impl Collected {
    /// Its samples.
    pub fn samples(&self) -> Vec<&Sample> {
        self.inputs
            .iter()
            .filter_map(|i| match i {
                TrackInput::Sample(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Its configurations, with the number of samples before each.
    pub fn configs(&self) -> Vec<(usize, &TrackConfig)> {
        let mut before = 0;
        let mut out = Vec::new();
        for i in &self.inputs {
            match i {
                TrackInput::Config(c) => out.push((before, c)),
                TrackInput::Sample(_) => before += 1,
                TrackInput::End => {}
            }
        }
        out
    }

    /// Whether it ended with one `End`, last.
    pub fn ended(&self) -> bool {
        matches!(self.inputs.last(), Some(TrackInput::End))
    }

    /// Presentation times of its sync samples.
    pub fn keyframes(&self) -> Vec<i64> {
        self.samples()
            .iter()
            .filter(|s| s.is_sync)
            .map(|s| s.pts)
            .collect()
    }

    /// Whether it is a video rendition.
    pub fn is_video(&self) -> bool {
        !matches!(self.kind, LiveRenditionKind::Audio)
    }
}

/// The size a video configuration declares.
pub fn size(config: &TrackConfig) -> (u32, u32) {
    match config.kind {
        TrackKind::Video { width, height, .. } => (width, height),
        TrackKind::Audio { .. } => panic!("not video"),
    }
}

/// What a run gave.
#[derive(Debug)]
pub struct Run {
    /// Per rendition, in the transcoder's order.
    pub renditions: Vec<Collected>,
    /// The final figures.
    pub report: LiveReport,
    /// The running figures after the end.
    pub stats: LiveStats,
}

/// Feeds `units` (then `End`) to one transcoder and collects everything.
pub async fn run(config: LiveConfig, mut units: Vec<LiveInput>) -> Result<Run, LiveError> {
    units.push(LiveInput::End);
    let mut live = LiveTranscoder::start(config)?;
    let stats = live.stats_handle();
    let input = live.input();
    let feeder = tokio::spawn(async move {
        for unit in units {
            if input.send(unit).await.is_err() {
                break;
            }
        }
    });
    let renditions = live.renditions().await?;
    let collectors: Vec<_> = renditions
        .into_iter()
        .map(|mut r| {
            tokio::spawn(async move {
                let mut inputs = Vec::new();
                while let Some(i) = r.samples.recv().await {
                    inputs.push(i);
                }
                Collected {
                    name: r.name,
                    kind: r.kind,
                    inputs,
                }
            })
        })
        .collect();
    feeder.await.unwrap();
    let report = live.finish().await?;
    let mut renditions = Vec::new();
    for c in collectors {
        renditions.push(c.await.unwrap());
    }
    Ok(Run {
        renditions,
        report,
        stats: stats.snapshot(),
    })
}

/// Asserts a rendition's timeline is strictly increasing in decode time
/// with no gap and no overlap between samples (durations meet the next
/// decode time), composition offsets never negative, and no step longer
/// than `max_step` ticks. Across a `Config` (a new configuration) the
/// held-back sample's duration is an estimate: it may miss by up to
/// `max_step`, the timeline itself still increases.
pub fn assert_continuous(c: &Collected, max_step: i64) {
    let mut last: Option<&Sample> = None;
    let mut across_config = false;
    let mut count = 0;
    for input in &c.inputs {
        let s = match input {
            TrackInput::Sample(s) => s,
            TrackInput::Config(_) => {
                across_config = last.is_some();
                continue;
            }
            TrackInput::End => continue,
        };
        count += 1;
        assert!(s.pts >= s.dts, "{}: negative offset", c.name);
        match last {
            None => assert!(s.is_sync, "{}: starts with a sync sample", c.name),
            Some(prev) => {
                assert!(prev.dts < s.dts, "{}: dts not increasing", c.name);
                let step = s.dts - prev.dts;
                assert!(step <= max_step, "{}: gap of {step} ticks", c.name);
                let miss = prev.dts + i64::from(prev.duration) - s.dts;
                if across_config {
                    assert!(miss.abs() <= max_step, "{}: {miss} across a config", c.name);
                } else {
                    assert_eq!(miss, 0, "{}: durations leave a gap or overlap", c.name);
                }
            }
        }
        across_config = false;
        last = Some(s);
    }
    assert!(count > 30, "{}: {count} samples", c.name);
}

/// Writes a rendition's samples (from its configuration at `configs[k]`
/// up to the next configuration) as an fMP4 file and decodes it with the
/// ffmpeg CLI; panics on any decoder complaint.
pub fn assert_decodes(dir: &Path, c: &Collected, k: usize) {
    use yanxiu_packager::cmaf::{TrackFragment, init_segment, media_segment};
    let configs = c.configs();
    let (start, track) = configs[k];
    let end = configs.get(k + 1).map_or(usize::MAX, |(n, _)| *n);
    let samples: Vec<Sample> = c
        .samples()
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .cloned()
        .collect();
    let mut file = init_segment(&[(1, track)]);
    let mut from = 0;
    for i in 1..=samples.len() {
        if i == samples.len() || (samples[i].is_sync && i - from >= 30) {
            let seg = media_segment(
                i as u32,
                &[TrackFragment {
                    track_id: 1,
                    samples: &samples[from..i],
                }],
            )
            .unwrap();
            file.extend_from_slice(&seg);
            from = i;
        }
    }
    let path = dir.join(format!("{}-{k}.mp4", c.name));
    std::fs::write(&path, file).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("the ffmpeg CLI must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{}-{k}: {stderr}",
        c.name
    );
}
