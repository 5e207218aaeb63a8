"""Reproduction of GCN / GAT / DAGNN on the public Planetoid splits (real data, marked `data`).

Thresholds (test accuracy, %) are the issue's lower bounds, a bit under the papers' numbers
(GCN 81.5 / 70.3, GAT 83.0 / 72.5, DAGNN 84.4 / 73.3).  For time the suite trains
``GNNKIT_REPRO_SEEDS`` seeds (default 2; the full 10-seed table comes from
``experiments/reproduce_planetoid.py``) and checks ``mean >= threshold - MARGIN``.
MARGIN = 0.5 points: the per-seed standard deviation of these models is 0.5-0.8 points, so the
mean of 2 seeds has a standard error of about 0.4-0.6; our 10-seed means sit 1-2 points above the
thresholds, so a correct implementation passes while a broken one (which typically loses several
points) fails.  GAT and DAGNN on CiteSeer are marked slow (``-m slow``): the default suite checks
every model on Cora.
"""
import os

import pytest

from gnnkit.data import get_dataset
from gnnkit.train import run_experiment

pytestmark = [pytest.mark.data, pytest.mark.usefixtures("one_thread")]

SEEDS = int(os.environ.get("GNNKIT_REPRO_SEEDS", "2"))
MARGIN = 0.5
THRESHOLDS = {("gcn", "cora"): 80.5, ("gcn", "citeseer"): 69.5, ("gat", "cora"): 82.0,
              ("gat", "citeseer"): 70.5, ("dagnn", "cora"): 83.5, ("dagnn", "citeseer"): 72.3}


@pytest.fixture(scope="module")
def planetoid(data_root):
    if not (data_root / "planetoid").is_dir():
        pytest.skip(f"Planetoid files not found under {data_root / 'planetoid'}")
    return {name: get_dataset(name, root=data_root) for name in ("cora", "citeseer")}


# CiteSeer GAT / DAGNN (~12 and ~17 s) run with -m slow; the default suite keeps every model on
# Cora and GCN on CiteSeer (suite time: README "Tests")
SLOW = {("gat", "citeseer"), ("dagnn", "citeseer")}


@pytest.mark.parametrize("model,dataset", [pytest.param(*k, marks=pytest.mark.slow) if k in SLOW else k
                                           for k in sorted(THRESHOLDS)])
def test_planetoid_reproduction(planetoid, model, dataset):
    ds = planetoid[dataset]
    res = run_experiment(model, ds, seeds=range(SEEDS))
    mean, std = res.mean_std("test")
    accs = [round(100 * r.test, 1) for r in res.runs]
    assert 100 * mean >= THRESHOLDS[(model, dataset)] - MARGIN, (
        f"{model} on {dataset}: mean test accuracy {100 * mean:.2f} over seeds {accs} is below "
        f"{THRESHOLDS[(model, dataset)]} - {MARGIN}")
