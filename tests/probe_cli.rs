//! `yanxiu probe` end to end: the built binary over every generated fixture,
//! checked against media-fixtures/expectations.toml, plus custom and broken
//! policies and the output language.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::fixtures::{FixtureExpectation, expectations, fixtures_dir};
use serde_json::Value;

fn yanxiu() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yanxiu"));
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    cmd
}

fn probe(args: &[&str], file: &Path) -> (Output, Duration) {
    let started = Instant::now();
    let output = yanxiu()
        .arg("probe")
        .args(args)
        .arg(file)
        .output()
        .expect("run yanxiu probe");
    (output, started.elapsed())
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn violation_codes(json: &Value) -> BTreeSet<String> {
    json["validation"]["violations"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The first stream of `kind` that has its info object (cover art is
/// reported as an attachment, never as video).
fn primary<'a>(report: &'a Value, kind: &str) -> Option<&'a Value> {
    report["streams"]
        .as_array()?
        .iter()
        .find(|s| s["kind"] == kind && s[kind].is_object())
}

/// Checks one fixture's `--json` output against its expectation; returns the problems.
fn check_fixture(fx: &FixtureExpectation, output: &Output, elapsed: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |p: String| problems.push(format!("{}: {p}", fx.file));
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        fail(format!("panic text on stderr: {stderr}"));
    }
    let code = output.status.code();
    if code != Some(fx.probe_exit) {
        fail(format!(
            "exit {code:?}, expected {} (stderr: {stderr})",
            fx.probe_exit
        ));
    }
    let json = json_of(output);
    if json["exit_code"] != fx.probe_exit {
        fail(format!(
            "JSON exit_code {}, expected {}",
            json["exit_code"], fx.probe_exit
        ));
    }

    if fx.probe_exit == 2 {
        if elapsed > Duration::from_secs(5) {
            fail(format!("took {elapsed:?}, more than 5 s"));
        }
        let error = &json["error"];
        if error["code"].as_str() != fx.error.as_deref() {
            fail(format!(
                "error code {}, expected {:?}",
                error["code"], fx.error
            ));
        }
        for key in ["message_zh", "message_en"] {
            if error[key].as_str().is_none_or(str::is_empty) {
                fail(format!("error.{key} missing"));
            }
        }
        if !json["report"].is_null() || !json["validation"].is_null() {
            fail("exit 2 output carries a report or validation".into());
        }
        return problems;
    }

    let expected: BTreeSet<String> = fx.violations.iter().cloned().collect();
    let actual = violation_codes(&json);
    if actual != expected {
        fail(format!("violations {actual:?}, expected {expected:?}"));
    }
    if json["validation"]["accepted"] != (fx.probe_exit == 0) {
        fail(format!(
            "validation.accepted = {}",
            json["validation"]["accepted"]
        ));
    }
    for v in json["validation"]["violations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["message_zh"].as_str().is_none_or(str::is_empty)
            || v["message_en"].as_str().is_none_or(str::is_empty)
        {
            fail(format!("violation {} lacks a message", v["code"]));
        }
    }

    let report = &json["report"];
    if report["container_family"].as_str() != fx.container_family.as_deref() {
        fail(format!(
            "container_family {}, expected {:?}",
            report["container_family"], fx.container_family
        ));
    }
    match report["duration_seconds"].as_f64() {
        Some(d) if (d - fx.duration).abs() <= 0.2 => {}
        other => fail(format!(
            "duration {other:?}, expected {} ± 0.2",
            fx.duration
        )),
    }

    let video = primary(report, "video");
    if video.is_some() != fx.has_video {
        fail(format!(
            "has video = {}, expected {}",
            video.is_some(),
            fx.has_video
        ));
    }
    if let Some(stream) = video.filter(|_| fx.has_video) {
        if stream["codec"].as_str() != fx.video_codec.as_deref() {
            fail(format!(
                "video codec {}, expected {:?}",
                stream["codec"], fx.video_codec
            ));
        }
        let info = &stream["video"];
        let facts = [
            ("width", u64::from(fx.width)),
            ("height", u64::from(fx.height)),
            ("rotation", u64::from(fx.rotation)),
            ("display_width", u64::from(fx.display_width)),
            ("display_height", u64::from(fx.display_height)),
        ];
        for (key, want) in facts {
            if info[key].as_u64() != Some(want) {
                fail(format!("video.{key} = {}, expected {want}", info[key]));
            }
        }
        if info["frame_rate_is_variable"] != fx.frame_rate_is_variable {
            fail(format!(
                "frame_rate_is_variable = {}, expected {}",
                info["frame_rate_is_variable"], fx.frame_rate_is_variable
            ));
        }
    }

    let audio = primary(report, "audio");
    if audio.is_some() != fx.has_audio {
        fail(format!(
            "has audio = {}, expected {}",
            audio.is_some(),
            fx.has_audio
        ));
    }
    if let Some(stream) = audio
        && stream["codec"].as_str() != fx.audio_codec.as_deref()
    {
        fail(format!(
            "audio codec {}, expected {:?}",
            stream["codec"], fx.audio_codec
        ));
    }
    problems
}

#[test]
fn every_fixture_probes_exactly_as_its_expectation_says() {
    let dir = fixtures_dir();
    let all = expectations();
    let mut problems = Vec::new();
    for fx in &all {
        let (output, elapsed) = probe(&["--json", "--lang", "en"], &dir.join(&fx.file));
        problems.extend(check_fixture(fx, &output, elapsed));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        all.len() >= 21,
        "expectations list only {} fixtures",
        all.len()
    );
}

#[test]
fn every_generated_file_has_an_expectation_and_every_expectation_a_file() {
    let dir = fixtures_dir();
    let listed: BTreeSet<String> = expectations().into_iter().map(|f| f.file).collect();
    let generated: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert_eq!(listed, generated);
}

#[test]
fn broken_fixtures_print_a_bilingual_error_on_stderr_in_text_mode() {
    let dir = fixtures_dir();
    for fx in expectations().iter().filter(|f| f.probe_exit == 2) {
        let (output, elapsed) = probe(&["--lang", "zh"], &dir.join(&fx.file));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}: {stderr}", fx.file);
        assert!(elapsed < Duration::from_secs(5), "{}: {elapsed:?}", fx.file);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", fx.file);
        let code = fx.error.as_deref().expect("error code");
        assert!(
            stderr.contains(&format!("结论：无法读取 [{code}]")),
            "{}: {stderr}",
            fx.file
        );
        // The Chinese message first, then the English one.
        let lines: Vec<&str> = stderr.lines().collect();
        let n = lines.len();
        assert!(
            n >= 2 && lines[n - 2].chars().any(|c| c > '\u{4e00}'),
            "{}: {stderr}",
            fx.file
        );
        assert!(lines[n - 1].is_ascii(), "{}: {stderr}", fx.file);
        assert!(
            output.stdout.is_empty(),
            "{}: stdout should be empty",
            fx.file
        );
    }
}

#[test]
fn a_policy_allowing_only_720p_rejects_the_1080p_lecture_and_accepts_the_720p_talk() {
    let dir = fixtures_dir();
    let temp = tempfile::tempdir().expect("tempdir");
    let policy = temp.path().join("hd720.toml");
    std::fs::write(
        &policy,
        "name = \"hd720\"\n[video]\nmax_long_edge = 1280\nmax_short_edge = 720\n",
    )
    .expect("write policy");
    let policy_arg = policy.to_string_lossy().into_owned();

    let (output, _) = probe(
        &["--json", "--policy", &policy_arg],
        &dir.join("lecture_1080p30.mp4"),
    );
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(json["policy"], "hd720");
    assert_eq!(
        violation_codes(&json),
        BTreeSet::from(["video.resolution_too_high".to_owned()])
    );
    let violation = &json["validation"]["violations"][0];
    assert_eq!(violation["actual"], "1920x1080");
    assert_eq!(violation["limit"], "1280x720");

    let (output, _) = probe(
        &["--json", "--policy", &policy_arg],
        &dir.join("talk_720p25.mp4"),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // A portrait 720x1280 phone clip is judged like 1280x720: accepted.
    let (output, _) = probe(
        &["--json", "--policy", &policy_arg],
        &dir.join("phone_portrait_rotated.mp4"),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn a_rejected_file_lists_every_violation_with_code_and_both_messages_in_text_mode() {
    let dir = fixtures_dir();
    let temp = tempfile::tempdir().expect("tempdir");
    let policy = temp.path().join("strict.toml");
    std::fs::write(
        &policy,
        "[container]\nallowed_families = [\"webm\"]\n[video]\nallowed_codecs = [\"vp9\"]\nmax_long_edge = 1280\nmax_short_edge = 720\n",
    )
    .expect("write policy");
    let (output, _) = probe(
        &["--lang", "en", "--policy", &policy.to_string_lossy()],
        &dir.join("lecture_1080p30.mp4"),
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Result: rejected (3 violation(s))"),
        "{stdout}"
    );
    for (code, en, zh) in [
        (
            "container.not_allowed",
            "Container format \"mp4\" is not allowed",
            "容器格式“mp4”不在允许范围内",
        ),
        (
            "video.codec_not_allowed",
            "Video codec \"h264\" is not allowed",
            "视频编码“h264”不在允许范围内",
        ),
        (
            "video.resolution_too_high",
            "Picture size 1920x1080 exceeds the limit of 1280x720",
            "画面尺寸 1920x1080 超过上限 1280x720",
        ),
    ] {
        assert!(
            stdout.contains(&format!("[{code}] {en}")),
            "{code}: {stdout}"
        );
        assert!(stdout.contains(zh), "{code}: {stdout}");
    }
}

#[test]
fn a_bad_policy_file_exits_2_with_a_clear_message() {
    let dir = fixtures_dir();
    let temp = tempfile::tempdir().expect("tempdir");
    let policy = temp.path().join("typo.toml");
    std::fs::write(&policy, "[video]\nmax_long_egde = 1280\n").expect("write policy");
    let policy_arg = policy.to_string_lossy().into_owned();

    let (output, _) = probe(
        &["--json", "--policy", &policy_arg],
        &dir.join("lecture_1080p30.mp4"),
    );
    assert_eq!(output.status.code(), Some(2));
    let json = json_of(&output);
    assert_eq!(json["error"]["code"], "policy.invalid");
    let en = json["error"]["message_en"].as_str().unwrap_or_default();
    assert!(
        en.contains("max_long_egde") && en.contains("typo.toml"),
        "{en}"
    );
    assert!(
        json["error"]["message_zh"]
            .as_str()
            .unwrap_or_default()
            .starts_with("策略文件无效")
    );

    let missing = temp.path().join("missing.toml");
    let (output, _) = probe(
        &["--policy", &missing.to_string_lossy()],
        &dir.join("lecture_1080p30.mp4"),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("policy.invalid") && stderr.contains("missing.toml"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_exits_2_with_probe_not_found() {
    let temp = tempfile::tempdir().expect("tempdir");
    let (output, _) = probe(&["--json"], &temp.path().join("nothing-here.mp4"));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json_of(&output)["error"]["code"], "probe.not_found");
}

#[test]
fn text_output_is_chinese_by_default_and_english_with_lang_en_or_an_english_locale() {
    let file = fixtures_dir().join("talk_720p25.mp4");

    let (output, _) = probe(&[], &file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout.contains("结论：通过") && stdout.contains("显示为 1280x720"),
        "{stdout}"
    );

    let (output, _) = probe(&["--lang", "en"], &file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Result: accepted") && stdout.contains("displayed as 1280x720"),
        "{stdout}"
    );

    let output = yanxiu()
        .env("LANG", "en_US.UTF-8")
        .arg("probe")
        .arg(&file)
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Result: accepted"));

    let output = yanxiu()
        .env("LANG", "en_US.UTF-8")
        .args(["probe", "--lang", "zh"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("结论：通过"),
        "--lang wins over the locale"
    );
}

#[test]
fn help_documents_exit_codes_and_language_choice() {
    let output = yanxiu().args(["probe", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--policy",
        "--json",
        "--lang",
        "Exit codes",
        "LC_ALL",
        "LANG",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}
