#!/usr/bin/env bash
# Benchmark (not a test) of live streaming: glass-to-playlist latency (HLS
# segments and LL-HLS parts) and CPU per channel of `yanxiu serve` with the
# default 720p ladder, side by side in the same run with nginx + the Debian
# RTMP module on loopback, one ffmpeg publisher tee'd to both. Prints a table
# with the ratio to nginx-rtmp and the goals (HLS <= 4 s, LL-HLS <= 2 s,
# 720p ladder realtime on 2 cores) with PASS/FAIL. See bench/live_latency.py.
#
#   bash bench/live.sh [SECONDS [MODES]]
#     SECONDS measured per phase after an 8 s warm-up (default 60); MODES: the
#     yanxiu channel latency modes, one phase each (default low_latency,standard).
#
# LIVE_BENCH_KEEP=1 keeps the work dir (server logs, nginx config) under bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
mkdir -p bench/out

bash scripts/install-deps.sh
# The reference: nginx with the RTMP module (run with a private config, not as a service).
missing=()
for p in nginx libnginx-mod-rtmp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "live bench: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cargo build --release --locked --bin yanxiu
echo "live bench: machine load before the run: $(uptime)" >&2
python3 bench/live_latency.py "$secs" ${2:+"$2"}
