//! `yanxiu qc` end to end: the built binary over the QC fault fixtures
//! (media-fixtures/README.md, "Technical QC fixtures"), each fault found
//! within 0.2 s and the loudness within 0.5 LU of the truth the fixture was
//! made with; the clean fixtures and a lecture of still slides give no error
//! finding; the text output speaks both languages; exit codes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fixtures::{expectations, fixtures_dir};
use serde_json::Value;

const TIME_TOLERANCE: f64 = 0.2;
const LOUDNESS_TOLERANCE: f64 = 0.5;

fn yanxiu() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yanxiu"));
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    cmd
}

fn qc(file: &Path, args: &[&str]) -> Output {
    yanxiu()
        .arg("qc")
        .arg(file)
        .args(args)
        .output()
        .expect("run yanxiu qc")
}

fn report(name: &str) -> (Value, i32) {
    let out = qc(&fixtures_dir().join(name), &["--json"]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: stdout is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (json, out.status.code().unwrap_or(-1))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The one segment of `list` within the tolerance of `[start, end]`.
fn assert_segment(report: &Value, list: &str, start: f64, end: f64) {
    let segments = report[list].as_array().expect(list);
    let hits: Vec<&Value> = segments
        .iter()
        .filter(|s| {
            (f(&s["start"]) - start).abs() <= TIME_TOLERANCE
                && (f(&s["end"]) - end).abs() <= TIME_TOLERANCE
        })
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{list}: expected one segment near [{start}, {end}], got {segments:?}"
    );
}

fn findings<'a>(report: &'a Value, severity: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|x| x["severity"] == severity)
        .collect()
}

fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {}", report["findings"]))
}

#[test]
fn the_json_report_has_the_documented_shape() {
    let (r, _) = report("qc_black_start.mp4");
    for key in ["integrated_lufs", "range_lu", "true_peak_dbtp"] {
        assert!(r["loudness"].get(key).is_some(), "loudness.{key}");
    }
    for list in ["black", "silence", "freeze", "findings"] {
        assert!(r[list].is_array(), "{list}");
    }
    for x in r["findings"].as_array().expect("findings") {
        for key in ["code", "start", "end", "message_zh", "message_en"] {
            assert!(x.get(key).is_some(), "finding.{key}: {x}");
        }
        assert!(["info", "warning", "error"].contains(&x["severity"].as_str().unwrap_or("")));
    }
}

#[test]
fn a_black_first_three_seconds_is_found_and_warned_about() {
    let (r, code) = report("qc_black_start.mp4");
    assert_segment(&r, "black", 0.0, 3.0);
    let w = finding(&r, "video.black");
    assert_eq!(w["severity"], "warning");
    assert!((f(&w["end"]) - 3.0).abs() <= TIME_TOLERANCE);
    assert_eq!(code, 0, "a warning is not an error");
}

#[test]
fn five_seconds_of_silence_are_found() {
    let (r, code) = report("qc_silence.mp4");
    assert_segment(&r, "silence", 4.0, 9.0);
    assert!(findings(&r, "error").is_empty(), "{}", r["findings"]);
    assert_eq!(code, 0);
}

#[test]
fn twenty_seconds_of_frozen_picture_with_silence_is_an_error_and_exit_1() {
    let (r, code) = report("qc_frozen_silent.mp4");
    assert_segment(&r, "freeze", 5.0, 25.0);
    let errors = findings(&r, "error");
    assert_eq!(errors.len(), 1, "{}", r["findings"]);
    assert_eq!(errors[0]["code"], "av.frozen_and_silent");
    assert!((f(&errors[0]["start"]) - 5.0).abs() <= TIME_TOLERANCE);
    assert!((f(&errors[0]["end"]) - 25.0).abs() <= TIME_TOLERANCE);
    assert_eq!(code, 1);
}

#[test]
fn a_tone_at_minus_20_dbfs_measures_minus_20_lufs() {
    let (r, _) = report("qc_tone_minus20.mp4");
    let l = &r["loudness"];
    assert!(
        (f(&l["integrated_lufs"]) + 20.0).abs() <= LOUDNESS_TOLERANCE,
        "{l}"
    );
    assert!(f(&l["range_lu"]) <= LOUDNESS_TOLERANCE, "{l}");
    // AAC coding noise lifts the true peak of a pure tone a little.
    assert!((f(&l["true_peak_dbtp"]) + 20.0).abs() <= 1.0, "{l}");
    assert!(
        r["findings"].as_array().expect("findings").is_empty(),
        "{}",
        r["findings"]
    );
}

#[test]
fn the_loudness_agrees_with_ffmpegs_own_ebu_r128_meter() {
    for name in [
        "qc_tone_minus20.mp4",
        "lecture_1080p30.mp4",
        "qc_frozen_silent.mp4",
    ] {
        let path = fixtures_dir().join(name);
        let out = Command::new("ffmpeg")
            .args(["-nostats", "-hide_banner", "-i"])
            .arg(&path)
            .args(["-af", "ebur128", "-f", "null", "-"])
            .output()
            .expect("ffmpeg must be installed (it makes the fixtures)");
        let log = String::from_utf8_lossy(&out.stderr);
        let summary = log.rsplit("Summary:").next().expect("an ebur128 summary");
        let reference: f64 = summary
            .lines()
            .find_map(|l| l.trim().strip_prefix("I:"))
            .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
            .unwrap_or_else(|| panic!("no integrated loudness in:\n{summary}"));
        let (r, _) = report(name);
        let ours = f(&r["loudness"]["integrated_lufs"]);
        assert!(
            (ours - reference).abs() <= 0.2,
            "{name}: ours {ours} LUFS, ffmpeg {reference} LUFS"
        );
    }
}

#[test]
fn a_clipped_passage_is_found() {
    let (r, _) = report("qc_clipped.mp4");
    let clips = r["clipping"].as_array().expect("clipping");
    assert_eq!(clips.len(), 1, "{clips:?}");
    assert!(
        (f(&clips[0]["start"]) - 4.0).abs() <= TIME_TOLERANCE,
        "{clips:?}"
    );
    assert!(
        (f(&clips[0]["end"]) - 6.0).abs() <= TIME_TOLERANCE,
        "{clips:?}"
    );
    assert_eq!(finding(&r, "audio.clipping")["severity"], "warning");
}

#[test]
fn audio_starting_one_second_late_is_found() {
    let (r, _) = report("qc_late_audio.mp4");
    let offset = f(&r["sync"]["start_offset"]);
    assert!((offset - 1.0).abs() <= TIME_TOLERANCE, "{offset}");
    let w = finding(&r, "av.start_offset");
    assert_eq!(w["severity"], "warning");
    assert!(
        w["message_en"]
            .as_str()
            .unwrap_or("")
            .contains("after the picture")
    );
}

#[test]
fn a_lecture_of_still_slides_over_speech_has_no_error() {
    let (r, code) = report("qc_lecture_static.mp4");
    // Each slide is a held picture...
    for (start, end) in [(0.0, 15.0), (15.0, 30.0), (30.0, 45.0)] {
        assert_segment(&r, "freeze", start, end);
    }
    // ...over speech, which is normal.
    assert!(findings(&r, "error").is_empty(), "{}", r["findings"]);
    assert!(findings(&r, "warning").is_empty(), "{}", r["findings"]);
    assert_eq!(code, 0);

    // Held long enough, a slide over speech is a note, never more.
    let policy = tempfile::NamedTempFile::new().expect("policy file");
    std::fs::write(policy.path(), "[qc]\nstatic_info_seconds = 10.0\n").expect("write");
    let out = qc(
        &fixtures_dir().join("qc_lecture_static.mp4"),
        &["--json", "--policy", &policy.path().to_string_lossy()],
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    let notes = findings(&r, "info");
    assert_eq!(notes.len(), 3, "{}", r["findings"]);
    assert!(notes.iter().all(|n| n["code"] == "video.static_picture"));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn every_clean_accepted_fixture_has_no_error_finding() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for fx in expectations()
        .iter()
        .filter(|x| x.probe_exit == 0 && x.has_video && !x.long && !x.file.starts_with("qc_"))
    {
        let (r, code) = report(&fx.file);
        checked += 1;
        let errors = findings(&r, "error");
        if !errors.is_empty() || code != 0 {
            problems.push(format!("{}: exit {code}, {errors:?}", fx.file));
        }
    }
    assert!(checked >= 10, "only {checked} clean fixtures");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_text_report_is_chinese_by_default_and_english_on_request() {
    let file = fixtures_dir().join("qc_frozen_silent.mp4");
    let zh = String::from_utf8_lossy(&qc(&file, &[]).stdout).into_owned();
    assert!(zh.contains("响度（EBU R128）"), "{zh}");
    assert!(
        zh.contains("错误 [av.frozen_and_silent] 0:05.0–0:25.0  画面静止且无声"),
        "{zh}"
    );
    assert!(zh.contains("frozen picture with no sound"), "{zh}");
    let en = String::from_utf8_lossy(&qc(&file, &["--lang", "en"]).stdout).into_owned();
    assert!(en.contains("Loudness (EBU R128)"), "{en}");
    assert!(en.contains("error [av.frozen_and_silent]"), "{en}");
    assert!(en.contains("画面静止且无声"), "{en}");
}

#[test]
fn a_lecture_without_picture_gets_the_sound_checks_alone() {
    let (r, code) = report("lecture_audio.flac");
    assert_eq!(code, 0, "{r}");
    assert!(r["video"].is_null(), "{r}");
    assert_eq!(r["audio"]["channels"], 1, "{r}");
    let integrated = r["loudness"]["integrated_lufs"].as_f64().expect("loudness");
    assert!((-40.0..-5.0).contains(&integrated), "{integrated}");
    assert!(
        (r["duration"].as_f64().unwrap_or_default() - 10.0).abs() < 0.2,
        "{r}"
    );
    // The pause between 4 and 6 s is measured as silence.
    let silence = r["silence"].as_array().cloned().unwrap_or_default();
    assert_eq!(silence.len(), 1, "{r}");
    assert!(
        (f(&silence[0]["start"]) - 4.0).abs() < 0.1 && (f(&silence[0]["end"]) - 6.0).abs() < 0.1,
        "{r}"
    );
    let text = String::from_utf8_lossy(
        &qc(
            &fixtures_dir().join("lecture_audio.flac"),
            &["--lang", "en"],
        )
        .stdout,
    )
    .into_owned();
    assert!(text.contains("Picture: none (sound only"), "{text}");
    assert!(!text.contains("Black:"), "{text}");
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        codes
            .iter()
            .all(|c| !c.starts_with("video.") && !c.starts_with("av.")),
        "no picture or sync findings without a picture: {codes:?}"
    );
}

#[test]
fn files_that_are_not_media_exit_2_with_a_bilingual_reason() {
    let dir = fixtures_dir();
    let out = qc(&dir.join("random.bin"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
    let bad_policy = tempfile::NamedTempFile::new().expect("policy");
    std::fs::write(bad_policy.path(), "[qc]\nsilence_min_secs = 1\n").expect("write");
    let out = qc(
        &dir.join("talk_720p25.mp4"),
        &["--policy", &bad_policy.path().to_string_lossy()],
    );
    assert_eq!(out.status.code(), Some(2));
}
