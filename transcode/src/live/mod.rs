//! Live transcoding: repairs the timestamps of a live input (RTMP access
//! units) and encodes the live ladder from it.
//!
//! - [`timestamps`]: pure timestamp repair (wraps, jumps, duplicates,
//!   non-monotonic DTS) with typed repair events.

pub mod timestamps;

pub use timestamps::{LiveTrack, RepairConfig, RepairEvent, RepairedTime, TimestampRepair};
