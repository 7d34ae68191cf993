//! The ffmpeg CLI as the test media source: H.264 Annex B and ADTS AAC
//! elementary streams of [`FRAMES`] frames (6 s at 30 fps), and running any
//! tool with a clear failure (never a skip) when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Video frames in every encoded stream (6 s at 30 fps).
pub const FRAMES: usize = 180;

/// Runs `tool`; panics with its stderr when it fails or is missing.
pub fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} must be installed for this test: {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `DIR/NAME.h264`: x264 testsrc2 at `size`, a keyframe every 30 frames,
/// access unit delimiters on, B-frames on.
pub fn encode_video(dir: &Path, name: &str, size: &str) -> PathBuf {
    let path = dir.join(format!("{name}.h264"));
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=30"),
            "-frames:v",
            &FRAMES.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-x264-params",
            "keyint=30:min-keyint=30:scenecut=0:aud=1",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            path.to_str().unwrap(),
        ],
    );
    path
}

/// `DIR/audio.aac`: 6 s of a 440 Hz stereo tone as ADTS AAC-LC.
pub fn encode_audio(dir: &Path) -> PathBuf {
    let path = dir.join("audio.aac");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "6",
            "-ac",
            "2",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "adts",
            path.to_str().unwrap(),
        ],
    );
    path
}
