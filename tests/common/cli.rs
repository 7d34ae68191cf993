//! What the command-line tests share: the `yanxiu` binary, the tools that must be installed
//! (ffmpeg, ffprobe; they fail, never skip, when missing), `yanxiu transcode` that must
//! succeed, and a rendition of a written ladder joined into one playable file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs the `yanxiu` binary with `args` (no stdin); its output whatever the exit.
pub fn yanxiu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yanxiu"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run yanxiu")
}

/// Runs a tool that must be installed and succeed; its stdout and stderr.
pub fn tool_output(program: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (scripts/install-deps.sh): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a tool that must be installed and succeed; its stdout.
pub fn tool(program: &str, args: &[&str]) -> String {
    tool_output(program, args).0
}

/// Runs `yanxiu transcode SOURCE --out OUT` with the further arguments `extra`
/// (`--ladder`, `--policy`, …); fails the test unless it succeeds.
pub fn transcode(source: &Path, out: &Path, extra: &[&str]) {
    let (source_arg, out_arg) = (source.to_string_lossy(), out.to_string_lossy());
    let mut args = vec!["transcode", &source_arg, "--out", &out_arg];
    args.extend_from_slice(extra);
    let result = yanxiu(&args);
    assert!(
        result.status.success(),
        "{}: exit {:?}: {}",
        source.display(),
        result.status.code(),
        String::from_utf8_lossy(&result.stderr)
    );
}

/// The rendition in `rendition` (its `init.mp4`, then the media segments its
/// `index.m3u8` lists, in order) joined into one fragmented MP4 `into/{name}.mp4`.
pub fn joined_rendition(rendition: &Path, into: &Path, name: &str) -> PathBuf {
    let playlist = std::fs::read_to_string(rendition.join("index.m3u8")).expect("index.m3u8");
    let mut bytes = std::fs::read(rendition.join("init.mp4")).expect("init.mp4");
    for uri in playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        bytes.extend(std::fs::read(rendition.join(uri)).expect("segment"));
    }
    let path = into.join(format!("{name}.mp4"));
    std::fs::write(&path, bytes).expect("write joined rendition");
    path
}
