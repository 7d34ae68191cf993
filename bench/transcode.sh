#!/usr/bin/env bash
# Benchmark (not a test): `yanxiu transcode` against the ffmpeg CLI making the
# same 4-rung ladder (same x264 preset, CRF, VBV caps, GOP, scaler, AAC) from
# the same 60 s 1080p30 lecture-like source, in the same run. Prints wall and
# CPU seconds for each and the ratio ffmpeg/yanxiu (> 1.0: yanxiu is faster).
#
#   bash bench/transcode.sh [SECONDS]      (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
out=bench/out
mkdir -p "$out"

bash scripts/install-deps.sh
cargo build --release --locked --bin yanxiu

src="$out/lecture_1080p30_${secs}s.mp4"
if [ ! -s "$src" ]; then
  echo "making a ${secs}s 1080p30 lecture-like source" >&2
  # Slides (a still card that changes every 10 s), a moving speaker box,
  # speech-like audio; x264 at high quality so decoding costs like a camera file.
  ffmpeg -v error -y \
    -f lavfi -i "testsrc2=size=1920x1080:rate=1/10:duration=${secs}" \
    -f lavfi -i "color=c=0x204060:size=360x480:rate=30:duration=${secs}" \
    -f lavfi -i "sine=frequency=180:sample_rate=48000:duration=${secs}" \
    -filter_complex "[0:v]fps=30,boxblur=1[slides];[slides][1:v]overlay=x='1500+60*sin(t/2)':y='560+20*sin(t)'[v];[2:a]volume='0.5+0.5*sin(2*PI*3*t)':eval=frame,aformat=channel_layouts=stereo[a]" \
    -map "[v]" -map "[a]" -c:v libx264 -preset medium -crf 18 -pix_fmt yuv420p \
    -c:a aac -b:a 192k -movflags +faststart "$src"
fi

run() { python3 bench/measure.py -- "$@" 2>&1 | tail -n 1; }

rm -rf "$out/yanxiu" "$out/ffmpeg"
echo "yanxiu transcode ..." >&2
y=$(run target/release/yanxiu transcode "$src" --out "$out/yanxiu")
echo "ffmpeg CLI ..." >&2
mkdir -p "$out/ffmpeg"
f=$(run ffmpeg -v error -y -i "$src" \
  -filter_complex "[0:v]split=4[v0][v1][v2][v3];[v1]scale=1280:720:flags=bicubic[s1];[v2]scale=854:480:flags=bicubic[s2];[v3]scale=640:360:flags=bicubic[s3]" \
  -map "[v0]" -map "[s1]" -map "[s2]" -map "[s3]" -map 0:a \
  -c:v libx264 -preset veryfast -profile:v high -g 60 -keyint_min 60 -sc_threshold 0 \
  -forced-idr 1 -force_key_frames "expr:gte(t,n_forced*2)" -x264-params open-gop=0 \
  -crf:v:0 23 -maxrate:v:0 5000k -bufsize:v:0 10000k \
  -crf:v:1 23 -maxrate:v:1 2800k -bufsize:v:1 5600k \
  -crf:v:2 24 -maxrate:v:2 1400k -bufsize:v:2 2800k \
  -crf:v:3 25 -maxrate:v:3 800k -bufsize:v:3 1600k \
  -c:a aac -b:a 128k -ar 48000 -ac 2 \
  -f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 \
  -master_pl_name master.m3u8 \
  -var_stream_map "v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud v:3,agroup:aud a:0,agroup:aud" \
  "$out/ffmpeg/%v/index.m3u8")

python3 - "$y" "$f" "$secs" <<'PY'
import json, sys
y, f, secs = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
if y["exit"] or f["exit"]:
    sys.exit(f"a run failed: yanxiu={y} ffmpeg={f}")
print(f"source: {secs:.0f} s 1080p30, 4-rung veryfast ladder + AAC")
print(f"{'':12}{'wall s':>10}{'cpu s':>10}{'x realtime':>12}{'max rss MB':>12}")
for name, r in (("yanxiu", y), ("ffmpeg CLI", f)):
    print(f"{name:12}{r['wall']:>10.2f}{r['cpu']:>10.2f}{secs / r['wall']:>12.2f}{r['max_rss_mb']:>12.1f}")
print(f"ratio ffmpeg/yanxiu: wall {f['wall'] / y['wall']:.3f}  cpu {f['cpu'] / y['cpu']:.3f}  (>= 1.0: yanxiu at least as fast)")
PY
