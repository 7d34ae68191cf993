//! End-to-end colour and scan (issue 14): HDR (PQ, HLG) sources come out
//! tone-mapped to BT.709 SDR, interlaced sources deinterlaced, every
//! rendition tagged BT.709 and progressive. ffprobe reads the tags; the
//! ffmpeg CLI makes a reference conversion with the same filter chain and
//! its `ssim` filter compares pictures. Fails (never skips) when ffmpeg or
//! ffprobe is missing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::chunked::one_second_chunk_job;
use common::cli::{joined_rendition, tool_output, transcode, yanxiu};
use common::fixtures::{FixtureExpectation, expectations, fixtures_dir};
use serde_json::Value;
use yanxiu_packager::storage::{LocalDirStorage, Storage};
use yanxiu_transcode::chunk::plan_chunks;
use yanxiu_transcode::ladder::RungTemplate;
use yanxiu_transcode::picture::{
    Deinterlace, DeinterlaceMode, HdrKind, ToBt709, ToneMap, deinterlace_filter, to_bt709_chain,
    tone_map_chain,
};
use yanxiu_transcode::{Progress, TranscodeJob};

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// The rendition directories a ladder wrote (one per video variant).
fn video_renditions(out: &Path) -> Vec<PathBuf> {
    let master = std::fs::read_to_string(out.join("master.m3u8")).expect("master.m3u8");
    master
        .lines()
        .filter(|l| !l.starts_with('#') && l.ends_with(".m3u8"))
        .map(|uri| {
            out.join(uri)
                .parent()
                .expect("rendition directory")
                .to_path_buf()
        })
        .collect()
}

/// ffprobe's facts of the first video stream: width, height, primaries,
/// transfer, matrix, range, field order, frame rate.
fn video_facts(file: &Path) -> Value {
    let (json, _) = tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,color_primaries,color_transfer,color_space,color_range,field_order,r_frame_rate",
            "-of",
            "json",
            &file.to_string_lossy(),
        ],
    );
    let parsed: Value = serde_json::from_str(&json).expect("ffprobe json");
    parsed["streams"][0].clone()
}

/// Checks every rendition of `out` is BT.709, limited range, progressive;
/// returns the joined file of the rendition as large as `size`.
fn check_renditions(out: &Path, temp: &Path, size: (u64, u64), frame_rate: &str) -> PathBuf {
    let mut top = None;
    let renditions = video_renditions(out);
    assert!(!renditions.is_empty(), "no video renditions");
    for rendition in renditions {
        let name = rendition
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = joined_rendition(&rendition, temp, &name);
        let facts = video_facts(&file);
        let name = rendition.display().to_string();
        assert_eq!(facts["color_primaries"], "bt709", "{name}: {facts}");
        assert_eq!(facts["color_transfer"], "bt709", "{name}: {facts}");
        assert_eq!(facts["color_space"], "bt709", "{name}: {facts}");
        assert_eq!(facts["color_range"], "tv", "{name}: {facts}");
        assert_eq!(facts["field_order"], "progressive", "{name}: {facts}");
        assert_eq!(facts["r_frame_rate"], frame_rate, "{name}: {facts}");
        let dims = (
            facts["width"].as_u64().unwrap_or(0),
            facts["height"].as_u64().unwrap_or(0),
        );
        if dims == size {
            top = Some(file);
        }
    }
    top.unwrap_or_else(|| panic!("no rendition of {}x{}", size.0, size.1))
}

/// How the ffmpeg CLI writes a reference conversion.
#[derive(Clone, Copy)]
enum Coding {
    /// Lossless FFV1: the converted pictures themselves.
    Lossless,
    /// libx264 as the ladder's top rung encodes (preset veryfast, CRF 23,
    /// High profile, 4:2:0): what the CLI would publish.
    LikeTheTopRung,
}

/// The source converted by the ffmpeg CLI with `filter`, coded as `coding`.
fn reference(source: &Path, filter: &str, coding: Coding, into: &Path, name: &str) -> PathBuf {
    let path = into.join(format!("{name}.mkv"));
    let codec: &[&str] = match coding {
        Coding::Lossless => &["-c:v", "ffv1"],
        Coding::LikeTheTopRung => &[
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
        ],
    };
    let mut args = vec![
        "-hide_banner".to_owned(),
        "-nostdin".to_owned(),
        "-y".to_owned(),
        "-v".to_owned(),
        "error".to_owned(),
        "-i".to_owned(),
        source.to_string_lossy().into_owned(),
        "-an".to_owned(),
        "-vf".to_owned(),
        filter.to_owned(),
    ];
    args.extend(codec.iter().map(|a| (*a).to_owned()));
    args.push(path.to_string_lossy().into_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool_output("ffmpeg", &args);
    path
}

/// SSIM of our rendition and of the CLI's against the CLI reference.
struct Measured {
    /// Ours against the CLI conversion coded like the top rung.
    ours_vs_cli_rendition: f64,
    /// Ours against the lossless CLI conversion.
    ours_vs_lossless: f64,
    /// The CLI's own rendition against the lossless CLI conversion.
    cli_rendition_vs_lossless: f64,
}

/// Compares `ours` with the ffmpeg CLI's conversion of `source` by `filter`,
/// and checks the agreement: at least 0.99 SSIM against the CLI's rendition
/// made with the same encoder settings, and within 0.01 of the CLI
/// rendition's own SSIM against the lossless conversion.
fn compare_with_cli(source: &Path, ours: &Path, filter: &str, temp: &Path) -> Measured {
    let lossless = reference(source, filter, Coding::Lossless, temp, "cli-lossless");
    let rendition = reference(source, filter, Coding::LikeTheTopRung, temp, "cli-x264");
    assert_eq!(
        frame_count(ours),
        frame_count(&lossless),
        "{}: a different number of pictures than the ffmpeg CLI conversion",
        source.display()
    );
    let measured = Measured {
        ours_vs_cli_rendition: ssim(ours, &rendition),
        ours_vs_lossless: ssim(ours, &lossless),
        cli_rendition_vs_lossless: ssim(&rendition, &lossless),
    };
    let name = source.display();
    eprintln!(
        "{name}: SSIM ours/CLI rendition {:.4}; against the lossless CLI conversion: ours {:.4}, \
         CLI rendition {:.4}",
        measured.ours_vs_cli_rendition,
        measured.ours_vs_lossless,
        measured.cli_rendition_vs_lossless
    );
    assert!(
        measured.ours_vs_cli_rendition >= 0.99,
        "{name}: SSIM against the ffmpeg CLI rendition is {:.4}, below 0.99",
        measured.ours_vs_cli_rendition
    );
    assert!(
        measured.ours_vs_lossless >= measured.cli_rendition_vs_lossless - 0.01,
        "{name}: SSIM against the lossless CLI conversion is {:.4}, more than 0.01 below the \
         CLI rendition's {:.4}",
        measured.ours_vs_lossless,
        measured.cli_rendition_vs_lossless
    );
    measured
}

/// The mean SSIM ("All") of `a` against `b`, picture by picture from each
/// one's first picture.
fn ssim(a: &Path, b: &Path) -> f64 {
    let (_, stderr) = tool_output(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostdin",
            "-i",
            &a.to_string_lossy(),
            "-i",
            &b.to_string_lossy(),
            "-lavfi",
            "[0:v]setpts=PTS-STARTPTS,format=yuv420p[a];[1:v]setpts=PTS-STARTPTS,format=yuv420p[b];[a][b]ssim=shortest=1",
            "-f",
            "null",
            "-",
        ],
    );
    stderr
        .lines()
        .filter_map(|l| l.split(" All:").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|v| v.parse::<f64>().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no SSIM in ffmpeg's output: {stderr}"))
}

/// The number of video packets (pictures) of a file.
fn frame_count(file: &Path) -> u64 {
    let (out, _) = tool_output(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            &file.to_string_lossy(),
        ],
    );
    out.trim().parse().expect("packet count")
}

/// The `idet` multi-frame counts (tff + bff, progressive) of a file.
fn idet(file: &Path) -> (u64, u64) {
    let (_, stderr) = tool_output(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostdin",
            "-i",
            &file.to_string_lossy(),
            "-an",
            "-vf",
            "idet",
            "-f",
            "null",
            "-",
        ],
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("Multi frame detection"))
        .unwrap_or_else(|| panic!("no idet result: {stderr}"));
    let count = |key: &str| -> u64 {
        line.split(key)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (count("TFF:") + count("BFF:"), count("Progressive:"))
}

fn tone_mapped_like_the_reference(file: &str, hdr: HdrKind) {
    let source = fixture(file);
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out, &[]);
    let ours = check_renditions(&out, temp.path(), (1280, 720), "25/1");

    let chain = tone_map_chain(ToneMap {
        hdr,
        full_range: false,
    });
    let measured = compare_with_cli(&source, &ours, &chain, temp.path());
    // Flattening: the 10-bit samples cut to 8 bits, no colour conversion
    // (what the transcoder did before tone mapping: washed-out colour).
    let naive = reference_naive(&source, temp.path());
    let lossless = temp.path().join("cli-lossless.mkv");
    let naive_vs_lossless = ssim(&naive, &lossless);
    eprintln!("{file}: SSIM flattened/lossless CLI conversion {naive_vs_lossless:.4}");
    assert!(
        measured.ours_vs_lossless > naive_vs_lossless + 0.02,
        "{file}: tone mapping ({:.4}) is not clearly closer to the reference than flattening \
         ({naive_vs_lossless:.4})",
        measured.ours_vs_lossless
    );
}

fn reference_naive(source: &Path, into: &Path) -> PathBuf {
    let path = into.join("naive.mkv");
    tool_output(
        "ffmpeg",
        &[
            "-hide_banner",
            "-nostdin",
            "-y",
            "-v",
            "error",
            "-i",
            &source.to_string_lossy(),
            "-an",
            "-vf",
            "format=yuv420p",
            "-c:v",
            "ffv1",
            &path.to_string_lossy(),
        ],
    );
    path
}

#[test]
fn an_hlg_source_is_tone_mapped_to_bt709_like_the_ffmpeg_reference() {
    tone_mapped_like_the_reference("hdr_hlg_hevc10.mp4", HdrKind::Hlg);
}

#[test]
fn a_pq_source_is_tone_mapped_to_bt709_like_the_ffmpeg_reference() {
    tone_mapped_like_the_reference("hdr_pq_hevc10.mp4", HdrKind::Pq);
}

#[test]
fn a_1080i50_source_becomes_1080p50_deinterlaced_like_the_ffmpeg_reference() {
    let source = fixture("interlaced_1080i50.mp4");
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out, &[]);
    let ours = check_renditions(&out, temp.path(), (1920, 1080), "50/1");

    let chain = deinterlace_filter(Deinterlace {
        top_field_first: true,
        mode: DeinterlaceMode::SendField,
    });
    compare_with_cli(&source, &ours, &chain, temp.path());
    let (combed, progressive) = idet(&ours);
    let (source_combed, _) = idet(&source);
    eprintln!(
        "interlaced_1080i50.mp4: idet of ours: {combed} interlaced, {progressive} progressive \
         (source: {source_combed} interlaced)"
    );
    assert!(
        source_combed > 0 && combed * 10 <= progressive,
        "combing left in the output: {combed} interlaced against {progressive} progressive"
    );
}

#[test]
fn a_combed_source_flagged_progressive_is_deinterlaced_too() {
    let source = fixture("combed_unflagged_576.mp4");
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out, &[]);
    let ours = check_renditions(&out, temp.path(), (720, 576), "50/1");
    let (combed, progressive) = idet(&ours);
    assert!(
        combed * 10 <= progressive,
        "combing left in the output: {combed} interlaced against {progressive} progressive"
    );
}

#[test]
fn an_sdr_progressive_source_is_tagged_bt709_and_left_as_it_is() {
    let source = fixture("talk_720p25.mp4");
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out, &[]);
    check_renditions(&out, temp.path(), (1280, 720), "25/1");
}

#[test]
fn an_sd_source_in_unstated_bt601_coefficients_is_converted_to_bt709_like_the_ffmpeg_reference() {
    let source = fixture("sd_4x3.mp4");
    let temp = tempfile::tempdir().expect("tempdir");
    let out = temp.path().join("ladder");
    transcode(&source, &out, &[]);
    let ours = check_renditions(&out, temp.path(), (640, 480), "25/1");
    let chain = to_bt709_chain(ToBt709 {
        from_bt601: true,
        full_range: false,
    });
    compare_with_cli(&source, &ours, &chain, temp.path());
}

/// What `yanxiu probe --json` says of the primary video stream of `fx`.
fn probed_video(fx: &FixtureExpectation) -> Value {
    let result = yanxiu(&[
        "probe",
        "--json",
        &fixtures_dir().join(&fx.file).to_string_lossy(),
    ]);
    let json: Value = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|e| panic!("{}: probe --json output: {e}", fx.file));
    json["report"]["streams"]
        .as_array()
        .and_then(|streams| {
            streams
                .iter()
                .find(|s| s["kind"] == "video" && s["video"].is_object())
        })
        .map(|s| s["video"].clone())
        .unwrap_or_else(|| panic!("{}: no video stream in {json}", fx.file))
}

#[test]
fn the_probe_reports_transfer_primaries_matrix_field_order_and_scan_of_every_fixture() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for fx in expectations() {
        if fx.field_order.is_none() && fx.color_transfer.is_none() && fx.hdr.is_none() {
            continue;
        }
        let video = probed_video(&fx);
        let text = |key: &str| video[key].as_str().map(str::to_owned);
        for (key, expected) in [
            ("color_transfer", &fx.color_transfer),
            ("color_primaries", &fx.color_primaries),
            ("color_matrix", &fx.color_matrix),
            ("field_order", &fx.field_order),
            ("hdr", &fx.hdr),
        ] {
            if expected.is_some() && text(key) != *expected {
                problems.push(format!(
                    "{}: {key} is {:?}, expected {expected:?}",
                    fx.file,
                    text(key)
                ));
            }
        }
        if let Some(interlaced) = fx.interlaced
            && video["interlaced"].as_bool() != Some(interlaced)
        {
            problems.push(format!(
                "{}: interlaced is {}, expected {interlaced} (idet: {})",
                fx.file, video["interlaced"], video["interlace_check"]
            ));
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} fixtures state colour facts");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn progressive_fixtures_are_not_taken_for_interlaced_by_the_content_check() {
    for fx in expectations() {
        if fx.probe_exit == 2 || !fx.has_video || fx.long || fx.interlaced.is_some() {
            continue;
        }
        let video = probed_video(&fx);
        assert_eq!(
            video["interlaced"], false,
            "{}: idet {}",
            fx.file, video["interlace_check"]
        );
    }
}

/// The job `yanxiu transcode` would make for `source`, on a ladder of one
/// rung at the source's size cut into 1 s chunks (1 s GOPs and segments),
/// without audio: the chunked path at its smallest.
fn chunkable_job(source: &Path, prefix: &str) -> TranscodeJob {
    one_second_chunk_job(source, prefix, |height| {
        vec![RungTemplate {
            height,
            crf: 23,
            max_bitrate_kbps: 8000,
            buffer_kbits: 16000,
            profile: "high".into(),
        }]
    })
}

/// Encodes `file` once in a single pass and once in 1 s chunks joined
/// into one ladder; the chunked rendition must be tagged like the single
/// pass's and show the same pictures.
async fn chunked_like_single_pass(file: &str, frame_rate: &str) {
    let source = fixture(file);
    let temp = tempfile::tempdir().expect("tempdir");
    let storage: Arc<dyn Storage> = Arc::new(LocalDirStorage::new(temp.path()));
    let single = chunkable_job(&source, "single/");
    let (progress, _) = tokio::sync::watch::channel(Progress::default());
    yanxiu_transcode::transcode(single, storage.clone(), progress)
        .await
        .expect("single pass");

    let job = chunkable_job(&source, "chunked/");
    let chunks = plan_chunks(job.duration_seconds, 1.0, 1.0, 1.0);
    assert!(chunks.len() >= 2, "{file}: {} chunk(s)", chunks.len());
    common::chunked::encode_in_chunks(&job, &chunks, storage.clone()).await;

    let size = (
        u64::from(job.plan.rungs[0].width),
        u64::from(job.plan.rungs[0].height),
    );
    let single_dir = temp.path().join("single-joined");
    let chunked_dir = temp.path().join("chunked-joined");
    std::fs::create_dir_all(&single_dir).expect("mkdir");
    std::fs::create_dir_all(&chunked_dir).expect("mkdir");
    let single = check_renditions(&temp.path().join("single"), &single_dir, size, frame_rate);
    let chunked = check_renditions(&temp.path().join("chunked"), &chunked_dir, size, frame_rate);
    assert_eq!(
        frame_count(&chunked),
        frame_count(&single),
        "{file}: the chunks hold a different number of pictures than the single pass"
    );
    let agreement = ssim(&chunked, &single);
    eprintln!("{file}: SSIM chunked/single pass {agreement:.4}");
    assert!(
        agreement >= 0.99,
        "{file}: the chunked rendition differs from the single pass (SSIM {agreement:.4})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chunked_path_deinterlaces_a_1080i50_source_like_the_single_pass() {
    chunked_like_single_pass("interlaced_1080i50.mp4", "50/1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chunked_path_tone_maps_a_pq_source_like_the_single_pass() {
    chunked_like_single_pass("hdr_pq_hevc10.mp4", "25/1").await;
}
