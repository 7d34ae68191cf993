//! yanxiu-packager (being built).
