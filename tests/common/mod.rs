//! Helpers shared by the root crate's integration tests (`mod common;`).

pub mod fixtures;
