"""Parallel encoding of long sources (see bench/chunks.sh): one source, encoded by N
`yanxiu worker` processes in chunks (N from the command line, default 1 2 4) and by one
worker in a single pass (chunking off), each on a fresh `yanxiu serve` with no in-process
worker. Wall time runs from the end of the upload to `ready`; CPU seconds are the workers'
(utime + stime of each process, read from /proc just before they are stopped), so the
extra CPU of chunking (re-decoding from a keyframe before each chunk, one more demux for
the audio, the parent's polling and the join) shows against the single pass."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from yanxiu_bench import api, login, start_server, tus_upload  # noqa: E402

BINARY = "target/release/yanxiu"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a live process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_once(source, secs, workers, chunked):
    """(wall seconds, worker CPU seconds, chunk jobs) of one encode."""
    with tempfile.TemporaryDirectory(prefix="yanxiu-chunks-") as data:
        ladder = os.path.join(data, "ladder.toml")
        with open(ladder, "w") as f:
            # Chunks of 60 s for sources over 5 min (or half the source, for a short
            # trial run); 0 turns chunking off.
            threshold = min(300.0, secs / 2) if chunked else 0.0
            f.write(f"chunk_threshold_seconds = {threshold}\nchunk_seconds = 60.0\n")
        extra = f'[media]\nladder_file = "{ladder}"\n'
        server, base = start_server(BINARY, data, [("producer", "producer", "物理教研室")],
                                    extra_config=extra, workers=0)
        config = os.path.join(data, "yanxiu.toml")
        procs = [subprocess.Popen([BINARY, "worker", "--data-dir", data, "--config", config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "RUST_LOG": "warn"})
                 for _ in range(workers)]
        try:
            token = login(base, "producer")
            rid = tus_upload(base, token, source)
            start = time.monotonic()
            while True:
                r = api(base, "GET", f"/api/v1/resources/{rid}", token)
                status = r["processing"]["status"]
                if status in ("ready", "rejected", "failed"):
                    break
                time.sleep(0.2)
            wall = time.monotonic() - start
            if status != "ready":
                sys.exit(f"{workers} workers: {status}: {r['processing']}")
            cpu = sum(cpu_seconds(p.pid) for p in procs)
            jobs = api(base, "GET", f"/api/v1/resources/{rid}/jobs", token)["items"]
            chunks = sum(1 for j in jobs if j["kind"] == "encode_chunk")
            return wall, cpu, chunks
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait()
            server.send_signal(signal.SIGTERM)
            server.wait()


def main():
    source, secs = sys.argv[1], float(sys.argv[2])
    counts = [int(n) for n in sys.argv[3:]] or [1, 2, 4]
    runs = []
    print("single pass, 1 worker ...", file=sys.stderr)
    runs.append(("single pass", 1, *run_once(source, secs, 1, chunked=False)))
    for n in counts:
        print(f"chunked, {n} worker(s) ...", file=sys.stderr)
        runs.append(("chunked", n, *run_once(source, secs, n, chunked=True)))
    base_wall = next(w for mode, n, w, _, _ in runs if mode == "chunked" and n == 1) \
        if 1 in counts else runs[0][2]
    single_cpu = runs[0][3]
    print(f"\n{secs:.0f} s 1080p30 lecture, default 4-rung ladder, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'mode':13}{'workers':>8}{'parts':>7}{'wall s':>9}{'x realtime':>12}"
          f"{'speed-up':>10}{'cpu s':>9}{'cpu vs single':>15}")
    for mode, n, wall, cpu, parts in runs:
        print(f"{mode:13}{n:>8}{parts:>7}{wall:>9.1f}{secs / wall:>12.2f}"
              f"{base_wall / wall:>10.2f}{cpu:>9.1f}{(cpu / single_cpu - 1) * 100:>+14.1f}%")
    print("speed-up: against chunked on 1 worker; cpu vs single: the workers' CPU seconds "
          "against the single pass (goal: at most +5 %)")
    # What the qc_source child does (one more decode of the whole source, with the
    # analysis), measured alone: the rest of the extra CPU is the chunking's own.
    qc_cpu = qc_seconds(source)
    print(f"the QC child's work alone (`yanxiu qc` on the source): {qc_cpu:.1f} cpu s "
          f"({qc_cpu / single_cpu * 100:.1f} % of the single pass)")
    for mode, n, wall, cpu, parts in runs[1:]:
        print(f"chunked on {n} worker(s) without it: {(cpu - qc_cpu) / single_cpu * 100 - 100:+.1f} %")


def qc_seconds(source):
    """CPU seconds of `yanxiu qc` on `source` (the child's own utime + stime)."""
    before = os.times()
    subprocess.run([BINARY, "qc", source], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    after = os.times()
    return (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)


if __name__ == "__main__":
    main()
