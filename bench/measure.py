#!/usr/bin/env python3
"""Runs a command and prints its wall time and CPU time (user + system of the
command and its children) as JSON on stderr's last line: used by the
benchmark scripts to compare yanxiu with a reference tool in the same run."""
import json
import os
import resource
import subprocess
import sys
import time

def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] != "--":
        print("usage: measure.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    cmd = sys.argv[2:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-4000:])
    print(json.dumps({"wall": round(wall, 2), "cpu": round(cpu, 2),
                      "max_rss_mb": round(after.ru_maxrss / 1024, 1),
                      "exit": proc.returncode}))
    return proc.returncode

if __name__ == "__main__":
    sys.exit(main())
