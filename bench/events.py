#!/usr/bin/env python3
"""Benchmark (not a test) of viewing analytics, run by bench/events.sh: how many
playback events one `yanxiu serve` (SQLite, one node) takes per second, and
whether taking them slows playback.

Setup: a temp data dir; producer, reviewers and the learners' department admin made with
`yanxiu admin create-user`; `serve` on a free port; a short lecture uploaded
over tus, processed, given credit hours, reviewed at the three levels and
published; LEARNERS learners created through `POST /api/v1/users`, each signed
in and holding a playback grant (`POST /api/v1/playback-tokens`) whose
`events_token` their players report with.

Phases (each SECONDS long):
  baseline: PROBES players fetch the master playlist, the media playlist and a
            segment in a loop; per-request latency is recorded.
  load:     the same probes, while PLAYERS players (PLAYBACKS per learner)
            POST /api/v1/playback/events: batches of up to 50 events (the
            API's maximum per request) whose player clock follows wall time
            and whose position advances at 1x, heartbeats and an `end` with a
            new playback at the end of the lecture; every learner and playback
            stays inside the default rate limits. Events/s = events the
            server accepted (its receipts) / seconds.

Prints the figures and PASS/FAIL lines: events/s >= 10,000; playback not
slowed: the p95 of segment fetches under load at most 10 % of a segment's
duration and the ratio of p95 latencies (load / baseline) printed."""
import http.client
import json
import multiprocessing as mp
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse

from yanxiu_bench import PASSWORD, start_server, tus_upload
from yanxiu_bench import login as bench_login

BIN = "target/release/yanxiu"
GOAL_EVENTS_PER_SECOND = 10_000
# Events per request (EVENTS_BATCH, default the API's maximum, 50).
BATCH = int(os.environ.get("EVENTS_BATCH", "50"))
# Seconds between two requests of one playback (EVENTS_INTERVAL): 2.5 s is 24 a
# minute, under the default 30 a minute (and burst 12) of [control.learning].
# A shorter interval raises the server's rate limits to match (printed).
PLAYBACK_INTERVAL = float(os.environ.get("EVENTS_INTERVAL", "2.5"))


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, base):
        self.base = base
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def request(self, method, path, token=None, body=None):
        headers = {}
        data = None
        if token:
            headers["Authorization"] = "Bearer " + token
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                payload = r.read()
                return r.status, payload
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def json(self, method, path, token=None, body=None, want=(200, 201)):
        status, payload = self.request(method, path, token, body)
        if status not in want:
            raise RuntimeError(f"{method} {path}: {status} {payload[:300]!r}")
        return json.loads(payload or b"null")


def start_events_server(data):
    extra = ""
    if PLAYBACK_INTERVAL < 2.5:
        per_minute = int(60 / PLAYBACK_INTERVAL * 1.5)
        extra = (f"[control.learning]\nplayback_per_minute = {per_minute}\n"
                 f"viewer_per_minute = {per_minute * 8}\n")
        print(f"rate limits raised to {per_minute} requests a minute per playback", file=sys.stderr)
    accounts = [("producer", "producer", "物理教研室"),
                ("dept-reviewer", "department_reviewer", "物理教研室"),
                ("centre-reviewer", "centre_reviewer", "教师网络研修中心"),
                ("learner-admin", "department_admin", "研修学员")]
    log = open(os.path.join(data, "serve-stderr.log"), "w")
    return start_server(BIN, data, accounts, extra, log=log)


def login(c, user):
    return bench_login(c.base, user)


def publish(base, source):
    c = Client(base)
    producer = login(c, "producer")
    rid = tus_upload(base, producer, source)
    deadline = time.monotonic() + 600
    while True:
        r = c.json("GET", f"/api/v1/resources/{rid}", producer)
        state = r["processing"]["status"]
        if state == "ready":
            break
        if state in ("failed", "rejected") or time.monotonic() > deadline:
            sys.exit(f"processing ended {state}: {r}")
        time.sleep(0.3)
    duration = r["processing"]["probe"]["duration_seconds"]
    c.json("PATCH", f"/api/v1/resources/{rid}", producer, {"metadata": {"credit_hours": 1}})
    review = lambda level: {"level": level, "decision": "approve", "comment": "符合要求"}
    c.json("POST", f"/api/v1/resources/{rid}/reviews", producer, review("self"))
    c.json("POST", f"/api/v1/resources/{rid}/reviews", login(c, "dept-reviewer"), review("department"))
    centre = login(c, "centre-reviewer")
    c.json("POST", f"/api/v1/resources/{rid}/reviews", centre, review("technical"))
    c.json("POST", f"/api/v1/resources/{rid}/publish", centre, {})
    return rid, duration


def make_learners(base, n, rid):
    c = Client(base)
    # The learners' department admin creates them (a system admin may create
    # accounts but not grant roles: duties are separated).
    admin = login(c, "learner-admin")
    me = c.json("GET", "/api/v1/me", admin)
    dept = me.get("department_id") or me.get("user", {}).get("department_id")
    grants = []
    for i in range(n):
        name = f"learner{i:04d}"
        c.json("POST", "/api/v1/users", admin,
               {"username": name, "password": PASSWORD, "roles": ["learner"],
                "department_id": dept})
        token = login(c, name)
        grant = c.json("POST", "/api/v1/playback-tokens", token, {"resource_id": rid})
        grants.append({"learner": name, "events_token": grant["events_token"],
                       "token": grant.get("token"), "url": grant["playback_url"]})
    return grants


def play_paths(base, master_url, token):
    """The master playlist, first media playlist and a segment, as paths."""
    c = Client(base)
    q = f"?token={token}" if token else ""
    master_path = urllib.parse.urlsplit(master_url).path
    _, master = c.request("GET", master_path + q)
    lines = [l for l in master.decode().splitlines() if l and not l.startswith("#")]
    media_path = urllib.parse.urljoin(master_path, lines[0].split("?")[0])
    _, media = c.request("GET", media_path + q)
    segs = [l for l in media.decode().splitlines() if l and not l.startswith("#")]
    seg_path = urllib.parse.urljoin(media_path, segs[len(segs) // 2].split("?")[0])
    seconds = max(float(m) for m in re.findall(r"#EXTINF:([0-9.]+)", media.decode()))
    return [("master", master_path + q), ("playlist", media_path + q), ("segment", seg_path + q)], seconds


def probe_worker(base, paths, stop_at, out):
    c = Client(base)
    samples = {k: [] for k, _ in paths}
    errors = 0
    while time.monotonic() < stop_at:
        for kind, path in paths:
            t0 = time.monotonic()
            status, _ = c.request("GET", path)
            dt = time.monotonic() - t0
            if status != 200:
                errors += 1
            samples[kind].append(dt)
        time.sleep(0.02)
    out.put({"samples": samples, "errors": errors})


def player_worker(base, rid, duration, playbacks, start_at, stop_at, out):
    """Plays `playbacks` ([(events_token, tag)]) round-robin until stop_at."""
    c = Client(base)
    accepted = sent = 0
    statuses = {}
    state = []
    for i, (token, tag) in enumerate(playbacks):
        # Spread the first requests over one interval, as players arrive.
        first = start_at + PLAYBACK_INTERVAL * i / max(1, len(playbacks))
        state.append({"token": token, "tag": tag, "n": 0, "pid": None, "next": first})
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        p = min(state, key=lambda s: s["next"])
        if p["next"] > now:
            time.sleep(min(p["next"], stop_at) - now)
            continue
        now = time.monotonic()
        if p["pid"] is None:
            p["n"] += 1
            p["pid"] = f"bench-{p['tag']}-{p['n']:04d}"
            p["t0"], p["seq"], p["last"] = now, 0, -1
        elapsed = int((now - p["t0"]) * 1000)
        position = elapsed / 1000.0
        events = []
        if p["seq"] == 0:
            p["seq"] = 1
            events.append({"seq": 1, "kind": "start", "position": 0.0, "elapsed_ms": 0})
            p["last"] = 0
        span = elapsed - p["last"]
        count = min(BATCH - len(events), max(0, span // 10))
        ended = False
        for i in range(1, count + 1):
            e = p["last"] + span * i // count
            pos = min(e / 1000.0, duration)
            p["seq"] += 1
            kind = "heartbeat"
            if pos >= duration:
                kind, ended = "end", True
            events.append({"seq": p["seq"], "kind": kind, "position": round(pos, 3), "elapsed_ms": e})
            if ended:
                break
        p["last"] = elapsed
        body = {"token": p["token"], "resource_id": rid, "playback_id": p["pid"], "events": events}
        sent += len(events)
        status, payload = c.request("POST", "/api/v1/playback/events", body=body)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200 and time.monotonic() <= stop_at + 1:
            accepted += json.loads(payload)["accepted"]
        if ended:
            p["pid"] = None
        p["next"] = now + PLAYBACK_INTERVAL
    out.put({"accepted": accepted, "sent": sent, "statuses": statuses})


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def phase(base, rid, duration, paths, grants, probes, players_per_proc, procs, seconds, load):
    q = mp.Queue()
    start = time.monotonic() + 1.0
    stop = start + seconds
    workers = [mp.Process(target=probe_worker, args=(base, paths, stop, q)) for _ in range(probes)]
    if load:
        per_proc = [grants[i::procs] for i in range(procs)]
        for chunk in per_proc:
            # Each process runs `players_per_proc` threads sharing its playbacks.
            workers.append(mp.Process(target=player_process,
                                      args=(base, rid, duration, chunk, players_per_proc, start, stop, q)))
    for w in workers:
        w.start()
    results = [q.get() for _ in range(probes + (procs if load else 0))]
    for w in workers:
        w.join()
    lat = {"master": [], "playlist": [], "segment": []}
    errors = 0
    acc = {"accepted": 0, "sent": 0, "statuses": {}}
    for r in results:
        if "samples" in r:
            for k, v in r["samples"].items():
                lat[k].extend(v)
            errors += r["errors"]
        else:
            acc["accepted"] += r["accepted"]
            acc["sent"] += r["sent"]
            for s, n in r["statuses"].items():
                acc["statuses"][s] = acc["statuses"].get(s, 0) + n
    return lat, errors, acc


def player_process(base, rid, duration, chunk, threads, start, stop, q):
    results = []
    lock = threading.Lock()

    class Sink:
        def put(self, r):
            with lock:
                results.append(r)

    ts = [threading.Thread(target=player_worker,
                           args=(base, rid, duration, chunk[i::threads], start, stop, Sink()))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = {"accepted": 0, "sent": 0, "statuses": {}}
    for r in results:
        total["accepted"] += r["accepted"]
        total["sent"] += r["sent"]
        for s, n in r["statuses"].items():
            total["statuses"][s] = total["statuses"].get(s, 0) + n
    q.put(total)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    source = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    learners = int(sys.argv[3]) if len(sys.argv) > 3 else 600
    per_learner = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    probes = 2
    procs = 2
    threads = 16
    os.makedirs("bench/out", exist_ok=True)
    with tempfile.TemporaryDirectory(dir="bench/out", prefix="events-") as data:
        proc, base = start_events_server(data)
        try:
            print(f"server {base}; publishing the lecture ...", file=sys.stderr)
            rid, duration = publish(base, source)
            print(f"creating {learners} learners with grants ...", file=sys.stderr)
            grants = make_learners(base, learners, rid)
            paths, seg_seconds = play_paths(base, grants[0]["url"], grants[0]["token"])
            playbacks = [(g["events_token"], f"{g['learner']}-{k}")
                         for g in grants for k in range(per_learner)]
            print(f"baseline: {probes} players fetching for {seconds:.0f} s ...", file=sys.stderr)
            base_lat, base_err, _ = phase(base, rid, duration, paths, playbacks, probes,
                                          threads, procs, seconds, load=False)
            print(f"load: {len(playbacks)} playbacks reporting events for {seconds:.0f} s ...",
                  file=sys.stderr)
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            load_lat, load_err, acc = phase(base, rid, duration, paths, playbacks, probes,
                                            threads, procs, seconds, load=True)
            server_cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
            rows = None
            try:
                import sqlite3
                db = sqlite3.connect(os.path.join(data, "yanxiu.db"))
                rows = db.execute("SELECT count(*), sum(events) FROM playback_sessions").fetchone()
            except Exception as e:  # the figure is informative only
                rows = (f"n/a ({e})", "")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log = open(os.path.join(data, "serve-stderr.log")).read()
    rate = acc["accepted"] / seconds
    offered = len(playbacks) * BATCH / PLAYBACK_INTERVAL
    requests = sum(acc["statuses"].values())
    print(f"\nplayback events on one node (SQLite): {len(playbacks)} playbacks of {learners} learners, "
          f"batches of up to {BATCH} every {PLAYBACK_INTERVAL} s per playback, {seconds:.0f} s")
    print(f"offered at most {offered:.0f} events/s; {requests / seconds:.0f} requests/s answered")
    print(f"events accepted {acc['accepted']} of {acc['sent']} sent; responses {dict(sorted(acc['statuses'].items()))}")
    print(f"stored playbacks / events: {rows[0]} / {rows[1]}; server CPU {server_cpu:.2f} cores "
          f"(load generator and server share {os.cpu_count()} cores), "
          f"{server_cpu / max(rate, 1) * 1e6:.0f} µs of server CPU per event")
    print(f"events/s: {rate:.0f}  (goal >= {GOAL_EVENTS_PER_SECOND})")
    print(f"\n{'GET':>9} {'n base':>7} {'p50 base':>9} {'p95 base':>9} {'n load':>7} {'p50 load':>9} "
          f"{'p95 load':>9} {'p95 ratio':>9}   (ms)")
    for k in ("master", "playlist", "segment"):
        b, l = base_lat[k], load_lat[k]
        print(f"{k:>9} {len(b):>7} {pct(b, .5) * 1e3:>9.2f} {pct(b, .95) * 1e3:>9.2f} {len(l):>7} "
              f"{pct(l, .5) * 1e3:>9.2f} {pct(l, .95) * 1e3:>9.2f} {pct(l, .95) / pct(b, .95):>9.2f}")
    print(f"playback request errors: baseline {base_err}, load {load_err}")
    warn = [l for l in log.splitlines() if " ERROR " in l or " WARN " in l]
    print(f"server log warnings/errors: {len(warn)}" + (f" (first: {warn[0][:200]})" if warn else ""))
    seg_p95 = pct(load_lat["segment"], .95)
    limit = 0.1 * seg_seconds
    print(f"segment p95 under load {seg_p95 * 1e3:.1f} ms vs {limit * 1e3:.0f} ms "
          f"(10 % of a {seg_seconds:.1f} s segment)")
    ok_rate = rate >= GOAL_EVENTS_PER_SECOND and not any(s >= 500 for s in acc["statuses"])
    ok_play = seg_p95 <= limit and load_err == 0
    if os.environ.get("EVENTS_INFO"):
        # A phase shown for information (e.g. one event per request): not judged.
        print(f"INFO: {rate:.0f} events/s in {requests / seconds:.0f} requests/s; playback "
              + ("not slowed" if ok_play else "SLOWED"))
        return
    print(("PASS" if ok_rate else "FAIL") + f": event ingestion {rate:.0f} events/s (goal {GOAL_EVENTS_PER_SECOND})")
    print(("PASS" if ok_play else "FAIL") + ": playback not slowed (segment p95 within 10 % of its duration, no errors)")
    sys.exit(0 if ok_rate and ok_play else 1)


if __name__ == "__main__":
    main()
