//! `yanxiu admin` (being built).

use std::process::ExitCode;

/// Arguments of `yanxiu admin`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `yanxiu admin`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("yanxiu admin is not built yet")
}
