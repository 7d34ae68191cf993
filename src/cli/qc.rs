//! `yanxiu qc FILE [--policy FILE] [--json] [--lang zh|en]`: the technical
//! QC of one file (black, frozen picture, silence, EBU R128 loudness,
//! clipping, audio/video offset, sampled sharpness and blockiness), judged
//! against the policy's `[qc]` thresholds. Decodes the file once; nothing
//! is encoded or written.
//!
//! Exit codes: 0 no error finding, 1 at least one error finding, 2 the file
//! is missing, not media, has no video, cannot be decoded, or the policy
//! file is bad.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use yanxiu_ingest::probe::{ProbeLimits, probe_file, silence_libav_logs};
use yanxiu_ingest::{Lang, Policy, ProbeOutput};
use yanxiu_transcode::qc::plot;
use yanxiu_transcode::qc::tap::analyse_file;

use super::probe::LangArg;
use super::qc_text::render_text;
use crate::media::qc_spec_for;

const AFTER_HELP: &str = "\
Exit codes / 退出码:
  0  no error finding (warnings and notes may be listed) / 没有错误级发现
  1  at least one error finding, e.g. a frozen picture with no sound / 至少一项错误
  2  unreadable: missing, not media, no video stream, undecodable, or a bad --policy file
     / 文件不存在、不是音视频、没有视频流、无法解码,或策略文件无效

Thresholds are the [qc] table of the policy (ingest/policies/lecture-default.toml; a --policy
file only needs the keys it changes). --json prints the report: loudness, black, silence,
freeze, clipping, sync, picture, findings (code, severity, start, end, message_zh,
message_en), loudness_series; times in seconds. See docs/qc.md.";

/// Arguments of `yanxiu qc`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The media file to check.
    pub file: PathBuf,
    /// Validation policy (TOML) whose [qc] table holds the thresholds;
    /// default: the built-in lecture policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Language of the text output (default: zh, or en from the locale).
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
    /// Also write the plots (loudness.svg, timeline.svg) into this directory.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

/// An error before any report, in both languages; exit code 2.
fn unreadable(json: bool, lang: Lang, code: &str, zh: &str, en: &str) -> anyhow::Result<ExitCode> {
    if json {
        let body = serde_json::json!({"error": {"code": code, "message_zh": zh, "message_en": en}});
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        let (first, second) = match lang {
            Lang::Zh => (zh, en),
            Lang::En => (en, zh),
        };
        eprintln!("yanxiu qc: [{code}] {first}\n  {second}");
    }
    Ok(ExitCode::from(2))
}

/// Runs `yanxiu qc`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let lang = args.lang.map(Lang::from).unwrap_or_else(|| {
        let var = |name| std::env::var(name).ok();
        Lang::from_locale(
            var("LC_ALL").as_deref(),
            var("LC_MESSAGES").as_deref(),
            var("LANG").as_deref(),
        )
    });
    let file = args.file.display().to_string();
    let policy = match &args.policy {
        Some(path) => Policy::from_file(path),
        None => Ok(Policy::lecture_default()),
    };
    let policy = match policy {
        Ok(p) => p,
        Err(e) => {
            let message = e.to_string();
            return unreadable(args.json, lang, "policy.invalid", &message, &message);
        }
    };
    silence_libav_logs();
    let output = ProbeOutput::from_probe(
        &file,
        probe_file(&args.file, &ProbeLimits::default()),
        &policy,
    );
    let Some(report) = output.report.as_ref() else {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&output)?);
        } else {
            eprint!("{}", output.render_text(lang));
        }
        return Ok(ExitCode::from(2));
    };
    let spec = match qc_spec_for(&args.file, report, policy.qc.clone()) {
        Ok(spec) => spec,
        Err(_) => {
            return unreadable(
                args.json,
                lang,
                "qc.nothing_to_check",
                "文件既没有画面也没有声音，无法做技术质检",
                "the file has neither picture nor sound to check",
            );
        }
    };
    let qc = match analyse_file(spec) {
        Ok(qc) => qc,
        Err(e) => {
            tracing::debug!(error = %e, "qc decode failed");
            return unreadable(
                args.json,
                lang,
                "qc.undecodable",
                "无法解码该文件",
                "the file cannot be decoded",
            );
        }
    };
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, svg) in [
            ("loudness.svg", plot::loudness_svg(&qc, &policy.qc)),
            ("timeline.svg", plot::timeline_svg(&qc)),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, svg)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    if args.json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &qc)?;
        writeln!(stdout)?;
    } else {
        write!(
            std::io::stdout().lock(),
            "{}",
            render_text(&file, &qc, lang)
        )?;
    }
    Ok(ExitCode::from(if qc.has_errors() { 1 } else { 0 }))
}
