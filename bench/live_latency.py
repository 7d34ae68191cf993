#!/usr/bin/env python3
"""Benchmark (not a test) of live streaming, run by bench/live.sh: glass-to-
playlist latency and CPU per channel of `yanxiu serve`, side by side in the
same run with nginx + the Debian RTMP module (the reference) on loopback.

One publisher (ffmpeg: testsrc2 1280x720 30 fps, x264 veryfast, keyint 60,
AAC, read at native rate with -re) pushes the same bytes to both servers
through the tee muxer, so both see identical media at identical times.

Latency of a segment or part = the wall time it is first listed in a
playlist - (t0 + the media time at its end), where t0 is the publisher's
send clock: ffmpeg's `-progress` reports (every 0.1 s) how much media it
has written; the send clock is the low 5th percentile of (wall - written
media time) over the run, the first and last second left out (sending is
never ahead of it).
- yanxiu (a `low_latency` channel): the media playlists of `source` and
  `480p` followed with LL-HLS blocking reloads on the part the preload hint
  names, so listing times are exact. HLS = a full segment (EXTINF) listed,
  LL-HLS = a part (EXT-X-PART) listed.
- nginx-rtmp (hls_fragment 2s, hls_playlist_length 10s): its playlist is
  polled every 50 ms (it has no blocking reload and no parts), so its
  listing times are late by 25 ms on average.

CPU per channel = CPU seconds (utime + stime from /proc) of the server's
processes over the measured window / wall seconds. Realtime = the yanxiu
latency does not grow over the run (slope of LL-HLS latency vs time), the
channel status reports the input frame rate at ~30 and the process uses
less than the machine's 2 cores.

    python3 bench/live_latency.py [SECONDS]      (default 60; after 8 s warm-up)
"""
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
NGINX_POLL = 0.05
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


def start_yanxiu(work):
    data = os.path.join(work, "yanxiu")
    os.makedirs(data)
    config = os.path.join(data, "yanxiu.toml")
    with open(config, "w") as f:
        # Cheap password hashing (like tests/common/server.rs); the default
        # [live] section: 2 s segments, 500 ms parts, passthrough + 720/480/360
        # (720 is not above a 720p source, so the ladder is source, 480p, 360p).
        f.write("[control.hash_cost]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
                "[workers]\nheartbeat_seconds = 1\npoll_ms = 200\n"
                "[live]\nrtmp_addr = \"127.0.0.1:0\"\n")
    subprocess.run([BIN, "admin", "create-user", "--data-dir", data, "--config", config,
                    "--username", "org", "--password", PASSWORD, "--role", "event_organiser",
                    "--department", "物理教研室"], check=True, capture_output=True)
    stderr = open(os.path.join(work, "yanxiu.log"), "w")
    proc = subprocess.Popen([BIN, "serve", "--data-dir", data, "--config", config,
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
    token = api.json("POST", "/api/v1/sessions", {"username": "org", "password": PASSWORD})["token"]
    api.token = token
    departments = api.json("GET", "/api/v1/departments")
    dept = next(d["id"] for d in departments if d.get("name") == "物理教研室")
    channel = api.json("POST", "/api/v1/channels", {
        "name": "延迟基准", "department_id": dept, "latency_mode": "low_latency",
        "record_to_vod": True})
    return proc, base, token, f"{rtmp}/{channel['obs_stream_key']}", channel["id"], stderr.name


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
    return proc, f"http://127.0.0.1:{http_port}", f"rtmp://127.0.0.1:{rtmp_port}/live/bench"


def start_publisher(work, seconds, urls):
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
    err = open(os.path.join(work, "ffmpeg.log"), "w")
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


def parse_playlist(text):
    """(media sequence, [(msn, duration)], [(msn, part index, duration)], preload hint URI)."""
    seq, segments, parts, hint = 0, [], [], None
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
        elif line.startswith("#EXTINF:"):
            extinf = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            m = re.search(r'URI="([^"]+)"', line)
            hint = m.group(1) if m else None
        elif line and not line.startswith("#") and extinf is not None:
            segments.append((seq + len(segments), extinf))
            extinf, pending = None, 0
    return seq, segments, parts, hint


class Listing:
    """When each segment and part of one playlist was first listed."""

    def __init__(self, name):
        self.name = name
        self.segments = {}  # msn -> (first listed wall time, duration)
        self.parts = {}  # (msn, part) -> (first listed wall time, duration)
        self.errors = []

    def see(self, text, at):
        _, segments, parts, hint = parse_playlist(text)
        for msn, d in segments:
            self.segments.setdefault(msn, (at, d))
        for msn, p, d in parts:
            self.parts.setdefault((msn, p), (at, d))
        return hint

    def latencies(self, t0, kind, start, end):
        """[(listing time, latency)] of the segments or parts first listed in [start, end]."""
        ends, total = {}, 0.0
        for msn in sorted(self.segments):
            if msn and msn - 1 not in ends:
                break  # a gap: media times after it are unknown
            total += self.segments[msn][1]
            ends[msn] = total
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


def follow_yanxiu(base, token, channel, rendition, listing, stop):
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


def poll_nginx(base, listing, stop):
    client = Http(base)
    while not stop.is_set():
        try:
            status, body = client.request("GET", "/hls/bench.m3u8", timeout=5)
            if status == 200:
                listing.see(body.decode(errors="replace"), time.time())
        except OSError as e:
            listing.errors.append(str(e))
        stop.wait(NGINX_POLL)


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
    if len(points) < 3:
        return float("nan")
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else float("nan")


def main():
    measure = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    if not os.path.exists(NGINX_MODULE):
        sys.exit(f"{NGINX_MODULE} missing: apt-get install nginx libnginx-mod-rtmp")
    keep = os.environ.get("LIVE_BENCH_KEEP")
    work = tempfile.mkdtemp(prefix="live-bench-", dir=os.path.abspath("bench/out"))
    procs = []
    stop = threading.Event()
    try:
        ycpu0 = None
        y, ybase, token, yurl, channel, ylog = start_yanxiu(work)
        procs.append(y)
        n, nbase, nurl = start_nginx(work)
        procs.append(n)
        log(f"yanxiu {ybase} channel {channel}; nginx-rtmp {nbase}; work dir {work}")
        pub, progress, flog = start_publisher(work, WARMUP + measure + 4, [yurl, nurl])
        procs.append(pub)
        listings = {r: Listing(f"yanxiu {r}") for r in ("source", "480p")}
        nginx = Listing("nginx-rtmp")
        status = []
        threads = [threading.Thread(target=follow_yanxiu, args=(ybase, token, channel, r, l, stop), daemon=True)
                   for r, l in listings.items()]
        threads.append(threading.Thread(target=poll_nginx, args=(nbase, nginx, stop), daemon=True))
        threads.append(threading.Thread(target=watch_status, args=(ybase, token, channel, status, stop), daemon=True))
        for t in threads:
            t.start()
        log(f"publishing; warm-up {WARMUP:.0f} s, then measuring {measure:.0f} s")
        time.sleep(WARMUP)
        npids = process_tree(n.pid)
        start = time.time()
        ycpu0, ncpu0, fcpu0 = cpu_seconds([y.pid]), cpu_seconds(npids), cpu_seconds([pub.pid])
        busy0 = machine_busy()
        load0 = os.getloadavg()
        time.sleep(measure)
        end = time.time()
        ycpu1, ncpu1, fcpu1 = cpu_seconds([y.pid]), cpu_seconds(npids), cpu_seconds([pub.pid])
        busy1 = machine_busy()
        load1 = os.getloadavg()
        stop.set()
        wall = end - start
        alive = {"yanxiu": y.poll() is None, "nginx": n.poll() is None, "ffmpeg": pub.poll() is None}
    finally:
        stop.set()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()

    # The publisher's send clock.
    if len(progress) < 20:
        sys.exit(f"the publisher reported no progress; see {flog}")
    # The first second (encoder start-up) and the last (the final flush)
    # are not sent at the steady pace.
    last = progress[-1][1]
    offsets = [w - m for w, m in progress if 1.0 <= m <= last - 1.0]
    t0 = pct(offsets, 0.05)
    early = [w - m for w, m in progress if w < start]
    late = [w - m for w, m in progress if w > end - 10]
    drift = (statistics.median(late) - statistics.median(early)) if early and late else float("nan")

    cores = {"yanxiu": (ycpu1 - ycpu0) / wall, "nginx": (ncpu1 - ncpu0) / wall}
    publisher_cores = (fcpu1 - fcpu0) / wall
    machine = os.cpu_count() or 1
    busy_cores = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * machine
    others = busy_cores - cores["yanxiu"] - cores["nginx"] - publisher_cores

    rows = []
    for label, listing, kind, server in (
        ("yanxiu HLS (source)", listings["source"], "segment", "yanxiu"),
        ("yanxiu HLS (480p)", listings["480p"], "segment", "yanxiu"),
        ("yanxiu LL-HLS (source)", listings["source"], "part", "yanxiu"),
        ("yanxiu LL-HLS (480p)", listings["480p"], "part", "yanxiu"),
        ("nginx-rtmp HLS", nginx, "segment", "nginx"),
    ):
        points = listing.latencies(t0, kind, start, end)
        lat = [p[1] for p in points]
        rows.append((label, kind, server, lat, slope_per_minute(points)))

    in_window = [s for at, s in status if start <= at <= end and isinstance(s, dict)]
    fps = [s["input"]["frame_rate"] for s in in_window if s.get("input") and s["input"].get("frame_rate")]
    dropped = max((s.get("dropped_frames") or 0 for s in in_window), default=0)
    last_errors = {s.get("last_error") for s in in_window if s.get("last_error")}
    status_errors = [s["error"] for s in in_window if s.get("error")]

    print(f"\nlive latency on loopback: {measure:.0f} s measured after {WARMUP:.0f} s warm-up; publisher "
          "ffmpeg testsrc2 1280x720 30 fps x264 veryfast keyint 60 3 Mbit/s + AAC, tee'd to both servers")
    print(f"yanxiu: low_latency channel, 2 s segments, 500 ms parts, ladder source passthrough + 480p + 360p; "
          f"nginx-rtmp: hls_fragment 2s, polled every {NGINX_POLL * 1000:.0f} ms")
    nginx_median = statistics.median(rows[-1][3]) if rows[-1][3] else float("nan")
    print(f"\n{'':24}{'n':>5}{'median s':>10}{'p95 s':>8}{'max s':>8}{'slope s/min':>13}"
          f"{'CPU cores':>11}{'median / nginx':>16}")
    for label, kind, server, lat, slope in rows:
        med = statistics.median(lat) if lat else float("nan")
        print(f"{label:24}{len(lat):>5}{med:>10.3f}{pct(lat, 0.95):>8.3f}{(max(lat) if lat else float('nan')):>8.3f}"
              f"{slope:>13.3f}{cores[server]:>11.3f}{med / nginx_median:>16.2f}")
    print(f"\nCPU: yanxiu {cores['yanxiu']:.3f} cores (whole process: RTMP, decode once, 480p + 360p x264 "
          f"veryfast, packaging, persisting, HTTP), nginx-rtmp {cores['nginx']:.3f} cores (remux only), "
          f"publisher ffmpeg {publisher_cores:.3f} cores; the rest of the machine "
          f"{max(others, 0):.2f} of {machine} cores busy")
    print(f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end; "
          f"publisher send clock drift {drift * 1000:+.0f} ms over the run (> 0: the publisher fell behind realtime)")
    fps_med = statistics.median(fps) if fps else float("nan")
    print(f"yanxiu channel status: input frame rate median {fps_med:.2f} (min {min(fps, default=float('nan')):.2f}, "
          f"{len(fps)} samples), dropped frames {dropped}, last_error {sorted(last_errors) or 'none'}")
    for listing in [*listings.values(), nginx]:
        if listing.errors:
            print(f"{listing.name}: {len(listing.errors)} request errors, last: {listing.errors[-3:]}")
    if status_errors:
        print(f"status errors: {status_errors[-3:]}")
    with open(ylog, errors="replace") as f:
        bad = [line.rstrip() for line in f if re.search(r"\b(ERROR|WARN)\b|\"level\":\"(ERROR|WARN)\"", line)]
    if bad:
        print(f"yanxiu log: {len(bad)} warnings/errors, last: " + " | ".join(b[:200] for b in bad[-3:]))
    if not all(alive.values()):
        print(f"processes that died during the run: {[k for k, v in alive.items() if not v]}")

    def worst(kind):
        lat = [x for r in rows if r[1] == kind and r[2] == "yanxiu" for x in r[3]]
        return pct(lat, 0.95) if lat else float("nan")

    ll_slopes = [r[4] for r in rows if r[1] == "part" and r[2] == "yanxiu"]
    realtime = (cores["yanxiu"] < 2.0 and fps_med >= 29.0 and all(abs(s) <= 0.1 for s in ll_slopes)
                and alive["yanxiu"] and drift < 0.5)
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    hls, ll = worst("segment"), worst("part")
    print("\ngoals (yanxiu, p95 over both followed renditions):")
    print(f"  HLS ≤ {GOALS['hls']:.0f} s:     p95 {hls:.3f} s  {verdict(hls <= GOALS['hls'])}")
    print(f"  LL-HLS ≤ {GOALS['ll']:.0f} s:  p95 {ll:.3f} s  {verdict(ll <= GOALS['ll'])}")
    print(f"  720p ladder realtime on 2 cores: {cores['yanxiu']:.2f} cores, input {fps_med:.1f} fps, "
          f"LL-HLS latency slope {', '.join(f'{s:+.3f}' for s in ll_slopes)} s/min  {verdict(realtime)}")
    if keep:
        print(f"(kept {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
