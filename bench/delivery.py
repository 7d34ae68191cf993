"""Benchmark of authorized delivery (see bench/delivery.sh): requests per second of one
`yanxiu serve` answering 1 MiB segment GETs and playlist GETs, each authorized by a
playback token, against nginx serving the very same files statically, with wrk and 64
connections on loopback; and the server's memory while it does so and while it streams
an object larger than its memory cache."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from yanxiu_bench import api, login, start_server, tus_upload  # noqa: E402

ACCOUNTS = [("producer", "producer", "物理教研室")]
# Rate limits stay on (every request pays for them, as in production), raised so that one
# loopback address may make the benchmark's requests.
CONFIG = ("[limits]\nmedia_burst = 100000000\nmedia_per_minute = 100000000\n"
          "anonymous_burst = 100000000\nanonymous_per_minute = 100000000\n")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wrk(url, secs, conns):
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency", url],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        sys.exit(f"{url}: {non2xx.group(1)} refused answers\n{out}")
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    return rps, p99


def start_nginx(root, workdir):
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 2;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }}
  server {{
    listen 127.0.0.1:0;
    root {root};
  }}
}}
""")
    # nginx cannot listen on port 0: pick a free port first.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = open(conf).read().replace("127.0.0.1:0", f"127.0.0.1:{port}")
    open(conf, "w").write(text)
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", workdir])
    time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}"


def main():
    source, secs, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    binary = "target/release/yanxiu"
    work = tempfile.mkdtemp(prefix="yanxiu-delivery-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    server, base = start_server(binary, data, ACCOUNTS, CONFIG)
    nginx = None
    try:
        producer = login(base, "producer")
        rid = tus_upload(base, producer, source)
        for _ in range(600):
            r = api(base, "GET", f"/api/v1/resources/{rid}", producer)
            status = r["processing"]["status"]
            if status in ("ready", "rejected", "failed"):
                break
            time.sleep(0.5)
        if status != "ready":
            sys.exit(f"processing ended {status}")
        token = api(base, "POST", "/api/v1/playback-tokens", producer, {"resource_id": rid})["token"]
        ladders = os.path.join(data, "media", "ladders", rid)
        job = os.listdir(ladders)[0]
        rung = os.path.join(ladders, job, "360p")
        # The same 1 MiB segment and the same media playlist for both servers.
        with open(os.path.join(rung, "bench-1mib.m4s"), "wb") as f:
            f.write(os.urandom(1 << 20))
        # An object larger than the memory cache's object limit: streamed, never held whole.
        with open(os.path.join(rung, "bench-large.mp4"), "wb") as f:
            for _ in range(200):
                f.write(os.urandom(1 << 20))
        master = subprocess.run(["curl", "-sS", f"{base}/play/{rid}/master.m3u8?token={token}"],
                                check=True, capture_output=True, text=True).stdout
        version = re.search(r"[?&]v=([0-9a-f]+)", master).group(1)
        q = f"token={token}&v={version}"
        # nginx's workers run as another user (nobody, when started as root): let them read
        # the files (mkdtemp makes the directory private).
        subprocess.run(["chmod", "-R", "a+rX", work], check=True)
        nginx, nbase = start_nginx(os.path.join(data, "media"), work)
        rel = f"ladders/{rid}/{job}/360p"
        pid = server.pid
        rss_idle = rss_kib(pid)
        results = {}
        for name, ours, theirs in [
            ("segment 1 MiB", f"{base}/play/{rid}/360p/bench-1mib.m4s?{q}", f"{nbase}/{rel}/bench-1mib.m4s"),
            ("media playlist", f"{base}/play/{rid}/360p/index.m3u8?{q}", f"{nbase}/{rel}/index.m3u8"),
        ]:
            wrk(ours, 2, conns)  # warm both
            wrk(theirs, 2, conns)
            y_rps, y_p99 = wrk(ours, secs, conns)
            n_rps, n_p99 = wrk(theirs, secs, conns)
            results[name] = (y_rps, n_rps, y_p99, n_p99)
        rss_after = rss_kib(pid)
        # Stream 200 MiB through a slow-ish reader; the peak RSS must not grow by it.
        hwm_before = rss_kib(pid, "VmHWM")
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "--limit-rate", "100M",
                        f"{base}/play/{rid}/360p/bench-large.mp4?{q}"], check=True)
        hwm_after = rss_kib(pid, "VmHWM")
        print(f"\nauthorized delivery, {conns} connections, {secs} s per run, wrk -t2 (2 cores shared)")
        print(f"{'':16}{'yanxiu req/s':>14}{'nginx req/s':>14}{'ratio':>8}{'p99 yanxiu':>12}{'p99 nginx':>11}")
        ok = True
        for name, (y, n, yp, np_) in results.items():
            ratio = y / n if n else 0
            ok &= ratio >= 0.8
            print(f"{name:16}{y:14,.0f}{n:14,.0f}{ratio:8.2f}{yp:>12}{np_:>11}")
        print(f"server RSS: idle {rss_idle / 1024:.0f} MiB, after the runs {rss_after / 1024:.0f} MiB; "
              f"peak before streaming 200 MiB {hwm_before / 1024:.0f} MiB, after {hwm_after / 1024:.0f} MiB")
        print("goal: >= 0.8x nginx for segments and playlists:", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        server.terminate()
        if nginx:
            nginx.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
