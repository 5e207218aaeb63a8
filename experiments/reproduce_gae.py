"""GAE / VGAE on Cora and CiteSeer, the paper's protocol (Kipf & Welling 2016, arXiv:1611.07308).

85/5/10 random edge split per seed (gnnkit.link.random_link_split, seed = run), GCN 32-16
encoder, full-adjacency weighted reconstruction loss, Adam lr 0.01, 200 epochs, the final
model scored on the test pairs (positives + as many fixed negatives): ROC-AUC and AP, mean and
std over the seeds.  Everything goes through the task layer (LinkTask + fit + registry recipes).

    OMP_NUM_THREADS=1 python experiments/reproduce_gae.py --runs 10 [--datasets cora citeseer]

Last line: RESULT {json}.
"""
import argparse
import json
import os
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    ap.add_argument("--models", nargs="+", default=["gae", "vgae"])
    args = ap.parse_args()
    from gnnkit.data import get_dataset
    from gnnkit.nn.models import build_model
    from gnnkit.tasks import LinkTask
    from gnnkit.tasks.metrics import average_precision, roc_auc
    from gnnkit.train import TrainConfig, fit, split_options
    from gnnkit.train.recipes import model_defaults

    out = {"load": os.getloadavg(), "threads": torch.get_num_threads()}
    for dname in args.datasets:
        ds = get_dataset(dname)
        for mname in args.models:
            mk, tk = model_defaults(mname, dname)
            tk["eval_every"] = tk["epochs"]  # the paper reports the final model
            train_kw, task_kw = split_options(tk)
            aucs, aps, times = [], [], []
            for run in range(args.runs):
                task = LinkTask(ds, split=run, **task_kw)
                model = build_model(mname, task, **mk)
                t0 = time.perf_counter()
                fit(model, task, config=TrainConfig.from_dict(train_kw), seed=run)
                times.append(time.perf_counter() - t0)
                model.eval()
                with torch.no_grad():
                    b = task.loaders(seed=run, splits=("test",))["eval"][0]
                    score = task.forward(model, b)
                aucs.append(100 * roc_auc(score, b.target))
                aps.append(100 * average_precision(score, b.target))
                print(f"{dname} {mname} run {run}: AUC {aucs[-1]:.2f} AP {aps[-1]:.2f} ({times[-1]:.1f} s)", flush=True)
            a, p = torch.tensor(aucs), torch.tensor(aps)
            out[f"{dname}/{mname}"] = {"auc": round(float(a.mean()), 2), "auc_std": round(float(a.std()), 2),
                                       "ap": round(float(p.mean()), 2), "ap_std": round(float(p.std()), 2),
                                       "runs": args.runs, "s_per_run": round(sum(times) / len(times), 2)}
            print(f"{dname} {mname}: AUC {a.mean():.2f} ± {a.std():.2f}, AP {p.mean():.2f} ± {p.std():.2f}", flush=True)
    out["load_end"] = os.getloadavg()
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
