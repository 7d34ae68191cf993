//! Learning records: credit hours (学时) earned by watching, the learner's transcript and the
//! department's export. The rule of earning is pure ([`rules`]); the writer of playback events
//! (`crate::analytics`) applies it as progress arrives; [`transcript`] reads the records.

pub mod rules;
pub mod transcript;
