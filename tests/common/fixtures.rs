//! The generated test media (media-fixtures/generate.sh) and their expected
//! outcomes (media-fixtures/expectations.toml).
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;

/// Expected outcome of one fixture under the default policy.
///
/// Facts of readable files (`probe_exit` 0 or 1) are stated in the file;
/// for unreadable ones (`probe_exit` 2) they are zero / false / `None`.
/// Video facts are zero for a file without video.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureExpectation {
    /// File name inside [`fixtures_dir`].
    pub file: String,
    /// What the file is there to test.
    pub exercises: String,
    /// `yanxiu probe` exit code: 0 accepted, 1 rejected, 2 unreadable.
    pub probe_exit: i32,
    /// The exact violation codes under the default policy.
    pub violations: Vec<String>,
    /// Whether `yanxiu transcode` must succeed (every accepted file but a
    /// `long` one).
    pub transcode: bool,
    /// A long source kept for the chunked encoding of long sources
    /// (tests/chunked_encoding.rs), too long for the single-pass sweeps.
    #[serde(default)]
    pub long: bool,
    /// Error code of `yanxiu probe --json` (exit 2 only).
    #[serde(default)]
    pub error: Option<String>,
    /// Container family (`mp4`, `webm`, ...).
    #[serde(default)]
    pub container_family: Option<String>,
    /// Whether the file has a (primary) video stream.
    #[serde(default)]
    pub has_video: bool,
    /// Whether the file has an audio stream.
    #[serde(default)]
    pub has_audio: bool,
    /// Duration in seconds (compare with ±0.2 s).
    #[serde(default)]
    pub duration: f64,
    /// Codec of the primary video stream.
    #[serde(default)]
    pub video_codec: Option<String>,
    /// Codec of the primary audio stream.
    #[serde(default)]
    pub audio_codec: Option<String>,
    /// Coded width of the primary video stream.
    #[serde(default)]
    pub width: u32,
    /// Coded height of the primary video stream.
    #[serde(default)]
    pub height: u32,
    /// Clockwise display rotation: 0, 90, 180 or 270.
    #[serde(default)]
    pub rotation: u16,
    /// Displayed width (after SAR and rotation, even).
    #[serde(default)]
    pub display_width: u32,
    /// Displayed height (after SAR and rotation, even).
    #[serde(default)]
    pub display_height: u32,
    /// Whether the primary video stream has a variable frame rate.
    #[serde(default)]
    pub frame_rate_is_variable: bool,
    /// Transfer characteristic of the primary video stream (libav name),
    /// when the fixture states what the probe must report.
    #[serde(default)]
    pub color_transfer: Option<String>,
    /// Colour primaries of the primary video stream (libav name).
    #[serde(default)]
    pub color_primaries: Option<String>,
    /// Matrix coefficients of the primary video stream (libav name).
    #[serde(default)]
    pub color_matrix: Option<String>,
    /// Field order of the primary video stream (`progressive`, `tt`, ...).
    #[serde(default)]
    pub field_order: Option<String>,
    /// HDR kind (`none`, `pq`, `hlg`).
    #[serde(default)]
    pub hdr: Option<String>,
    /// Whether the primary video stream is interlaced (flag or content).
    #[serde(default)]
    pub interlaced: Option<bool>,
    /// Whether the primary video stream carries closed captions (CEA-608 in
    /// A/53 user data); absent = none.
    #[serde(default)]
    pub closed_captions: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectationsFile {
    fixture: Vec<FixtureExpectation>,
}

fn media_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("media-fixtures")
}

/// The directory holding the generated fixtures. Runs
/// `media-fixtures/generate.sh` once per test process (a no-op when the set
/// is already up to date) and fails the test with the script's stderr when
/// it cannot run (e.g. ffmpeg is missing).
pub fn fixtures_dir() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = DIR.get_or_init(|| {
        let script = media_fixtures().join("generate.sh");
        let out = media_fixtures().join("generated");
        let run = Command::new("bash").arg(&script).arg(&out).output();
        match run {
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
            Ok(o) if !o.status.success() => Err(format!(
                "{} failed ({}):\n{}",
                script.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
            )),
            Ok(_) => Ok(out),
        }
    });
    match result {
        Ok(dir) => dir.clone(),
        Err(message) => panic!("test media could not be generated: {message}"),
    }
}

/// Every fixture's expected outcome, in file order.
pub fn expectations() -> Vec<FixtureExpectation> {
    let path = media_fixtures().join("expectations.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let parsed: ExpectationsFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{} is invalid: {e}", path.display()));
    for fx in &parsed.fixture {
        let readable = fx.probe_exit != 2;
        assert!(
            (0..=2).contains(&fx.probe_exit),
            "{}: probe_exit must be 0, 1 or 2",
            fx.file
        );
        assert_eq!(
            fx.transcode,
            fx.probe_exit == 0 && !fx.long,
            "{}: transcode must be true exactly for accepted files (but long ones)",
            fx.file
        );
        assert_eq!(
            fx.violations.is_empty(),
            fx.probe_exit != 1,
            "{}: violations must be listed exactly for rejected files",
            fx.file
        );
        assert_eq!(
            fx.error.is_some(),
            !readable,
            "{}: error must be given exactly for exit 2",
            fx.file
        );
        if readable {
            assert!(
                fx.duration > 0.0 && fx.container_family.is_some(),
                "{}: readable files state their facts",
                fx.file
            );
            assert!(
                fx.has_video || fx.has_audio,
                "{}: a readable file has some stream",
                fx.file
            );
        }
        if fx.has_video {
            assert!(
                fx.width > 0
                    && fx.height > 0
                    && fx.display_width > 0
                    && fx.display_height > 0
                    && fx.video_codec.is_some(),
                "{}: video facts missing",
                fx.file
            );
        }
        assert_eq!(
            fx.has_audio,
            fx.audio_codec.is_some(),
            "{}: audio_codec exactly when has_audio",
            fx.file
        );
    }
    parsed.fixture
}
