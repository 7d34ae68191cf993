//! Helpers shared by the integration tests.

pub mod elementary;
pub mod ffmpeg;
