//! `yanxiu audit`: verify the audit log's hash chain (names every altered, inserted or deleted
//! record) and export it as CSV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use yanxiu_control::audit_checkpoint::AuditReport;
use yanxiu_control::setup;

use crate::audit_checkpoints;
use crate::config::{ConfigArgs, ServeConfig};

/// Arguments of `yanxiu audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Verify everything about the audit log: the hash chain, the signed checkpoints in
    /// storage (a database restored from an older copy is behind them), the database's
    /// append-only guard and the retention. Exit status 1 when anything is wrong.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export the whole audit log as CSV.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        /// Output file (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Runs `yanxiu audit`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match args.command {
            AuditCommand::Verify { config, json } => verify(&config, json).await,
            AuditCommand::Export { config, output } => {
                let control = open(&ServeConfig::load(&config)?).await?;
                let csv = control
                    .export_audit_csv(&Default::default())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                control.close().await;
                match output {
                    Some(path) => std::fs::write(&path, csv)
                        .with_context(|| format!("cannot write {}", path.display()))?,
                    None => print!("{csv}"),
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// Opens the control plane of an existing installation.
async fn open(
    config: &ServeConfig,
) -> anyhow::Result<std::sync::Arc<yanxiu_control::ControlPlane>> {
    anyhow::ensure!(
        config.database_url.is_some() || config.data_dir.join(setup::DATABASE_FILE).exists(),
        "no database in {} (use --data-dir, --database-url or --config)",
        config.data_dir.display()
    );
    setup::open(
        &config.data_dir,
        config.database_url.as_deref(),
        config.control.clone(),
    )
    .await
    .map_err(Into::into)
}

async fn verify(args: &ConfigArgs, json: bool) -> anyhow::Result<ExitCode> {
    let config = ServeConfig::load(args)?;
    let control = open(&config).await?;
    let (storage, _) = config.open_storage().await?;
    let checkpoints = audit_checkpoints::read_all(storage.as_ref()).await?;
    let report = control
        .audit_report(&checkpoints, yanxiu_control::now_ms())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    control.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", describe(&report));
    }
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report for people, one line per concern.
fn describe(r: &AuditReport) -> String {
    let mut out = String::new();
    let mut line = |ok: bool, text: String| {
        out.push_str(if ok { "ok      " } else { "PROBLEM " });
        out.push_str(&text);
        out.push('\n');
    };
    line(
        r.chain.findings.is_empty(),
        if r.chain.findings.is_empty() {
            format!("hash chain intact: {} records verified", r.chain.records)
        } else {
            format!(
                "hash chain TAMPERED: {} finding(s) in {} records",
                r.chain.findings.len(),
                r.chain.records
            )
        },
    );
    for f in &r.chain.findings {
        line(false, format!("  {f}"));
    }
    line(
        r.checkpoint_findings.is_empty(),
        match r.latest_checkpoint_seq {
            Some(seq) if r.checkpoint_findings.is_empty() => format!(
                "{} signed checkpoint(s) agree with the database (latest at record {seq})",
                r.checkpoints
            ),
            Some(_) => format!(
                "checkpoints DISAGREE with the database: {} finding(s)",
                r.checkpoint_findings.len()
            ),
            None => "no checkpoint written yet".to_owned(),
        },
    );
    for f in &r.checkpoint_findings {
        line(false, format!("  {f}"));
    }
    line(
        r.guard.triggers,
        if r.guard.triggers {
            "append-only triggers in place: records cannot be updated or deleted".to_owned()
        } else {
            format!(
                "append-only triggers MISSING or disabled: {}",
                r.guard.missing_triggers.join(", ")
            )
        },
    );
    if r.guard.role_without_change_rights {
        line(
            true,
            "application role cannot change audit records (no UPDATE, DELETE, TRUNCATE)".into(),
        );
    }
    line(
        r.retention.complete_from_start,
        if r.retention.complete_from_start {
            format!(
                "retention: nothing ever removed; the log reaches back {} day(s) (rules: at least {})",
                r.retention.days_kept, r.retention.required_days
            )
        } else {
            "retention BROKEN: the log no longer starts at its first record".to_owned()
        },
    );
    out
}
