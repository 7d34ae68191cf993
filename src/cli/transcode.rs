//! `yanxiu transcode FILE --out DIR`: validate a source against the policy
//! (a rejected file exits 1 and nothing is written), plan the ladder, then
//! decode once and encode every rung into a CMAF/HLS ladder in DIR, master
//! playlist last.
//!
//! Exit codes: 0 done, 1 rejected by the policy, 2 unreadable or not media
//! (or a bad option file), 3 the transcode itself failed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use yanxiu_ingest::{EXIT_ACCEPTED, Lang, Policy, ProbeLimits, ProbeOutput, probe_file};
use yanxiu_packager::storage::LocalDirStorage;
use yanxiu_transcode::loudness::GainLimit;
use yanxiu_transcode::{LadderConfig, Progress, transcode};

use crate::media::{Extras, job_for};

/// Arguments of `yanxiu transcode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source media file.
    pub file: PathBuf,
    /// Output directory for the ladder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Validation policy (TOML); default: the built-in lecture policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Ladder definition (TOML); default: the built-in lecture ladder
    /// (transcode/ladders/lecture-default.toml).
    #[arg(long)]
    pub ladder: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Skip the poster image.
    #[arg(long)]
    pub no_poster: bool,
    /// Skip the storyboard (thumbnail sprite sheets and WebVTT).
    #[arg(long)]
    pub no_storyboard: bool,
    /// Also run the technical QC on the same decode (thresholds from the
    /// policy's [qc] table) and write its JSON report to this file.
    #[arg(long, value_name = "FILE")]
    pub qc_report: Option<PathBuf>,
    /// Language of messages: zh (default) or en; without it, LC_ALL /
    /// LC_MESSAGES / LANG starting with "en" choose English.
    #[arg(long, value_parser = ["zh", "en"])]
    pub lang: Option<String>,
}

/// The message language asked for by `--lang`, else by the locale.
fn language(flag: Option<&str>) -> Lang {
    match flag {
        Some("en") => Lang::En,
        Some(_) => Lang::Zh,
        None => {
            let var = |k| std::env::var(k).ok();
            Lang::from_locale(
                var("LC_ALL").as_deref(),
                var("LC_MESSAGES").as_deref(),
                var("LANG").as_deref(),
            )
        }
    }
}

/// Prints a probe outcome the way `yanxiu probe` does: JSON on stdout, or
/// text on stderr.
fn emit(output: &ProbeOutput, json: bool, lang: Lang) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(output)?);
    } else {
        eprint!("{}", output.render_text(lang));
    }
    Ok(())
}

/// Runs `yanxiu transcode`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let lang = language(args.lang.as_deref());
    let file = args.file.display().to_string();
    let policy = match args.policy.as_deref().map(Policy::from_file) {
        None => Policy::lecture_default(),
        Some(Ok(policy)) => policy,
        Some(Err(err)) => {
            emit(
                &ProbeOutput::from_policy_error(&file, &err),
                args.json,
                lang,
            )?;
            return Ok(ExitCode::from(2));
        }
    };
    let ladder = match &args.ladder {
        Some(path) => LadderConfig::from_file(path)?,
        None => LadderConfig::default(),
    };

    // Validate first: a rejected or unreadable file writes nothing.
    let probed = probe_file(&args.file, &ProbeLimits::default());
    let output = ProbeOutput::from_probe(&file, probed, &policy);
    let report = match (&output.report, output.exit_code) {
        (Some(report), EXIT_ACCEPTED) => report,
        _ => {
            emit(&output, args.json, lang)?;
            return Ok(ExitCode::from(output.exit_code));
        }
    };

    let mut job = job_for(
        &args.file,
        report,
        &ladder,
        "",
        Extras {
            poster: !args.no_poster,
            storyboard: !args.no_storyboard,
            growing: false,
        },
    )?;
    if args.qc_report.is_some() {
        job.qc = Some(policy.qc.clone());
    }
    let audio_only = job.video.is_none();
    if !args.json {
        for r in &job.plan.rungs {
            eprintln!(
                "plan: {:>6} {}x{} crf {} max {} kbit/s",
                r.name, r.width, r.height, r.crf, r.max_bitrate_kbps
            );
        }
    }

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let storage = Arc::new(LocalDirStorage::new(&args.out));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = tokio::sync::watch::channel(Progress::default());
    let show = std::io::stderr().is_terminal() && !args.json;
    let outcome = runtime.block_on(async move {
        let printer = show.then(|| tokio::spawn(print_progress(rx)));
        let result = transcode(job, storage, tx).await;
        if let Some(p) = printer {
            p.abort();
            eprintln!();
        }
        result
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(err) => {
            eprintln!("yanxiu: transcode failed: {err}");
            return Ok(ExitCode::from(3));
        }
    };

    if let Some(path) = &args.qc_report {
        let Some(report) = outcome.qc.as_ref() else {
            eprintln!("yanxiu: the QC stage failed; no report");
            return Ok(ExitCode::from(3));
        };
        std::fs::write(path, serde_json::to_vec_pretty(report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        let renditions: Vec<_> = outcome
            .ladder
            .renditions
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name, "width": r.width, "height": r.height, "codec": r.codec,
                    "segments": r.segments, "duration_seconds": r.duration_seconds,
                    "peak_bitrate": r.peak_bitrate, "average_bitrate": r.average_bitrate,
                    "bytes": r.bytes,
                })
            })
            .collect();
        let out = serde_json::json!({
            "master": args.out.join("master.m3u8"),
            "poster": outcome.poster,
            "storyboard": outcome.storyboard,
            "renditions": renditions,
            "video_frames": outcome.video_frames,
            "corrupt_packets": outcome.corrupt_packets,
            "loudness": outcome.loudness,
            "elapsed_seconds": outcome.elapsed.as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", args.out.join("master.m3u8").display())?;
        for r in &outcome.ladder.renditions {
            let size = match (r.width, r.height) {
                (Some(w), Some(h)) => format!("{w}x{h}"),
                _ => "audio".to_owned(),
            };
            writeln!(
                stdout,
                "  {:>6} {:>10} {:<12} {:>4} segments {:>8.3} s  peak {:>6} kbit/s  avg {:>6} kbit/s",
                r.name,
                size,
                r.codec,
                r.segments,
                r.duration_seconds,
                r.peak_bitrate / 1000,
                r.average_bitrate / 1000
            )?;
        }
        if let Some(n) = &outcome.loudness {
            let lufs = |l: Option<f64>| l.map_or_else(|| "-".to_owned(), |l| format!("{l:.1}"));
            writeln!(
                stdout,
                "  loudness {} LUFS, gain {:+.1} dB -> {} LUFS (target {:.1}{})",
                lufs(n.measured.integrated_lufs),
                n.gain_db,
                lufs(n.expected_lufs),
                n.target_lufs,
                match n.limited_by {
                    GainLimit::None => "",
                    GainLimit::TruePeak => ", held back by the true-peak ceiling",
                    GainLimit::MaxGain => ", held back by the gain limit",
                    GainLimit::Silent => ", silent source",
                }
            )?;
        }
        if audio_only {
            writeln!(
                stdout,
                "  sound only (no picture) in {:.1} s",
                outcome.elapsed.as_secs_f64()
            )?;
        } else {
            writeln!(
                stdout,
                "  {} frames in {:.1} s",
                outcome.video_frames,
                outcome.elapsed.as_secs_f64()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_progress(mut rx: tokio::sync::watch::Receiver<Progress>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let p = *rx.borrow_and_update();
        let eta = p
            .eta()
            .map(|d| format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60))
            .unwrap_or_else(|| "--:--".to_owned());
        eprint!(
            "\r{:5.1}%  {:5.2}x realtime  ETA {eta}   ",
            p.fraction() * 100.0,
            p.speed()
        );
        let _ = std::io::stderr().flush();
    }
}
