//! `yanxiu audit`: verify the audit log's hash chain (names every altered, inserted or deleted
//! record) and export it as CSV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use yanxiu_control::setup;

/// Arguments of `yanxiu audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; exit status 1 if anything was altered, inserted or deleted.
    Verify {
        /// Data directory (SQLite database, key file with the audit key).
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite file DIR/yanxiu.db.
        #[arg(long, env = "YANXIU_DATABASE_URL")]
        database_url: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export the whole audit log as CSV.
    Export {
        /// Data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Database URL; default: SQLite file DIR/yanxiu.db.
        #[arg(long, env = "YANXIU_DATABASE_URL")]
        database_url: Option<String>,
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
            AuditCommand::Verify {
                data_dir,
                database_url,
                json,
            } => {
                anyhow::ensure!(
                    database_url.is_some() || data_dir.join(setup::DATABASE_FILE).exists(),
                    "no database in {} (use --data-dir or --database-url)",
                    data_dir.display()
                );
                let control =
                    setup::open(&data_dir, database_url.as_deref(), Default::default()).await?;
                let result = control
                    .verify_audit()
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                control.close().await;
                if json {
                    println!("{}", serde_json::to_string_pretty(&result)?);
                } else if result.findings.is_empty() {
                    println!("audit log intact: {} records verified", result.records);
                } else {
                    println!(
                        "audit log TAMPERED: {} finding(s) in {} records",
                        result.findings.len(),
                        result.records
                    );
                    for finding in &result.findings {
                        println!("  {finding}");
                    }
                }
                Ok(if result.findings.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            AuditCommand::Export {
                data_dir,
                database_url,
                output,
            } => {
                let control =
                    setup::open(&data_dir, database_url.as_deref(), Default::default()).await?;
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
