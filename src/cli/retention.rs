//! `yanxiu admin retention [--dry-run] [--at TIME] [--within-days N] [--lang zh|en] [--json]`:
//! the retention report of the data directory's resources (expired, kept and why, expiring
//! soon), and unless `--dry-run` the run itself: expired resources are retired (offline, stored
//! objects removed from the configured storage, metadata and audit kept), never anything under
//! review or on hold. Recorded in the audit log as `cli`. `--at` evaluates as at another time
//! (a planned run, or tests).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use yanxiu_control::http::error::Lang;
use yanxiu_control::plane::AuditCtx;
use yanxiu_control::retention::report::render;
use yanxiu_control::setup;

use crate::app::uploads::StorageJanitor;
use crate::cli::probe::LangArg;
use crate::config::{ConfigArgs, ServeConfig};

/// Arguments of `yanxiu admin retention`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
    /// Only print the report; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Evaluate as at this time instead of now: RFC 3339 (2026-07-02T00:00:00+08:00) or
    /// milliseconds since the Unix epoch.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// List what expires within this many days [default: `[control.retention] warn_days`, 30].
    #[arg(long)]
    within_days: Option<u32>,
    /// Language of the report (default: zh, or en from the locale).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Print the run as JSON instead of the text report.
    #[arg(long)]
    json: bool,
}

fn parse_at(text: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--at {text:?}: neither RFC 3339 nor milliseconds"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn lang_of(arg: Option<LangArg>) -> Lang {
    let en = match arg {
        Some(LangArg::En) => true,
        Some(LangArg::Zh) => false,
        None => {
            let var = |name| std::env::var(name).ok();
            yanxiu_ingest::Lang::from_locale(
                var("LC_ALL").as_deref(),
                var("LC_MESSAGES").as_deref(),
                var("LANG").as_deref(),
            ) == yanxiu_ingest::Lang::En
        }
    };
    if en { Lang::En } else { Lang::Zh }
}

/// Runs `yanxiu admin retention`: exit 0 when everything due was done, 1 when something was
/// left for the next run.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = ServeConfig::load(&args.config)?;
    if let Some(days) = args.within_days {
        config.control.retention.warn_days = days;
    }
    let now = match &args.at {
        Some(t) => parse_at(t)?,
        None => yanxiu_control::now_ms(),
    };
    let control = setup::open(
        &config.data_dir,
        config.database_url.as_deref(),
        config.control.clone(),
    )
    .await?;
    let (storage, _) = config.open_storage().await?;
    let janitor = Arc::new(StorageJanitor {
        storage,
        sources_dir: config.sources_dir(),
    });
    let run = control
        .run_retention(&AuditCtx::cli(), janitor.as_ref(), now, args.dry_run)
        .await
        .map_err(|e| anyhow::anyhow!("{} ({})", e.message_en(), e.message_zh()))?;
    control.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{}", render(&run, lang_of(args.lang)));
    }
    Ok(if run.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_takes_rfc_3339_or_milliseconds() {
        assert_eq!(parse_at("1767225600000").ok(), Some(1_767_225_600_000));
        assert_eq!(
            parse_at("2026-01-01T08:00:00+08:00").ok(),
            Some(1_767_225_600_000)
        );
        assert!(parse_at("next tuesday").is_err());
    }
}
