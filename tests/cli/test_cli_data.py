"""`gnnkit data convert|verify|info|generate`: run as `python -m gnnkit` subprocesses (the
main paths) and in-process through `gnnkit.cli.main` (output formatting; cheaper, as every
subprocess pays the torch import)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnnkit.cli import main

REPO = Path(__file__).resolve().parents[2]


def gnnkit(*args, ok=True):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "gnnkit", "data", *map(str, args)], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    p = gnnkit("generate", d / "e.i32", "--nodes", "1k", "--edges", "20_000", "--seed", "5")
    assert "wrote" in p.stdout and "20,000 int32 edges on 1,000 nodes" in p.stdout
    assert (d / "e.i32").stat().st_size == 20_000 * 8
    p = gnnkit("convert", d / "e.i32", d / "g", "--symmetrize", "--dedup", "--memory", "64KB",
               "--num-nodes", "1000", "--transpose", "--json", "--no-progress")
    return d, json.loads(p.stdout)


def test_generate_convert_verify_info(converted, capsys):
    d, stats = converted
    assert stats["input_edges"] == 20_000 and stats["num_nodes"] == 1000
    assert stats["buckets"] > 1 and stats["edges_per_s"] > 0
    p = gnnkit("verify", d / "g")
    assert p.stdout.startswith("OK ") and "checksums, no unlisted arrays, csr, t_perm " \
        "permutation, transpose = CSR transposed" in p.stdout
    assert main(["data", "info", str(d / "g"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_nodes"] == 1000 and info["num_edges"] == stats["num_edges"]
    assert info["directed"] is False and info["transpose"] is True
    assert main(["data", "info", str(d / "g")]) == 0
    text = capsys.readouterr().out
    assert "nodes       1,000" in text and "in-degree" in text and "out-degree" in text
    # the result is what the library computes from the same edges
    import torch

    from gnnkit import Graph
    from gnnkit.data.disk import DiskGraph

    pairs = np.fromfile(d / "e.i32", np.int32).reshape(-1, 2).T.astype(np.int64)
    ref = Graph.from_edge_index(torch.from_numpy(pairs), num_nodes=1000).to_undirected()
    assert torch.equal(DiskGraph(d / "g").graph().indices, ref.indices)


def test_verify_fails_on_flipped_byte(converted, tmp_path, capsys):
    import shutil

    d, _ = converted
    g = tmp_path / "g"
    shutil.copytree(d / "g", g)
    pos = (g / "indices.npy").stat().st_size // 2  # mid-file: past the 4 KiB ends open samples
    with open(g / "indices.npy", "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 1]))
    assert main(["data", "verify", str(g)]) == 1
    err = capsys.readouterr().err
    assert "DiskGraphError" in err and "indices.npy: checksum mismatch" in err


def test_errors_exit_nonzero(tmp_path, capsys):
    bad = tmp_path / "e.txt"
    bad.write_text("0 1\n1 -2\n")
    p = gnnkit("convert", bad, tmp_path / "out", ok=False)
    assert p.returncode == 1 and "e.txt: line 2 ('1 -2'): node id -2 is out of range" in p.stderr
    assert not (tmp_path / "out").exists()
    assert main(["data", "info", str(tmp_path / "nothing")]) == 1
    assert "no such DiskGraph directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["data", "generate", str(tmp_path / "x.i32"), "--nodes", "ten", "--edges", "5"])
    assert e.value.code == 2 and "expected an integer" in capsys.readouterr().err
    assert main(["data"]) == 2  # no action: help
