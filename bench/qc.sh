#!/usr/bin/env bash
# Benchmark (not a test): what the technical QC costs inside a transcode.
# The same `yanxiu transcode` of the 60 s 1080p30 lecture source (the one
# bench/transcode.sh makes) runs with the QC off and with it on
# (--qc-report: fed from the same decode), alternately RUNS times each; CPU
# time is user + system of the process (getrusage, bench/measure.py). Prints
# every run, the medians, the QC's share of the transcode's CPU time
# ((on - off) / off) and PASS/FAIL against the 5 % goal, and the QC-only
# figures of `yanxiu qc` on the same file for reference.
#
#   bash bench/qc.sh [RUNS] [SECONDS]    (default: 3 runs, 60 s source)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
secs="${2:-60}"
out=bench/out
mkdir -p "$out"

bash scripts/install-deps.sh
cargo build --release --locked --bin yanxiu

# The lecture source of bench/transcode.sh: a still slide every 10 s, a
# moving speaker box, a tone with a syllable-rate level change; x264 CRF 18
# so decoding costs like a camera file.
src="$out/lecture_1080p30_${secs}s.mp4"
if [ ! -s "$src" ]; then
  echo "making a ${secs}s 1080p30 lecture source" >&2
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=1/10:duration=${secs}" \
    -f lavfi -i "color=c=0x204060:size=360x480:rate=30:duration=${secs}" \
    -f lavfi -i "sine=frequency=180:sample_rate=48000:duration=${secs}" \
    -filter_complex "[0:v]fps=30,boxblur=1[bg];[bg][1:v]overlay=x='1500+60*sin(t/2)':y='560+20*sin(t)'[v];[2:a]volume='0.5+0.5*sin(2*PI*3*t)':eval=frame,aformat=channel_layouts=stereo[a]" \
    -map "[v]" -map "[a]" -c:v libx264 -preset medium -crf 18 -pix_fmt yuv420p \
    -c:a aac -b:a 192k -movflags +faststart "$src"
fi

measure() { python3 bench/measure.py -- "$@" 2>&1 | tail -n 1; }

results="$out/qc_runs.jsonl"
: >"$results"
for i in $(seq 1 "$runs"); do
  for mode in off on; do
    rm -rf "$out/qc_ladder"
    extra=()
    [ "$mode" = on ] && extra=(--qc-report "$out/qc_report.json")
    echo "run $i, QC $mode ..." >&2
    r=$(measure target/release/yanxiu transcode "$src" --out "$out/qc_ladder" "${extra[@]}")
    echo "{\"mode\":\"$mode\",\"run\":$i,\"result\":$r}" >>"$results"
  done
done
echo "yanxiu qc alone ..." >&2
alone=$(measure target/release/yanxiu qc "$src" --json)

python3 - "$results" "$alone" "$secs" "$out/qc_report.json" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
alone, secs, report = json.loads(sys.argv[2]), float(sys.argv[3]), json.load(open(sys.argv[4]))
if any(r["result"]["exit"] for r in rows):
    sys.exit(f"a run failed: {rows}")
print(f"\nQC cost inside the transcode: {secs:.0f} s 1080p30 lecture, 4-rung ladder + AAC")
print(f"{'run':>4} {'QC':>4} {'wall s':>8} {'cpu s':>8}")
for r in rows:
    print(f"{r['run']:>4} {r['mode']:>4} {r['result']['wall']:>8.2f} {r['result']['cpu']:>8.2f}")
med = {m: statistics.median(r["result"]["cpu"] for r in rows if r["mode"] == m) for m in ("off", "on")}
wall = {m: statistics.median(r["result"]["wall"] for r in rows if r["mode"] == m) for m in ("off", "on")}
share = (med["on"] - med["off"]) / med["off"]
print(f"median cpu s: off {med['off']:.2f}  on {med['on']:.2f}   median wall s: off {wall['off']:.2f}  on {wall['on']:.2f}")
print(f"yanxiu qc alone (its own decode, no encode): cpu {alone['cpu']:.2f} s, wall {alone['wall']:.2f} s")
l = report["loudness"]
print(f"report: integrated {l['integrated_lufs']} LUFS, {len(report['findings'])} findings, "
      f"{report['summary']['errors']} errors")
print(f"QC share of the transcode's CPU time: {share * 100:.2f} %  (goal < 5 %)")
print("PASS" if share < 0.05 else "FAIL")
PY
