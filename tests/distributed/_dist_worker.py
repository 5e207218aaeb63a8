"""One rank of the distributed tests (spawned by tests/distributed/conftest-free helpers).

Usage: python _dist_worker.py CASE PARTS OUT [options as JSON]; RANK / WORLD_SIZE /
MASTER_ADDR / MASTER_PORT come from the environment (gloo on 127.0.0.1).
"""
import datetime
import json
import sys

import torch
import torch.distributed as dist


def main():
    case, parts, out = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    if case == "train_cli":
        from gnnkit.distributed.train import main as train_main
        sys.exit(train_main(opts["argv"]))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=opts.get("timeout", 60)))
    rank = dist.get_rank()
    from gnnkit.distributed import PartitionBook, open_partition
    book = PartitionBook.open(parts)
    part = open_partition(parts, rank, book)
    res = {}
    cases = ("sample", "propagate", "gbp", "train") if case == "all" else (case,)
    if "sample" in cases:
        from gnnkit.distributed.sampler import DistNeighborSampler
        s = DistNeighborSampler(part, book, opts["fanouts"])
        res["sample"] = {i: s.sample(torch.tensor(seeds, dtype=torch.int64), seed)
                         for i, (seeds, seed) in enumerate(opts["batches"][rank])}
        res["sample"]["bytes"] = s.ex.bytes_sent
    if "propagate" in cases:
        from gnnkit.distributed.propagate import dist_sign_features
        res["prop"] = {"xs": dist_sign_features(part, book, opts["hops"]), "nodes": part.nodes[part.inner_pos]}
    if "gbp" in cases and "gbp" in opts:
        import gnnkit
        from gnnkit.distributed.propagate import dist_gbp_precompute
        g = opts["gbp"]
        ptr, idx = torch.load(g["graph"], weights_only=True)
        dist_gbp_precompute(gnnkit.Graph(ptr, idx), g["x"], out=g["out"], block_size=g["block_size"],
                            r_max=g["r_max"], num_walks=g["num_walks"], num_levels=g["num_levels"])
    if "train" in cases:
        from gnnkit.distributed.train import EpochLog, build
        from gnnkit.train import TrainConfig, fit
        task, model, _ = build(parts, fanouts=opts["train_fanouts"], hidden=opts["hidden"], dropout=0.0,
                               batch_size=opts["batch_size"], seed=opts["seed"])
        r = fit(model, task, config=TrainConfig(optimizer="adam", lr=opts["lr"], weight_decay=0.0,
                                                epochs=opts["epochs"], monitor="last", eval_every=opts["epochs"]),
                callbacks=[EpochLog()])
        res["train"] = {"state": model.module.state_dict(), "steps": task.steps, "acc": r.test}
    torch.save(res, f"{out}/rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
