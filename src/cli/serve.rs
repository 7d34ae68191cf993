//! `yanxiu serve` (being built).

use std::process::ExitCode;

/// Arguments of `yanxiu serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `yanxiu serve`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("yanxiu serve is not built yet")
}
