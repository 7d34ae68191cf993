//! `yanxiu probe FILE [--policy FILE] [--json] [--lang zh|en]`: read a
//! media file, report its container and streams, and validate it against
//! the platform policy (the built-in lecture default or a TOML file).
//!
//! Exit codes: 0 accepted, 1 rejected by the policy (every violation is
//! listed with its code and a zh-CN and an English message), 2 the file is
//! missing, empty, not media, damaged, or the policy file is bad.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use yanxiu_ingest::probe::{ProbeLimits, probe_file, silence_libav_logs};
use yanxiu_ingest::{EXIT_UNREADABLE, Lang, Policy, ProbeOutput};

const AFTER_HELP: &str = "\
Exit codes / 退出码:
  0  accepted: readable media that meets the policy / 符合策略
  1  rejected: readable media that breaks the policy; every violation is listed / 不符合策略,逐项列出
  2  unreadable: missing, empty, not media, damaged or truncated file, or a bad --policy file
     / 文件不存在、为空、不是音视频、已损坏,或策略文件无效

Language / 语言:
  Text output is in Simplified Chinese (zh-CN) by default. --lang en selects English; without
  --lang, English is used when the first non-empty of LC_ALL, LC_MESSAGES, LANG starts with \"en\".
  Violation and error messages are always shown in both languages, the chosen one first.
  --json output carries both languages (message_zh, message_en) whatever --lang says.

The container is recognised from the file's content, never its name. The default policy is
ingest/policies/lecture-default.toml; a --policy file only needs the keys it changes.";

/// Output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    /// Simplified Chinese (简体中文).
    Zh,
    /// English.
    En,
}

impl From<LangArg> for Lang {
    fn from(lang: LangArg) -> Lang {
        match lang {
            LangArg::Zh => Lang::Zh,
            LangArg::En => Lang::En,
        }
    }
}

/// Arguments of `yanxiu probe`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The media file to read.
    pub file: PathBuf,
    /// Validation policy (TOML); default: the built-in lecture policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print the result as JSON on stdout (also for exit code 2: an `error` object).
    #[arg(long)]
    pub json: bool,
    /// Language of the text output (default: zh, or en from the locale; see below).
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
}

/// Runs `yanxiu probe`.
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
    let output = match policy {
        Err(error) => ProbeOutput::from_policy_error(&file, &error),
        Ok(policy) => {
            silence_libav_logs();
            ProbeOutput::from_probe(
                &file,
                probe_file(&args.file, &ProbeLimits::default()),
                &policy,
            )
        }
    };

    if args.json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &output)?;
        writeln!(stdout)?;
    } else if output.exit_code == EXIT_UNREADABLE {
        write!(std::io::stderr().lock(), "{}", output.render_text(lang))?;
    } else {
        write!(std::io::stdout().lock(), "{}", output.render_text(lang))?;
    }
    Ok(ExitCode::from(output.exit_code))
}
