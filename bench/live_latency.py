#!/usr/bin/env python3
"""Benchmark (not a test) of live streaming, run by bench/live.sh: glass-to-
playlist latency and CPU per channel of `yanxiu serve`, side by side in the
same run with nginx + the Debian RTMP module (the reference) on loopback.

Two phases, one after the other on the same servers (default both): a
yanxiu channel in `low_latency` mode, then one in `standard` mode. In each,
one publisher (ffmpeg: testsrc2 1280x720 30 fps, x264 veryfast, keyint 60,
3 Mbit/s, AAC, read at native rate with -re) pushes the same bytes to both
servers through the tee muxer, so both see identical media at identical
times.

Latency of a segment or part = the wall time it is first listed in a
playlist - (t0 + the media time at its end), where t0 is the publisher's
send clock: ffmpeg's `-progress` reports (every 0.1 s) how much media it
has written; the send clock is the low 5th percentile of (wall - written
media time) over the phase, the first and last second left out (sending is
never ahead of it).
- yanxiu `low_latency`: the media playlists of `source` and `480p` followed
  with LL-HLS blocking reloads on the part the preload hint names, so
  listing times are exact. HLS = a full segment (EXTINF) listed, LL-HLS = a
  part (EXT-X-PART) listed.
- yanxiu `standard` (no parts, what plain HLS players get): the same two
  playlists polled every 50 ms.
- nginx-rtmp (hls_fragment 2s, hls_playlist_length 10s): its playlist is
  polled every 50 ms (it has no blocking reload and no parts).
Polled listing times are late by 25 ms on average.

CPU per channel = CPU seconds (utime + stime from /proc) of the server's
processes over the measured window / wall seconds. Realtime = the yanxiu
latency does not grow over the phase (slope of latency vs time of every
yanxiu row within +-0.1 s/min, Theil-Sen), the publisher is not held back, the
channel status reports the input frame rate at ~30 and the process uses
less than the machine's 2 cores.

    python3 bench/live_latency.py [SECONDS [MODES]]
        SECONDS measured per phase after an 8 s warm-up (default 60),
        MODES: low_latency,standard (default), or one of them.
"""
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN = "target/release/yanxiu"
PASSWORD = "Live-bench-2026-pass!"
WARMUP = 8.0
POLL = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOALS = {"hls": 4.0, "ll": 2.0}
NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def log(msg):
    print(f"[live bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """A keep-alive HTTP client for one thread."""

    def __init__(self, base, token=None):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.conn = None

    def request(self, method, path, body=None, timeout=15.0):
        headers = {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None):
        status, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data or b"null")


# ---------------------------------------------------------------- servers


def start_yanxiu(work, live_keys="", bin_path=None):
    """`yanxiu serve` (`bin_path`, default the release build) on free loopback
    ports with an event organiser; `live_keys` are more `[live]` settings.
    Returns (process, HTTP base, RTMP base, signed-in API, department id,
    server log path)."""
    binary = bin_path or BIN
    data = os.path.join(work, "yanxiu")
    os.makedirs(data)
    config = os.path.join(data, "yanxiu.toml")
    with open(config, "w") as f:
        # Cheap password hashing (like tests/common/server.rs); the default
        # [live] section: 2 s segments, 500 ms parts, passthrough + 720/480/360
        # (720 is not above a 720p source, so the ladder is source, 480p, 360p).
        f.write("[control.hash_cost]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
                "[workers]\nheartbeat_seconds = 1\npoll_ms = 200\n"
                # A short reconnect window: a phase's session ends (and its
                # recording is made) during the next phase's warm-up.
                "[live]\nrtmp_addr = \"127.0.0.1:0\"\nreconnect_window_seconds = 3\n" + live_keys)
    subprocess.run([binary, "admin", "create-user", "--data-dir", data, "--config", config,
                    "--username", "org", "--password", PASSWORD, "--role", "event_organiser",
                    "--department", "物理教研室"], check=True, capture_output=True)
    stderr = open(os.path.join(work, "yanxiu.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--data-dir", data, "--config", config,
                             "--http-addr", "127.0.0.1:0", "--rtmp-addr", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=stderr, text=True)
    base = rtmp = None
    deadline = time.monotonic() + 60
    while (base is None or rtmp is None) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"yanxiu serve exited; see {stderr.name}")
        line = line.strip()
        if line.startswith("yanxiu: listening on "):
            base = line.removeprefix("yanxiu: listening on ")
        elif line.startswith("yanxiu: RTMP ingest on "):
            rtmp = line.removeprefix("yanxiu: RTMP ingest on ")
    if base is None or rtmp is None:
        raise RuntimeError("yanxiu serve did not announce its HTTP and RTMP addresses")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    api = Http(base)
    api.token = api.json("POST", "/api/v1/sessions", {"username": "org", "password": PASSWORD})["token"]
    departments = api.json("GET", "/api/v1/departments")
    dept = next(d["id"] for d in departments if d.get("name") == "物理教研室")
    return proc, base, rtmp, api, dept, stderr.name


def create_channel(api, dept, mode):
    """A channel in latency `mode`: (publish URL path after the RTMP base, channel id)."""
    channel = api.json("POST", "/api/v1/channels", {
        "name": f"延迟基准 {mode}", "department_id": dept, "latency_mode": mode,
        "record_to_vod": True})
    return channel["obs_stream_key"], channel["id"]


def start_nginx(work):
    root = os.path.join(work, "nginx")
    hls = os.path.join(root, "hls")
    os.makedirs(hls)
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(root, "tmp", d))
    http_port, rtmp_port = free_port(), free_port()
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""load_module {NGINX_MODULE};
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    chunk_size 4096;
    application live {{
      live on;
      record off;
      hls on;
      hls_path {hls};
      hls_fragment 2s;
      hls_playlist_length 10s;
    }}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  server {{
    listen 127.0.0.1:{http_port};
    location /hls/ {{
      types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
      alias {hls}/;
      add_header Cache-Control no-cache;
    }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", root, "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "stderr.log"), "w"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", rtmp_port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited; see {root}/error.log and {root}/stderr.log")
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{http_port}", f"rtmp://127.0.0.1:{rtmp_port}/live"


def start_publisher(log_path, seconds, urls):
    tee = "|".join(f"[f=flv:onfail=ignore]{u}" for u in urls)
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostats",
           "-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
           "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
           "-map", "0:v", "-map", "1:a", "-t", f"{seconds:.1f}",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
           "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
           "-b:v", "3000k", "-maxrate", "3000k", "-bufsize", "6000k",
           "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
           "-flags", "+global_header", "-f", "tee", tee,
           "-progress", "pipe:1", "-stats_period", "0.1"]
    err = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    progress = []  # (wall, media seconds written)

    def read():
        for line in proc.stdout:
            if line.startswith("out_time_us="):
                try:
                    us = int(line.split("=", 1)[1])
                except ValueError:
                    continue
                if us > 0:
                    progress.append((time.time(), us / 1e6))

    threading.Thread(target=read, daemon=True).start()
    return proc, progress, err.name


# ---------------------------------------------------------------- followers


def parse_pdt(value):
    """EXT-X-PROGRAM-DATE-TIME (ISO 8601) as epoch seconds, or None."""
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_playlist(text):
    """(media sequence, [(msn, duration)], [(msn, part index, duration)], preload hint URI,
    {msn: program date time})."""
    seq, segments, parts, hint, dates = 0, [], [], None, {}
    pending = 0  # parts seen for the segment not closed yet
    extinf = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            seq = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART:"):
            d = float(re.search(r"DURATION=([0-9.]+)", line).group(1))
            parts.append((seq + len(segments), pending, d))
            pending += 1
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = parse_pdt(line.split(":", 1)[1])
            if pdt is not None:
                dates[seq + len(segments)] = pdt
        elif line.startswith("#EXTINF:"):
            extinf = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            m = re.search(r'URI="([^"]+)"', line)
            hint = m.group(1) if m else None
        elif line and not line.startswith("#") and extinf is not None:
            segments.append((seq + len(segments), extinf))
            extinf, pending = None, 0
    return seq, segments, parts, hint, dates


class Listing:
    """When each segment and part of one playlist was first listed."""

    def __init__(self, name):
        self.name = name
        self.segments = {}  # msn -> (first listed wall time, duration)
        self.parts = {}  # (msn, part) -> (first listed wall time, duration)
        self.dates = {}  # msn -> EXT-X-PROGRAM-DATE-TIME (epoch seconds)
        self.errors = []

    def see(self, text, at):
        _, segments, parts, hint, dates = parse_playlist(text)
        for msn, pdt in dates.items():
            self.dates.setdefault(msn, pdt)
        for msn, d in segments:
            self.segments.setdefault(msn, (at, d))
        for msn, p, d in parts:
            self.parts.setdefault((msn, p), (at, d))
        return hint

    def segment_ends(self):
        """msn -> media time at the segment's end, for segments listed from 0 without a gap."""
        ends, total = {}, 0.0
        for msn in sorted(self.segments):
            if msn and msn - 1 not in ends:
                break
            total += self.segments[msn][1]
            ends[msn] = total
        return ends

    def date_offsets(self, t0, start, end):
        """EXT-X-PROGRAM-DATE-TIME - send time of the segment's first frame, for the
        segments first listed in [start, end]: how late the server stamps a segment's
        start (and a check of this benchmark's media timeline)."""
        ends = self.segment_ends()
        out = []
        for msn, (at, d) in self.segments.items():
            if msn in ends and msn in self.dates and start <= at <= end:
                out.append(self.dates[msn] - (t0 + ends[msn] - d))
        return out

    def latencies(self, t0, kind, start, end):
        """[(listing time, latency)] of the segments or parts first listed in [start, end]."""
        ends = self.segment_ends()
        out = []
        if kind == "segment":
            for msn, (at, _) in self.segments.items():
                if msn in ends and start <= at <= end:
                    out.append((at, at - (t0 + ends[msn])))
        else:
            cum = {}
            for (msn, p) in sorted(self.parts):
                at, d = self.parts[(msn, p)]
                base = ends.get(msn - 1, 0.0) if msn else 0.0
                if msn and msn - 1 not in ends:
                    continue
                cum[(msn, p)] = cum.get((msn, p - 1), base) + d
                if start <= at <= end:
                    out.append((at, at - (t0 + cum[(msn, p)])))
        return out


def follow_blocking(base, token, channel, rendition, listing, stop):
    """Follows a media playlist with blocking reloads on the hinted part."""
    client = Http(base, token)
    path = f"/live/{channel}/{rendition}/index.m3u8"
    query = ""
    while not stop.is_set():
        try:
            status, body = client.request("GET", path + query, timeout=30)
        except OSError as e:
            listing.errors.append(f"{time.strftime('%H:%M:%S')} {e}")
            time.sleep(0.1)
            continue
        at = time.time()
        if status != 200:
            if status != 404 or listing.segments or listing.parts:
                listing.errors.append(f"{time.strftime('%H:%M:%S')} HTTP {status} {body[:120]!r}")
            query = ""
            time.sleep(0.05)
            continue
        hint = listing.see(body.decode(), at)
        m = re.match(r"part-(\d+)-(\d+)\.m4s", hint or "")
        query = f"?_HLS_msn={m.group(1)}&_HLS_part={m.group(2)}" if m else ""
        if not m:
            time.sleep(0.05)


def poll_playlist(base, token, path, listing, stop):
    """Polls a playlist every POLL seconds (nginx-rtmp, yanxiu standard channels)."""
    client = Http(base, token)
    while not stop.is_set():
        try:
            status, body = client.request("GET", path, timeout=5)
            if status == 200:
                listing.see(body.decode(errors="replace"), time.time())
            elif status != 404 or listing.segments:
                listing.errors.append(f"{time.strftime('%H:%M:%S')} HTTP {status} {body[:120]!r}")
        except OSError as e:
            listing.errors.append(f"{time.strftime('%H:%M:%S')} {e}")
        stop.wait(POLL)


def watch_status(base, token, channel, samples, stop):
    client = Http(base, token)
    while not stop.wait(2.0):
        try:
            s = client.json("GET", f"/api/v1/channels/{channel}/status")
            samples.append((time.time(), s.get("status") or {}))
        except (OSError, RuntimeError, ValueError) as e:
            samples.append((time.time(), {"error": str(e)}))


# ---------------------------------------------------------------- figures


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def process_tree(root):
    """root and its descendants (nginx: master + worker)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def machine_busy():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def pct(values, q):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def slope_per_minute(points):
    """Theil-Sen slope of latency over time, s/min: the median of the pairwise
    slopes, so a few late outliers on a busy machine do not read as a trend."""
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points)
              for x2, y2 in points[i + 1:] if x2 - x1 > 1e-3]
    return 60 * statistics.median(slopes) if slopes else float("nan")


class Phase:
    """One publish to both servers: a yanxiu channel in one latency mode."""

    def __init__(self, mode):
        self.mode = mode
        self.renditions = {r: Listing(f"yanxiu {mode} {r}") for r in ("source", "480p")}
        self.nginx = Listing(f"nginx-rtmp ({mode} phase)")
        self.status = []
        self.progress = []
        self.cores = {}
        self.alive = {}


def run_phase(mode, measure, work, yanxiu, nginx):
    y, ybase, yrtmp, api, dept, _ = yanxiu
    n, nbase, nrtmp = nginx
    phase = Phase(mode)
    key, channel = create_channel(api, dept, mode)
    stream = f"bench-{mode}"
    pub, phase.progress, flog = start_publisher(
        os.path.join(work, f"ffmpeg-{mode}.log"), WARMUP + measure + 4, [f"{yrtmp}/{key}", f"{nrtmp}/{stream}"])
    stop = threading.Event()
    threads = []
    for r, listing in phase.renditions.items():
        if mode == "low_latency":
            threads.append(threading.Thread(target=follow_blocking,
                                            args=(ybase, api.token, channel, r, listing, stop)))
        else:
            threads.append(threading.Thread(target=poll_playlist, args=(
                ybase, api.token, f"/live/{channel}/{r}/index.m3u8", listing, stop)))
    threads.append(threading.Thread(target=poll_playlist,
                                    args=(nbase, None, f"/hls/{stream}.m3u8", phase.nginx, stop)))
    threads.append(threading.Thread(target=watch_status,
                                    args=(ybase, api.token, channel, phase.status, stop)))
    try:
        for t in threads:
            t.daemon = True
            t.start()
        log(f"{mode} channel {channel}: warm-up {WARMUP:.0f} s, then measuring {measure:.0f} s")
        time.sleep(WARMUP)
        pids = {"yanxiu": [y.pid], "nginx": process_tree(n.pid), "publisher": [pub.pid]}
        phase.start = time.time()
        cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
        busy0 = machine_busy()
        phase.load = [os.getloadavg()[0]]
        time.sleep(measure)
        phase.end = time.time()
        cpu1 = {k: cpu_seconds(v) for k, v in pids.items()}
        busy1 = machine_busy()
        phase.load.append(os.getloadavg()[0])
        phase.alive = {"yanxiu": y.poll() is None, "nginx": n.poll() is None, "publisher": pub.poll() is None}
    finally:
        stop.set()
        if pub.poll() is None:
            pub.terminate()
            try:
                pub.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pub.kill()
    wall = phase.end - phase.start
    phase.cores = {k: (cpu1[k] - cpu0[k]) / wall for k in pids}
    machine = os.cpu_count() or 1
    busy = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * machine
    phase.cores["others"] = max(busy - sum(phase.cores.values()), 0.0)

    # The publisher's send clock. The first second (encoder start-up) and
    # the last (the final flush) are not sent at the steady pace.
    if len(phase.progress) < 20:
        sys.exit(f"the publisher reported no progress; see {flog}")
    last = phase.progress[-1][1]
    offsets = [w - m for w, m in phase.progress if 1.0 <= m <= last - 1.0]
    phase.t0 = pct(offsets, 0.05)
    early = [w - m for w, m in phase.progress if w < phase.start]
    late = [w - m for w, m in phase.progress if phase.end - 10 < w <= phase.end]
    phase.drift = (statistics.median(late) - statistics.median(early)) if early and late else float("nan")
    return phase


def summary(points):
    lat = [p[1] for p in points]
    if not lat:
        return len(lat), *(float("nan"),) * 4
    return len(lat), statistics.median(lat), pct(lat, 0.95), max(lat), slope_per_minute(points)


def main():
    measure = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    modes = sys.argv[2].split(",") if len(sys.argv) > 2 else ["low_latency", "standard"]
    if not os.path.exists(NGINX_MODULE):
        sys.exit(f"{NGINX_MODULE} missing: apt-get install nginx libnginx-mod-rtmp")
    keep = os.environ.get("LIVE_BENCH_KEEP")
    work = tempfile.mkdtemp(prefix="live-bench-", dir=os.path.abspath("bench/out"))
    procs = []
    phases = []
    try:
        yanxiu = start_yanxiu(work)
        procs.append(yanxiu[0])
        nginx = start_nginx(work)
        procs.append(nginx[0])
        log(f"yanxiu {yanxiu[1]}, nginx-rtmp {nginx[1]}, work dir {work}")
        for mode in modes:
            phases.append(run_phase(mode, measure, work, yanxiu, nginx))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()

    print(f"\nlive latency on loopback, {measure:.0f} s measured per phase after {WARMUP:.0f} s warm-up. "
          "Publisher: ffmpeg testsrc2 1280x720 30 fps, x264 veryfast, keyint 60, 3 Mbit/s + AAC, "
          "tee'd to both servers.")
    print("yanxiu: 2 s segments, 500 ms parts, ladder source passthrough + 480p + 360p; low_latency channel "
          f"followed with blocking reloads, standard channel polled every {POLL * 1000:.0f} ms; "
          f"nginx-rtmp: hls_fragment 2s, polled every {POLL * 1000:.0f} ms.")
    print("latency = first listed - (send clock + media time at the segment's/part's end); "
          "a segment's first frame is 2 s older.")
    print(f"\n{'':38}{'n':>5}{'median s':>10}{'p95 s':>8}{'max s':>8}{'slope s/min':>13}"
          f"{'CPU cores':>11}{'median/nginx':>14}")
    rows = []
    for phase in phases:
        ref = summary(phase.nginx.latencies(phase.t0, "segment", phase.start, phase.end))
        kinds = [("part", "LL-HLS"), ("segment", "HLS")] if phase.mode == "low_latency" else [("segment", "HLS")]
        for kind, label in kinds:
            for r, listing in phase.renditions.items():
                n, med, p95, mx, slope = summary(listing.latencies(phase.t0, kind, phase.start, phase.end))
                rows.append((phase.mode, label, n, p95, slope))
                print(f"{f'yanxiu {label} ({r}, {phase.mode})':38}{n:>5}{med:>10.3f}{p95:>8.3f}{mx:>8.3f}"
                      f"{slope:>13.3f}{phase.cores['yanxiu']:>11.3f}{med / ref[1]:>14.2f}")
        n, med, p95, mx, slope = ref
        print(f"{f'nginx-rtmp HLS ({phase.mode} phase)':38}{n:>5}{med:>10.3f}{p95:>8.3f}{mx:>8.3f}"
              f"{slope:>13.3f}{phase.cores['nginx']:>11.3f}{1.0:>14.2f}")

    realtime_ok = True
    for phase in phases:
        in_window = [s for at, s in phase.status if phase.start <= at <= phase.end]
        fps = [s["input"]["frame_rate"] for s in in_window if s.get("input") and s["input"].get("frame_rate")]
        phase.fps = statistics.median(fps) if fps else float("nan")
        dropped = max((s.get("dropped_frames") or 0 for s in in_window), default=0)
        errors = sorted({s.get("last_error") or s.get("error") for s in in_window} - {None})
        c = phase.cores
        print(f"\n{phase.mode} phase: CPU yanxiu {c['yanxiu']:.3f} cores (the whole process: RTMP, decode once, "
              f"480p + 360p x264, packaging, persisting, HTTP), nginx-rtmp {c['nginx']:.3f} (remux only), "
              f"publisher {c['publisher']:.3f}, the rest of the machine {c['others']:.2f} of {os.cpu_count()}; "
              f"load average {phase.load[0]:.2f} -> {phase.load[1]:.2f}")
        print(f"  channel status: input frame rate median {phase.fps:.2f} (min {min(fps, default=float('nan')):.2f}, "
              f"{len(fps)} samples), dropped frames {dropped}, errors {errors or 'none'}; publisher drift from its "
              f"send clock {phase.drift * 1000:+.0f} ms (> 0: held back)")
        for r, listing in phase.renditions.items():
            offsets = listing.date_offsets(phase.t0, phase.start, phase.end)
            if offsets:
                print(f"  {r}: EXT-X-PROGRAM-DATE-TIME - send time of the segment's first frame: median "
                      f"{statistics.median(offsets):+.3f} s (min {min(offsets):+.3f}, max {max(offsets):+.3f})")
        for listing in [*phase.renditions.values(), phase.nginx]:
            if listing.errors:
                print(f"  {listing.name}: {len(listing.errors)} request errors, last: {listing.errors[-3:]}")
        died = [k for k, v in phase.alive.items() if not v]
        if died:
            print(f"  died during the phase: {died}")
        slopes = [r[4] for r in rows if r[0] == phase.mode]
        realtime_ok &= (c["yanxiu"] < 2.0 and phase.fps >= 29.0 and phase.drift < 0.5 and not died
                        and all(abs(x) <= 0.1 for x in slopes))
    with open(yanxiu[5], errors="replace") as f:
        bad = [line.rstrip() for line in f if re.search(r"\b(ERROR|WARN)\b", line)]
    if bad:
        print(f"\nyanxiu log: {len(bad)} warnings/errors, last: " + " | ".join(b[:240] for b in bad[-3:]))

    def worst(label):
        values = [r[3] for r in rows if r[1] == label]
        return max(values) if values else float("nan")

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    hls, ll = worst("HLS"), worst("LL-HLS")
    print("\ngoals (yanxiu, worst p95 over the followed renditions and phases):")
    print(f"  HLS <= {GOALS['hls']:.0f} s:     p95 {hls:.3f} s  {verdict(hls <= GOALS['hls'])}")
    print(f"  LL-HLS <= {GOALS['ll']:.0f} s:  p95 {ll:.3f} s  {verdict(ll <= GOALS['ll'])}")
    print(f"  720p ladder realtime on 2 cores: "
          + "; ".join(f"{p.mode} {p.cores['yanxiu']:.2f} cores, {p.fps:.1f} fps" for p in phases)
          + f", |latency slope| <= 0.1 s/min  {verdict(realtime_ok)}")
    if keep:
        print(f"(kept {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
