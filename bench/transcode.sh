#!/usr/bin/env bash
# Benchmark (not a test): `yanxiu transcode` against the ffmpeg CLI making the
# same 4-rung ladder (same x264 preset, CRF, VBV caps, GOP, scaler, AAC) from
# the same 1080p30 source, in the same run. Prints wall and CPU seconds, peak
# memory and the ratio ffmpeg/yanxiu (>= 1.0: yanxiu at least as fast).
# Two sources: "lecture" (still slides and a moving speaker box: what the
# platform mostly carries) and "motion" (full-frame motion and noise: the
# encoder's worst case).
#
#   bash bench/transcode.sh [SECONDS] [lecture|motion|both]   (default: 60 both)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
kinds="${2:-both}"
[ "$kinds" = both ] && kinds="lecture motion"
out=bench/out
mkdir -p "$out"

bash scripts/install-deps.sh
cargo build --release --locked --bin yanxiu

make_source() { # kind -> path of the source
  local kind=$1 src="$out/${1}_1080p30_${secs}s.mp4" video
  if [ ! -s "$src" ]; then
    echo "making a ${secs}s 1080p30 $kind source" >&2
    if [ "$kind" = lecture ]; then
      video="[0:v]fps=30,boxblur=1[bg]"
      set -- -f lavfi -i "testsrc2=size=1920x1080:rate=1/10:duration=${secs}"
      cap=()
    else
      video="[0:v]noise=alls=12:allf=t[bg]"
      set -- -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=${secs}"
      # A camera-like 20 Mbit/s (the lecture policy allows up to 60).
      cap=(-maxrate 20M -bufsize 40M)
    fi
    # Encoded at high quality so decoding costs like a camera file.
    ffmpeg -v error -y "$@" \
      -f lavfi -i "color=c=0x204060:size=360x480:rate=30:duration=${secs}" \
      -f lavfi -i "sine=frequency=180:sample_rate=48000:duration=${secs}" \
      -filter_complex "$video;[bg][1:v]overlay=x='1500+60*sin(t/2)':y='560+20*sin(t)'[v];[2:a]volume='0.5+0.5*sin(2*PI*3*t)':eval=frame,aformat=channel_layouts=stereo[a]" \
      -map "[v]" -map "[a]" -c:v libx264 -preset medium -crf 18 "${cap[@]}" -pix_fmt yuv420p \
      -c:a aac -b:a 192k -movflags +faststart "$src"
  fi
  echo "$src"
}

run() { python3 bench/measure.py -- "$@" 2>&1 | tail -n 1; }

for kind in $kinds; do
  src=$(make_source "$kind")
  rm -rf "$out/yanxiu" "$out/ffmpeg"
  mkdir -p "$out/ffmpeg"
  echo "$kind: yanxiu transcode ..." >&2
  y=$(run target/release/yanxiu transcode "$src" --out "$out/yanxiu")
  echo "$kind: ffmpeg CLI ..." >&2
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
  ysize=$(du -sb "$out/yanxiu" | cut -f1)
  fsize=$(du -sb "$out/ffmpeg" | cut -f1)

  python3 - "$y" "$f" "$secs" "$kind" "$ysize" "$fsize" <<'PY'
import json, sys
y, f = json.loads(sys.argv[1]), json.loads(sys.argv[2])
secs, kind, ysize, fsize = float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
if y["exit"] or f["exit"]:
    sys.exit(f"a run failed: yanxiu={y} ffmpeg={f}")
print(f"\n{kind} source: {secs:.0f} s 1080p30, 4-rung veryfast ladder + AAC")
print(f"{'':12}{'wall s':>10}{'cpu s':>10}{'x realtime':>12}{'max rss MB':>12}{'ladder MB':>11}")
for name, r, size in (("yanxiu", y, ysize), ("ffmpeg CLI", f, fsize)):
    print(f"{name:12}{r['wall']:>10.2f}{r['cpu']:>10.2f}{secs / r['wall']:>12.2f}{r['max_rss_mb']:>12.1f}{size / 1e6:>11.2f}")
print(f"ratio ffmpeg/yanxiu: wall {f['wall'] / y['wall']:.3f}  cpu {f['cpu'] / y['cpu']:.3f}  (>= 1.0: yanxiu at least as fast)")
PY
done
