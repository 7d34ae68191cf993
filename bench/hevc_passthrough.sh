#!/usr/bin/env bash
# Benchmark (not a test) of the HEVC passthrough rendition: a 1080p30 HEVC clip
# published over SRT (ffmpeg -re -c copy) to `yanxiu serve` in three phases:
# passthrough on (720/480/360 H.264 + the HEVC source), off (the same rungs: the
# reference), and off with a 1080p H.264 rung added. Prints the server's CPU
# per phase, each rendition's bitrate and the ratios, with PASS/FAIL against
# the goal (passthrough costs at most 5 % more CPU than the ladder alone). See
# bench/hevc_passthrough.py.
#
#   bash bench/hevc_passthrough.sh [SECONDS]
#     SECONDS measured per phase after an 8 s warm-up (default 40).
#
# HEVC_BENCH_KEEP=1 keeps the work dir (server logs, stored sessions) under bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out

bash scripts/install-deps.sh   # ffmpeg with libx265 and SRT among them
cargo build --release --locked --bin yanxiu
echo "hevc bench: machine load before the run: $(uptime)" >&2
python3 bench/hevc_passthrough.py "${1:-40}"
