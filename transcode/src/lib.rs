//! yanxiu-transcode (being built).
