//! `yanxiu audit` (being built).

use std::process::ExitCode;

/// Arguments of `yanxiu audit`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `yanxiu audit`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("yanxiu audit is not built yet")
}
