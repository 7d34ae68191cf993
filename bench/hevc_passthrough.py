"""HEVC passthrough benchmark (see bench/hevc_passthrough.sh): what offering an HEVC
publisher's own picture costs the server, against laddering it to H.264 only.

One 1080p30 HEVC clip (libx265, closed 2 s GOPs, as a hardware encoder in OBS or a
classroom recorder sends it) is published over SRT with `ffmpeg -re -c copy` (no encoding
on the publisher's side) to `yanxiu serve`, in three phases, one server each:

- `passthrough`: a channel with `hevc_passthrough` on, the default live rungs
  (720/480/360 H.264) plus the HEVC `source` rendition;
- `ladder only`: the same rungs, `hevc_passthrough` off (the reference for the CPU cost of
  passing through: the same decode and encodes, nothing else);
- `1080p H.264`: `hevc_passthrough` off with a 1080p H.264 rung added (what it takes to give
  players the full picture without HEVC).

Per phase, after a warm-up: the server's CPU (utime + stime of its process tree over the
measured window, in cores) and each rendition's bitrate (bytes of its stored segments over
their listed duration). Prints a table and the ratios: passthrough CPU / ladder-only CPU
(goal at most 1.05: passing through is nearly free), 1080p H.264 CPU / passthrough CPU,
HEVC source bitrate / 1080p H.264 rung bitrate.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_latency as ll  # noqa: E402  (Http, cpu_seconds, process_tree, machine_busy)
from yanxiu_bench import PASSWORD  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "target", "release", "yanxiu")
WARMUP = 8.0
GOAL_OVERHEAD = 1.05


def log(msg):
    print(f"[hevc bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip(work, seconds):
    """20 s of 1080p30 HEVC (Main, closed 2 s GOPs, 4 Mbit/s) and AAC in MPEG-TS."""
    path = os.path.join(work, "hevc-1080p.ts")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx265", "-preset", "superfast", "-pix_fmt", "yuv420p",
         "-x265-params", "keyint=60:min-keyint=60:scenecut=0:open-gop=0:bitrate=4000:"
                         "vbv-maxrate=4000:vbv-bufsize=8000:log-level=error",
         "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", path],
        check=True)
    return path


def start_server(work, name, srt_port, live_keys):
    data = os.path.join(work, name)
    os.makedirs(data)
    config = os.path.join(data, "yanxiu.toml")
    with open(config, "w") as f:
        f.write("[control.hash_cost]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
                "[live]\nrtmp_addr = \"127.0.0.1:0\"\n"
                f"srt_addr = \"127.0.0.1:{srt_port}\"\n" + live_keys)
    subprocess.run([BIN, "admin", "create-user", "--data-dir", data, "--config", config,
                    "--username", "org", "--password", PASSWORD, "--role", "event_organiser",
                    "--department", "物理教研室"], check=True, capture_output=True)
    stderr = open(os.path.join(work, f"{name}.log"), "w")
    proc = subprocess.Popen([BIN, "serve", "--data-dir", data, "--config", config,
                             "--http-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=stderr, text=True)
    base = None
    deadline = time.monotonic() + 60
    while base is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"yanxiu serve exited; see {stderr.name}")
        if line.startswith("yanxiu: listening on "):
            base = line.strip().removeprefix("yanxiu: listening on ")
    if base is None:
        raise RuntimeError("yanxiu serve did not announce its HTTP address")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    api = ll.Http(base)
    api.token = api.json("POST", "/api/v1/sessions", {"username": "org", "password": PASSWORD})["token"]
    dept = next(d["id"] for d in api.json("GET", "/api/v1/departments")
                if d.get("name") == "物理教研室")
    return proc, api, dept, data


def rendition_bitrates(data, channel_id):
    """kbit/s of each rendition of the channel's session: stored segment bytes over the
    duration its playlist lists."""
    out = {}
    for rendition_dir in glob.glob(os.path.join(data, "**", "live", channel_id, "*", "*"),
                                   recursive=True):
        name = os.path.basename(rendition_dir)
        playlist = os.path.join(rendition_dir, "index.m3u8")
        if not os.path.isfile(playlist):
            continue
        with open(playlist) as f:
            seconds = sum(float(line.split(":", 1)[1].split(",")[0])
                          for line in f if line.startswith("#EXTINF:"))
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(rendition_dir, "*.m4s")))
        if seconds > 0:
            out[name] = size * 8 / seconds / 1000
    return out


def run_phase(work, name, clip, live_keys, hevc_passthrough, measure):
    srt_port = free_udp_port()
    proc, api, dept, data = start_server(work, name.replace(" ", "-"), srt_port, live_keys)
    try:
        channel = api.json("POST", "/api/v1/channels", {
            "name": f"HEVC 基准 {name}", "department_id": dept,
            "hevc_passthrough": hevc_passthrough})
        stream_id = f"#!::r={channel['stream_name']},k={channel['stream_key']},m=publish"
        publisher = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
             "-stream_loop", "-1", "-i", clip, "-t", str(WARMUP + measure + 4), "-c", "copy",
             "-f", "mpegts", f"srt://127.0.0.1:{srt_port}?streamid={stream_id}&pkt_size=1316"],
            stderr=open(os.path.join(work, f"{name}-ffmpeg.log"), "w"))
        time.sleep(WARMUP)
        pids = ll.process_tree(proc.pid)
        busy0, cpu0, t0 = ll.machine_busy(), ll.cpu_seconds(pids), time.monotonic()
        time.sleep(measure)
        busy1, cpu1, t1 = ll.machine_busy(), ll.cpu_seconds(ll.process_tree(proc.pid)), time.monotonic()
        publisher.wait(timeout=60)
        master = api.request("GET", f"/live/{channel['id']}/master.m3u8")[1].decode(errors="replace")
        time.sleep(4)  # the reconnect window is not waited out: segments are stored as they end
        cores = (cpu1 - cpu0) / (t1 - t0)
        machine = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * (os.cpu_count() or 1)
        return {"name": name, "cores": cores, "machine": machine,
                "bitrates": rendition_bitrates(data, channel["id"]),
                "codecs": [line.split('CODECS="')[1].split('"')[0]
                           for line in master.splitlines() if 'CODECS="' in line]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    measure = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
    keep = os.environ.get("HEVC_BENCH_KEEP") == "1"
    work = tempfile.mkdtemp(prefix="hevc-", dir=os.path.join(REPO, "bench", "out"))
    log(f"work dir {work}; machine load {os.getloadavg()}, {os.cpu_count()} cores")
    clip = make_clip(work, 20)
    phases = [
        ("passthrough", "", True),
        ("ladder only", "", False),
        ("1080p H.264", "rung_heights = [1080, 720, 480, 360]\n", False),
    ]
    results = []
    for name, keys, hevc in phases:
        log(f"phase {name}: {measure:.0f} s after {WARMUP:.0f} s warm-up")
        results.append(run_phase(work, name, clip, keys, hevc, measure))
    print(f"\nHEVC passthrough: 1080p30 HEVC over SRT (ffmpeg -re -c copy), {measure:.0f} s "
          f"measured per phase after {WARMUP:.0f} s; {os.cpu_count()} cores.\n")
    print(f"{'phase':<14} {'server CPU':>10} {'machine':>8}  renditions (kbit/s)")
    for r in results:
        rates = ", ".join(f"{k} {v:.0f}" for k, v in sorted(r["bitrates"].items()))
        print(f"{r['name']:<14} {r['cores']:>10.2f} {r['machine']:>8.2f}  {rates}")
        print(f"{'':<14} {'':>10} {'':>8}  CODECS: {' | '.join(r['codecs'])}")
    passthrough, ladder, full = results
    overhead = passthrough["cores"] / ladder["cores"]
    print(f"\npassthrough CPU / ladder-only CPU: {overhead:.3f} "
          f"(goal <= {GOAL_OVERHEAD}: {'PASS' if overhead <= GOAL_OVERHEAD else 'FAIL'})")
    print(f"1080p H.264 rung CPU / passthrough CPU: {full['cores'] / passthrough['cores']:.2f}")
    hevc_rate = passthrough["bitrates"].get("source")
    h264_rate = full["bitrates"].get("1080p")
    if hevc_rate and h264_rate:
        print(f"HEVC source / 1080p H.264 rung bitrate: {hevc_rate / h264_rate:.2f} "
              f"({hevc_rate:.0f} vs {h264_rate:.0f} kbit/s)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if overhead <= GOAL_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
