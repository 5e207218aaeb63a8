"""DiskGraph hardening (issue #14, class 5): verify checks everything stored, open does the O(1)
checks, interrupted writes leave temporaries that the next write removes safely."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import time

import numpy as np
import pytest
import torch

import gnnkit.data.disk_format as disk_format
from gnnkit import Graph
from gnnkit.data import DatasetError
from gnnkit.data.convert import convert_to_disk
from gnnkit.data.disk import DiskGraph, DiskGraphError, save_graph
from gnnkit.data.disk_format import HEADER_BYTES, new_hasher, sample_digest, sweep_stale


def _graph(directed=True):
    ei = torch.randint(0, 30, (2, 120), generator=torch.Generator().manual_seed(0))
    g = Graph.from_edge_index(ei, num_nodes=30)
    return g if directed else g.to_undirected()


def _forge(path, name, array):
    """Overwrite array ``name`` and recompute its checksum and sample: only the structure
    checks of verify can tell."""
    meta = json.loads((path / "meta.json").read_text())
    e = meta["arrays"][name]
    data = np.ascontiguousarray(array, dtype=e["dtype"]).tobytes()
    with open(path / e["file"], "r+b") as f:
        f.seek(HEADER_BYTES)
        f.write(data)
    algo = e["checksum"].split(":")[0]
    h = new_hasher(algo)
    h.update(data)
    e["checksum"] = f"{algo}:{h.hexdigest()}"
    e["sample"] = sample_digest(path / e["file"], algo, HEADER_BYTES, len(data))
    (path / "meta.json").write_text(json.dumps(meta))


def test_verify_rejects_a_t_perm_that_is_not_a_permutation(tmp_path):
    dg = save_graph(tmp_path / "g", _graph(), transpose=True)
    checks = dg.verify()["checks"]
    assert "t_perm permutation" in checks and "transpose = CSR transposed" in checks
    tp = np.asarray(dg.t_perm).copy()
    tp[5] = tp[6]
    _forge(dg.path, "t_perm", tp)
    with pytest.raises(DiskGraphError, match=r"t_perm is not a permutation: t_perm\[6\]="):
        DiskGraph(dg.path).verify()


def test_verify_rejects_a_transpose_that_disagrees_with_the_csr(tmp_path):
    dg = save_graph(tmp_path / "g", _graph(), transpose=True)
    tp = np.asarray(dg.t_perm).copy()
    indices = np.asarray(dg.indices)
    i = 0
    j = next(k for k in range(1, tp.size) if indices[tp[k]] != indices[tp[i]])
    tp[i], tp[j] = tp[j], tp[i]  # still a permutation, but the wrong one
    _forge(dg.path, "t_perm", tp)
    with pytest.raises(DiskGraphError, match="the stored transpose disagrees with the CSR"):
        DiskGraph(dg.path).verify()
    dg = save_graph(tmp_path / "h", _graph(), transpose=True)
    ti = np.asarray(dg.t_indices).copy()
    ti[3] = (ti[3] + 1) % 30
    _forge(dg.path, "t_indices", ti)
    with pytest.raises(DiskGraphError, match=r"(disagrees with the CSR|not ascending)"):
        DiskGraph(dg.path).verify()


def test_verify_checks_symmetry_of_undirected_graphs(tmp_path):
    for transpose in (True, False):
        dg = save_graph(tmp_path / f"u{transpose}", _graph(directed=False), transpose=transpose)
        assert dg.verify()["ok"]
        meta = json.loads((dg.path / "meta.json").read_text())
        d = save_graph(tmp_path / f"d{transpose}", _graph(), transpose=transpose)
        m2 = json.loads((d.path / "meta.json").read_text())
        m2["directed"] = False  # a directed graph claiming to be undirected
        (d.path / "meta.json").write_text(json.dumps(m2))
        with pytest.raises(DiskGraphError, match="says undirected but"):
            DiskGraph(d.path).verify()
        assert meta["directed"] is False


def test_verify_checks_node_data_and_unlisted_files(tmp_path):
    x = torch.randn(30, 2)
    y = torch.zeros(30, dtype=torch.long)
    dg = save_graph(tmp_path / "g", _graph(), features=x, labels=y,
                    splits={"train": torch.arange(3), "val": torch.arange(3, 6)})
    x2 = x.numpy().copy()
    x2[4, 1] = np.nan
    _forge(dg.path, "features", x2)
    with pytest.raises(DiskGraphError, match=r"features\[4\] holds a non-finite value"):
        DiskGraph(dg.path).verify()
    _forge(dg.path, "features", x.numpy())
    _forge(dg.path, "split_val", np.array([3, 4, 2]))
    with pytest.raises(DiskGraphError, match="node 2 is in both split_train and split_val"):
        DiskGraph(dg.path).verify()
    _forge(dg.path, "split_val", np.array([3, 4, 5]))
    _forge(dg.path, "labels", np.r_[np.zeros(29), -2])
    with pytest.raises(DiskGraphError, match=r"labels\[29\] = -2 has a value < -1"):
        DiskGraph(dg.path).verify()
    _forge(dg.path, "labels", np.zeros(30))
    meta = json.loads((dg.path / "meta.json").read_text())
    meta["arrays"].pop("split_val")
    (dg.path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DiskGraphError, match="split_val.npy: not listed in meta.json"):
        DiskGraph(dg.path).verify()


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["arrays"]["indices"].update(file="../g2/indices.npy"), "plain names inside"),
    (lambda m: m["arrays"]["indices"].update(file="/etc/passwd"), "plain names inside"),
    (lambda m: m["arrays"]["indices"].update(dtype="object"), "only numeric arrays"),
    (lambda m: m["arrays"]["indices"].update(shape=[2 ** 40]), "disagree with dtype int32"),
    (lambda m: m.update(num_nodes="30"), "num_nodes must be a non-negative integer"),
    (lambda m: m.update(directed="no"), "directed must be true or false"),
    (lambda m: m["arrays"].update(indptr=[1, 2]), "array 'indptr' must be an object"),
])
def test_open_refuses_forged_meta(tmp_path, edit, match):
    dg = save_graph(tmp_path / "g", _graph())
    meta = json.loads((dg.path / "meta.json").read_text())
    edit(meta)
    (dg.path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DiskGraphError, match=match):
        DiskGraph(dg.path)
    assert issubclass(DiskGraphError, DatasetError)


def test_open_refuses_a_swapped_file(tmp_path):
    dg = save_graph(tmp_path / "g", _graph(), transpose=True)  # indices / t_indices: same shape
    (dg.path / "indices.npy").rename(dg.path / "x")
    (dg.path / "t_indices.npy").rename(dg.path / "indices.npy")
    (dg.path / "x").rename(dg.path / "t_indices.npy")
    with pytest.raises(DiskGraphError, match="swapped for another or overwritten"):
        DiskGraph(dg.path)


# ---------------------------------------------------------------------------- stale temporaries
def test_sweep_removes_dead_writers_temporaries_only(tmp_path):
    dst = tmp_path / "g"
    dead = tmp_path / "g.tmp-999999-dead"
    dead.mkdir()
    (dead / ".lock").touch()
    (dead / "indices.npy").write_bytes(b"x" * 100)
    live = tmp_path / "g.tmp-1-live"
    live.mkdir()
    fd = os.open(live / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live writer holds its lock
    legacy_fresh = tmp_path / "g.tmp-abc"
    legacy_fresh.mkdir()
    legacy_old = tmp_path / "g.tmp-def"
    legacy_old.mkdir()
    (legacy_old / "indptr.npy").write_bytes(b"y")
    past = time.time() - 2 * disk_format.LEGACY_STALE_SECONDS
    for p in (legacy_old, legacy_old / "indptr.npy"):
        os.utime(p, (past, past))
    other = tmp_path / "h.tmp-999999-x"  # another output's temporary: never touched
    other.mkdir()
    (other / ".lock").touch()
    old_dead = tmp_path / "g.old-999999-q"
    old_dead.mkdir()
    old_live = tmp_path / f"g.old-{os.getpid()}-q"
    old_live.mkdir()
    try:
        removed = sweep_stale(dst)
        assert sorted(p.name for p in removed) == sorted([dead.name, legacy_old.name,
                                                          old_dead.name])
        assert live.exists() and legacy_fresh.exists() and other.exists() and old_live.exists()
    finally:
        os.close(fd)
    assert sweep_stale(dst) == [live]  # its writer is gone now


def test_rerun_of_an_interrupted_convert_cleans_its_temporary(tmp_path):
    src = tmp_path / "e.txt"
    src.write_text("".join(f"{i} {(i * 7) % 50}\n" for i in range(200)))
    # A convert killed with SIGKILL in the middle of its bucket loop, in a forked child.
    import gnnkit.data.kernels as K

    convert_to_disk(src, tmp_path / "warm", num_nodes=200)  # compile the kernels first
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies inside convert_to_disk
        try:
            K.compact = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
            convert_to_disk(src, tmp_path / "g", num_nodes=200)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    shutil.rmtree(tmp_path / "warm")
    (left,) = [q for q in tmp_path.iterdir() if q.name.startswith("g.tmp-")]
    assert (left / ".lock").is_file() and not (tmp_path / "g").exists()
    dg = convert_to_disk(src, tmp_path / "g", num_nodes=200)
    assert not left.exists() and dg.verify()["ok"]
    assert sorted(q.name for q in tmp_path.iterdir()) == ["e.txt", "g"]
