"""Threading under contention: a Cora GCN epoch and the 1M/10M spmm with the default thread count
and with one thread, alone and beside N busy processes.

Each measurement runs in a fresh worker process (so the thread settings of one cannot leak into
another); the busy processes are pure-Python loops started and killed by this script (each one
also ends by itself after ``--busy-limit`` seconds). ``--baseline PATH`` runs the same workers with
``PYTHONPATH=PATH`` too (an older checkout with its built extension), interleaved with the current
tree, so old and new policy are compared in the same run.

    python experiments/bench_contention.py --busy 2,4 --baseline /tmp/gnnkit-base

Target (issue 15): beside busy processes the default thread count takes <= 1.3x the one-thread
time; alone it is no slower than before. The Cora dataset is read from ``$GNNKIT_DATA`` /
``../shared/datasets``; without it a generated graph of Cora's size is used (2708 nodes, 5278
edges, 1433 binary features), which the output says. Prints the numpy triad bandwidth and the load
average beside every figure: the machine may be shared. Ends with one line ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import triad_gbps  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# ----------------------------------------------------------------------------- workers
def _cora(root):
    import torch

    try:
        from gnnkit.data import get_dataset

        ds = get_dataset("cora", root=root)
        return ds.graph, ds.x, ds.y, "cora"
    except Exception:  # absent dataset: a generated graph of Cora's size
        from gnnkit import Graph

        gen = torch.Generator().manual_seed(0)
        n, m, f = 2708, 5278, 1433
        ei = torch.randint(0, n, (2, m), generator=gen)
        ei = ei[:, ei[0] != ei[1]]
        x = (torch.rand(n, f, generator=gen) < 0.0127).float()
        y = torch.randint(0, 7, (n,), generator=gen)
        return Graph.from_edge_index(ei, num_nodes=n, directed=False), x, y, "generated-cora-size"


def _worker_cora(a) -> dict:
    import torch

    from gnnkit.nn.models import GCN

    g, x, y, name = _cora(a.root)
    torch.manual_seed(0)
    model = GCN(x.shape[1], int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    train = torch.arange(140)

    def step():
        model.train()
        opt.zero_grad()
        out = model(x, g)
        torch.nn.functional.cross_entropy(out[train], y[train]).backward()
        opt.step()

    return {"graph": name, "times": _time(step, a.warmup, a.reps)}


def _worker_spmm(a) -> dict:
    import torch

    from gnnkit import Graph
    from gnnkit.ops import spmm

    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, a.nodes, (2, a.arcs), generator=gen)
    g = Graph.from_edge_index(ei, num_nodes=a.nodes)
    x = torch.randn(a.nodes, a.channels, generator=gen).requires_grad_()
    grad = torch.ones(a.nodes, a.channels)

    def step():
        out = spmm(g, x)
        out.backward(grad)
        x.grad = None

    return {"graph": f"random {a.nodes} nodes / {a.arcs} arcs, F={a.channels}",
            "times": _time(step, a.warmup, a.reps)}


def _time(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


def worker(a) -> None:
    import gnnkit  # noqa: F401  (first, as the `gnnkit` command does: its policy is under test)
    import torch

    if a.threads:  # torch's count (the baseline has no gnnkit.set_num_threads)
        torch.set_num_threads(a.threads)

    t0 = time.process_time()
    w0 = time.perf_counter()
    res = {"cora": _worker_cora, "spmm": _worker_spmm}[a.worker](a)
    res["cpu_per_wall"] = (time.process_time() - t0) / (time.perf_counter() - w0)
    res["threads"] = torch.get_num_threads()
    print("WORKER " + json.dumps(res), flush=True)


# ----------------------------------------------------------------------------- driver
class Busy:
    """N pure-Python busy loops, each ending by itself after `limit` seconds; killed on exit."""

    def __init__(self, n: int, limit: float):
        self.n, self.limit, self.procs = n, limit, []

    def __enter__(self):
        code = f"import time\nt = time.time() + {self.limit}\nwhile time.time() < t:\n    pass\n"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(self.n)]
        time.sleep(0.5 if self.n else 0)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


def run_worker(a, work: str, threads: int, pythonpath: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", work, "--threads", str(threads), "--reps", str(a.reps),
           "--warmup", str(a.warmup), "--nodes", str(a.nodes), "--arcs", str(a.arcs),
           "--channels", str(a.channels)]
    if a.root:
        cmd += ["--root", a.root]
    env = dict(os.environ, PYTHONPATH=pythonpath)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_WAIT_POLICY"):
        env.pop(k, None)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.worker_timeout)
    for line in r.stdout.splitlines():
        if line.startswith("WORKER "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker {work} failed (rc={r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--busy", default="2,4", help="numbers of busy processes beside the run (0 = alone is always run)")
    p.add_argument("--work", default="cora,spmm", help="cora, spmm or both")
    p.add_argument("--reps", type=int, default=0, help="timed repetitions (default: 60 cora, 5 spmm)")
    p.add_argument("--warmup", type=int, default=-1)
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--arcs", type=int, default=10_000_000)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--baseline", default=None, help="checkout of the old code (built) to compare against")
    p.add_argument("--busy-limit", type=float, default=900.0, help="busy loops end by themselves after this")
    p.add_argument("--worker-timeout", type=float, default=900.0)
    p.add_argument("--root", default=None, help="dataset root (default $GNNKIT_DATA or ../shared/datasets)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.root is None:
        a.root = os.environ.get("GNNKIT_DATA") or str(ROOT.parent / "shared" / "datasets")
    if a.worker:
        a.reps = a.reps or (60 if a.worker == "cora" else 5)
        a.warmup = a.warmup if a.warmup >= 0 else (5 if a.worker == "cora" else 1)
        worker(a)
        return 0

    busy = [0] + [int(b) for b in a.busy.split(",") if b.strip() and int(b) > 0]
    trees = [("new", str(ROOT))] + ([("old", str(Path(a.baseline).resolve()))] if a.baseline else [])
    print(f"cores: {os.cpu_count()}; load before: {os.getloadavg()}; triad {triad_gbps(20_000_000):.1f} GB/s "
          "(the machine may be shared with other jobs: compare ratios within one run)", flush=True)
    results = []
    for work in a.work.split(","):
        wa = argparse.Namespace(**vars(a))
        wa.reps = a.reps or (60 if work == "cora" else 5)
        wa.warmup = a.warmup if a.warmup >= 0 else (5 if work == "cora" else 1)
        for nb in busy:
            with Busy(nb, a.busy_limit):
                row = {"work": work, "busy": nb, "load": os.getloadavg()[0]}
                for tag, path in trees:
                    for threads in (0, 1):  # 0: the default count
                        r = run_worker(wa, work, threads, path)
                        key = f"{tag}_{'default' if threads == 0 else '1thread'}"
                        row[key + "_ms"] = 1e3 * statistics.median(r["times"])
                        row[key + "_cpu_per_wall"] = round(r["cpu_per_wall"], 2)
                        row["graph"] = r["graph"]
                        row["default_threads"] = r["threads"] if threads == 0 else row.get("default_threads")
                row["load_after"] = os.getloadavg()[0]
                row["triad_gbps"] = round(triad_gbps(20_000_000), 1)
            for tag, _ in trees:
                row[f"{tag}_default_over_1thread"] = round(row[f"{tag}_default_ms"] / row[f"{tag}_1thread_ms"], 2)
            if a.baseline:
                row["new_over_old_default"] = round(row["new_default_ms"] / row["old_default_ms"], 2)
            results.append(row)
            line = (f"{work:5s} busy={nb}  load {row['load']:.1f}->{row['load_after']:.1f}  "
                    f"triad {row['triad_gbps']} GB/s  " + "  ".join(
                        f"{tag}: default({row['default_threads']}) {row[f'{tag}_default_ms']:.1f} ms, "
                        f"1 thread {row[f'{tag}_1thread_ms']:.1f} ms, ratio {row[f'{tag}_default_over_1thread']}"
                        for tag, _ in trees))
            print(line, flush=True)
    print("RESULT " + json.dumps({"rows": results, "cores": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
