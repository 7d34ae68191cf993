//! The life-cycle end of resources: retirement ([`retire`]) after a complaint's re-review, at
//! the end of the retention period, or for low use.

pub mod retire;
