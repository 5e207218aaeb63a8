r"""Write small *synthetic* datasets in OGB's raw ``ogbg`` layout (for tests and smoke runs).

:func:`write_ogbg_layout` writes ``<root>/<dir_name>/raw/*.csv.gz`` and
``split/<scheme>/{train,valid,test}.csv.gz`` exactly as ogb ships them (edges once per bond,
``add_inverse_edge`` applied by the reader), for ``ogbg-molhiv`` (9 atom and 3 bond codes within
``ogb.utils.features`` dims, one binary label), ``ogbg-molpcba`` (128 binary tasks with missing
labels) and ``ogbg-ppa`` (no node features, 7 float edge features, 37 classes).  Graphs are random
trees plus a few chords (molecule-sized); the labels are a deterministic function of the
structure (so a model can learn them): molhiv: "odd number of cycles"; molpcba: task ``t``
is "atom code ``t % 10`` present" with 30 % of labels missing; ppa: number of nodes mod 37.
Splits are 80 / 10 / 10, stratified on the first label.
These are NOT the OGB data: they only exercise the loader, the task and the CLI end to end.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_ogbg_layout"]


def _write(path: Path, a) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(np.asarray(a)).to_csv(path, header=False, index=False, compression="gzip")


def write_ogbg_layout(name: str, root, num_graphs: int = 200, seed: int = 0) -> Path:
    """Write a synthetic ``name`` (``'ogbg-molhiv'``, ``'ogbg-molpcba'`` or ``'ogbg-ppa'``)
    under ``root``; returns the dataset directory."""
    from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims

    if name not in ("ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa"):
        raise ValueError(f"write_ogbg_layout: name must be ogbg-molhiv, ogbg-molpcba or ogbg-ppa, got {name!r}")
    rng = np.random.default_rng(seed)
    d = Path(root) / name.replace("-", "_")
    edges, nn_, ne, nfeat, efeat, labels = [], [], [], [], [], []
    for _ in range(num_graphs):
        n = int(rng.integers(8, 40))
        par = [int(rng.integers(0, i)) for i in range(1, n)]
        e = [(p, i) for i, p in enumerate(par, start=1)]
        extra = set()
        for _ in range(int(rng.integers(0, 4))):
            a, b = sorted(rng.choice(n, 2, replace=False).tolist())
            if (a, b) not in e and b != a:
                extra.add((a, b))
        e += sorted(extra)
        edges += e
        nn_.append(n)
        ne.append(len(e))
        if name == "ogbg-ppa":
            efeat.append(rng.random((len(e), 7)).round(3))
            labels.append([n % 37])
        else:
            atoms = np.stack([rng.integers(0, min(d_, 12), n) for d_ in get_atom_feature_dims()], 1)
            nfeat.append(atoms)
            efeat.append(np.stack([rng.integers(0, d_, len(e)) for d_ in get_bond_feature_dims()], 1))
            if name == "ogbg-molhiv":
                labels.append([len(e) - (n - 1)])      # chords, i.e. independent cycles
            else:
                present = [float((atoms[:, 0] == t % 10).any()) for t in range(128)]
                lab = np.asarray(present, dtype=np.float64)
                lab[rng.random(128) < 0.3] = np.nan
                labels.append(lab)
    raw = d / "raw"
    _write(raw / "edge.csv.gz", np.asarray(edges, dtype=np.int64))
    _write(raw / "num-node-list.csv.gz", np.asarray(nn_)[:, None])
    _write(raw / "num-edge-list.csv.gz", np.asarray(ne)[:, None])
    _write(raw / "edge-feat.csv.gz", np.concatenate(efeat))
    if nfeat:
        _write(raw / "node-feat.csv.gz", np.concatenate(nfeat))
    lab = np.asarray(labels)
    if name == "ogbg-molhiv":
        lab = (lab % 2 == 1).astype(np.int64)       # odd number of cycles
    _write(raw / "graph-label.csv.gz", lab)
    # 80 / 10 / 10 split, stratified on the first label so that every split has both classes
    key = np.nan_to_num(lab[:, 0].astype(np.float64), nan=-1.0)
    order = np.lexsort((rng.random(num_graphs), key))
    slot = np.arange(num_graphs) % 10
    scheme = "species" if name == "ogbg-ppa" else "scaffold"
    for k, sel in (("train", slot < 8), ("valid", slot == 8), ("test", slot == 9)):
        _write(d / "split" / scheme / f"{k}.csv.gz", np.sort(order[sel])[:, None])
    return d
