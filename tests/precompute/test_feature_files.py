"""User feature files (``.npy`` paths) are untrusted input: GBP and FeatureStore check the
header, dtype and size before mapping them (gnnkit.data.npy_file.load_npy)."""
import numpy as np
import pytest
import torch

import gnnkit
from gnnkit.data import DatasetError
from gnnkit.precompute import FeatureStore, gbp_precompute


def _damaged(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.ones((4, 3), dtype=np.float32))
    raw = good.read_bytes()
    cases = {"truncated": raw[:-5], "padded": raw + b"\0" * 8,
             "forged shape": raw.replace(b"(4, 3)", b"(9, 3)"), "text": b"not an npy file"}
    out = {}
    for name, data in cases.items():
        p = tmp_path / f"{name.replace(' ', '_')}.npy"
        p.write_bytes(data)
        out[name] = p
    obj = tmp_path / "object.npy"
    np.save(obj, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    out["object dtype"] = obj
    return good, out


def test_feature_store_refuses_damaged_npy(tmp_path):
    good, bad = _damaged(tmp_path)
    assert FeatureStore(str(good)).num_features == 3
    for name, p in bad.items():
        with pytest.raises(DatasetError, match=p.name):
            FeatureStore(str(p))


def test_gbp_refuses_damaged_npy(tmp_path):
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]), num_nodes=4)
    good, bad = _damaged(tmp_path)
    assert gbp_precompute(g, str(good), num_levels=2, r_max=0.0, seed=0).shape == (4, 3)
    for name, p in bad.items():
        with pytest.raises(DatasetError, match=p.name):
            gbp_precompute(g, str(p), num_levels=2, r_max=0.0, seed=0)
