"""Cora / CiteSeer accuracy of the decoupled models (public split), trained from memory maps.

Targets (papers): SGC 81.0 / 71.9 (Wu et al. 2019, Table 2), GBP 83.9 / 72.9 (Chen et al. 2020,
Table 3); we require |ours - paper| <= 1.5 points.  Hyper-parameters: SGC K = 2, lr 0.2, 100
epochs, weight decay picked on the validation set from the SGC paper's range; GBP as the official
``transductive.sh`` (r, alpha, hidden 64, lr 0.01, weight decay, batch size, patience, batch norm on
CiteSeer) with L = 10 PPR levels, r_max as in the script and 200 walks per target (the official
citation runs use push only).  GBP CiteSeer's test accuracy spreads over 69.4-73.7 across training
seeds (10 seeds: 71.7 +- 1.1 with torch's dropout masks and with gnnkit.ops.dropout's), so that case
compares the mean of seeds 0-4 (a single seed is a lottery against a 1.5-point band); Cora spreads
0.3-0.6 and keeps seed 0.
"""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gnnkit.nn.decoupled import GBPMLP, SGC
from gnnkit.precompute import gbp_precompute, sgc_features
from gnnkit.precompute.train import FeatureStore, train_node_classifier

pytestmark = [pytest.mark.data, pytest.mark.usefixtures("one_thread")]


ROOT = Path(__file__).resolve().parents[2]


def _data_root():
    env = os.environ.get("GNNKIT_DATA")
    for p in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "datasets", ROOT / ".." / "shared" / "datasets"]:
        if (p / "planetoid" / "ind.cora.x").exists():
            return p
    pytest.skip("Planetoid data not found (set GNNKIT_DATA or provide ../shared/datasets/planetoid)")


def _load(name):
    from gnnkit.data import get_dataset

    ds = get_dataset(name, root=str(_data_root()))
    x = ds.x.float()
    x = x / x.sum(1, keepdim=True).clamp(min=1)  # row-normalised bag of words, as both papers
    return ds, x, ds.split(0)


# (dataset, weight decays tried on validation, paper accuracy)
SGC_CASES = [("cora", (5e-6, 1e-5, 2e-5), 81.0), ("citeseer", (5e-5, 1e-4), 71.9)]
# (dataset, r, alpha, r_max, weight decay, batch size, patience, batch norm, training seeds,
#  paper accuracy)
GBP_CASES = [("cora", 0.5, 0.1, 1e-4, 5e-4, 16, 40, False, (0,), 83.9),
             ("citeseer", 0.4, 0.15, 1e-5, 0.2, 64, 20, True, (0, 1, 2, 3, 4), 72.9)]


@pytest.mark.parametrize("name,wds,paper", SGC_CASES)
def test_sgc_accuracy(name, wds, paper, tmp_path):
    ds, x, sp = _load(name)
    np.save(tmp_path / "sgc.npy", sgc_features(ds.graph, x, 2).numpy())
    store = FeatureStore(str(tmp_path / "sgc.npy"))  # training reads rows from the memory map
    best = None
    for wd in wds:
        res = train_node_classifier(SGC(x.shape[1], ds.num_classes), store, ds.y, sp["train"], sp["val"],
                                    sp["test"], epochs=100, lr=0.2, weight_decay=wd, batch_size=1024,
                                    select="last", seed=0)
        if best is None or res["val_acc"] > best["val_acc"]:
            best = res
    assert abs(100 * best["test_acc"] - paper) <= 1.5, best["test_acc"]


@pytest.mark.parametrize("name,r,alpha,r_max,wd,batch,patience,bn,seeds,paper", GBP_CASES)
def test_gbp_accuracy(name, r, alpha, r_max, wd, batch, patience, bn, seeds, paper, tmp_path):
    ds, x, sp = _load(name)
    g = ds.graph.add_self_loops()
    targets = torch.cat([sp["train"], sp["val"], sp["test"]])
    out = tmp_path / "gbp.npy"
    gbp_precompute(g, x, targets, num_levels=10, r=r, alpha=alpha, r_max=r_max, num_walks=200, seed=0,
                   out=out, block_size=256)
    store = FeatureStore(str(out), node_ids=targets)
    accs = [100 * train_node_classifier(GBPMLP(x.shape[1], 64, ds.num_classes, 2, 0.5, bn), store, ds.y,
                                        sp["train"], sp["val"], sp["test"], epochs=1000, lr=0.01,
                                        weight_decay=wd, batch_size=batch, patience=patience,
                                        seed=s)["test_acc"] for s in seeds]
    assert abs(sum(accs) / len(accs) - paper) <= 1.5, accs
