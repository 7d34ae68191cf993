//! yanxiu-control (being built).
