"""Spawn W gloo ranks of tests/distributed/_dist_worker.py on 127.0.0.1 (free port, timeout,
no process left behind)."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

WORKER = str(Path(__file__).with_name("_dist_worker.py"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(case, parts, out, opts=None, world=2, timeout=300, env_extra=None):
    """Run the ranks; returns [(returncode, stderr text, seconds)] per rank."""
    port = free_port()
    procs = []
    t0 = time.monotonic()
    for r in range(world):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(world), LOCAL_RANK=str(r),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1",
                   **(env_extra or {}))
        procs.append(subprocess.Popen([sys.executable, WORKER, case, str(parts), str(out), json.dumps(opts or {})],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            left = max(1.0, timeout - (time.monotonic() - t0))
            try:
                so, se = p.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                p.kill()
                so, se = p.communicate()
                se += "\n[timed out]"
            results.append((p.returncode, so + se, time.monotonic() - t0))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results
