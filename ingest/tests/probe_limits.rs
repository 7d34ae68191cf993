//! `probe_file` on generated media (media-fixtures/generate.sh): the
//! bounds (deadline, picture-size guard), the content-based recognition,
//! and facts the CLI tests do not look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use yanxiu_ingest::{ProbeError, ProbeLimits, StreamKind, UnreadableReason, probe_file};

/// Generates the fixtures once per test process; fails with the script's
/// stderr when it cannot (e.g. ffmpeg missing).
fn fixtures() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../media-fixtures");
        let out = root.join("generated");
        let run = Command::new("bash")
            .arg(root.join("generate.sh"))
            .arg(&out)
            .output();
        match run {
            Ok(o) if o.status.success() => Ok(out),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    match dir {
        Ok(d) => d.clone(),
        Err(e) => panic!("media-fixtures/generate.sh failed: {e}"),
    }
}

/// Peak resident memory of this process in KiB (Linux).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_passed_deadline_stops_the_probe_with_timeout() {
    let limits = ProbeLimits {
        deadline: Duration::ZERO,
        ..ProbeLimits::default()
    };
    let err =
        probe_file(&fixtures().join("lecture_1080p30.mp4"), &limits).expect_err("no time at all");
    assert!(matches!(err, ProbeError::Timeout { .. }), "{err:?}");
    assert_eq!(err.code(), "probe.timeout");
}

#[test]
fn a_picture_larger_than_the_guard_allows_is_refused_before_decoding() {
    let limits = ProbeLimits {
        max_pixels: 1280 * 720,
        ..ProbeLimits::default()
    };
    let err = probe_file(&fixtures().join("lecture_1080p30.mp4"), &limits).expect_err("guard");
    match err {
        ProbeError::Unreadable {
            reason: UnreadableReason::PictureTooLarge { width, height, .. },
        } => {
            assert_eq!((width, height), (1920, 1080));
        }
        other => panic!("expected PictureTooLarge, got {other:?}"),
    }
    let limits = ProbeLimits {
        max_edge: 1000,
        ..ProbeLimits::default()
    };
    assert!(probe_file(&fixtures().join("lecture_1080p30.mp4"), &limits).is_err());
}

#[test]
fn a_header_declaring_16000x16000_is_refused_quickly_without_allocating_the_frame() {
    let before = peak_rss_kib();
    let started = Instant::now();
    let err = probe_file(
        &fixtures().join("huge_dimensions.y4m"),
        &ProbeLimits::default(),
    )
    .expect_err("guard");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            ProbeError::Unreadable {
                reason: UnreadableReason::PictureTooLarge {
                    width: 16000,
                    height: 16000,
                    ..
                }
            }
        ),
        "{err:?}"
    );
    // One 16000x16000 4:2:0 frame is 384 MB; the probe must stay far below.
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 100 * 1024, "peak memory grew by {grown} KiB");
}

#[test]
fn the_content_decides_the_format_not_the_file_name() {
    let temp = tempfile::tempdir().expect("tempdir");
    // A real MP4 named like a text file is still an MP4 ...
    let disguised = temp.path().join("notes.txt");
    std::fs::copy(fixtures().join("talk_720p25.mp4"), &disguised).expect("copy");
    let report = probe_file(&disguised, &ProbeLimits::default()).expect("an mp4 by content");
    assert_eq!(report.container_family, "mp4");
    assert_eq!(report.file_name, "notes.txt");
    // ... and a PNG named .mp4 is a still image, not media.
    let err =
        probe_file(&fixtures().join("png_renamed.mp4"), &ProbeLimits::default()).expect_err("png");
    assert!(
        matches!(err, ProbeError::NotMedia { detected_as: Some(ref d) } if d == "png_pipe"),
        "{err:?}"
    );
}

#[test]
fn a_truncated_upload_is_unreadable_because_its_index_points_past_the_end() {
    let err = probe_file(&fixtures().join("truncated.mp4"), &ProbeLimits::default())
        .expect_err("truncated");
    match err {
        ProbeError::Unreadable {
            reason:
                UnreadableReason::Truncated {
                    size_bytes,
                    needed_bytes,
                },
        } => {
            assert!(needed_bytes > size_bytes);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn lecture_report_carries_codec_profile_level_and_audio_layout() {
    let report = probe_file(
        &fixtures().join("lecture_1080p30.mp4"),
        &ProbeLimits::default(),
    )
    .expect("probe");
    assert_eq!(report.container, "mov,mp4,m4a,3gp,3g2,mj2");
    assert_eq!(report.streams.len(), 2);
    let video = report.primary_video().expect("video");
    assert_eq!(video.kind, StreamKind::Video);
    assert_eq!(video.profile.as_deref(), Some("High"));
    assert_eq!(video.level, Some(40));
    assert!(
        video
            .codec_long
            .as_deref()
            .is_some_and(|l| l.contains("H.264"))
    );
    let info = video.video.as_ref().expect("video info");
    assert_eq!(info.pixel_format.as_deref(), Some("yuv420p"));
    assert_eq!(info.avg_frame_rate, Some(30.0));
    assert_eq!(info.sample_aspect_ratio, (1, 1));
    let audio = report
        .primary_audio()
        .and_then(|s| s.audio.as_ref())
        .expect("audio");
    assert_eq!((audio.channels, audio.sample_rate), (2, 48000));
    assert_eq!(audio.channel_layout.as_deref(), Some("stereo"));
    assert_eq!(audio.sample_format.as_deref(), Some("fltp"));
    assert!(report.bit_rate.is_some_and(|b| b > 100_000));
}

#[test]
fn anamorphic_ntsc_b_frame_and_vfr_facts_are_reported() {
    let limits = ProbeLimits::default();
    let sar = probe_file(&fixtures().join("anamorphic_sar.mp4"), &limits).expect("probe");
    let info = sar
        .primary_video()
        .and_then(|s| s.video.clone())
        .expect("video");
    assert_eq!(info.sample_aspect_ratio, (64, 45));
    assert_eq!((info.display_width, info.display_height), (1024, 576));

    let ntsc = probe_file(&fixtures().join("ntsc_29_97.mp4"), &limits).expect("probe");
    let info = ntsc
        .primary_video()
        .and_then(|s| s.video.clone())
        .expect("video");
    let rate = info.avg_frame_rate.expect("rate");
    assert!((rate - 30000.0 / 1001.0).abs() < 1e-6, "{rate}");
    assert!(!info.frame_rate_is_variable);

    let still = probe_file(&fixtures().join("still_slide_bframes.mp4"), &limits).expect("probe");
    let info = still
        .primary_video()
        .and_then(|s| s.video.clone())
        .expect("video");
    assert!(
        !info.frame_rate_is_variable,
        "a still slide coded with a B-pyramid is constant rate"
    );

    let vfr = probe_file(&fixtures().join("vfr.mp4"), &limits).expect("probe");
    let info = vfr
        .primary_video()
        .and_then(|s| s.video.clone())
        .expect("video");
    assert!(info.frame_rate_is_variable);
    assert!(
        info.avg_frame_rate.is_some_and(|r| r > 20.0 && r < 25.0),
        "{:?}",
        info.avg_frame_rate
    );
}

#[test]
fn a_directory_is_not_a_regular_file() {
    let temp = tempfile::tempdir().expect("tempdir");
    let err = probe_file(temp.path(), &ProbeLimits::default()).expect_err("dir");
    assert!(
        matches!(
            err,
            ProbeError::Unreadable {
                reason: UnreadableReason::NotARegularFile
            }
        ),
        "{err:?}"
    );
}

/// The primary video stream's colour and scan facts of `file` under `limits`.
fn signal(file: &str, limits: &ProbeLimits) -> yanxiu_ingest::VideoSignal {
    let report = probe_file(&fixtures().join(file), limits).expect("probe");
    report
        .primary_video()
        .and_then(|s| s.video.as_ref())
        .map(|v| v.signal.clone())
        .expect("video stream")
}

#[test]
fn the_content_check_finds_combing_a_progressive_flag_hides() {
    let found = signal("combed_unflagged_576.mp4", &ProbeLimits::default());
    assert_eq!(found.field_order, yanxiu_ingest::FieldOrder::Progressive);
    assert!(found.interlaced, "{found:?}");
    assert_eq!(found.scan, yanxiu_ingest::Scan::TopFieldFirst);
    let counts = found.interlace_check.expect("idet counts");
    assert!(counts.tff > 50 && counts.bff == 0, "{counts:?}");
}

#[test]
fn without_pictures_for_the_content_check_the_field_order_flag_alone_decides() {
    let limits = ProbeLimits {
        interlace_frames: 0,
        ..ProbeLimits::default()
    };
    let unflagged = signal("combed_unflagged_576.mp4", &limits);
    assert_eq!(unflagged.interlace_check, None);
    assert!(!unflagged.interlaced);
    let flagged = signal("interlaced_1080i50.mp4", &limits);
    assert!(flagged.interlaced, "{flagged:?}");
}

#[test]
fn the_content_check_stays_within_its_time_budget() {
    let limits = ProbeLimits {
        interlace_budget: Duration::ZERO,
        ..ProbeLimits::default()
    };
    let started = Instant::now();
    let s = signal("interlaced_1080i50.mp4", &limits);
    assert_eq!(s.interlace_check, None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn hdr_transfer_primaries_and_matrix_are_reported() {
    let s = signal("hdr_hlg_hevc10.mp4", &ProbeLimits::default());
    assert_eq!(s.color_transfer.as_deref(), Some("arib-std-b67"));
    assert_eq!(s.color_primaries.as_deref(), Some("bt2020"));
    assert_eq!(s.color_matrix.as_deref(), Some("bt2020nc"));
    assert_eq!(s.color_range.as_deref(), Some("tv"));
    assert_eq!(s.hdr, yanxiu_ingest::HdrKind::Hlg);
    let sdr = signal("lecture_1080p30.mp4", &ProbeLimits::default());
    assert_eq!(sdr.hdr, yanxiu_ingest::HdrKind::None);
    assert!(!sdr.interlaced);
}
