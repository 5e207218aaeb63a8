"""Same seeds -> same runs across trainer versions (issue #20: one fit loop replaced two trainers).

Runs registry models through ``gnnkit.train.run_experiment`` and writes every run's
(seed, split, train, val, test, best_epoch, epochs, val_loss); with ``--compare OLD.json`` it checks
each run against a file written by another version (e.g. a checkout of the pre-task-layer commit
2d8c0a8): the selected epoch, the number of epochs and the validation loss must be equal, the
scores equal up to 1e-6 (the old trainer averaged accuracies in float32, fit in float64).

    git worktree add /tmp/old 2d8c0a8 && cp gnnkit/_C*.so /tmp/old/gnnkit/
    PYTHONPATH=/tmp/old python experiments/check_fit_reproduction.py --out old.json
    python experiments/check_fit_reproduction.py --out new.json --compare old.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

JOBS = [("gcn", "cora", 10), ("dagnn", "cora", 3), ("gat", "cora", 2), ("gcn", "chameleon", 3),
        ("mlp", "texas", 3)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", default=None)
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA", os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "datasets")))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from gnnkit.data import get_dataset
    from gnnkit.train import run_experiment

    out = {}
    for model, dataset, seeds in JOBS:
        ds = get_dataset(dataset, root=args.root)
        res = run_experiment(model, ds, seeds=range(seeds))  # every split of the dataset
        out[f"{model}/{dataset}"] = [(r.seed, r.split, r.train, r.val, r.test, r.best_epoch, r.epochs,
                                      r.val_loss) for r in res.runs]
        print(model, dataset, f"test {100 * res.mean_std()[0]:.2f} over {len(res.runs)} runs", flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f)
    if args.compare is None:
        print("RESULT " + json.dumps({"runs": sum(len(v) for v in out.values())}))
        return 0
    with open(args.compare) as f:
        old = json.load(f)
    same = bad = 0
    for key, runs in out.items():
        for a, b in zip(old.get(key, []), runs):
            ok = a[:2] == list(b[:2]) and all(abs(x - y) <= 1e-6 for x, y in zip(a[2:5], b[2:5])) \
                and a[5:] == list(b[5:])
            same += ok
            bad += not ok
            if not ok:
                print("differs:", key, "old", a, "new", list(b))
    print("RESULT " + json.dumps({"runs": same + bad, "identical": same, "different": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
