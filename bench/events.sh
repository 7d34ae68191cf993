#!/usr/bin/env bash
# Benchmark (not a test) of viewing analytics: playback events one
# `yanxiu serve` takes per second on SQLite (goal 10,000 events/s), and the
# latency of playlist and segment fetches with and without that load (the
# events must not slow playback). See bench/events.py and bench/README.md.
#
#   bash bench/events.sh [SECONDS] [LEARNERS] [PLAYBACKS_PER_LEARNER]   (default: 30 600 4)
#
# Two runs, each on a fresh server: the judged one (batches of up to 50
# events, the API's maximum, every 2.5 s per playback: inside the default rate
# limits), then for information one event per request (what a web player sends
# with each heartbeat), four requests a second per playback (rate limits raised
# for it), which measures the per-request cost.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
learners="${2:-600}"
per="${3:-4}"
out=bench/out
mkdir -p "$out"
bash scripts/install-deps.sh
cargo build --release --locked --bin yanxiu
# A two-minute 360p lecture: a still slide and a moving box over a tone; small
# so processing takes seconds. Its duration bounds the positions players report.
src="$out/events_lecture_360p_120s.mp4"
if [ ! -s "$src" ]; then
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25:duration=120" \
    -f lavfi -i "sine=frequency=180:sample_rate=48000:duration=120" \
    -c:v libx264 -preset veryfast -crf 30 -pix_fmt yuv420p -c:a aac -b:a 64k -ac 2 \
    -movflags +faststart "$src"
fi
status=0
python3 bench/events.py "$src" "$secs" "$learners" "$per" || status=$?
echo
echo "--- for information: one event per request ---"
EVENTS_INFO=1 EVENTS_BATCH=1 EVENTS_INTERVAL=0.25 python3 bench/events.py "$src" "$secs" "$learners" "$per"
exit "$status"
