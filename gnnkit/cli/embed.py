"""``gnnkit embed``: node2vec / DeepWalk embeddings of a dataset written to ``.npy``.

    gnnkit embed -d cora --out cora_n2v.npy [--p 1 --q 1 --dim 128 --walk-length 80 --walks 10
                                            --window 10 --epochs 1 --seed 0] [--probe]

Compiled walks + compiled skip-gram (:mod:`gnnkit.embed`); ``--probe`` also prints the linear-probe
accuracy on the dataset's first split.
"""
from __future__ import annotations

import time


def register(sub) -> None:
    p = sub.add_parser("embed", help="node2vec / DeepWalk embeddings of a dataset -> .npy",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", "-d", required=True, help="dataset name (gnnkit datasets)")
    p.add_argument("--root", default=None, help="data folder")
    p.add_argument("--out", "-o", required=True, help="output .npy file ([N, dim] float32)")
    p.add_argument("--method", choices=("node2vec", "deepwalk"), default="node2vec")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--walk-length", type=int, default=80)
    p.add_argument("--walks", type=int, default=10, help="walks per node")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--p", type=float, default=1.0)
    p.add_argument("--q", type=float, default=1.0)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe", action="store_true", help="print the linear-probe accuracy (split 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from gnnkit.data import get_dataset
    from gnnkit.embed import linear_probe, node2vec_embedding

    if args.method == "deepwalk" and (args.p != 1 or args.q != 1):
        raise ValueError("gnnkit embed: --method deepwalk uses uniform walks; drop --p/--q or use node2vec")
    ds = get_dataset(args.dataset, root=args.root)
    t = time.perf_counter()
    emb, tm = node2vec_embedding(ds.graph, args.dim, walk_length=args.walk_length, walks_per_node=args.walks,
                                 window=args.window, p=args.p, q=args.q, negatives=args.negatives,
                                 epochs=args.epochs, seed=args.seed, return_timing=True)
    np.save(args.out, emb.numpy())
    print(f"{args.method} on {args.dataset}: {tuple(emb.shape)} -> {args.out} "
          f"({time.perf_counter() - t:.2f} s: walks {tm['walk_s']:.2f} s, training {tm['train_s']:.2f} s)")
    if args.probe and getattr(ds, "y", None) is not None:
        sp = ds.split(0)
        r = linear_probe(emb, ds.y, sp["train"], sp["test"], val=sp.get("val"))
        print(f"linear probe: test accuracy {100 * r['test_acc']:.2f} (L2 {r['weight_decay']:g})")
    return 0
