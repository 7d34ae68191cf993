//! `yanxiu transcode` (being built).

use std::process::ExitCode;

/// Arguments of `yanxiu transcode`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `yanxiu transcode`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("yanxiu transcode is not built yet")
}
