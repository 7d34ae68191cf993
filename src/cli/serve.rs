//! `yanxiu serve`: runs the control plane's HTTP API (`/api/v1`, `/healthz`) until SIGTERM or
//! Ctrl-C, then shuts down gracefully.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use yanxiu_control::http::AppState;
use yanxiu_control::setup;

/// Arguments of `yanxiu serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory (SQLite database, key file).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_addr: String,
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite file DIR/yanxiu.db.
    #[arg(long, env = "YANXIU_DATABASE_URL")]
    pub database_url: Option<String>,
    /// TOML config file (the `[control]` table configures the control plane).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `yanxiu serve`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let config = match &args.config {
        Some(path) => setup::load_config(path)?,
        None => Default::default(),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let control = setup::open(&args.data_dir, args.database_url.as_deref(), config).await?;
        let app = yanxiu_control::router(AppState::new(control.clone()));
        setup::serve(&args.http_addr, app, setup::shutdown_signal(), |addr| {
            tracing::info!(%addr, "yanxiu control plane listening");
            println!("yanxiu: listening on http://{addr}");
        })
        .await?;
        control.close().await;
        tracing::info!("shut down");
        Ok(ExitCode::SUCCESS)
    })
}
