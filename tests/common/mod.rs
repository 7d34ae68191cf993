//! Helpers shared by the root crate's integration tests (`mod common;`).
//! Each test binary uses part of them.
#![allow(dead_code)]

pub mod browser;
pub mod chunked;
pub mod cli;
pub mod fixtures;
pub mod live;
pub mod pyvenv;
pub mod server;
pub mod tls;
pub mod turn;
