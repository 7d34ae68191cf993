//! The `yanxiu` binary: wires the pipeline crates (ingest, transcode,
//! packager) and the control plane into one command-line program.

mod app;
mod audit_checkpoints;
mod cli;
mod cluster;
mod config;
mod live;
mod media;
mod tls;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// yanxiu (研修): video and live-streaming back end for teacher training.
#[derive(Debug, Parser)]
#[command(name = "yanxiu", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a media file, report its streams and validate it against a policy.
    Probe(cli::probe::Args),
    /// Validate a media file and transcode it into an HLS (CMAF) ladder.
    Transcode(cli::transcode::Args),
    /// Technical QC of a media file: black, frozen, silent, loudness, clipping, sync.
    Qc(cli::qc::Args),
    /// Run the HTTP API, uploads, playback and workers in one process.
    Serve(cli::serve::Args),
    /// Run processing workers only, sharing a server's database and storage.
    Worker(cli::worker::Args),
    /// Administration: bootstrap accounts and departments.
    Admin(cli::admin::Args),
    /// Audit log tools: verify the hash chain.
    Audit(cli::audit::Args),
}

/// mimalloc instead of glibc's malloc: a server answering many small requests on every
/// core spends a tenth of its time in glibc's arena locks (bench/delivery.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // libav's own console chatter (encoder banners, statistics) is not for
    // our users; its errors still show.
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Error);
    let result = match cli.command {
        Command::Probe(args) => cli::probe::run(args),
        Command::Transcode(args) => cli::transcode::run(args),
        Command::Qc(args) => cli::qc::run(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Worker(args) => cli::worker::run(args),
        Command::Admin(args) => cli::admin::run(args),
        Command::Audit(args) => cli::audit::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("yanxiu: {err:#}");
            ExitCode::from(2)
        }
    }
}
