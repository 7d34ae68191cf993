//! The end of resources' life cycle (Art. 15 of the operating rules, 审核细则 Art. 10):
//! published resources are kept six months (configurable), premium courses (精品课程) for good;
//! a daily job lists what expires soon and retires what expired, never anything under review
//! or on hold; complaints and the low-use report retire resources too. Retiring takes a
//! resource offline and removes its stored objects; metadata, reviews and audit records stay.
//!
//! Pure: [`plan`] (expiry and selection, time as an argument). Database: [`ops`] and
//! [`retire`]. The periodic driver: [`job`]. The text report of the CLI: [`report`].

pub mod job;
pub mod ops;
pub mod plan;
pub mod report;
pub mod retire;
