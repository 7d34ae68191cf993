#!/usr/bin/env bash
# Benchmark (not a test): parallel encoding of long sources. One 10-minute
# 1080p30 lecture is uploaded to `yanxiu serve` (no in-process worker) and
# encoded by 1, 2 and 4 `yanxiu worker` processes in chunks, and once by one
# worker in a single pass (chunking off) as the reference, all in the same
# run. Prints wall time from upload to ready, the speed-up against one
# worker, and the CPU seconds of the workers (so the chunking overhead shows
# against the single pass). See bench/chunks.py.
#
#   bash bench/chunks.sh [SECONDS] [WORKERS...]     (default: 600 1 2 4)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
out=bench/out
mkdir -p "$out"
bash scripts/install-deps.sh
cargo build --release --locked --bin yanxiu

# The lecture: slides changing every 12.5 s and 25 s, a moving speaker box, a
# tone; a 50 s clip periodic in 50 s, copied (no re-encode) to SECONDS.
src="$out/lecture_1080p30_${secs}s_chunks.mp4"
if [ ! -s "$src" ]; then
  echo "making a ${secs}s 1080p30 lecture" >&2
  clip="$out/lecture_clip_50s.mp4"
  ffmpeg -v error -y -filter_complex "
      color=c=0xf4f4f0:s=1920x1080:r=30:d=50,
      drawbox=x=120:y=80:w=1680:h=120:color=0x1f3a93:t=fill,
      drawbox=x=160:y=280:w=1000:h=36:color=0x444444:t=fill,
      drawbox=x=160:y=360:w=880:h=36:color=0x444444:t=fill:enable='lt(mod(t,25),12.5)',
      drawbox=x=160:y=440:w=1040:h=36:color=0x444444:t=fill:enable='gte(mod(t,25),12.5)',
      drawbox=x=160:y=560:w=760:h=420:color=0xc03030:t=fill:enable='lt(t,25)'[slide];
      testsrc2=s=360x480:r=30:d=50[speaker];
      [slide][speaker]overlay=x='1440+60*sin(2*PI*t/10)':y=520[v];
      sine=f=440:sample_rate=48000:d=50,volume=0.3,aformat=channel_layouts=stereo[a]" \
    -map '[v]' -map '[a]' -c:v libx264 -preset veryfast -crf 23 -g 300 -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ar 48000 "$clip"
  copies=$(( (secs + 49) / 50 ))
  for _ in $(seq "$copies"); do echo "file '$(basename "$clip")'"; done >"$out/lecture_clip.txt"
  ffmpeg -v error -y -f concat -safe 0 -i "$out/lecture_clip.txt" -t "$secs" -c copy \
    -movflags +faststart "$src"
fi
python3 bench/chunks.py "$src" "$secs" "$@"
