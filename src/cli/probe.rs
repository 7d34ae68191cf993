//! `yanxiu probe` (being built).

use std::process::ExitCode;

/// Arguments of `yanxiu probe`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `yanxiu probe`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("yanxiu probe is not built yet")
}
