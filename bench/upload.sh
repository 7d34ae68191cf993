#!/usr/bin/env bash
# Benchmark (not a test) of the VOD service: upload throughput and server
# peak memory for a large tus upload, and time from upload complete to first
# playable segment and to ready for a 1080p30 lecture. See bench/upload.py.
#
#   bash bench/upload.sh [MiB] [LECTURE_SECONDS]     (default: 2048 120)
set -euo pipefail
cd "$(dirname "$0")/.."
mib="${1:-2048}"
secs="${2:-120}"
out=bench/out
mkdir -p "$out"
bash scripts/install-deps.sh
cargo build --release --locked --bin yanxiu
src="$out/lecture_1080p30_${secs}s.mp4"
if [ ! -s "$src" ]; then
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=1/10:duration=${secs}" \
    -f lavfi -i "color=c=0x204060:size=360x480:rate=30:duration=${secs}" \
    -f lavfi -i "sine=frequency=180:sample_rate=48000:duration=${secs}" \
    -filter_complex "[0:v]fps=30,boxblur=1[bg];[bg][1:v]overlay=x='1500+60*sin(t/2)':y='560+20*sin(t)'[v]" \
    -map "[v]" -map 2:a -c:v libx264 -preset medium -crf 18 -pix_fmt yuv420p -c:a aac -movflags +faststart "$src"
fi
python3 bench/upload.py "$mib" "$src"
