#!/usr/bin/env python3
"""Benchmark (not a test) of WHEP playback, run by bench/whip.sh: the
glass-to-glass latency of a channel played over WebRTC, on loopback, through
one `yanxiu serve` (release build).

Chromium opens tests/browser/whep.html (driven by tests/browser/whep.cjs): the
page draws the time (ms, a 30-bit barcode) into a 640x360 canvas at 30 fps,
publishes the canvas and a tone to a channel over WHIP, plays the same
channel over WHEP and reads the barcode back from every frame it is shown
(requestVideoFrameCallback). Latency = time shown - time drawn, one clock.
RUNS runs of SECONDS per codec (VP8: the browser's default; H.264: the codec an
RTMP channel forwards), each on a channel of its own.

Prints per codec the frames read, the median, p95 and max, and PASS/FAIL of
the median against the goal (issue 9: WHEP <= 0.5 s glass-to-glass on loopback).

    python3 bench/whep_latency.py [SECONDS [RUNS]]
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_latency as ll  # noqa: E402  (start_yanxiu, pct)

BIN = os.environ.get("WHIP_BENCH_BIN", ll.BIN)
NODE_MODULES = os.path.abspath(os.environ.get("WHIP_BENCH_NODE_MODULES",
                                               "target/test-tools/browser/node_modules"))
GOAL = 0.5
CODECS = ("vp8", "h264")


def run(base, api, dept, codec, seconds, index):
    channel = api.json("POST", "/api/v1/channels", {
        "name": f"WHEP 基准 {codec} {index}", "department_id": dept,
        "latency_mode": "low_latency", "record_to_vod": False})
    out = subprocess.run(
        ["node", "tests/browser/whep.cjs", NODE_MODULES, f"{base}/whep/{channel['id']}", str(seconds),
         f"{base}/whip/{channel['stream_name']}", channel["stream_key"], codec],
        capture_output=True, text=True, timeout=seconds + 120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"whep.cjs printed no report: {out.stderr[-2000:]}")
    report = json.loads(lines[-1])
    if report.get("failure"):
        raise RuntimeError(f"whep.cjs: {report['failure']}")
    return report


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not os.path.isdir(NODE_MODULES):
        sys.exit(f"{NODE_MODULES} missing (bench/whip.sh installs it)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs("bench/out", exist_ok=True)
    work = tempfile.mkdtemp(prefix="whep-bench-", dir=os.path.abspath("bench/out"))
    server = None
    results = {}
    try:
        server = ll.start_yanxiu(work, "webrtc_udp_addr = \"127.0.0.1:0\"\n", BIN)
        proc, base, _rtmp, api, dept, _log = server
        for codec in CODECS:
            samples, frames = [], 0
            for index in range(runs):
                report = run(base, api, dept, codec, seconds, index)
                samples += report.get("latenciesMs") or []
                frames += report.get("framesDecoded") or 0
            results[codec] = (sorted(s / 1000.0 for s in samples), frames)
    finally:
        if server and server[0].poll() is None:
            server[0].send_signal(signal.SIGTERM)
            try:
                server[0].wait(timeout=15)
            except subprocess.TimeoutExpired:
                server[0].kill()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nWHEP glass-to-glass on loopback ({runs} runs x {seconds} s per codec, one yanxiu serve; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}). Source: a 640x360 30 fps canvas "
          "carrying the time it was drawn, published over WHIP from the same page; played over WHEP (no "
          "re-encode); time shown - time drawn per frame.")
    print(f"{'codec':6}{'frames':>8}{'read':>7}{'median s':>10}{'p95 s':>8}{'max s':>8}  goal <= {GOAL} s")
    verdicts = []
    for codec, (samples, frames) in results.items():
        median = statistics.median(samples) if samples else float("nan")
        ok = median <= GOAL
        verdicts.append(ok)
        print(f"{codec:6}{frames:>8}{len(samples):>7}{median:>10.3f}{ll.pct(samples, 0.95):>8.3f}"
              f"{(max(samples) if samples else float('nan')):>8.3f}  {'PASS' if ok else 'FAIL'}")
    print(f"overall: {'PASS' if verdicts and all(verdicts) else 'FAIL'}")


if __name__ == "__main__":
    main()
