//! yanxiu-ingest (being built).
