//! Subcommands of the `yanxiu` binary: each module owns one subcommand's
//! arguments and wiring, and returns the process exit code.

pub mod admin;
pub mod audit;
mod listeners;
pub mod probe;
pub mod qc;
mod qc_text;
pub mod retention;
pub mod serve;
pub mod transcode;
pub mod worker;
