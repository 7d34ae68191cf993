//! `yanxiu worker`: processing workers without the HTTP API, sharing the
//! database and storage of a `yanxiu serve` (same config file). SIGTERM or
//! Ctrl-C gives running jobs back to the queue.

use std::process::ExitCode;

use anyhow::Context;
use tokio::sync::watch;

use super::serve::Services;
use crate::config::{ConfigArgs, ServeConfig, init_logging};

/// Arguments of `yanxiu worker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,
    /// Jobs processed at once [default: the config's workers.concurrency, at least 1].
    #[arg(long)]
    concurrency: Option<usize>,
}

/// Runs `yanxiu worker`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = ServeConfig::load(&args.config)?;
    init_logging(config.log_format);
    let n = args
        .concurrency
        .unwrap_or(config.workers.concurrency)
        .max(1);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let services = Services::open(&config).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let workers = services.spawn_workers(&config, n, &stop_rx);
        println!("yanxiu: {n} worker(s) running");
        yanxiu_control::setup::shutdown_signal().await;
        tracing::info!("shutting down: giving running jobs back");
        let _ = stop_tx.send(true);
        for w in workers {
            let _ = w.await;
        }
        services.control.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
