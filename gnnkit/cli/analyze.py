"""``gnnkit analyze DATASET``: homophily (every method of :func:`gnnkit.analysis.homophily`) and
an over-squashing summary (spectral gap, total effective resistance, balanced Forman
curvature statistics) of a dataset's graph.

Examples::

    gnnkit analyze cora
    gnnkit analyze csbm --nodes 1000 --homophily 0.2 --json
    gnnkit analyze ogbn-arxiv --root DATA --skip curvature

Costs: homophily is O(E); the spectral gap is a dense eigensolve up to 2,048 nodes and a sparse
shift-invert solve above; the total effective resistance is exact (O(N^3)) up to 4,096 nodes and a
Spielman-Srivastava approximation (within 1 ± 0.3 with high probability) above; curvature is
O(sum over edges of the neighbourhood degrees), compiled with numba.  Above ``--max-nodes``
(default 200,000) the over-squashing measures are skipped with a note.  A measure that is
unavailable in this build, or fails, is reported as such and the others are still computed.
"""
from __future__ import annotations

import argparse
import json
import math
import time

from gnnkit.cli._parser import add_command

__all__ = ["register", "analyze_dataset"]

_OVERSQUASHING = ("spectral_gap", "effective_resistance", "curvature")


def register(subparsers) -> None:
    p = add_command(subparsers, "analyze", "homophily and over-squashing summary of a dataset", __doc__)
    p.add_argument("dataset", help="dataset name (`gnnkit datasets` lists them)")
    p.add_argument("--root", default=None, help="data folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--skip", nargs="+", default=[], choices=list(_OVERSQUASHING),
                   help="skip these over-squashing measures")
    p.add_argument("--max-nodes", type=int, default=200_000,
                   help="skip the over-squashing measures above this many nodes (default: 200000)")
    p.add_argument("--eps", type=float, default=0.3,
                   help="relative error of the approximate effective resistance (default: 0.3)")
    g = p.add_argument_group("generated cSBM graph (dataset csbm)")
    g.add_argument("--nodes", type=int, default=None)
    g.add_argument("--classes", type=int, default=None)
    g.add_argument("--avg-degree", type=float, default=None)
    g.add_argument("--homophily", type=float, default=None)
    g.add_argument("--feature-dim", type=int, default=None)
    g.add_argument("--data-seed", type=int, default=None)
    p.set_defaults(func=lambda args: _run(args, p))


def _guard(fn, *a, **kw) -> dict:
    """Run one measure; a missing function or a failure becomes a reported note."""
    t0 = time.perf_counter()
    try:
        value = fn(*a, **kw)
    except ImportError as e:
        return {"status": "unavailable", "note": f"{type(e).__name__}: {e}"}
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - one failing measure must not hide the others
        return {"status": "failed", "note": f"{type(e).__name__}: {e}"}
    return {"status": "ok", "value": value, "seconds": round(time.perf_counter() - t0, 3)}


def _analysis(name):
    """``gnnkit.analysis.<name>``, or an ImportError saying it is missing from this build."""
    import gnnkit.analysis as A

    fn = getattr(A, name, None)
    if fn is None:
        raise ImportError(f"gnnkit.analysis.{name} is not part of this build")
    return fn


def analyze_dataset(ds, skip=(), max_nodes: int = 200_000, eps: float = 0.3) -> dict:
    """All measures of one :class:`~gnnkit.data.NodeDataset` as a JSON-able dict."""
    import torch

    g, y = ds.graph, ds.y
    out = {"dataset": ds.name, "num_nodes": ds.num_nodes, "num_arcs": ds.num_edges,
           "directed": bool(ds.directed), "num_classes": ds.num_classes, "homophily": {},
           "oversquashing": {}, "notes": []}
    # Homophily is defined on labelled nodes: drop arcs touching unlabelled ones (y == -1).
    if y.dim() != 1:
        out["notes"].append("multi-task labels: homophily is not defined for them, skipped")
    else:
        ei = g.edge_index
        lab = y >= 0
        if not bool(lab.all()):
            keep = lab[ei[0]] & lab[ei[1]]
            ei = ei[:, keep]
            out["notes"].append(f"homophily over the {int(keep.sum()):,} arcs between labelled "
                                f"nodes ({int((~lab).sum()):,} unlabelled nodes)")
            y = y.clamp(min=0)  # the unlabelled nodes have no arcs left
        try:
            methods = _analysis("HOMOPHILY_METHODS")
            hom = _analysis("homophily")
        except ImportError as e:
            out["homophily"]["*"] = {"status": "unavailable", "note": str(e)}
        else:
            for m in methods:
                dirs = ("in", "out") if ds.directed and m in ("node", "edge_insensitive",
                                                              "label_informativeness_node") else ("in",)
                for d in dirs:
                    r = _guard(hom, ei, y, method=m, direction=d, num_nodes=ds.num_nodes,
                               num_classes=ds.num_classes)
                    if r.get("status") == "ok" and isinstance(r["value"], torch.Tensor):
                        r["value"] = [[round(float(v), 4) for v in row] for row in r["value"].tolist()]
                    out["homophily"][m if d == "in" else f"{m} (out)"] = r
    n = ds.num_nodes
    if n > max_nodes:
        out["notes"].append(f"over-squashing measures skipped: {n:,} nodes > --max-nodes {max_nodes:,}")
        return out
    osq = out["oversquashing"]
    if "spectral_gap" not in skip:
        osq["spectral_gap"] = _guard(lambda: _analysis("spectral_gap")(g))
    if "effective_resistance" not in skip:
        def ter():
            fn = _analysis("total_effective_resistance")
            method = "exact" if n <= 4096 else "approx"
            kw = {} if method == "exact" else {"eps": eps}
            total = fn(g, method=method, **kw)
            pairs = n * (n - 1) / 2
            return {"total": total, "mean_per_pair": total / pairs if pairs else float("nan"),
                    "method": method if method == "exact" else f"approx (eps={eps})"}
        osq["effective_resistance"] = _guard(ter)
    if "curvature" not in skip:
        def curv():
            c = _analysis("balanced_forman_curvature")(g, per_edge=True)
            c = c[torch.isfinite(c)]
            if c.numel() == 0:
                return {"edges": 0}
            q = torch.quantile(c, torch.tensor([0.05, 0.5], dtype=c.dtype)).tolist()
            return {"edges": int(c.numel()), "min": float(c.min()), "p05": q[0], "median": q[1],
                    "mean": float(c.mean()), "max": float(c.max()),
                    "frac_below_-1": float((c < -1).double().mean())}
        osq["balanced_forman_curvature"] = _guard(curv)
    return out


def _load(args, parser):
    from gnnkit.data import get_dataset

    flags = {"nodes": "num_nodes", "classes": "num_classes", "avg_degree": "avg_degree",
             "homophily": "homophily", "feature_dim": "feature_dim", "data_seed": "seed"}
    given = {v: getattr(args, k) for k, v in flags.items() if getattr(args, k) is not None}
    if args.dataset.lower() == "csbm":
        from gnnkit.cli.bench import DEFAULT_CSBM

        return get_dataset("csbm", **{**DEFAULT_CSBM, **given})
    if given:
        parser.error("--nodes/--classes/--avg-degree/--homophily/--feature-dim/--data-seed only "
                     "apply to the csbm dataset")
    from gnnkit.cli.bench import _load as bench_load
    from gnnkit.cli._config import DatasetSpec, _check_dataset_name
    from gnnkit.cli._progress import Progress

    name = _check_dataset_name(args.dataset, "gnnkit analyze", "DATASET")
    plan = argparse.Namespace(skip_missing=False, source="gnnkit analyze")
    return bench_load(DatasetSpec(name), argparse.Namespace(root=args.root, download=False), plan,
                      Progress("quiet", 0))


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.4f}")
    return str(v)


def _run(args, parser) -> int:
    ds = _load(args, parser)
    res = analyze_dataset(ds, skip=args.skip, max_nodes=args.max_nodes, eps=args.eps)
    if args.json:
        print(json.dumps(res, indent=1, default=float))
        return 0
    print(f"{res['dataset']}: {res['num_nodes']:,} nodes, {res['num_arcs']:,} arcs "
          f"({'directed' if res['directed'] else 'undirected'}), {res['num_classes']} classes")
    print("\nhomophily")
    for k, r in res["homophily"].items():
        if r["status"] != "ok":
            print(f"  {k:<34} {r['status']}: {r['note']}")
        elif isinstance(r["value"], list):
            print(f"  {k:<34} (rows: class of the node, columns: class of the neighbour)")
            for row in r["value"]:
                print("    " + " ".join(f"{v:6.3f}" for v in row))
        else:
            print(f"  {k:<34} {_fmt(r['value'])}")
    if res["oversquashing"]:
        print("\nover-squashing")
        for k, r in res["oversquashing"].items():
            if r["status"] != "ok":
                print(f"  {k:<34} {r['status']}: {r['note']}")
            elif isinstance(r["value"], dict):
                print(f"  {k:<34} " + ", ".join(f"{a} {_fmt(b)}" for a, b in r["value"].items())
                      + f"  ({r['seconds']} s)")
            else:
                print(f"  {k:<34} {_fmt(r['value'])}  ({r['seconds']} s)")
    for note in res["notes"]:
        print(f"note: {note}")
    return 0
