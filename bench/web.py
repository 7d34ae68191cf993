#!/usr/bin/env python3
"""Benchmark (not a test) of the web app, run by bench/web.sh.

Starts `yanxiu serve` (release build) on loopback with a producer and the two
reviewers, uploads a lecture-like clip over tus, waits until it is processed,
takes it through the three review levels and publishes it (public). Then
bench/web_measure.cjs loads the catalogue and the player page RUNS times each
in headless Chromium (fresh context, cache disabled) and reports, per load,
the bytes transferred before the video, the time to interactive and, on the
player, the time from the click on play to hls.js's first FRAG_BUFFERED, to
the video's `playing` event and to the first frame on screen.

Prints medians (with an even count, the mean of the two middle values), the
spread, and PASS/FAIL for the goals of issue 10: the player page under 300 KB
compressed before the video, the first frame under 1 s after play on loopback."""
import json
import os
import sys
import tempfile
import time

from yanxiu_bench import api, login, median, review_and_publish, run, start_server, tus_upload

BIN = os.environ.get("WEB_BENCH_BIN", "target/release/yanxiu")
PLAYER_BYTES_GOAL = 300 * 1024
FIRST_FRAME_GOAL_MS = 1000
ACCOUNTS = [("producer", "producer", "bench"), ("dept-reviewer", "department_reviewer", "bench"),
            ("centre-reviewer", "centre_reviewer", None)]


def make_clip(path, seconds):
    """A lecture-like clip: 1280x720 30 fps H.264 with a 2 s GOP and AAC, `seconds` long."""
    run("ffmpeg", "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", path)


def publish_clip(base, clip):
    """Uploads `clip` (tus, one PATCH), waits for processing, reviews and publishes it."""
    token = login(base, "producer")
    rid = tus_upload(base, token, clip, "web-bench.mp4")
    deadline = time.monotonic() + 600
    while True:
        status = api(base, "GET", f"/api/v1/resources/{rid}", token)["processing"]["status"]
        if status == "ready":
            break
        if status in ("failed", "rejected") or time.monotonic() > deadline:
            sys.exit(f"web bench: the clip was not processed ({status})")
        time.sleep(0.3)
    review_and_publish(base, token, rid, {
        "name": "全景式认识中国式现代化", "lecturer_name": "宋薇", "lecturer_unit": "北京市清华大学附属中学",
        "credit_hours": 4, "display_order": 1, "category1": "名师课改示范课", "category2": "政治与历史"})
    return rid


def summary(name, values, unit, fmt="{:.0f}"):
    vals = [v for v in values if v is not None]
    if not vals:
        return f"  {name:<34} —"
    return (f"  {name:<34} median {fmt.format(median(vals))} {unit}"
            f"  (min {fmt.format(min(vals))}, max {fmt.format(max(vals))}, n={len(vals)})")


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    modules = os.environ["WEB_BENCH_NODE_MODULES"]
    os.makedirs("bench/out", exist_ok=True)
    with tempfile.TemporaryDirectory(dir="bench/out") as data:
        clip = os.path.join(data, "lecture.mp4")
        make_clip(clip, 20)
        proc, base = start_server(BIN, data, ACCOUNTS)
        try:
            rid = publish_clip(base, clip)
            out = run("node", "bench/web_measure.cjs", modules, base, rid, str(runs),
                      env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}).stdout
        finally:
            proc.terminate()
            proc.wait()
    report = json.loads(out.strip().splitlines()[-1])
    cat, player = report["catalogue"]["samples"], report["player"]["samples"]
    print(f"web bench: {runs} cold loads per page (fresh context, cache disabled), loopback, "
          f"load {os.getloadavg()[0]:.2f}")
    print("catalogue page")
    print(summary("bytes transferred", [s["bytes"] for s in cat], "B"))
    print(summary("time to interactive", [s["readyMs"] for s in cat], "ms"))
    print("player page")
    print(summary("bytes transferred before the video", [s["bytes"] for s in player], "B"))
    print(summary("time to interactive", [s["readyMs"] for s in player], "ms"))
    print(summary("play -> hls.js FRAG_BUFFERED", [s["fragBufferedMs"] for s in player], "ms"))
    before = sum(1 for s in player if s["fragBufferedBeforeClick"])
    print(f"  {'(first fragment buffered before play)':<34} {before} of {len(player)}")
    print(summary("ready -> first FRAG_BUFFERED", [s["firstFragAfterReadyMs"] for s in player], "ms"))
    print(summary("play -> video 'playing'", [s["playingMs"] for s in player], "ms"))
    print(summary("play -> first frame on screen", [s["firstFrameMs"] for s in player], "ms"))
    player_bytes = median([s["bytes"] for s in player])
    first_frame = median([s["firstFrameMs"] for s in player])
    goals = [
        (f"player page before the video < {PLAYER_BYTES_GOAL // 1024} KB compressed",
         player_bytes < PLAYER_BYTES_GOAL, f"{player_bytes / 1024:.1f} KB"),
        (f"first frame < {FIRST_FRAME_GOAL_MS} ms after play", first_frame < FIRST_FRAME_GOAL_MS,
         f"{first_frame:.0f} ms"),
    ]
    for text, ok, value in goals:
        print(f"{'PASS' if ok else 'FAIL'}  {text}: {value}")
    sys.exit(0 if all(ok for _, ok, _ in goals) else 1)


if __name__ == "__main__":
    main()
