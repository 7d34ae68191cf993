#!/usr/bin/env bash
# Benchmark (not a test) of WebRTC (WHIP) publishing: WHIP-to-HLS against
# RTMP-to-HLS on the same source through one `yanxiu serve` on loopback, in
# the same run. Chromium publishes a y4m clip (stamped frame counter) as its
# fake camera over WHIP, ffmpeg publishes the same clip over RTMP, both at the
# same moment; then each alone for the server's CPU per channel. Prints time
# to master and first segment, per-segment glass-to-playlist latency
# (median/p95), CPU, the WHIP-RTMP difference and PASS/FAIL against the goal
# (WHIP within 0.2 s of RTMP, issue 9). See bench/whip_latency.py. Then WHEP
# playback's glass-to-glass median against its goal (0.5 s): bench/whep_latency.py.
#
#   bash bench/whip.sh [SECONDS [PHASES [CODEC]]]
#     SECONDS measured per phase after an 8 s warm-up (default 60); PHASES:
#     both,rtmp,whip (default) or a subset; CODEC: the browser's video codec,
#     h264 (default, passthrough like RTMP), vp8 or vp9.
#
# WHIP_BENCH_KEEP=1 keeps the work dir (server and browser logs, the clip) under bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
mkdir -p bench/out

bash scripts/install-deps.sh   # ffmpeg, chromium, node and npm among them

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
echo "whip bench: machine load before the run: $(uptime)" >&2
WHIP_BENCH_NODE_MODULES="$modules" python3 bench/whip_latency.py "$secs" ${2:+"$2"} ${3:+"$3"}
# WHEP: glass-to-glass of a channel played over WebRTC (clock burned into the frames).
WHIP_BENCH_NODE_MODULES="$modules" python3 bench/whep_latency.py
echo "whip bench: machine load after the run: $(uptime)" >&2
