"""GBP precompute for 1% of the nodes of a (billion-edge) DiskGraph, on the memory maps.

    python experiments/bench_gbp_billion.py /work/big/g1b --workdir /work/big/gbp \\
        --feat 16 --targets-frac 0.01 --r-max 4e-8 --walks 2000 --threads 2 --block-size 16

Steps (each printed with its time):

1. features ``X ~ N(0, 1)`` ``[N, F]`` float32, seeded, written in chunks to ``WORKDIR/x_*.npy``
   by a child process (reused when present);
2. targets: each node independently with probability ``--targets-frac`` (seeded, chunked; no
   ``[N]`` permutation in memory);
3. ``--warm``: read the graph files once sequentially (page cache; the walks then never wait for
   the disk), timed on its own;
4. the timed run: :func:`gnnkit.precompute.gbp_precompute` on the DiskGraph opened read-only
   (``mmap_mode='r'``, so GBP can hand mapped pages back between its walk and correction phases)
   and the feature memmap, output to ``WORKDIR/P.npy``: CPU-s (user + system, all threads),
   wall, peak RSS (``ru_maxrss``, which counts mapped file pages while they are resident);
5. accuracy, in a child process: exact propagation ``P = sum_l w_l T^l X`` for ``--check-cols``
   columns by ``L`` full :func:`gnnkit.ops.spmm` passes over the memory map (float32), compared
   at ``--check-targets`` sampled targets.  A restriction to the reverse L-hop neighbourhood of
   the sample would not help: on a power-law graph with hubs it covers almost every arc by hop 3.

The last line is ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _load() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def feature_path(work: Path, n: int, f: int, seed: int) -> Path:
    return work / f"x_{n}_{f}_s{seed}.npy"


def make_features(path: Path, n: int, f: int, seed: int, chunk: int = 1 << 20) -> None:
    """Seeded Gaussian [n, f] float32 .npy, written chunk by chunk with plain file writes."""
    tmp = path.with_name(path.name + ".tmp")
    header = {"descr": "<f4", "fortran_order": False, "shape": (n, f)}
    rng = np.random.default_rng([seed, 0x6665])
    with open(tmp, "wb") as fh:
        np.lib.format.write_array_header_2_0(fh, header)
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            fh.write(rng.standard_normal((b - a, f), dtype=np.float32).tobytes())
    os.replace(tmp, path)


def draw_targets(n: int, frac: float, seed: int, chunk: int = 1 << 22) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x7467])
    parts = [a + np.flatnonzero(rng.random(min(chunk, n - a)) < frac) for a in range(0, n, chunk)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def warm(dg_path: Path) -> float:
    """Read the graph arrays once, sequentially, into a small reused buffer (page cache only)."""
    buf = bytearray(64 << 20)
    view = memoryview(buf)
    total = 0
    for name in ("indptr.npy", "indices.npy", "t_indptr.npy", "t_indices.npy"):
        p = dg_path / name
        if p.exists():
            with open(p, "rb", buffering=0) as fh:
                while True:
                    k = fh.readinto(view)
                    if not k:
                        break
                    total += k
    return total / 2**30


def _weights(L: int, alpha: float) -> np.ndarray:
    return np.array([alpha * (1 - alpha) ** l for l in range(L + 1)])


def check_child(args) -> dict:
    """Exact P at sampled targets for a few columns (spmm passes over the memory map)."""
    import torch

    from gnnkit.data import DiskGraph
    from gnnkit.ops import spmm

    torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    dg = DiskGraph(args.path, mmap_mode="r")
    g = dg.graph()
    n = g.num_nodes
    x = np.load(feature_path(work, n, args.feat, args.seed), mmap_mode="r")
    targets = np.load(work / "targets.npy")
    est = np.load(work / "P.npy", mmap_mode="r")
    rng = np.random.default_rng([args.seed, 0x636b])
    pick = np.sort(rng.choice(targets.size, size=min(args.check_targets, targets.size), replace=False))
    cols = np.sort(rng.choice(args.feat, size=min(args.check_cols, args.feat), replace=False))
    s = torch.from_numpy(targets[pick])
    deg = torch.from_numpy(np.diff(np.asarray(dg.indptr))).clamp(min=1).to(torch.float32)
    w = _weights(args.levels, args.alpha)
    t0, c0 = time.perf_counter(), _cpu()
    h = torch.empty(n, cols.size, dtype=torch.float32)
    for a in range(0, n, 1 << 22):  # h = D^-r x[:, cols], chunked (no [N, F] copy)
        b = min(a + (1 << 22), n)
        h[a:b] = torch.from_numpy(np.ascontiguousarray(x[a:b][:, cols])) * deg[a:b, None].pow(-args.r)
    theta = args.r_max * h.abs().sum(0, dtype=torch.float64)
    acc = float(w[0]) * h[s].double()
    for lvl in range(1, args.levels + 1):
        h = spmm(g, h, "sum")
        h.mul_(deg.reciprocal().unsqueeze(1))
        acc += float(w[lvl]) * h[s].double()
    ref = (acc * deg[s].double().pow(args.r).unsqueeze(1)).numpy()
    got = np.asarray(est[pick][:, cols], dtype=np.float64)
    err = np.abs(got - ref)
    # Hoeffding radius of gnnkit.precompute.gbp_error_bound (delta = 0.05) for these columns
    bsum = float(sum(l * abs(w[l]) for l in range(args.levels + 1)))
    rad = (deg[s].double().pow(args.r).unsqueeze(1) * theta.unsqueeze(0) * bsum *
           math.sqrt(2 * math.log(2 / 0.05) / max(args.walks, 1))).numpy()
    return {"check_targets": int(pick.size), "check_cols": cols.tolist(), "mean_abs_err": float(err.mean()),
            "max_abs_err": float(err.max()), "ref_mean_abs": float(np.abs(ref).mean()),
            "frac_over_hoeffding_radius": float((err > rad).mean()), "median_radius": float(np.median(rad)),
            "check_wall_s": time.perf_counter() - t0, "check_cpu_s": _cpu() - c0, "check_peak_rss_gib": _status("VmHWM")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="DiskGraph directory")
    ap.add_argument("--workdir", default="/tmp/gbp_billion", help="features, targets and output go here")
    ap.add_argument("--feat", type=int, default=16)
    ap.add_argument("--targets-frac", type=float, default=0.01)
    ap.add_argument("--r-max", type=float, default=4e-8, help="GBP's r_max for large graphs (Friendster)")
    ap.add_argument("--walks", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block-size", type=int, default=16)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--r", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--walk-memory-gib", type=float, default=1.0, help="walk-matrix budget per chunk of targets")
    ap.add_argument("--warm", action=argparse.BooleanOptionalAction, default=True,
                    help="read the graph files once before the timed run (default: on)")
    ap.add_argument("--resume", action="store_true", help="resume an interrupted run (same parameters)")
    ap.add_argument("--check-targets", type=int, default=100)
    ap.add_argument("--check-cols", type=int, default=4)
    ap.add_argument("--max-targets", type=int, default=None, help="cap the target count (smoke tests)")
    ap.add_argument("--task", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.workdir)
    if args.task == "check":
        print(json.dumps(check_child(args)))
        return

    import torch

    from gnnkit.data import DiskGraph
    from gnnkit.precompute import gbp_precompute

    torch.set_num_threads(args.threads)
    work.mkdir(parents=True, exist_ok=True)
    dg = DiskGraph(args.path, mmap_mode="r")
    n, e = dg.num_nodes, dg.num_edges
    print(f"graph {args.path}: N={n:,} arcs={e:,} directed={dg.directed}; load {_load()}", flush=True)
    res = {"graph": str(args.path), "num_nodes": n, "num_arcs": e, "feat": args.feat, "r_max": args.r_max,
           "walks": args.walks, "levels": args.levels, "r": args.r, "alpha": args.alpha, "threads": args.threads,
           "block_size": args.block_size, "load_before": _load()}
    xp = feature_path(work, n, args.feat, args.seed)
    if not xp.exists():
        t = time.perf_counter()
        code = ("import sys; sys.path.insert(0, %r); import bench_gbp_billion as b; from pathlib import Path; "
                "b.make_features(Path(%r), %d, %d, %d)" % (str(HERE.parent), str(xp), n, args.feat, args.seed))
        subprocess.run([sys.executable, "-c", code], check=True)
        res["features_gen_s"] = time.perf_counter() - t
        print(f"features {xp} written in {res['features_gen_s']:.1f} s", flush=True)
    x = np.load(xp, mmap_mode="r")
    targets = draw_targets(n, args.targets_frac, args.seed)
    if args.max_targets is not None:
        targets = targets[:args.max_targets]
    np.save(work / "targets.npy", targets)
    res["num_targets"] = int(targets.size)
    print(f"{targets.size:,} targets", flush=True)
    if args.warm:
        t = time.perf_counter()
        gib = warm(Path(args.path))
        res["warm_s"], res["warm_gib"] = time.perf_counter() - t, gib
        print(f"page cache warmed: {gib:.2f} GiB in {res['warm_s']:.1f} s", flush=True)
    t0, c0 = time.perf_counter(), _cpu()
    gbp_precompute(dg, x, torch.from_numpy(targets), num_levels=args.levels, r=args.r, weights="ppr",
                   alpha=args.alpha, r_max=args.r_max, num_walks=args.walks, seed=args.seed, out=work / "P.npy",
                   block_size=args.block_size, resume=args.resume, progress=True,
                   walk_memory=int(args.walk_memory_gib * 2**30))
    res.update({"wall_s": time.perf_counter() - t0, "cpu_s": _cpu() - c0, "peak_rss_gib": _peak_gib(),
                "load_after": _load()})
    print(f"GBP: {res['wall_s']:.1f} s wall, {res['cpu_s']:.1f} CPU-s, peak RSS {res['peak_rss_gib']:.2f} GiB",
          flush=True)
    if args.check_targets > 0:
        cmd = [sys.executable, str(HERE), "--task", "check"] + [a for a in sys.argv[1:] if a != "--task"]
        pr = subprocess.run(cmd, capture_output=True, text=True)
        if pr.returncode != 0:
            res["check_error"] = pr.stderr[-3000:]
        else:
            res.update(json.loads(pr.stdout.strip().splitlines()[-1]))
            print(f"accuracy on {res['check_targets']} targets x {len(res['check_cols'])} columns: mean abs err "
                  f"{res['mean_abs_err']:.3g}, max {res['max_abs_err']:.3g} (|P| mean {res['ref_mean_abs']:.3g}); "
                  f"check took {res['check_wall_s']:.0f} s", flush=True)
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
