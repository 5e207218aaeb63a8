"""``gnnkit data convert|verify|info|generate|partition``: the on-disk graph format from the shell.

Examples::

    gnnkit data generate /tmp/web.i32 --nodes 10000000 --edges 100000000 --seed 0
    gnnkit data convert /tmp/web.i32 /tmp/web --symmetrize --dedup --memory 4GB
    gnnkit data verify /tmp/web
    gnnkit data info /tmp/web --json
"""
from __future__ import annotations

import argparse
import json
import sys

from gnnkit.cli._parser import add_command

__all__ = ["register"]


def _int(text: str) -> int:
    """Integers with optional ``_`` separators or a ``k``/``M``/``G`` suffix (powers of 10)."""
    t = text.strip().replace("_", "")
    mult = {"k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}.get(t[-1:].lower(), 1)
    if mult != 1:
        t = t[:-1]
    try:
        v = float(t) * mult if "." in t or "e" in t.lower() else int(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer such as 1000000 or 1M, got {text!r}")
    if v != int(v) or v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return int(v)


def _report(args, stats: dict, lines: list) -> int:
    """Print ``stats`` as JSON under ``--json``, else the readable ``lines``; exit code 0."""
    print(json.dumps(stats, sort_keys=True) if args.json else "\n".join(lines))
    return 0


def register(subparsers) -> None:
    p = add_command(subparsers, "data", "on-disk graphs: convert, verify, info, generate", __doc__)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    c = sub.add_parser("convert", help="edge list / npz / OGB directory -> DiskGraph (out of core)")
    c.add_argument("src", help="text/CSV edge list (.gz ok), binary pairs (*.i32/*.i64), .npz, "
                               "or an OGB dataset directory")
    c.add_argument("dst", help="output DiskGraph directory (written atomically)")
    c.add_argument("--format", default="auto",
                   choices=["auto", "text", "int32", "int64", "npz", "ogb"])
    c.add_argument("--num-nodes", type=_int, default=None, help="N (default: from the source, "
                                                                   "else max id + 1)")
    c.add_argument("--symmetrize", action="store_true", help="add the reverse of every arc")
    c.add_argument("--dedup", action="store_true", help="merge duplicate arcs")
    c.add_argument("--reduce", default=None, choices=["sum", "max", "min", "mean", "drop"],
                   help="weight merge for --dedup (default: max with --symmetrize, else sum)")
    c.add_argument("--weighted", action="store_true", default=None,
                   help="read weights (text: third column)")
    c.add_argument("--memory", default="4GB", help="memory budget, e.g. 4GB (default: 4GB)")
    c.add_argument("--transpose", action="store_true", help="also store the transposed CSR")
    c.add_argument("--features-dtype", default="float32", choices=["float32", "float16"])
    c.add_argument("--reorder", default=None, choices=["rcm", "degree", "rabbit", "metis"],
                   help="renumber the nodes for locality (gnnkit.reorder); the permutation is stored "
                        "as DST/reorder_perm.i64 (raw int64, perm[new] = old)")
    c.add_argument("--chunk-edges", type=_int, default=None, help=argparse.SUPPRESS)
    c.add_argument("--overwrite", action="store_true", help="replace an existing DST")
    c.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars (default: when stderr is a terminal)")
    c.add_argument("--json", action="store_true", help="print the statistics as JSON")
    c.set_defaults(func=_convert)

    v = sub.add_parser("verify", help="check sizes, checksums and CSR invariants (streamed)")
    v.add_argument("path")
    v.add_argument("--no-structure", action="store_true", help="checksums and sizes only")
    v.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    v.set_defaults(func=_verify)

    i = sub.add_parser("info", help="print N, E, degree statistics, features, labels, splits")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=_info)

    pt = sub.add_parser("partition", help="split a graph into N parts for distributed training")
    pt.add_argument("graph", help="a DiskGraph directory or a dataset name (with --root)")
    pt.add_argument("out", help="output partition directory (written atomically)")
    pt.add_argument("--parts", type=_int, required=True, help="number of parts (= ranks)")
    pt.add_argument("--method", default="metis", choices=["metis", "stream", "random"],
                    help="metis (pymetis, in RAM), stream (LDG, one pass over a memory map), random")
    pt.add_argument("--root", default=None, help="dataset root for a dataset name")
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--imbalance", type=float, default=0.05, help="allowed excess over the mean part size")
    pt.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    pt.add_argument("--json", action="store_true", help="print the statistics as JSON")
    pt.set_defaults(func=_partition)

    g = sub.add_parser("generate", help="stream an R-MAT power-law edge list to a binary file")
    g.add_argument("out", help="output file (*.i32 for int32 pairs, *.i64 for int64)")
    g.add_argument("--nodes", type=_int, required=True)
    g.add_argument("--edges", type=_int, required=True)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--dtype", choices=["int32", "int64"], default=None,
                   help="id width (default: int32 when nodes <= 2**31)")
    g.add_argument("--abc", type=float, nargs=3, default=(0.57, 0.19, 0.19),
                   metavar=("A", "B", "C"), help="R-MAT quadrant probabilities")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    g.set_defaults(func=_generate)


def _progress(args) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _convert(args) -> int:
    from gnnkit.data.convert import convert_to_disk

    stats: dict = {}
    out = args.dst
    if args.reorder:  # convert beside DST, then write DST renumbered
        import shutil
        from pathlib import Path

        from gnnkit.reorder import reorder_disk

        if Path(args.dst).exists() and not args.overwrite:
            raise FileExistsError(f"{args.dst} exists; pass --overwrite to replace it")
        out = str(Path(args.dst).with_name(Path(args.dst).name + ".unordered.tmp"))
    dg = convert_to_disk(args.src, out, format=args.format, num_nodes=args.num_nodes,
                         symmetrize=args.symmetrize, dedup=args.dedup, reduce=args.reduce,
                         weighted=args.weighted, memory=args.memory, transpose=args.transpose,
                         features_dtype=args.features_dtype, overwrite=args.overwrite,
                         progress=_progress(args), chunk_edges=args.chunk_edges, stats=stats)
    if args.reorder:
        try:
            r = reorder_disk(out, args.dst, args.reorder, overwrite=args.overwrite)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        from gnnkit.data.disk import DiskGraph

        dg = DiskGraph(args.dst)
        stats["reorder"] = r.info
    rate = stats["input_edges"] / max(stats["seconds"], 1e-9)
    stats["edges_per_s"] = rate
    lines = [f"wrote {dg.path}: N={dg.num_nodes:,} E={dg.num_edges:,} from "
             f"{stats['input_edges']:,} input edges in {stats['seconds']:.2f} s "
             f"({rate:,.0f} edges/s, {stats['buckets']} bucket(s))"]
    if args.reorder:
        ri = stats["reorder"]
        lines.append(f"reordered ({args.reorder}) in {ri['seconds']:.2f} s, peak RSS {ri['peak_rss_mib']:,.0f} MiB; "
                     f"permutation in {dg.path / 'reorder_perm.i64'} (int64, perm[new] = old)")
    return _report(args, stats, lines)


def _partition(args) -> int:
    import time
    from pathlib import Path

    from gnnkit.distributed import partition_nodes, partition_stats, write_partitions

    t0 = time.perf_counter()
    if (Path(args.graph) / "meta.json").is_file():
        from gnnkit.data.disk import DiskGraph

        dg = DiskGraph(args.graph)
        graph, x, y, splits = dg, dg.features, dg.labels, dg.splits
    else:
        from gnnkit.data import get_dataset

        ds = get_dataset(args.graph, root=args.root)
        graph, x, y = ds.graph, ds.x, ds.y
        splits = {k: v for k, v in ds.split(0).items()}
    train = splits.get("train")
    owner = partition_nodes(graph, args.parts, args.method, train_nodes=train, seed=args.seed,
                            imbalance=args.imbalance)
    t1 = time.perf_counter()
    book = write_partitions(graph, owner, args.out, features=x, labels=y, splits=splits,
                            method=args.method, overwrite=args.overwrite)
    stats = {**partition_stats(graph, owner, train), "partition_s": t1 - t0,
             "write_s": time.perf_counter() - t1, "parts": args.parts, "method": args.method,
             "path": str(book.path)}
    return _report(args, stats, [
        f"wrote {book.path}: {args.parts} parts ({args.method}), edge-cut {100 * stats['edge_cut']:.2f} %, "
        f"node balance {stats['node_balance']:.3f}, train balance {stats['train_balance']:.3f}, "
        f"{stats['partition_s']:.2f} s + {stats['write_s']:.2f} s to write"])


def _verify(args) -> int:
    from gnnkit.data.disk import DiskGraph
    from gnnkit.distributed.book import is_partition_dir, verify_partitions

    if is_partition_dir(args.path):
        rep = verify_partitions(args.path)
        print(f"OK {args.path}: {rep['num_parts']} parts, {rep['num_nodes']:,} nodes, {rep['num_edges']:,} arcs, "
              "checksums match, every part's CSR valid")
        return 0
    dg = DiskGraph(args.path)
    rep = dg.verify(structure=not args.no_structure, progress=_progress(args))
    print(f"OK {dg.path}: {len(rep['files'])} files, {rep['bytes']:,} bytes, checked: "
          + ", ".join(rep["checks"]))
    return 0


def _info(args) -> int:
    from gnnkit.data.disk import DiskGraph

    info = DiskGraph(args.path).info()
    if args.json:
        print(json.dumps(info, sort_keys=True))
        return 0
    print(f"{info['path']} ({info['format']})")
    print(f"  nodes       {info['num_nodes']:,}")
    print(f"  edges       {info['num_edges']:,} ({'directed' if info['directed'] else 'undirected'}"
          f"{', coalesced' if info['coalesced'] else ''}{', weighted' if info['weighted'] else ''}"
          f", indices {info['index_dtype']}{', transpose stored' if info['transpose'] else ''})")
    for key in ("in_degree", "out_degree"):
        if key in info:
            d = info[key]
            print(f"  {key.replace('_', '-'):<11} min {d['min']}  max {d['max']}  mean "
                  f"{d['mean']:.3f}  std {d['std']:.3f}  zero {d['zero']:,}")
    if "features" in info:
        print(f"  features    {tuple(info['features']['shape'])} {info['features']['dtype']}")
    if "labels" in info:
        lab = info["labels"]
        print(f"  labels      {tuple(lab['shape'])}, {lab['num_classes']} classes, "
              f"{lab['labelled']:,} labelled")
    if "splits" in info:
        print("  splits      " + ", ".join(f"{k} {v:,}" for k, v in info["splits"].items()))
    print(f"  on disk     {info['bytes']:,} bytes")
    return 0


def _generate(args) -> int:
    from gnnkit.data.powerlaw import write_powerlaw_edgelist

    a, b, c = args.abc
    info = write_powerlaw_edgelist(args.out, args.nodes, args.edges, args.seed, dtype=args.dtype,
                                   a=a, b=b, c=c, progress=_progress(args))
    print(f"wrote {info['path']}: {info['num_edges']:,} {info['dtype']} edges on "
          f"{info['num_nodes']:,} nodes (seed {info['seed']}, {info['bytes']:,} bytes)")
    return 0
