#!/usr/bin/env python3
"""Benchmark (not a test) of the VOD service, run by bench/upload.sh:

1. upload throughput and the server's peak memory for a large upload (2 GiB
   by default) sent with curl over the tus protocol in one streamed PATCH;
2. time from "upload complete" to "first playable" (the provisional master
   playlist of the growing ladder is in storage) and to "ready", for a
   lecture-like 1080p30 source.

Prints a table; the reference in the same run is the raw loopback copy speed
(curl to a server that discards the bytes) so the upload figure reads as a
fraction of what the machine can move."""
import glob
import http.server
import os
import re
import sys
import tempfile
import threading
import time

from yanxiu_bench import api, login, run, start_server

BIN = "target/release/yanxiu"


def start_upload_server(data):
    proc, base = start_server(BIN, data, [("producer", "producer", "bench")])
    return proc, base, login(base, "producer")


def tus_upload(base, token, path, name):
    size = os.path.getsize(path)
    meta = "filename " + __import__("base64").b64encode(name.encode()).decode()
    out = run("curl", "-sS", "-i", "-X", "POST", base + "/api/v1/uploads",
              "-H", "Tus-Resumable: 1.0.0", "-H", f"Upload-Length: {size}",
              "-H", f"Upload-Metadata: {meta}", "-H", f"Authorization: Bearer {token}").stdout
    location = re.search(r"(?im)^location:\s*(\S+)", out).group(1)
    url = location if location.startswith("http") else base + location
    t0 = time.monotonic()
    out = run("curl", "-sS", "-i", "-X", "PATCH", url, "-T", path,
              "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
              "-H", "Content-Type: application/offset+octet-stream",
              "-H", f"Authorization: Bearer {token}", "-H", "Expect:").stdout
    t1 = time.monotonic()
    rid = re.search(r"(?im)^yanxiu-resource-id:\s*(\S+)", out)
    return t1 - t0, (rid.group(1) if rid else None), t1


def vm_hwm_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Discard(http.server.BaseHTTPRequestHandler):
    def do_PATCH(self):
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def raw_copy_seconds(path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Discard)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    run("curl", "-sS", "-X", "PATCH", f"http://127.0.0.1:{srv.server_port}/", "-T", path, "-H", "Expect:")
    t = time.monotonic() - t0
    srv.shutdown()
    return t


def main():
    size_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    lecture = sys.argv[2]
    with tempfile.TemporaryDirectory(dir=".") as data:
        big = os.path.join(data, "big.bin")
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(size_mib):
                f.write(block)
        proc, base, token = start_upload_server(data)
        try:
            rss_idle = vm_hwm_mb(proc.pid)
            secs, _, _ = tus_upload(base, token, big, "big.mp4")
            rss_after = vm_hwm_mb(proc.pid)
            raw = raw_copy_seconds(big)
            os.remove(big)
            print(f"upload: {size_mib} MiB in {secs:.2f} s = {size_mib / secs:.0f} MiB/s "
                  f"(raw loopback copy {size_mib / raw:.0f} MiB/s, ratio {raw / secs:.2f}); "
                  f"server peak RSS {rss_idle:.0f} MiB before, {rss_after:.0f} MiB after")

            _, rid, done = tus_upload(base, token, lecture, "lecture.mp4")
            first = ready = None
            while ready is None and time.monotonic() - done < 600:
                if first is None and glob.glob(os.path.join(data, "media", "ladders", rid, "*", "master.m3u8")):
                    first = time.monotonic() - done
                r = api(base, "GET", f"/api/v1/resources/{rid}", token)
                if r["processing"]["status"] in ("ready", "failed", "rejected"):
                    ready = time.monotonic() - done
                    status = r["processing"]["status"]
                time.sleep(0.05)
            print(f"fast start: upload complete -> first playable {first:.2f} s, -> {status} {ready:.2f} s "
                  f"({os.path.getsize(lecture) / 2**20:.0f} MiB source)")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
