//! Loudness normalisation of the audio rendition end to end: `yanxiu
//! transcode` with `[audio] loudness_target_lufs` in the ladder brings a
//! tone of known loudness to the target (measured on the written HLS
//! rendition by ffmpeg's own EBU R128 meter), holds the gain back under the
//! true-peak ceiling, and leaves the sound untouched when no target is set
//! (the default).

mod common;

use std::path::Path;
use std::process::Command;

use common::fixtures::fixtures_dir;
use serde_json::Value;

/// One small rung: the test is about the sound.
const ONE_RUNG: &str =
    "[[rungs]]\nheight = 360\ncrf = 30\nmax_bitrate_kbps = 600\nbuffer_kbits = 1200\n";

/// Transcodes fixture `name` with a one-rung ladder plus `audio_toml`
/// (the `[audio]` table, or nothing) and returns the `--json` outcome and
/// the output directory.
fn transcode(name: &str, audio_toml: &str) -> (Value, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("tempdir");
    let ladder = work.path().join("ladder.toml");
    std::fs::write(&ladder, format!("{ONE_RUNG}{audio_toml}")).expect("write ladder");
    let out_dir = work.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_yanxiu"))
        .arg("transcode")
        .arg(fixtures_dir().join(name))
        .arg("--out")
        .arg(&out_dir)
        .arg("--ladder")
        .arg(&ladder)
        .arg("--json")
        .output()
        .expect("run yanxiu transcode");
    assert!(
        out.status.success(),
        "{name}: exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (json, work)
}

/// Integrated loudness (LUFS) and true peak (dBTP) of the audio rendition
/// under `dir`, from ffmpeg's ebur128 filter.
fn ffmpeg_loudness(dir: &Path) -> (f64, f64) {
    let playlist = dir.join("out/audio/index.m3u8");
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(&playlist)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed (it makes the fixtures)");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ffmpeg failed on {playlist:?}:\n{log}"
    );
    let summary = log.rsplit("Summary:").next().expect("an ebur128 summary");
    let value = |key: &str, unit: &str| -> f64 {
        summary
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches(unit).trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in:\n{summary}"))
    };
    (value("I:", "LUFS"), value("Peak:", "dBFS"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_minus_20_lufs_tone_comes_out_within_1_lu_of_a_minus_16_lufs_target() {
    let (json, dir) = transcode(
        "qc_tone_minus20.mp4",
        "[audio]\nloudness_target_lufs = -16\n",
    );
    let n = &json["loudness"];
    assert_eq!(n["limited_by"], "none", "{n}");
    assert!(
        (f(&n["measured"]["integrated_lufs"]) + 20.0).abs() <= 0.5,
        "{n}"
    );
    assert!((f(&n["gain_db"]) - 4.0).abs() <= 0.5, "{n}");
    let (integrated, peak) = ffmpeg_loudness(dir.path());
    assert!(
        (integrated + 16.0).abs() <= 1.0,
        "rendition at {integrated} LUFS, target -16"
    );
    assert!(
        peak <= -1.0,
        "true peak {peak} dBTP over the -1 dBTP ceiling"
    );
}

#[test]
fn without_a_target_the_sound_is_left_as_recorded() {
    let (json, dir) = transcode("qc_tone_minus20.mp4", "");
    assert_eq!(json["loudness"], Value::Null, "{json}");
    let (integrated, _) = ffmpeg_loudness(dir.path());
    assert!(
        (integrated + 20.0).abs() <= 0.5,
        "rendition at {integrated} LUFS, source -20"
    );
}

#[test]
fn the_true_peak_ceiling_holds_a_boost_back() {
    // Reaching -5 LUFS from -20 would lift the tone's peaks (about -19 dBTP
    // after AAC) to -4 dBTP, over a -12 dBTP ceiling: the gain stops there.
    let (json, dir) = transcode(
        "qc_tone_minus20.mp4",
        "[audio]\nloudness_target_lufs = -5\ntrue_peak_ceiling_dbtp = -12\n",
    );
    let n = &json["loudness"];
    assert_eq!(n["limited_by"], "true_peak", "{n}");
    let gain = f(&n["gain_db"]);
    assert!(gain > 0.0 && gain < 15.0, "{n}");
    let expected = f(&n["expected_lufs"]);
    assert!(expected < -10.0, "{n}");
    let (integrated, peak) = ffmpeg_loudness(dir.path());
    assert!(
        (integrated - expected).abs() <= 1.0,
        "rendition at {integrated} LUFS, expected {expected}"
    );
    assert!(
        peak <= -12.0 + 0.5,
        "true peak {peak} dBTP, ceiling -12 dBTP"
    );
}
