"""Benchmark of the neighbour sampler and of out-of-core mini-batch GraphSAGE training.

1. Generates (once, in a subprocess, cached under ``--root``) an ogbn-products-sized graph --
   2,449,029 nodes and ~62M arcs, symmetric, coalesced, no self loops -- as a gnnkit DiskGraph,
   plus random float32 features ``[N, 100]`` and 47-class labels as ``.npy`` files.  The graph is
   synthetic: ``--pairs`` random edges whose one endpoint is uniform and the other has density
   proportional to ``x^{-1/2}`` over a random permutation of the ids (skewed degrees, max degree
   ~1e4 like products), symmetrised and deduplicated.
2. Opens it memory-mapped and samples 3-layer ``[15, 10, 5]`` batches of 1024 random seeds with
   1 and with all threads: sampled arcs/s, batches/s (wall clock; and per thread from the
   thread's CPU time, since the machine may be shared), peak RSS.  The same for torch-sparse's
   ``neighbor_sample`` when it is installed.
3. Trains GraphSAGE (3 x SAGEConv mean, hidden ``--hidden``, ``--threads`` torch threads) for
   one full epoch over 10% of the nodes as seeds (240 batches) through the loader pipeline
   (item sampler -> neighbour sampler -> feature fetcher from the memory maps, background
   prefetch thread): epoch time, time per step, time waiting for batches, peak RSS
   (``ru_maxrss``, which counts the resident pages of the memory maps too).
4. Profiles ``--profile-batches`` batches phase by phase in the calling thread -- sample (C++
   op), block construction, feature / label gather, forward, backward, optimizer -- then runs the
   same batches pre-gathered in RAM (the compute-only step) and reports the pipeline step over
   the compute-only step, the forward+backward matmul FLOPs (FlopCounterMode) and their rate as a
   fraction of the measured dense matmul rate at the model's shapes.  Prints ``os.getloadavg()``:
   the machine may be shared.  ``--features-dtype bfloat16`` trains on a bf16 copy of the
   features (half the bytes gathered and aggregated; fp32 accumulation and weights).
5. ``--reorder rcm degree rabbit``: the cost of renumbering the DiskGraph with each method
   (:func:`gnnkit.reorder.reorder_disk`, a fresh process each: seconds and peak RSS).

Ends with one line ``RESULT {json}``.  Run: ``python experiments/bench_sampling.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gnnkit.sampling.fetcher import as_rows

N_PRODUCTS = 2_449_029
F, C = 100, 47


def rss_mib() -> dict:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cur = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
    return {"peak_rss_mib": round(peak, 1), "rss_mib": round(cur, 1)}


# ------------------------------------------------------------------------------------ generate
def generate(root: Path, n: int, pairs: int, seed: int) -> None:
    import torch

    from gnnkit.data.disk import save_graph
    from gnnkit.graph import Graph

    rng = np.random.default_rng(seed)
    t0 = time.time()
    perm = rng.permutation(n).astype(np.int64)
    u = perm[(n * rng.random(pairs) ** 2).astype(np.int64)]
    v = rng.integers(0, n, pairs, dtype=np.int64)
    keep = u != v
    u, v = u[keep], v[keep]
    key = np.concatenate([v * n + u, u * n + v])  # dst * n + src, both directions
    del u, v, keep
    key.sort(kind="stable")
    key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    dst = key // n
    indices = (key - dst * n).astype(np.int32)
    del key
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
    del dst
    g = Graph(torch.from_numpy(indptr), torch.from_numpy(indices), directed=False, validate=False)
    save_graph(root / "graph", g, coalesced=True, overwrite=True)
    x = np.lib.format.open_memmap(root / "features.npy", mode="w+", dtype=np.float32, shape=(n, F))
    step = 200_000
    for s in range(0, n, step):
        x[s:s + step] = rng.standard_normal((min(step, n - s), F), dtype=np.float32)
    x.flush()
    del x
    np.save(root / "labels.npy", rng.integers(0, C, n, dtype=np.int64))
    (root / "DONE").write_text(json.dumps({"nodes": n, "arcs": int(indptr[-1]), "seconds": time.time() - t0}))


# ------------------------------------------------------------------------------------ sampling
def bench_sampler(g, n, batches, fanouts, batch_size, threads, seed=0):
    import torch

    from gnnkit.sampling import sample_neighbors

    torch.set_num_threads(threads)
    rng = torch.Generator().manual_seed(seed)
    seeds = [torch.randperm(n, generator=rng)[:batch_size] for _ in range(batches)]
    sample_neighbors(g, seeds[0], fanouts, seed=0)  # warm-up: page in the touched maps
    edges = nodes = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for b, s in enumerate(seeds):
        r = sample_neighbors(g, s, fanouts, seed=b + 1)
        edges += r.num_edges
        nodes += r.n_id.numel()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"threads": threads, "batches": batches, "sampled_edges": edges, "sampled_nodes": nodes,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "edges_per_s": round(edges / wall), "batches_per_s": round(batches / wall, 3),
            "edges_per_cpu_s": round(edges / cpu)}


def bench_torch_sparse(g, n, batches, fanouts, batch_size, seed=0):
    try:
        import torch_sparse  # noqa: F401
    except ImportError:
        return None
    import torch

    colptr = g.indptr
    row = g.indices.to(torch.int64)
    rng = torch.Generator().manual_seed(seed)
    seeds = [torch.randperm(n, generator=rng)[:batch_size] for _ in range(batches)]
    edges = 0
    t0 = time.perf_counter()
    for s in seeds:
        out = torch.ops.torch_sparse.neighbor_sample(colptr, row, s, fanouts, False, True)
        edges += out[1].numel()
    wall = time.perf_counter() - t0
    return {"edges_per_s": round(edges / wall), "batches_per_s": round(batches / wall, 3)}


# ------------------------------------------------------------------------------------ training
def matmul_rate(threads: int, rows: int = 160_000, k: int = 128, n: int = 128, reps: int = 5) -> dict:
    """Measured dense fp32 matmul rate (best of ``reps``) at the model's shapes: [rows, k] x [k, n]."""
    import torch

    torch.set_num_threads(threads)
    a, w = torch.randn(rows, k), torch.randn(k, n)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, w)
        best = min(best, time.perf_counter() - t)
    return {"shape": [rows, k, n], "threads": threads, "gflops": round(2 * rows * k * n / best / 1e9, 2)}


def features(root: Path, dtype: str):
    """The feature memory map as a zero-copy tensor: float32, or bf16 (a uint16 ``.npy`` made once
    from ``features.npy`` by rounding to nearest even, viewed as ``torch.bfloat16``)."""
    import torch

    x = np.load(root / "features.npy", mmap_mode="r")
    if dtype == "float32":
        return as_rows(x, "features")
    path = root / "features_bf16.npy"
    if not path.exists():
        out = np.lib.format.open_memmap(root / "features_bf16.tmp.npy", mode="w+", dtype=np.uint16, shape=x.shape)
        for s in range(0, x.shape[0], 200_000):
            out[s:s + 200_000] = torch.from_numpy(np.ascontiguousarray(x[s:s + 200_000])).bfloat16().view(
                torch.int16).numpy().view(np.uint16)
        out.flush()
        del out
        os.replace(root / "features_bf16.tmp.npy", path)
    return as_rows(np.load(path, mmap_mode="r"), "features").view(torch.bfloat16)


def _model(seed):
    import torch

    from gnnkit.nn import MiniBatchGNN

    torch.manual_seed(seed)
    model = MiniBatchGNN("sage", F, HIDDEN[0], C, num_layers=3, dropout=0.5)
    # fused Adam: one kernel per step instead of ~10 small ops per parameter (each small op
    # pays a thread-pool round trip, which is what dominates them on a loaded machine)
    return model, torch.optim.Adam(model.parameters(), lr=3e-3, fused=True)


HIDDEN = [128]


def _step(model, opt, x, graph, y):
    """One training step; returns (loss, t_forward, t_backward, t_optimizer)."""
    from torch.nn import functional as Fn

    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = Fn.cross_entropy(model(x, graph), y)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    t3 = time.perf_counter()
    return float(loss.detach()), t1 - t0, t2 - t1, t3 - t2


def _loader(g, xm, ym, train, prefetch, seed):
    from gnnkit.sampling import NeighborLoader

    return NeighborLoader(g, [15, 10, 5], input_nodes=train, batch_size=1024, features=xm, labels=ym,
                          prefetch=prefetch, seed=seed)


def train_epoch(g, xm, ym, train, max_batches, prefetch, seed=0):
    """The full epoch through the loader pipeline (background prefetch), timed per step."""
    import torch

    torch.manual_seed(seed)
    loader = _loader(g, xm, ym, train, prefetch, seed)
    model, opt = _model(seed)
    model.train()
    waited, nb, loss_sum, comp = 0.0, 0, 0.0, 0.0
    t0 = time.perf_counter()
    it = iter(loader)
    while True:
        tw = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        waited += time.perf_counter() - tw
        loss, tf, tb, to = _step(model, opt, batch.x, batch.graph, batch.target)
        comp += tf + tb + to
        loss_sum += loss
        nb += 1
        del batch  # release this batch before waiting for the next one
        if max_batches and nb >= max_batches:
            it.close()
            break
    wall = time.perf_counter() - t0
    full = len(loader)
    return {"train_seeds": int(train.numel()), "batches_per_epoch": full, "batches_run": nb,
            "epoch_s": round(wall, 2), "epoch_extrapolated_s": None if nb == full else round(wall * full / nb, 2),
            "step_s": round(wall / nb, 4), "compute_in_epoch_s": round(comp / nb, 4),
            "waiting_for_batches_s": round(waited, 2), "mean_loss": round(loss_sum / max(nb, 1), 4),
            "prefetch": prefetch}


def _addmm_flop(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    """FLOPs of ``self.addmm_(a, b)``: 2 m k n (FlopCounterMode passes shapes)."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def profile_phases(g, xm, ym, train, batches, seed=0):
    """Phase by phase, in the calling thread (no overlap): sample (C++ op), block construction
    (Python wrapping of the op's CSR), feature / label gather from the memory maps, forward,
    backward, optimizer; then the same batches again pre-gathered in RAM (the compute-only step)
    and the matmul FLOPs of forward + backward (torch's FlopCounterMode: mm/addmm only)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gnnkit.ops._library import ops
    from gnnkit.sampling.fetcher import gather_rows
    from gnnkit.sampling.items import ItemSampler
    from gnnkit.sampling.neighbor import build_blocks

    items = ItemSampler(train, 1024, seed=seed)
    model, opt = _model(seed)
    model.train()
    fan = [15, 10, 5]
    ph = {k: 0.0 for k in ("sample", "blocks", "gather_x", "gather_y", "forward", "backward", "optimizer")}
    kept, sizes = [], []
    for k, ib in enumerate(items):
        if k > batches:
            break
        t0 = time.perf_counter()
        # what sample_neighbors does, timed in two parts: the C++ op (sampling + the blocks'
        # CSR, built in C++) and the Python wrapping of its outputs into Block objects
        res = ops().neighbor_sample(g.indptr, g.indices, ib.items, fan, None, ib.seed, None, None, None)
        t1 = time.perf_counter()
        n_id, hp = res[0], res[1].tolist()
        blocks = build_blocks(hp, res[2], res[3], res[4], n_id, len(fan), None, False, res[8])
        t2 = time.perf_counter()
        x = gather_rows(xm, n_id)
        t3 = time.perf_counter()
        y = gather_rows(ym, n_id[: ib.items.numel()])
        t4 = time.perf_counter()
        _, tf, tb, to = _step(model, opt, x, blocks, y)
        if k == 0:
            continue  # warm-up
        for key, v in zip(ph, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, tf, tb, to)):
            ph[key] += v
        sizes.append([b.num_src_nodes for b in blocks] + [blocks[-1].num_dst_nodes])
        if len(kept) < 3:
            kept.append((x, blocks, y))
    nb = max(len(sizes), 1)
    res = {k: round(v / nb, 4) for k, v in ph.items()}
    res["fwd_bwd_opt"] = round(res["forward"] + res["backward"] + res["optimizer"], 4)
    res["sum_of_phases"] = round(sum(v for k, v in res.items() if k in ph), 4)
    res["batches"] = nb
    res["mean_layer_nodes"] = [round(sum(c) / nb) for c in zip(*sizes)]
    # compute-only step on pre-gathered tensors (3 batches held in RAM, cycled)
    steps, t = 0, time.perf_counter()
    tfb = 0.0
    while steps < nb:
        x, blocks, y = kept[steps % len(kept)]
        _, tf, tb, to = _step(model, opt, x, blocks, y)
        tfb += tf + tb
        steps += 1
    res["pregathered_step_s"] = round((time.perf_counter() - t) / steps, 4)
    res["pregathered_fwd_bwd_s"] = round(tfb / steps, 4)
    flops = []
    for x, blocks, y in kept:
        # torch's table covers mm/addmm but not the in-place addmm_ (SAGEConv's fused step
        # accumulates its root term with it): count it with the same formula
        with FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: _addmm_flop}) as fc:
            from torch.nn import functional as Fn

            Fn.cross_entropy(model(x, blocks), y).backward()
        flops.append(fc.get_total_flops())
    res["fwd_bwd_matmul_gflop"] = round(sum(flops) / len(flops) / 1e9, 3)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.environ.get("GNNKIT_BENCH_PRODUCTS", "/tmp/gnnkit_bench_products"),
                    help="cache of the generated graph (outside the repository; reused)")
    ap.add_argument("--nodes", type=int, default=N_PRODUCTS)
    ap.add_argument("--pairs", type=int, default=31_300_000, help="random edges before symmetrising")
    ap.add_argument("--batches", type=int, default=20, help="sampling batches per thread setting")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--train-frac", type=float, default=0.1)
    ap.add_argument("--max-train-batches", type=int, default=0, help="0 = the full epoch")
    ap.add_argument("--prefetch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the training part")
    ap.add_argument("--profile-batches", type=int, default=8, help="batches of the phase profile")
    ap.add_argument("--skip-sampling", action="store_true", help="skip the sampler-only part")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--features-dtype", default="float32", choices=["float32", "bfloat16"],
                    help="feature storage of the training part (bfloat16: a uint16 copy of features.npy, "
                         "made once; the kernels accumulate in fp32)")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--reorder", nargs="*", default=[],
                    help="also measure the cost (seconds, peak RSS of a fresh process) of renumbering the "
                         "DiskGraph with these methods (gnnkit.reorder.reorder_disk; rcm degree rabbit metis)")
    ap.add_argument("--reorder-only", default=None, help=argparse.SUPPRESS)  # internal: one subprocess
    args = ap.parse_args(argv)
    root = Path(args.root)
    if args.generate_only:
        root.mkdir(parents=True, exist_ok=True)
        generate(root, args.nodes, args.pairs, seed=0)
        return 0
    if args.reorder_only:
        from gnnkit.reorder import reorder_disk

        t = time.perf_counter()
        r = reorder_disk(root / "graph", root / f"graph_{args.reorder_only}", args.reorder_only, overwrite=True)
        print(json.dumps({"seconds": round(time.perf_counter() - t, 1), **r.info, **rss_mib()}))
        return 0
    res = {"machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}}
    if not (root / "DONE").exists():
        # generation runs in a child process so that its memory does not count below
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate-only", "--root", str(root), "--nodes",
                        str(args.nodes), "--pairs", str(args.pairs)], check=True)
        res["generate_s"] = round(time.perf_counter() - t, 1)
    import torch

    from gnnkit.data.disk import DiskGraph

    dg = DiskGraph(root / "graph")
    g = dg.graph()
    n = dg.num_nodes
    res["graph"] = {"nodes": n, "arcs": dg.num_edges, "format": "DiskGraph (memory-mapped)",
                    "max_in_degree": int(np.diff(dg.indptr).max())}
    fan = [15, 10, 5]
    if not args.skip_sampling:
        res["sampling"] = [bench_sampler(g, n, args.batches, fan, 1024, t) for t in (1, os.cpu_count() or 1)]
        res["sampling_rss"] = rss_mib()
        ts = bench_torch_sparse(g, n, args.batches, fan, 1024)
        per_thread = res["sampling"][0]["edges_per_cpu_s"]
        if ts is None:
            res["torch_sparse"] = "absent (torch_sparse not installed)"
            res["speedup_vs_torch_sparse"] = None
        else:
            res["torch_sparse"] = ts
            res["speedup_vs_torch_sparse"] = round(res["sampling"][-1]["edges_per_s"] / ts["edges_per_s"], 2)
        res["target_edges_per_s_per_thread"] = 5_000_000
        res["meets_sampling_target_cpu_time"] = per_thread >= 5_000_000
        res["meets_sampling_target_wall_1thread"] = res["sampling"][0]["edges_per_s"] >= 5_000_000
    if not args.skip_train:
        HIDDEN[0] = args.hidden
        torch.set_num_threads(args.threads)
        res["threads"] = args.threads
        xm = features(root, args.features_dtype)
        ym = as_rows(np.load(root / "labels.npy", mmap_mode="r"), "labels")
        res["features_dtype"] = args.features_dtype
        train = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: int(args.train_frac * n)]
        res["matmul"] = matmul_rate(args.threads)
        res["loadavg_before_epoch"] = os.getloadavg()
        res["train"] = train_epoch(g, xm, ym, train, args.max_train_batches, args.prefetch)
        res["train"].update(rss_mib())  # before the profile below keeps batches in RAM
        res["loadavg_after_epoch"] = os.getloadavg()
        res["meets_rss_target_4gib"] = res["train"]["peak_rss_mib"] <= 4096
        res["phases"] = p = profile_phases(g, xm, ym, train, args.profile_batches)
        fb = p["pregathered_fwd_bwd_s"]
        p["fwd_bwd_gflops"] = round(p["fwd_bwd_matmul_gflop"] / fb, 2)
        p["fwd_bwd_fraction_of_matmul_rate"] = round(p["fwd_bwd_gflops"] / res["matmul"]["gflops"], 3)
        res["step_over_pregathered"] = round(res["train"]["step_s"] / p["pregathered_step_s"], 3)
        res["targets"] = {"step_le_1.2x_pregathered": res["step_over_pregathered"] <= 1.2,
                          "fwd_bwd_ge_50pct_matmul": p["fwd_bwd_fraction_of_matmul_rate"] >= 0.5,
                          "epoch_le_100s": res["train"]["epoch_extrapolated_s"] is None
                          and res["train"]["epoch_s"] <= 100,
                          "peak_rss_le_4gib": res["meets_rss_target_4gib"]}
        print("phase breakdown (s/batch, sequential): " + ", ".join(
            f"{k} {p[k]:.3f}" for k in ("sample", "blocks", "gather_x", "gather_y", "forward", "backward",
                                         "optimizer")), flush=True)
        print(f"pre-gathered step {p['pregathered_step_s']:.3f} s; pipeline step {res['train']['step_s']:.3f} s "
              f"({res['step_over_pregathered']:.2f}x); fwd+bwd {p['fwd_bwd_gflops']:.1f} GFLOP/s = "
              f"{100 * p['fwd_bwd_fraction_of_matmul_rate']:.0f}% of matmul {res['matmul']['gflops']:.1f} GFLOP/s; "
              f"epoch {res['train']['epoch_s']:.1f} s; peak RSS {res['train']['peak_rss_mib']:.0f} MiB; "
              f"load {os.getloadavg()}", flush=True)
    if args.reorder:
        res["reorder_cost"] = {}
        for m in args.reorder:
            p = subprocess.run([sys.executable, __file__, "--root", str(root), "--reorder-only", m],
                               capture_output=True, text=True)
            res["reorder_cost"][m] = (json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0
                                      else p.stderr[-500:])
            print(f"reorder {m}: {res['reorder_cost'][m]}", flush=True)
    res["machine"]["loadavg_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
