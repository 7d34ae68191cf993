#!/usr/bin/env bash
# Benchmark (not a test) of authorized delivery: 1 MiB segment and playlist GETs per second
# of one `yanxiu serve` (release build), each with a playback token, against nginx serving
# the same files statically (sendfile), wrk with 64 connections on loopback; and the
# server's memory while streaming an object larger than its memory cache.
# Goal (issue 12): at least 0.8x nginx for segments and playlists.
#
#   bash bench/delivery.sh [SECONDS] [CONNECTIONS]   (default: 15 64)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-15}"
conns="${2:-64}"
bash scripts/install-deps.sh
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y --no-install-recommends wrk nginx >/dev/null
fi
cargo build --release --locked --bin yanxiu
bash media-fixtures/generate.sh >/dev/null
python3 bench/delivery.py media-fixtures/generated/lecture_1080p30.mp4 "$secs" "$conns"
