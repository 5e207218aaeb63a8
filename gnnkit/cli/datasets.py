"""``gnnkit datasets``: the supported datasets, their statistics and whether their files are
present.

Statistics come from the dataset registry ``datasets/registry.json`` at the top of a source
checkout; without it (an installed wheel), datasets whose files are present are loaded to count
them (``--load`` forces that).  Presence follows the loaders' search order
(:mod:`gnnkit.data._paths`): ``--root``, else ``$GNNKIT_DATA``, else the checkout's
``../shared/datasets`` and ``~/.cache/gnnkit/datasets``.

Examples::

    gnnkit datasets
    gnnkit datasets --root /data --json
"""
from __future__ import annotations

import json
from pathlib import Path

from gnnkit.cli._parser import add_command

__all__ = ["register", "dataset_presence", "registry_entries"]

_PLANETOID_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def registry_path() -> Path:
    return Path(__file__).resolve().parents[2] / "datasets" / "registry.json"


def registry_entries() -> dict:
    """``{name: entry}`` from ``datasets/registry.json`` (``{}`` when the file is absent)."""
    p = registry_path()
    if not p.is_file():
        return {}
    try:
        doc = json.loads(p.read_text())
        return {e["name"]: e for e in doc.get("datasets", []) if isinstance(e, dict) and "name" in e}
    except (json.JSONDecodeError, AttributeError, TypeError):
        return {}  # a broken registry only costs the statistics; presence still works


def _family(name: str) -> str:
    from gnnkit.data import available_datasets

    for fam in ("planetoid", "heterophily", "ogb", "ogbl", "synthetic", "ogbg", "graph-synthetic"):
        if name in available_datasets(fam):
            return fam
    return "?"


def dataset_presence(name: str, root=None) -> dict:
    """Where the files of ``name`` are, without reading them.

    Returns ``{'family', 'present' (bool), 'path' (str or None), 'searched' (list of str),
    'how' (how to get the files)}``; generated datasets are always present.
    """
    from gnnkit.data._paths import candidate_dirs, find_file, download_dir

    from gnnkit.data.registry import is_dataset_path

    if is_dataset_path(name):   # `gnnkit bench -d PATH.npz`: the file itself
        p = Path(name).expanduser()
        return {"family": "file", "present": p.is_file(), "path": str(p) if p.is_file() else None,
                "searched": [str(p)], "how": f"check the path {name!r}"}
    fam = _family(name)
    out = {"family": fam, "present": False, "path": None, "searched": [], "how": ""}
    if fam in ("synthetic", "graph-synthetic"):
        out.update(present=True, path="(generated)", how="generated on the fly")
        return out
    if fam == "ogbg":
        from gnnkit.graphlevel.ogbg import ogbg_presence

        folder, searched, how = ogbg_presence(name, root)
        out.update(present=folder is not None, path=str(folder) if folder else None,
                   searched=[str(s) for s in searched], how=how)
        return out
    if fam == "planetoid":
        folder, searched = find_file("planetoid", [f"ind.{name}.{s}" for s in _PLANETOID_SUFFIXES], root)
        how = (f"download ind.{name}.* from https://github.com/kimiyoung/planetoid/tree/master/data "
               "into one of the folders searched (or pass --root)")
    elif fam == "heterophily":
        folder, searched = find_file("heterophily", [f"{name}.npz"], root)
        how = (f"download https://github.com/yandex-research/heterophilous-graphs/raw/main/data/"
               f"{name}.npz into one of the folders searched (or pass --root)")
    elif fam in ("ogb", "ogbl"):
        from gnnkit.data import DatasetError, ogb_meta

        try:
            meta = ogb_meta(name)
        except DatasetError as e:  # ogb not installed: its master.csv describes the layout
            out.update(how=f'install the OGB extra first: pip install "gnnkit[ogb]" ({e})',
                       missing_dependency="ogb")
            return out
        marker = "raw/data.npz" if meta["binary"] else "raw/edge.csv.gz"
        # Same search order as gnnkit.data.ogb.load_ogb (root: OGB's layout root/<dir> first).
        parents = [Path(root).expanduser(), Path(root).expanduser() / "ogb"] if root is not None \
            else candidate_dirs("ogb")
        searched = [p / meta["dir_name"] for p in parents]
        folder = next((d for d in searched if (d / marker).is_file()), None)
        target = download_dir("ogb", root)
        r_flag = f" --root {root}" if root is not None else ""
        r_arg = f", root={str(root)!r}" if root is not None else ""
        how = (f"`gnnkit bench --dataset {name} --download{r_flag}` (downloads, then benchmarks); "
               f"or `python -c \"from gnnkit.data import download_ogb; download_ogb({name!r}{r_arg})\"` "
               f"to fetch {meta['url']} into {target}; or unzip it yourself so that "
               f"{target / meta['dir_name'] / marker} exists")
    else:  # pragma: no cover - a family added to gnnkit.data without a presence rule here
        return out
    out.update(present=folder is not None, path=str(folder) if folder else None,
               searched=[str(s) for s in searched], how=how)
    return out


def register(subparsers) -> None:
    p = add_command(subparsers, "datasets", "list supported datasets, statistics, presence", __doc__)
    p.add_argument("--root", default=None, help="data folder to check (default: the loaders' "
                                                 "search order)")
    p.add_argument("--family", default=None,
                   choices=["planetoid", "heterophily", "ogb", "synthetic"], help="only this family")
    p.add_argument("--load", action="store_true",
                   help="load present datasets to compute statistics instead of the registry")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run)


def _stats_from_load(name, root) -> dict:
    from gnnkit.data import get_dataset

    ds = get_dataset(name, root=root) if _family(name) != "synthetic" else get_dataset(name)
    return {"num_nodes": ds.num_nodes, "num_arcs": ds.num_edges, "num_features": ds.num_features,
            "num_classes": ds.num_classes, "directed": ds.directed, "num_splits": ds.num_splits}


def _run(args) -> int:
    from gnnkit.data import available_datasets

    reg = registry_entries()
    rows = []
    for name in available_datasets(args.family):
        pres = dataset_presence(name, args.root)
        entry = reg.get(name, {})
        stats = {k: entry.get(k) for k in ("num_nodes", "num_arcs", "num_features", "num_classes",
                                           "directed", "num_splits")}
        source = "registry" if entry and entry.get("num_nodes") is not None else None
        note = entry.get("note", "") if entry.get("supported") is False else ""
        if pres.get("missing_dependency"):
            note = f'needs the {pres["missing_dependency"]!r} package: pip install "gnnkit[ogb]"'
        if pres["family"] == "synthetic":
            note = "generated by gnnkit.data.csbm; size set by flags (`gnnkit bench` default: 3000 nodes, 5 classes)"
        elif (args.load or source is None) and pres["present"] and entry.get("supported", True):
            try:
                stats, source = _stats_from_load(name, args.root), "loaded"
            except Exception as e:  # noqa: BLE001 - one broken dataset must not hide the others
                note = f"cannot load: {type(e).__name__}: {e}"
        rows.append({"name": name, "family": pres["family"], **stats, "stats_source": source,
                     "present": pres["present"], "path": pres["path"], "searched": pres["searched"],
                     "how_to_get": pres["how"] if not pres["present"] else "", "note": note})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    def num(v):
        return "?" if v is None else (f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))

    header = f"{'name':<28} {'family':<11} {'nodes':>12} {'arcs':>14} {'feat':>6} {'cls':>4} {'dir':>4}  present"
    print(header)
    print("-" * len(header))
    for r in rows:
        d = "?" if r["directed"] is None else ("yes" if r["directed"] else "no")
        where = r["path"] if r["present"] else "no"
        print(f"{r['name']:<28} {r['family']:<11} {num(r['num_nodes']):>12} {num(r['num_arcs']):>14} "
              f"{num(r['num_features']):>6} {num(r['num_classes']):>4} {d:>4}  {where}"
              + (f"  [{r['note']}]" if r["note"] else ""))
    missing = [r for r in rows if not r["present"]]
    if missing:
        dirs = list(dict.fromkeys(str(Path(s).parent) for r in missing for s in r["searched"]))
        print(f"\n{len(missing)} dataset(s) not found (searched under {', '.join(dirs)}). To get them:")
        for r in missing:
            print(f"  {r['name']}: {r['how_to_get']}")
    src = "registry " + str(registry_path()) if reg else "loading the present datasets"
    print(f"(statistics from {src}; arcs count an undirected edge twice)")
    return 0
