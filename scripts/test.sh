#!/usr/bin/env bash
# Runs the whole test suite from a clean clone: installs system packages,
# generates the test media, checks formatting and lints, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash media-fixtures/generate.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A clean run gains nothing from incremental caches, and they take gigabytes.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
