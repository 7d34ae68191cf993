#!/usr/bin/env bash
# Installs what yanxiu needs, builds it (release) and starts `yanxiu serve`
# with embedded defaults: SQLite and local storage under ./data, HTTP on
# 127.0.0.1:8080. Extra arguments go to `yanxiu serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release --locked
exec target/release/yanxiu serve --data-dir ./data "$@"
