#!/usr/bin/env python3
"""Benchmark (not a test) of WebRTC (WHIP) publishing, run by bench/whip.sh:
WHIP-to-HLS against RTMP-to-HLS on the same source, through one `yanxiu
serve` on loopback, in the same run.

The source: a 10 s clip made with the ffmpeg CLI (testsrc2 640x480 30 fps,
a 440 Hz tone) with a frame counter stamped into its top band as 10
black/white blocks (frame index mod 300). Chromium plays it as its fake
camera and microphone (--use-file-for-fake-video-capture=.y4m,
--use-file-for-fake-audio-capture=.wav, looped) and publishes it over WHIP
(bench/whip_publish.cjs + whip_publish.html, H.264 by default, capped at
1.5 Mbit/s); ffmpeg reads the same files looped at native rate (-re) and
publishes over RTMP (libx264 veryfast -tune zerolatency, 2 s GOP, 1.5 Mbit/s,
AAC). Both go to a `low_latency` channel of their own with the same
settings (default [live]: 2 s segments, 500 ms parts, source passthrough +
encoded rungs below the source).

Phases, one after the other on the same server (default all three):
- both: the two publishers start at the same moment T (ffmpeg launched and
  the browser's POST sent together; the browser was opened and its camera
  started before T). Latency goals are judged here: same moment, same load.
- rtmp, whip: each path alone, for the server's CPU per channel (the
  server's CPU cannot be split between two channels of one process).

Figures per path and phase:
- publish -> master / first segment: from T to the first 200 of the
  channel's master playlist, and to the first segment (#EXTINF) listed in
  the followed media playlist (the `source` rendition when there is one).
- glass-to-playlist latency of a segment = when it is first listed (LL-HLS
  blocking reloads on the preload hint: exact) - the send time of the frame
  that ends it (the next segment's first frame; one frame after its last
  when the next is missing). Segments are fetched when listed and decoded
  after the phase; a frame's counter gives the source frame k, whose send time
  is the publisher's send clock at k: for ffmpeg, t0 + k/30 with t0 from its
  `-progress` reports (wall - media written, low 5th percentile within +-5 s),
  for Chromium, the capture time of that very frame read in the page (a
  clone of the camera track read frame by frame with
  MediaStreamTrackProcessor: the frame's capture timestamp, put on wall
  time with the low 1st percentile of wall time at read - timestamp).
  Chromium's file camera slips below 30 fps when short of CPU, so k/30 does
  not hold for it. So the browser's capture,
  encode, pacing and jitter buffer are inside the WHIP figure, ffmpeg's
  encode (zerolatency, a frame or so) is not inside the RTMP one.
- vs PDT: listed - (EXT-X-PROGRAM-DATE-TIME + EXTINF): yanxiu's own stamp
  (arrival of the publish's first frame + media time), no decoding.
- CPU = utime + stime (/proc) over the measured window / wall seconds: the
  server (both channels in `both`), the browser (node + Chromium), ffmpeg
  and the rest of the machine, with the load average.

    python3 bench/whip_latency.py [SECONDS [PHASES [CODEC]]]
        SECONDS measured per phase after an 8 s warm-up (default 60),
        PHASES: both,rtmp,whip (default) or a subset, CODEC: the browser's
        video codec h264 (default), vp8, vp9.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_latency as ll  # noqa: E402  (Http, cpu_seconds, process_tree, machine_busy, pct)

BIN = os.environ.get("WHIP_BENCH_BIN", ll.BIN)  # the release build (whip.sh)
WARMUP = 8.0
W, H, FPS = 640, 480, 30
LOOP = 300  # frames in the clip (10 s); the stamped counter is k mod LOOP
BITS, BAND = 10, 48  # counter blocks across the top band, band height
BITRATE = 1_500_000
GOAL = 0.2  # WHIP within 0.2 s of RTMP
NODE_MODULES = os.environ.get("WHIP_BENCH_NODE_MODULES", "target/test-tools/browser/node_modules")
CHROMIUM = os.environ.get("YANXIU_TEST_CHROMIUM", "/usr/bin/chromium")


def log(msg):
    print(f"[whip bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the source


def stamp(frame, n):
    """Writes counter n into the top band of a yuv420p frame (bytearray)."""
    bw = W // BITS
    for b in range(BITS):
        y = 235 if n >> (BITS - 1 - b) & 1 else 16
        for row in range(BAND):
            o = row * W + b * bw
            frame[o:o + bw] = bytes([y]) * bw
        for plane in (W * H, W * H + W * H // 4):
            for row in range(BAND // 2):
                o = plane + row * (W // 2) + b * (bw // 2)
                frame[o:o + bw // 2] = b"\x80" * (bw // 2)


def make_source(work):
    """The y4m clip (stamped counter) and the wav of both publishers."""
    y4m, wav = os.path.join(work, "source.y4m"), os.path.join(work, "source.wav")
    size = W * H * 3 // 2
    gen = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                            f"testsrc2=size={W}x{H}:rate={FPS}", "-frames:v", str(LOOP),
                            "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"], stdout=subprocess.PIPE)
    out = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
                            "-pix_fmt", "yuv420p", "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-",
                            "-f", "yuv4mpegpipe", y4m], stdin=subprocess.PIPE)
    for n in range(LOOP):
        frame = bytearray(gen.stdout.read(size))
        if len(frame) != size:
            raise RuntimeError("testsrc2 gave fewer frames than asked")
        stamp(frame, n)
        out.stdin.write(frame)
    out.stdin.close()
    if gen.wait() or out.wait():
        raise RuntimeError("making the y4m clip failed")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:sample_rate=48000:duration={LOOP / FPS}", "-ac", "2",
                    "-c:a", "pcm_s16le", wav], check=True)
    return y4m, wav


def read_counter(y, width):
    """The counter of one decoded frame's top band (gray, `width` wide, BAND rows)."""
    bw = width // BITS
    n = 0
    for b in range(BITS):
        total = count = 0
        for row in range(BAND // 4, 3 * BAND // 4, 2):
            o = row * width + b * bw
            seg = y[o + bw // 4:o + 3 * bw // 4:2]
            total += sum(seg)
            count += len(seg)
        if total / count > 128:
            n |= 1 << (BITS - 1 - b)
    return n


def decode_counters(path):
    """Counters of every frame of a media file (init + segment)."""
    out = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-vf", f"scale={W}:{H},crop={W}:{BAND}:0:0,format=gray",
                          "-f", "rawvideo", "-"], capture_output=True)
    frame = W * BAND
    data = out.stdout
    return [read_counter(data[i:i + frame], W) for i in range(0, len(data) - frame + 1, frame)]


# ---------------------------------------------------------------- server


def start_yanxiu(work):
    """The live bench's server (live_latency.start_yanxiu), with WHIP on a free UDP port."""
    return ll.start_yanxiu(work, "webrtc_udp_addr = \"127.0.0.1:0\"\n", BIN)


def create_channel(api, dept, name):
    # Not recorded: a recording's VOD ladder would run during the next phase.
    return api.json("POST", "/api/v1/channels", {
        "name": name, "department_id": dept, "latency_mode": "low_latency", "record_to_vod": False})


# ---------------------------------------------------------------- publishers


class Progress:
    """A publisher's send clock: frame k leaves at t0 + k/FPS, t0 the low 5th
    percentile of (observed wall - k/FPS) around that time."""

    def __init__(self, points):
        self.points = sorted(points)  # (wall, media seconds)

    def t0(self, around=None, span=5.0):
        pts = self.points if around is None else [p for p in self.points if abs(p[0] - around) <= span]
        if len(pts) < 10:
            pts = self.points
        return ll.pct([w - m for w, m in pts], 0.05)

    def send_time(self, counter, listed):
        """Send time of the latest frame with `counter` sent before `listed`."""
        t0 = self.t0()
        k = int((listed + 0.05 - t0) * FPS)  # the latest frame sent by then
        k -= (k - counter) % LOOP
        t0 = self.t0(t0 + k / FPS)
        return t0 + k / FPS, k


class CaptureClock:
    """The browser's send clock: the capture time of each frame the page read.
    A frame's timestamp (µs) is its capture time on Chromium's monotonic
    clock; the offset to wall time is the low 1st percentile of (wall time
    at read - timestamp), as reads are never early. Chromium's file camera
    slips behind 30 fps when short of CPU (the clip plays slower), so frame
    k is not captured at t0 + k/30: each frame's own timestamp is used."""

    def __init__(self, samples):
        frames, loops, prev = {}, 0, None
        offsets = []
        for at, n, ts in samples:
            if n < 0 or n >= LOOP or not ts:
                continue
            if prev is not None and n < prev - LOOP // 2:
                loops += 1
            prev = n
            frames.setdefault(loops * LOOP + n, ts / 1e6)
            offsets.append(at / 1000.0 - ts / 1e6)
        self.offset = ll.pct(offsets, 0.01) if offsets else float("nan")
        self.frames = sorted((k, ts + self.offset) for k, ts in frames.items())
        # (wall, media) like Progress, for the dump and the slip figure
        self.points = [(w, k / FPS) for k, w in self.frames]
        # The monotonic clock of this process is Chromium's: a check of the offset.
        self.check = self.offset - (time.time() - time.monotonic())

    def slip(self):
        """Capture rate of the file camera over the run (30 when it keeps up)."""
        if len(self.frames) < 2:
            return float("nan")
        (k0, w0), (k1, w1) = self.frames[0], self.frames[-1]
        return (k1 - k0) / (w1 - w0)

    def send_time(self, counter, listed):
        """Capture time of the latest frame with `counter` captured before `listed`."""
        best = None
        for k, w in self.frames:
            if w > listed + 0.05:
                break
            if k % LOOP == counter:
                best = (w, k)
        if best:
            return best
        # Not read by the page: the nearest frame read before, plus the frames between.
        before = [(k, w) for k, w in self.frames if w <= listed + 0.05]
        if not before:
            return float("nan"), None
        k, w = before[-1]
        back = (k - counter) % LOOP
        return w - back / FPS, k - back


def start_ffmpeg(log_path, seconds, url, y4m, wav):
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostats",
           "-re", "-stream_loop", "-1", "-i", y4m, "-re", "-stream_loop", "-1", "-i", wav,
           "-map", "0:v", "-map", "1:a", "-t", f"{seconds:.1f}",
           "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
           "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
           "-b:v", f"{BITRATE // 1000}k", "-maxrate", f"{BITRATE // 1000}k", "-bufsize", f"{2 * BITRATE // 1000}k",
           "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
           "-f", "flv", url, "-progress", "pipe:1", "-stats_period", "0.1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True)
    progress = []

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
    return proc, progress


class Browser:
    """bench/whip_publish.cjs: Chromium publishing the clip over WHIP."""

    def __init__(self, work, url, key, codec, y4m, wav, max_seconds):
        self.events, self.samples, self.stats = [], [], {}
        self.ready = threading.Event()
        self.log = os.path.join(work, f"browser-{time.time():.0f}.log")
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1", YANXIU_TEST_CHROMIUM=CHROMIUM)
        self.proc = subprocess.Popen(
            ["node", os.path.join("bench", "whip_publish.cjs"), os.path.abspath(NODE_MODULES), url, key,
             codec, y4m, wav, str(BITRATE), str(BITS), str(BAND), str(int(max_seconds))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.log, "w"), text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "samples":
                self.samples.extend(event.pop("samples", []))
                self.stats = event
            else:
                event["wall"] = time.time()
                self.events.append(event)
            if kind in ("ready", "failed"):
                self.ready.set()
        self.ready.set()

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def event(self, kind):
        return next((e for e in self.events if e.get("event") == kind), None)

    def clock(self):
        """The capture clock: every frame the page read, with its capture time."""
        return CaptureClock(self.samples)

    def stop(self):
        if self.proc.poll() is None:
            self.send("stop")
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in reversed(ll.process_tree(self.proc.pid)):  # node and its Chromium
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait()


# ---------------------------------------------------------------- the player's side


class Path:
    """One channel followed like a low-latency player: the master, then the
    chosen rendition's media playlist with blocking reloads; every new
    segment fetched when listed."""

    def __init__(self, name, channel):
        self.name, self.channel = name, channel
        self.master_at = None
        self.rendition = None
        self.segments = {}  # msn -> dict(at, duration, pdt, data)
        self.errors = []
        self.inits = {}


def parse_media(text):
    """[(msn, duration, pdt or None, uri, map uri)], preload hint."""
    seq, out, hint = 0, [], None
    extinf = pdt = map_uri = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            seq = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            m = re.search(r'URI="([^"]+)"', line)
            map_uri = m.group(1) if m else None
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = ll.parse_pdt(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            extinf = float(line.split(":", 1)[1].split(",", 1)[0])
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            m = re.search(r'URI="([^"]+)"', line)
            hint = m.group(1) if m else None
        elif line and not line.startswith("#") and extinf is not None:
            out.append((seq + len(out), extinf, pdt, line, map_uri))
            extinf = pdt = None
    return out, hint


def follow(base, token, path, stop):
    client, fetcher = ll.Http(base, token), ll.Http(base, token)
    root = f"/live/{path.channel}"
    while not stop.is_set() and path.rendition is None:
        try:
            status, body = client.request("GET", f"{root}/master.m3u8", timeout=10)
        except OSError as e:
            path.errors.append(str(e))
            status = 0
        if status == 200:
            path.master_at = time.time()
            best, uri = -1, None
            lines = body.decode(errors="replace").splitlines()
            for i, line in enumerate(lines[:-1]):
                if line.startswith("#EXT-X-STREAM-INF:"):
                    bw = int((re.search(r"BANDWIDTH=(\d+)", line) or [0, 0])[1])
                    u = lines[i + 1].strip()
                    if u.startswith("source/"):
                        bw = 1 << 62
                    if bw > best:
                        best, uri = bw, u
            path.rendition = (uri or "source/index.m3u8").split("/")[0]
        else:
            stop.wait(ll.POLL)
    media = f"{root}/{path.rendition}/index.m3u8"
    query = ""
    while not stop.is_set():
        try:
            status, body = client.request("GET", media + query, timeout=30)
        except OSError as e:
            path.errors.append(f"{time.strftime('%H:%M:%S')} {e}")
            stop.wait(0.1)
            continue
        at = time.time()
        if status != 200:
            if status != 404 or path.segments:
                path.errors.append(f"{time.strftime('%H:%M:%S')} HTTP {status} {body[:120]!r}")
            query = ""
            stop.wait(ll.POLL)
            continue
        segments, hint = parse_media(body.decode(errors="replace"))
        for msn, duration, pdt, uri, map_uri in segments:
            if msn in path.segments:
                continue
            seg = {"at": at, "duration": duration, "pdt": pdt, "data": None, "map": map_uri}
            path.segments[msn] = seg
            try:
                if map_uri and map_uri not in path.inits:
                    s, data = fetcher.request("GET", f"{root}/{path.rendition}/{map_uri}")
                    if s == 200:
                        path.inits[map_uri] = data
                s, data = fetcher.request("GET", f"{root}/{path.rendition}/{uri}")
                if s == 200:
                    seg["data"] = data
            except OSError as e:
                path.errors.append(f"segment {msn}: {e}")
        m = re.match(r"part-(\d+)-(\d+)\.m4s", hint or "")
        query = f"?_HLS_msn={m.group(1)}&_HLS_part={m.group(2)}" if m else ""
        if not m:
            stop.wait(ll.POLL)


# ---------------------------------------------------------------- a phase


class Phase:
    def __init__(self, name):
        self.name = name
        self.paths = {}  # "rtmp"/"whip" -> Path
        self.clocks = {}
        self.cores = {}
        self.notes = []
        self.alive = {}


def run_phase(name, measure, work, server, codec, y4m, wav):
    y, base, rtmp, api, dept, _ = server
    phase = Phase(name)
    kinds = ["rtmp", "whip"] if name == "both" else [name]
    channels = {k: create_channel(api, dept, f"WHIP 基准 {name} {k}") for k in kinds}
    for k, c in channels.items():
        phase.paths[k] = Path(k, c["id"])
    total = WARMUP + measure + 4
    browser = pub = None
    stop = threading.Event()
    threads = [threading.Thread(target=follow, args=(base, api.token, p, stop), daemon=True)
               for p in phase.paths.values()]
    try:
        if "whip" in kinds:
            c = channels["whip"]
            browser = Browser(work, f"{base}/whip/{c['stream_name']}", c["stream_key"], codec, y4m, wav,
                              total + 60)
            if not browser.ready.wait(90) or not browser.event("ready"):
                raise RuntimeError(f"the browser did not get ready: {browser.events}; see {browser.log}")
            phase.capture = browser.event("ready")["capture"]
        for t in threads:
            t.start()
        # The same moment for both publishers.
        phase.t = time.time()
        if browser:
            browser.send("go")
        if "rtmp" in kinds:
            c = channels["rtmp"]
            pub, progress = start_ffmpeg(os.path.join(work, f"ffmpeg-{name}.log"), total,
                                         f"{rtmp}/{c['obs_stream_key']}", y4m, wav)
        log(f"phase {name}: {' and '.join(kinds)} publishing{' from the same moment' if len(kinds) > 1 else ''}; "
            f"warm-up {WARMUP:.0f} s, then measuring {measure:.0f} s")
        time.sleep(WARMUP)
        pids = {"yanxiu": [y.pid]}
        if browser:
            pids["browser"] = ll.process_tree(browser.proc.pid)
        if pub:
            pids["ffmpeg"] = [pub.pid]
        phase.start = time.time()
        cpu0 = {k: ll.cpu_seconds(v) for k, v in pids.items()}
        busy0 = ll.machine_busy()
        phase.load = [os.getloadavg()[0]]
        time.sleep(measure)
        phase.end = time.time()
        cpu1 = {k: ll.cpu_seconds(v) for k, v in pids.items()}
        busy1 = ll.machine_busy()
        phase.load.append(os.getloadavg()[0])
        phase.alive = {"yanxiu": y.poll() is None}
        if browser:
            phase.alive["browser"] = browser.proc.poll() is None
        if pub:
            phase.alive["ffmpeg"] = pub.poll() is None
    finally:
        stop.set()
        if pub and pub.poll() is None:
            pub.terminate()
            try:
                pub.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pub.kill()
        if browser:
            browser.stop()
    for t in threads:
        t.join(timeout=35)
    wall = phase.end - phase.start
    phase.cores = {k: (cpu1[k] - cpu0[k]) / wall for k in pids}
    busy = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * (os.cpu_count() or 1)
    phase.cores["others"] = max(busy - sum(phase.cores.values()), 0.0)
    if pub:
        if len(progress) < 20:
            sys.exit(f"ffmpeg reported no progress; see {work}/ffmpeg-{name}.log")
        phase.clocks["rtmp"] = Progress(progress)
    if browser:
        posted = browser.event("posted") or {}
        if posted.get("status") != 201:
            sys.exit(f"the WHIP POST failed: {posted}; see {browser.log}")
        phase.clocks["whip"] = browser.clock()
        phase.browser = browser.stats
        phase.whip_posted = posted
        phase.notes.append(f"browser capture clock: {len(phase.clocks['whip'].frames)} frames read, the file camera "
                           f"ran at {phase.clocks['whip'].slip():.2f} fps (30 when it keeps up), timestamp offset "
                           f"vs this process's monotonic clock {phase.clocks['whip'].check * 1000:+.0f} ms")
        if len(phase.clocks["whip"].points) < 20:
            phase.notes.append(f"the page read only {len(phase.clocks['whip'].points)} counter samples "
                               f"({browser.stats.get('readErrors')} read errors)")
    return phase


def measure_path(phase, kind, work):
    """Per-segment figures of one path in one phase."""
    path, clock = phase.paths[kind], phase.clocks[kind]
    counters = {}
    for msn in sorted(path.segments):
        seg = path.segments[msn]
        if seg["data"] is None or seg["at"] < phase.start:
            continue
        f = os.path.join(work, f"seg-{phase.name}-{kind}-{msn}.mp4")
        with open(f, "wb") as out:
            out.write(path.inits.get(seg["map"], b"") + seg["data"])
        counters[msn] = decode_counters(f)
        os.remove(f)
    rows, bad, steps = [], 0, []
    for msn in sorted(counters):
        seg, c = path.segments[msn], counters[msn]
        if seg["at"] > phase.end:
            continue
        if len(c) < 2 or abs(((c[-1] - c[0]) % LOOP + 1) / FPS - seg["duration"]) > 0.5:
            bad += 1  # no frames, or the counter was misread
            continue
        steps.extend((b - a) % LOOP for a, b in zip(c, c[1:]))
        # The segment ends where the next one starts: the send time of the
        # next segment's first frame (a publisher may have dropped frames
        # before it), else one frame after its last.
        nxt = counters.get(msn + 1)
        if nxt and (nxt[0] - c[-1]) % LOOP <= FPS:
            end, _ = clock.send_time(nxt[0], seg["at"] + 1.0)
        else:
            last, _ = clock.send_time(c[-1], seg["at"])
            end = last + 1.0 / FPS
        first, _ = clock.send_time(c[0], seg["at"])
        if end != end or first != first:
            bad += 1
            continue
        vs_pdt = seg["at"] - (seg["pdt"] + seg["duration"]) if seg["pdt"] else float("nan")
        rows.append({"msn": msn, "listed": seg["at"], "glass": seg["at"] - end, "pdt": vs_pdt,
                     "first_frame": seg["at"] - first, "duration": seg["duration"], "frames": len(c),
                     "counters": [c[0], c[-1]], "next": nxt[0] if nxt else None})
        if seg["pdt"]:
            rows[-1]["pdt_minus_first_send"] = seg["pdt"] - first
    with open(os.path.join(work, f"segments-{phase.name}-{kind}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(work, f"clock-{phase.name}-{kind}.json"), "w") as f:
        json.dump(clock.points, f)  # (wall, media seconds) of the send clock
    firsts = sorted(path.segments)
    first_at = path.segments[firsts[0]]["at"] - phase.t if firsts else float("nan")
    master = path.master_at - phase.t if path.master_at else float("nan")
    skipped = sum(1 for s in steps if s != 1)
    return {"rows": rows, "bad": bad, "first": first_at, "master": master,
            "skips": skipped, "frames": len(steps)}


def fmt(v, width=8, prec=3, sign=False):
    if v is None or v != v:
        return f"{'-':>{width}}"
    return f"{v:>+{width}.{prec}f}" if sign else f"{v:>{width}.{prec}f}"


def main():
    measure = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    phases_arg = sys.argv[2].split(",") if len(sys.argv) > 2 else ["both", "rtmp", "whip"]
    codec = sys.argv[3] if len(sys.argv) > 3 else "h264"
    if not os.path.isdir(NODE_MODULES):
        sys.exit(f"{NODE_MODULES} missing (bench/whip.sh installs it)")
    keep = os.environ.get("WHIP_BENCH_KEEP")
    # SIGTERM unwinds like Ctrl-C: publishers, browser and server are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs("bench/out", exist_ok=True)
    work = tempfile.mkdtemp(prefix="whip-bench-", dir=os.path.abspath("bench/out"))
    log(f"machine load: {os.getloadavg()}, {os.cpu_count()} cores")
    y4m, wav = make_source(work)
    server = None
    phases = []
    try:
        server = start_yanxiu(work)
        log(f"yanxiu {server[1]}, work dir {work}")
        for name in phases_arg:
            phases.append(run_phase(name, measure, work, server, codec, y4m, wav))
            time.sleep(4)  # the previous channels' sessions end (reconnect window 3 s)
    finally:
        if server and server[0].poll() is None:
            server[0].send_signal(signal.SIGTERM)
            try:
                server[0].wait(timeout=15)
            except subprocess.TimeoutExpired:
                server[0].kill()

    print(f"\nWHIP vs RTMP into HLS on loopback, one yanxiu serve, {measure:.0f} s measured per phase after "
          f"{WARMUP:.0f} s warm-up; {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.2f}.")
    print(f"Source: testsrc2 {W}x{H} {FPS} fps + 440 Hz tone, a 10 s clip with a stamped frame counter, "
          f"looped. RTMP: ffmpeg -re, x264 veryfast zerolatency, 2 s GOP, {BITRATE // 1000} kbit/s, AAC. "
          f"WHIP: Chromium fake camera/mic from the same files, {codec.upper()} capped at {BITRATE // 1000} kbit/s, "
          "Opus. Channels: low_latency, default [live] ladder; the best rendition followed with blocking reloads.")
    print("glass = first listed - send time of the frame ending the segment (the next one's first; counters "
          "decoded; ffmpeg send clock / browser capture clock); a segment's first frame is ~2 s older. "
          "vs PDT = first listed - (EXT-X-PROGRAM-DATE-TIME + EXTINF).")
    hdr = (f"\n{'phase':6}{'path':6}{'rendition':>10}{'master s':>10}{'1st seg s':>10}{'n':>4}"
           f"{'glass med':>10}{'p95':>8}{'max':>8}{'PDT med':>9}{'p95':>8}{'skipped fr':>11}{'server CPU':>11}")
    print(hdr)
    results = {}
    for phase in phases:
        for kind in phase.paths:
            r = measure_path(phase, kind, work)
            results[(phase.name, kind)] = r
            g = [x["glass"] for x in r["rows"]]
            p = [x["pdt"] for x in r["rows"] if x["pdt"] == x["pdt"]]
            r["med"] = statistics.median(g) if g else float("nan")
            r["p95"] = ll.pct(g, 0.95)
            print(f"{phase.name:6}{kind:6}{phase.paths[kind].rendition or '-':>10}{fmt(r['master'], 10)}"
                  f"{fmt(r['first'], 10)}{len(g):>4}{fmt(r['med'], 10)}{fmt(r['p95'])}"
                  f"{fmt(max(g) if g else None)}{fmt(statistics.median(p) if p else None, 9)}"
                  f"{fmt(ll.pct(p, 0.95))}{r['skips']:>6}/{r['frames']:<4}{fmt(phase.cores['yanxiu'], 11, 2)}")
    for phase in phases:
        c = phase.cores
        parts = [f"yanxiu {c['yanxiu']:.2f} cores ({'both channels' if phase.name == 'both' else phase.name + ' channel'})"]
        if "browser" in c:
            parts.append(f"browser (node + Chromium) {c['browser']:.2f}")
        if "ffmpeg" in c:
            parts.append(f"ffmpeg {c['ffmpeg']:.2f}")
        parts.append(f"rest of the machine {c['others']:.2f} of {os.cpu_count()}")
        print(f"\n{phase.name} phase CPU: " + ", ".join(parts) +
              f"; load average {phase.load[0]:.2f} -> {phase.load[1]:.2f}")
        if hasattr(phase, "browser"):
            b = phase.browser
            print(f"  browser: {b.get('codec')} ({b.get('encoder')}) {b.get('width')}x{b.get('height')} "
                  f"{b.get('fps')} fps, target {int(b.get('targetBitrate') or 0) // 1000} kbit/s, limited by "
                  f"{b.get('limitation')}, frames sent {b.get('framesSent')}, PLIs {b.get('pliCount')}, "
                  f"key frames {b.get('keyFrames')}, NACKs {b.get('nackCount')}; "
                  f"POST answered in {(phase.whip_posted['answeredAt'] - phase.whip_posted['postedAt']) / 1000:.3f} s"
                  + (f", connected {b['connectedAt'] / 1000 - phase.t:.3f} s after T" if b.get("connectedAt") else ""))
        for kind in phase.paths:
            r = results[(phase.name, kind)]
            if r["bad"]:
                print(f"  {kind}: {r['bad']} segments without a readable counter (left out)")
            if phase.paths[kind].errors:
                print(f"  {kind}: {len(phase.paths[kind].errors)} request errors, last: {phase.paths[kind].errors[-3:]}")
        for note in phase.notes:
            print(f"  {note}")
        died = [k for k, v in phase.alive.items() if not v]
        if died:
            print(f"  died during the phase: {died}")
    with open(server[5], errors="replace") as f:
        bad = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in f if re.search(r"\b(ERROR|WARN)\b", line)]
    if bad:
        print(f"\nyanxiu log: {len(bad)} warnings/errors, last: " + " | ".join(b[:240] for b in bad[-3:]))

    print(f"\nWHIP - RTMP (goal: WHIP-to-HLS within {GOAL} s of the RTMP path):")
    verdicts = []
    for label, a, b in (("same moment (phase both)", ("both", "whip"), ("both", "rtmp")),
                        ("each alone (phases whip, rtmp)", ("whip", "whip"), ("rtmp", "rtmp"))):
        if a not in results or b not in results:
            continue
        w, r = results[a], results[b]
        for what, key in (("first segment", "first"), ("glass median", "med"), ("glass p95", "p95")):
            d = w[key] - r[key]
            ok = d <= GOAL
            if label.startswith("same"):
                verdicts.append(ok)
            print(f"  {label:32}{what:15} WHIP {fmt(w[key], 7)}  RTMP {fmt(r[key], 7)}  "
                  f"diff {fmt(d, 7, sign=True)}  {'PASS' if ok else 'FAIL'}")
    if verdicts:
        print(f"  overall (same moment): {'PASS' if all(verdicts) else 'FAIL'}")
    if keep:
        print(f"(kept {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
