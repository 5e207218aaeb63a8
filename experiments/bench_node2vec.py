"""node2vec on Cora: gnnkit (compiled walks + compiled SGNS) vs PecanPy + gensim Word2Vec.

    OMP_NUM_THREADS=1 python experiments/bench_node2vec.py [--threads 1] [--seeds 3]

Same settings on both sides: p = q = 1, dim 128, walk length 80, 10 walks per node, window 10,
5 negatives, one epoch, learning rate 0.025 -> 0.0001, down-sampling 1e-3 (gensim's defaults as
PecanPy's CLI uses them).  The peer runs in its own venv (``python experiments/peers.py setup
pecanpy``) as a subprocess; its time is walks + training as measured inside it (imports and numba
compilation excluded, reported apart).  Both embeddings are scored by the same linear probe
(gnnkit.embed.linear_probe: L2 chosen on the validation nodes) on Cora's public split.  Triad
bandwidth and load average are printed beside the timings.  Last line: RESULT {json}.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def peer_python():
    try:
        from peers import peer_python as pp
        return pp("pecanpy")
    except ImportError:
        d = os.environ.get("GNNKIT_PEERS_DIR", str(HERE.parent / ".peers"))
        py = Path(d) / "pecanpy" / "bin" / "python"
        return py if py.exists() else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from gnnkit.data import get_dataset
    from gnnkit.embed import linear_probe, node2vec_embedding

    try:
        from _common import triad_gbps
    except ImportError:
        from bench_ops import triad_gbps
    ds = get_dataset("cora")
    sp = ds.split(0)
    res = {"load_start": os.getloadavg(), "triad_gbps": triad_gbps(1 << 24, 3), "threads": args.threads,
           "gnnkit": [], "peer": []}
    py = peer_python()
    tmp = Path(tempfile.mkdtemp())
    ei = ds.graph.edge_index.numpy()
    np.savetxt(tmp / "cora.tsv", ei[:, ei[0] < ei[1]].T, fmt="%d", delimiter="\t")
    for seed in range(args.seeds):
        t, c = time.perf_counter(), time.process_time()
        emb, tm = node2vec_embedding(ds.graph, 128, walk_length=80, walks_per_node=10, window=10, seed=seed,
                                     return_timing=True)
        total, cpu = time.perf_counter() - t, time.process_time() - c
        acc = linear_probe(emb, ds.y, sp["train"], sp["test"], val=sp["val"])["test_acc"]
        res["gnnkit"].append({"acc": acc, "walk_train_s": total, "walk_train_cpu_s": cpu, **tm})
        print(f"gnnkit seed {seed}: acc {100 * acc:.1f}, walks+training {total:.2f} s wall, {cpu:.2f} CPU-s "
              f"(walks {tm['walk_s']:.2f} s)", flush=True)
        if py is None:
            continue
        out = subprocess.run([str(py), str(HERE / "_peer_node2vec.py"), str(tmp / "cora.tsv"), str(tmp / "peer.npy"),
                              str(ds.num_nodes), "128", "80", "10", "10", "1", "1", str(args.threads), str(seed)],
                             capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError(f"peer failed: {out.stderr[-2000:]}")
        pt = json.loads(out.stdout.strip().splitlines()[-1])
        pemb = torch.from_numpy(np.load(tmp / "peer.npy"))
        pacc = linear_probe(pemb, ds.y, sp["train"], sp["test"], val=sp["val"])["test_acc"]
        res["peer"].append({"acc": pacc, **pt})
        print(f"PecanPy+gensim seed {seed}: acc {100 * pacc:.1f}, walks+training {pt['walk_train_s']:.2f} s wall, "
              f"{pt['walk_train_cpu_s']:.2f} CPU-s (walks {pt['walk_s']:.2f} s / {pt['walk_cpu_s']:.2f} CPU-s, "
              f"imports {pt['import_s']:.1f} s)", flush=True)
    g = res["gnnkit"]
    res["gnnkit_acc"] = 100 * float(np.mean([r["acc"] for r in g]))
    res["gnnkit_s"] = float(np.median([r["walk_train_s"] for r in g]))
    res["gnnkit_cpu_s"] = float(np.median([r["walk_train_cpu_s"] for r in g]))
    res["gnnkit_acc_std"] = 100 * float(np.std([r["acc"] for r in g]))
    if res["peer"]:
        p = res["peer"]
        res["peer_acc"] = 100 * float(np.mean([r["acc"] for r in p]))
        res["peer_acc_std"] = 100 * float(np.std([r["acc"] for r in p]))
        res["peer_s"] = float(np.median([r["walk_train_s"] for r in p]))
        res["peer_cpu_s"] = float(np.median([r["walk_train_cpu_s"] for r in p]))
        res["speedup_vs_pecanpy_gensim"] = res["peer_s"] / res["gnnkit_s"]
        res["cpu_speedup_vs_pecanpy_gensim"] = res["peer_cpu_s"] / res["gnnkit_cpu_s"]
        print(f"accuracy gnnkit {res['gnnkit_acc']:.1f} ± {res['gnnkit_acc_std']:.1f} vs peer {res['peer_acc']:.1f} "
              f"± {res['peer_acc_std']:.1f} (mean ± std over {len(g)} seeds); speedup "
              f"{res['speedup_vs_pecanpy_gensim']:.1f}x wall, {res['cpu_speedup_vs_pecanpy_gensim']:.1f}x CPU "
              f"(medians)", flush=True)
    res["load_end"] = os.getloadavg()
    print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
