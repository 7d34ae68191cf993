#!/usr/bin/env bash
# Benchmark (not a test) of the web app on loopback: transferred bytes
# (compressed, as on the wire) and time to interactive of the catalogue and
# the player page, and the time from clicking play to the first frame (hls.js
# FRAG_BUFFERED, the video's `playing`, the first frame on screen), median of
# RUNS cold loads each in Debian's headless Chromium (fresh context, cache
# disabled) against one `yanxiu serve` (release) with a published 20 s 720p
# lecture clip. Prints PASS/FAIL against the goals of issue 10: the player
# page under 300 KB compressed before the video, the first frame under 1 s.
# See bench/web.py and bench/web_measure.cjs.
#
#   bash bench/web.sh [RUNS]      (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
mkdir -p bench/out

bash scripts/install-deps.sh   # ffmpeg, curl, chromium, node and npm among them

# playwright-core (drives Debian's Chromium, never downloads a browser): the
# browser tests' install when there is one, otherwise the same lock under bench/out.
modules="target/test-tools/browser/node_modules"
if [ ! -d "$modules/playwright-core" ]; then
  prefix="bench/out/browser"
  if ! cmp -s tests/browser/package-lock.json "$prefix/package-lock.json" || [ ! -d "$prefix/node_modules/playwright-core" ]; then
    rm -rf "$prefix"
    mkdir -p "$prefix"
    cp tests/browser/package.json tests/browser/package-lock.json "$prefix/"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --prefix "$prefix"
  fi
  modules="$prefix/node_modules"
fi

cargo build --release --locked --bin yanxiu
echo "web bench: machine load before the run: $(uptime)" >&2
WEB_BENCH_NODE_MODULES="$(realpath "$modules")" python3 bench/web.py "$runs"
