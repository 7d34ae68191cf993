//! End-to-end CEA-608 captions (issue 14, ingest breadth): a source whose
//! pictures carry closed captions (ATSC A/53 user data, as broadcast
//! encoders and cameras write them) is probed as captioned, every video
//! rendition of its ladder carries the captions at their times (single pass
//! and chunked), and the master playlist announces them as a
//! `CLOSED-CAPTIONS` group every variant names; a source without captions
//! gets neither. ffprobe and the ffmpeg CLI (`movie=…[out0+subcc]`) read
//! the renditions back; through `yanxiu serve`, hls.js in Debian's headless
//! Chromium shows the captions as a text track (driver:
//! `tests/browser/cea608.cjs`). Fails (never skips) when ffmpeg, ffprobe,
//! Chromium, Node.js or npm is missing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::browser::{assert_no_fatal, browser_node_modules, run_driver};
use common::chunked::one_second_chunk_job;
use common::cli::{self, joined_rendition, tool, yanxiu};
use common::fixtures::{expectations, fixtures_dir};
use common::live::{get_text, parse_master, require_tool};
use common::server::{login, processed, review_and_publish, start, upload};
use m3u8_rs::{AlternativeMediaType, ClosedCaptionGroupId, InstreamId, MasterPlaylist};
use serde::Deserialize;
use serde_json::Value;
use yanxiu_packager::storage::{LocalDirStorage, Storage};
use yanxiu_transcode::TranscodeJob;
use yanxiu_transcode::chunk::plan_chunks;
use yanxiu_transcode::ladder::RungTemplate;

/// The captioned fixture (media-fixtures/generate.sh).
const CAPTIONED: &str = "captions_608_360p25.mp4";

/// What the fixture's captions say and when (seconds): pop-on captions
/// shown by END OF CAPTION, cleared by ERASE DISPLAYED MEMORY.
const CAPTIONS: [(f64, f64, &str); 3] = [
    (1.0, 4.0, "HELLO TEACHERS"),
    (5.0, 8.0, "LESSON ONE"),
    (9.0, 11.0, "THANK YOU"),
];

/// The captioned interlaced fixture (576i25, top field first).
const CAPTIONED_INTERLACED: &str = "captions_608_576i25.mp4";

/// Its captions.
const INTERLACED_CAPTIONS: [(f64, f64, &str); 2] =
    [(1.0, 4.0, "HELLO TEACHERS"), (5.0, 7.0, "LESSON ONE")];

/// Largest allowed distance between a caption's time in a rendition and in
/// the source: one picture at 25 fps.
const TOLERANCE_SECONDS: f64 = 0.04;

/// The lecture ladder's settings with a 360p and a 240p rung, so a 360p
/// source gets one rung at its own size (the decoded picture itself) and
/// one scaled (a new picture).
const TWO_RUNG_LADDER: &str = r#"
gop_seconds = 2.0
segment_seconds = 4.0
preset = "veryfast"
source_rung_threshold = 0.9
max_frame_rate = 60.0

[[rungs]]
height = 360
crf = 25
max_bitrate_kbps = 800
buffer_kbits = 1600
profile = "high"

[[rungs]]
height = 240
crf = 26
max_bitrate_kbps = 500
buffer_kbits = 1000
profile = "high"

[audio]
bitrate_per_channel_kbps = 64
max_channels = 2
sample_rate = 48000
true_peak_ceiling_dbtp = -1.0
loudness_max_gain_db = 20.0
"#;

/// Runs `yanxiu transcode` on `source` into `out` with [`TWO_RUNG_LADDER`].
fn transcode(source: &Path, out: &Path) {
    let ladder = out.with_extension("ladder.toml");
    std::fs::write(&ladder, TWO_RUNG_LADDER).expect("write the ladder");
    cli::transcode(source, out, &["--ladder", &ladder.to_string_lossy()]);
}

fn master_of(out: &Path) -> (String, MasterPlaylist) {
    let text = std::fs::read_to_string(out.join("master.m3u8")).expect("master.m3u8");
    let parsed = parse_master(&text);
    (text, parsed)
}

/// Each video rendition of a ladder joined into one fragmented MP4 (init
/// segment, then the media segments in playlist order).
fn joined_renditions(out: &Path, master: &MasterPlaylist, into: &Path) -> Vec<PathBuf> {
    master
        .variants
        .iter()
        .map(|variant| {
            let dir = out.join(&variant.uri);
            let dir = dir.parent().expect("rendition directory");
            joined_rendition(dir, into, &variant.uri.replace('/', "_"))
        })
        .collect()
}

/// ffprobe's `closed_captions` of the first video stream, after decoding a
/// few pictures (libav learns it from the pictures, not the headers).
fn ffprobe_closed_captions(file: &Path) -> bool {
    let json = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#5",
            "-show_frames",
            "-show_streams",
            "-show_entries",
            "stream=closed_captions:frame=pts",
            "-of",
            "json",
            &file.to_string_lossy(),
        ],
    );
    let parsed: Value = serde_json::from_str(&json).expect("ffprobe json");
    parsed["streams"][0]["closed_captions"] == 1
}

/// The first video picture's presentation time, in seconds.
fn video_start(file: &Path) -> f64 {
    let out = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=start_time",
            "-of",
            "csv=p=0",
            &file.to_string_lossy(),
        ],
    );
    out.trim().parse().unwrap_or(0.0)
}

/// One caption as libavfilter's `subcc` output and ffmpeg's CEA-608 decoder
/// read it: shown from `start` to `end` (seconds).
#[derive(Debug, Clone, PartialEq)]
struct Caption {
    start: f64,
    end: f64,
    text: String,
}

/// The CEA-608 captions of `file`'s video, at its pictures' times:
/// ffmpeg decodes the pictures, takes their A/53 caption bytes
/// (`movie=…[out0+subcc]`) and writes SubRip, whose times this reads.
fn captions_of(file: &Path) -> Vec<Caption> {
    // Filter-graph escaping: the path inside single quotes.
    let escaped = file.to_string_lossy().replace('\'', "'\\''");
    let srt = tool(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            // The pictures' own times, not shifted to start at 0.
            "-copyts",
            "-f",
            "lavfi",
            "-i",
            &format!("movie='{escaped}'[out0+subcc]"),
            "-map",
            "0:s",
            "-f",
            "srt",
            "-",
        ],
    );
    parse_srt(&srt)
}

fn parse_srt(srt: &str) -> Vec<Caption> {
    let seconds = |t: &str| -> f64 {
        let (hms, ms) = t.trim().split_once(',').expect("SubRip time");
        let parts: Vec<f64> = hms.split(':').map(|p| p.parse().expect("number")).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2] + ms.parse::<f64>().expect("ms") / 1000.0
    };
    srt.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().skip_while(|l| l.trim().is_empty());
            let _number = lines.next()?;
            let (start, end) = lines.next()?.split_once("-->")?;
            let text: Vec<String> = lines.map(strip_styling).collect();
            Some(Caption {
                start: seconds(start),
                end: seconds(end),
                text: text.join("\n").trim().to_owned(),
            })
        })
        .collect()
}

/// The text without the decoder's `<font …>` tags and `{\an7}` overrides.
fn strip_styling(line: &str) -> String {
    let mut out = String::new();
    let mut skip: Option<char> = None;
    for c in line.chars() {
        match (skip, c) {
            (None, '<') => skip = Some('>'),
            (None, '{') => skip = Some('}'),
            (Some(end), c) if c == end => skip = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    out
}

/// Checks `captions` are the `expected` ones, each within
/// [`TOLERANCE_SECONDS`] of its time; returns the largest offset.
fn check_captions(name: &str, captions: &[Caption], expected: &[(f64, f64, &str)]) -> f64 {
    assert_eq!(
        captions.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|c| c.2).collect::<Vec<_>>(),
        "{name}: {captions:?}"
    );
    let mut worst: f64 = 0.0;
    for (caption, &(start, end, _)) in captions.iter().zip(expected) {
        let offset = (caption.start - start).abs().max((caption.end - end).abs());
        worst = worst.max(offset);
        assert!(
            offset <= TOLERANCE_SECONDS,
            "{name}: {:?} at {:.3}–{:.3} s, expected {start}–{end} s",
            caption.text,
            caption.start,
            caption.end
        );
    }
    worst
}

/// Every video rendition of the ladder in `out` carries the `expected`
/// captions at their times (times from each rendition's first picture).
fn check_every_rendition(
    out: &Path,
    master: &MasterPlaylist,
    temp: &Path,
    expected: &[(f64, f64, &str)],
) {
    let renditions = joined_renditions(out, master, temp);
    assert!(!renditions.is_empty(), "no video renditions");
    for file in &renditions {
        let name = file.display().to_string();
        assert!(
            ffprobe_closed_captions(file),
            "{name}: ffprobe does not see closed captions"
        );
        let start = video_start(file);
        let captions: Vec<Caption> = captions_of(file)
            .into_iter()
            .map(|c| Caption {
                start: c.start - start,
                end: c.end - start,
                ..c
            })
            .collect();
        let worst = check_captions(&name, &captions, expected);
        eprintln!(
            "{name}: first picture at {start:.3} s; captions {captions:?}; largest offset \
             {worst:.3} s"
        );
    }
}

/// The master's closed-captions group: one `CLOSED-CAPTIONS` rendition
/// `cc` for CC1, default and autoselected, named by every variant.
fn check_master_announces_cc1(text: &str, master: &MasterPlaylist) {
    let groups: Vec<_> = master
        .alternatives
        .iter()
        .filter(|m| m.media_type == AlternativeMediaType::ClosedCaptions)
        .collect();
    assert_eq!(groups.len(), 1, "{text}");
    let cc = groups[0];
    assert_eq!(cc.group_id, "cc", "{text}");
    assert_eq!(cc.instream_id, Some(InstreamId::CC(1)), "{text}");
    assert!(cc.default && cc.autoselect, "{text}");
    assert!(!cc.name.is_empty() && cc.uri.is_none(), "{text}");
    assert!(!master.variants.is_empty(), "{text}");
    for variant in &master.variants {
        assert_eq!(
            variant.closed_captions,
            Some(ClosedCaptionGroupId::GroupId("cc".into())),
            "{}: {text}",
            variant.uri
        );
    }
}

#[test]
fn the_fixtures_themselves_carry_their_captions_at_their_times() {
    let source = fixtures_dir().join(CAPTIONED);
    assert!(ffprobe_closed_captions(&source));
    check_captions(CAPTIONED, &captions_of(&source), &CAPTIONS);
    let interlaced = fixtures_dir().join(CAPTIONED_INTERLACED);
    assert!(ffprobe_closed_captions(&interlaced));
    check_captions(
        CAPTIONED_INTERLACED,
        &captions_of(&interlaced),
        &INTERLACED_CAPTIONS,
    );
}

#[test]
fn the_probe_reports_closed_captions_exactly_for_the_captioned_fixtures() {
    let mut captioned = 0;
    for fx in expectations() {
        if fx.probe_exit == 2 || !fx.has_video || fx.long {
            continue;
        }
        let result = yanxiu(&[
            "probe",
            "--json",
            &fixtures_dir().join(&fx.file).to_string_lossy(),
        ]);
        let json: Value = serde_json::from_slice(&result.stdout)
            .unwrap_or_else(|e| panic!("{}: probe --json output: {e}", fx.file));
        let video = json["report"]["streams"]
            .as_array()
            .and_then(|streams| {
                streams
                    .iter()
                    .find(|s| s["kind"] == "video" && s["video"].is_object())
            })
            .map(|s| s["video"].clone())
            .unwrap_or_else(|| panic!("{}: no video stream in {json}", fx.file));
        assert_eq!(
            video["closed_captions"].as_bool(),
            Some(fx.closed_captions),
            "{}: {video}",
            fx.file
        );
        captioned += usize::from(fx.closed_captions);
    }
    assert!(captioned >= 1, "no fixture states closed captions");
}

#[test]
fn the_human_probe_report_says_the_video_has_closed_captions_in_both_languages() {
    let source = fixtures_dir().join(CAPTIONED);
    for (lang, words) in [("zh", "隐藏字幕"), ("en", "closed captions")] {
        let result = yanxiu(&["probe", &source.to_string_lossy(), "--lang", lang]);
        let text = String::from_utf8_lossy(&result.stdout);
        assert_eq!(result.status.code(), Some(0), "{text}");
        assert!(text.contains(words), "{lang}: {text}");
    }
}

#[test]
fn every_rendition_of_a_captioned_source_carries_its_608_captions_and_the_master_announces_them() {
    let source = fixtures_dir().join(CAPTIONED);
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out);
    let (text, master) = master_of(&out);
    assert_eq!(
        master.variants.len(),
        2,
        "a 360p rung and a scaled 240p rung: {text}"
    );
    check_master_announces_cc1(&text, &master);
    check_every_rendition(&out, &master, temp.path(), &CAPTIONS);
}

#[test]
fn a_deinterlaced_source_sends_each_caption_byte_once_though_every_field_becomes_a_picture() {
    let source = fixtures_dir().join(CAPTIONED_INTERLACED);
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out);
    let (text, master) = master_of(&out);
    assert!(
        master.variants.iter().all(|v| v.frame_rate == Some(50.0)),
        "deinterlaced to 50p: {text}"
    );
    check_master_announces_cc1(&text, &master);
    check_every_rendition(&out, &master, temp.path(), &INTERLACED_CAPTIONS);
}

#[test]
fn a_source_without_captions_gets_no_closed_captions_group_and_renditions_without_captions() {
    let source = fixtures_dir().join("mono_44k.mp4");
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out);
    let (text, master) = master_of(&out);
    assert!(!text.contains("CLOSED-CAPTIONS"), "{text}");
    assert!(master.variants.iter().all(|v| v.closed_captions.is_none()));
    for file in joined_renditions(&out, &master, temp.path()) {
        assert!(!ffprobe_closed_captions(&file), "{}", file.display());
    }
}

/// The job `yanxiu transcode` would make for the captioned fixture, on two
/// rungs (the source's size and a scaled one) cut into 1 s chunks, without
/// audio: the chunked path at its smallest.
fn chunked_job(source: &Path, prefix: &str) -> TranscodeJob {
    let rung = |height| RungTemplate {
        height,
        crf: 28,
        max_bitrate_kbps: 2000,
        buffer_kbits: 4000,
        profile: "high".into(),
    };
    let job = one_second_chunk_job(source, prefix, |height| vec![rung(height), rung(180)]);
    assert!(job.plan.closed_captions, "the probe sees the captions");
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chunked_path_carries_the_captions_across_chunk_boundaries_and_announces_them() {
    let source = fixtures_dir().join(CAPTIONED);
    let temp = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> = Arc::new(LocalDirStorage::new(temp.path()));
    let job = chunked_job(&source, "chunked/");
    let chunks = plan_chunks(job.duration_seconds, 1.0, 1.0, 1.0);
    assert!(chunks.len() >= 10, "{} chunk(s)", chunks.len());
    common::chunked::encode_in_chunks(&job, &chunks, storage.clone()).await;

    let out = temp.path().join("chunked");
    let (text, master) = master_of(&out);
    assert_eq!(master.variants.len(), 2, "{text}");
    check_master_announces_cc1(&text, &master);
    let joined = temp.path().join("joined");
    std::fs::create_dir_all(&joined).expect("mkdir");
    check_every_rendition(&out, &master, &joined, &CAPTIONS);
}

/// What `tests/browser/cea608.cjs` prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlayerReport {
    tracks: Vec<PlayerTrack>,
    cues: Vec<PlayerCue>,
    current_time: f64,
    errors: Vec<Value>,
    failure: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PlayerTrack {
    kind: String,
    label: String,
}

#[derive(Debug, Deserialize)]
struct PlayerCue {
    start: f64,
    end: f64,
    text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_captioned_lecture_plays_in_hls_js_with_its_608_captions_as_a_text_track() {
    require_tool("/usr/bin/chromium", "--version");
    require_tool("node", "--version");
    require_tool("npm", "--version");
    let modules = browser_node_modules();

    let s = start();
    let producer = login(&s, "producer").await;
    let id = upload(&s, &producer, &fixtures_dir().join(CAPTIONED), None).await;
    let resource = processed(&s, &producer, &id).await;
    assert_eq!(resource["processing"]["status"], "ready", "{resource}");
    review_and_publish(&s, &producer, &id).await;

    let master_url = format!("{}/play/{id}/master.m3u8", s.base);
    let (status, text) = get_text(&master_url).await;
    assert_eq!(status, 200, "GET {master_url}: {text}");
    check_master_announces_cc1(&text, &parse_master(&text));

    let report: PlayerReport = run_driver(
        "cea608.cjs",
        &modules,
        &[&master_url],
        Duration::from_secs(180),
    )
    .await;
    eprintln!("608 captions in Chromium: {report:?}");
    assert_no_fatal(&report.errors, report.failure.as_deref(), &report);
    assert!(
        report.current_time > 11.0,
        "it played to the end: {report:?}"
    );
    // hls.js names the track after the master's CLOSED-CAPTIONS rendition.
    assert!(
        report
            .tracks
            .iter()
            .any(|t| t.kind == "captions" && t.label == "隐藏字幕 / Closed captions (CC1)"),
        "no captions track named by the master: {report:?}"
    );
    // hls.js may split a caption into several cues (one per row or change);
    // each caption's text must be on screen at its time. The media timeline
    // starts at the ladder's presentation delay (two pictures, 0.08 s).
    for (start, end, caption) in CAPTIONS {
        let shown: Vec<&PlayerCue> = report
            .cues
            .iter()
            .filter(|c| c.text.trim() == caption)
            .collect();
        assert!(
            !shown.is_empty(),
            "{caption:?} not among the cues: {report:?}"
        );
        let first = shown.iter().map(|c| c.start).fold(f64::INFINITY, f64::min);
        let last = shown.iter().map(|c| c.end).fold(0.0, f64::max);
        eprintln!("hls.js: {caption:?} at {first:.3}–{last:.3} s (source {start}–{end} s)");
        assert!(
            (first - start).abs() <= 0.25 && (last - end).abs() <= 0.25,
            "{caption:?} at {first:.3}–{last:.3} s, expected {start}–{end} s: {report:?}"
        );
    }
}
