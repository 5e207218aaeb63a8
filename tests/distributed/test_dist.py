"""Two gloo ranks on 127.0.0.1: distributed sampling, training, propagation, failure, resume.

Each launch spawns 2 processes (free port, timeout, killed on exit).  References are computed
in this process with the one-process sampler / trainer / propagation.
"""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gnnkit
from gnnkit.distributed import partition_nodes, write_partitions
from gnnkit.distributed.loader import rank_batch, steps_per_epoch

sys.path.insert(0, str(Path(__file__).parent))
from _launch import launch  # noqa: E402

N, FEAT, CLASSES = 240, 6, 3
TRAIN = dict(fanouts=[4, 3], hidden=16, batch_size=32, lr=0.05, seed=3, epochs=2)
GBP = dict(block_size=2, r_max=1e-3, num_walks=50, num_levels=3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, CLASSES, (N,), generator=g)
    x = torch.randn(N, FEAT, generator=g) + F.one_hot(y, CLASSES).float().repeat(1, 2)
    src = torch.randint(0, N, (1500,), generator=g)
    dst = torch.randint(0, N, (1500,), generator=g)
    graph = gnnkit.Graph.from_edge_index(torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]), num_nodes=N)
    train, test = torch.arange(0, 150), torch.arange(180, 240)
    owner = partition_nodes(graph, 2, "stream", train_nodes=train)
    d = tmp_path_factory.mktemp("dist")
    write_partitions(graph, owner, d / "parts", features=x, labels=y, splits={"train": train, "test": test})
    # one launch runs every 2-rank case of this module (spawning costs seconds)
    batches = [[[torch.from_numpy(np.flatnonzero(owner == r))[:25].tolist(), 11 + r]] for r in range(2)]
    out = d / "out"
    out.mkdir()
    # GBP by columns: whole graph + features on the "shared filesystem" (d), 5 columns in blocks of 2
    torch.save((graph.indptr, graph.indices), d / "graph.pt")
    np.save(d / "x.npy", x[:, :5].numpy())
    gbp = dict(GBP, graph=str(d / "graph.pt"), x=str(d / "x.npy"), out=str(d / "gbp.npy"))
    res = launch("all", d / "parts", out, {**TRAIN, "fanouts": [5, 3], "train_fanouts": TRAIN["fanouts"],
                                                "batches": batches, "hops": 2, "gbp": gbp})
    for rc, log, _ in res:
        assert rc == 0, log[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    return graph, x, y, train, test, owner, batches, ranks, d


def test_distributed_blocks_equal_one_process_blocks(setup):
    graph, *_, owner, batches, ranks, _ = setup
    import gnnkit._C  # noqa: F401
    for r in range(2):
        seeds, seed = batches[r][0]
        ref = torch.ops.gnnkit.neighbor_sample(graph.indptr, graph.indices, torch.tensor(seeds), [5, 3], None, seed)
        got = ranks[r]["sample"][0]
        for i, name in ((0, "n_id"), (1, "hop_ptr"), (2, "rowptr"), (3, "col"), (4, "e_id"), (8, "degree")):
            assert torch.equal(got[i].long(), ref[i].long()), name
        assert ranks[r]["sample"]["bytes"] > 0  # remote neighbours crossed ranks


def test_distributed_sign_equals_one_process(setup):
    graph, x, *_, ranks, _ = setup
    from gnnkit.precompute import sign_features

    ref = sign_features(graph, x, 2)
    for r in range(2):
        nodes = ranks[r]["prop"]["nodes"]
        for k in range(3):
            torch.testing.assert_close(ranks[r]["prop"]["xs"][k], ref[k][nodes], rtol=1e-6, atol=1e-6)


def test_distributed_gbp_by_columns_equals_one_process(setup):
    """3 column blocks over 2 ranks (blocks [0, 1) and [1, 3)), the seed drawn on rank 0: the
    shared file equals the one-process run with that seed bit for bit (push + walks, r_max > 0)."""
    graph, x, *_, d = setup
    from gnnkit.precompute import gbp_precompute

    got = np.load(d / "gbp.npy")
    state = __import__("json").loads((d / "gbp.npy.state.json").read_text())
    assert sorted(map(tuple, state["done"])) == [(0, 2), (2, 4), (4, 5)]
    ref = gbp_precompute(graph, x[:, :5].numpy(), seed=state["params"]["seed"], block_size=GBP["block_size"],
                         r_max=GBP["r_max"], num_walks=GBP["num_walks"], num_levels=GBP["num_levels"])
    assert np.array_equal(got, ref.numpy())
    assert np.abs(got).sum() > 0


def _reference_training(graph, x, y, train, test, owner):
    """One process stepping on the mean of the two ranks' batch losses."""
    from gnnkit.sampling import sample_neighbors
    from gnnkit.sampling.minibatch import MiniBatchGNN

    t = TRAIN
    per_rank = [train[torch.from_numpy(owner[train.numpy()] == r)] for r in range(2)]
    steps = max(steps_per_epoch(p.numel(), t["batch_size"]) for p in per_rank)
    torch.manual_seed(t["seed"])
    net = MiniBatchGNN("sage", FEAT, t["hidden"], CLASSES, num_layers=2, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=t["lr"])
    for e in range(t["epochs"]):
        for step in range(steps):
            losses = []
            for r in range(2):
                seeds, s = rank_batch(per_rank[r], r, e, step, t["batch_size"], t["seed"])
                smp = sample_neighbors(graph, seeds, t["fanouts"], seed=s)
                losses.append(F.cross_entropy(net(x[smp.n_id], smp.blocks), y[seeds]))
            opt.zero_grad()
            torch.stack(losses).mean().backward()
            opt.step()
    # test accuracy as DistNodeTask's eval loader samples it: each rank's own test nodes, in order
    correct = total = 0
    net.eval()
    with torch.no_grad():
        for r in range(2):
            ids = test[torch.from_numpy(owner[test.numpy()] == r)]
            for step, lo in enumerate(range(0, ids.numel(), t["batch_size"])):
                seeds = ids[lo:lo + t["batch_size"]]
                smp = sample_neighbors(graph, seeds, t["fanouts"], seed=(t["seed"] << 20) + step + 1)
                correct += int((net(x[smp.n_id], smp.blocks).argmax(-1) == y[seeds]).sum())
                total += seeds.numel()
    return net, steps, correct / total


def test_two_rank_training_equals_one_process_on_the_union(setup):
    graph, x, y, train, test, owner, _, ranks, _ = setup
    net, steps, acc = _reference_training(graph, x, y, train, test, owner)
    assert ranks[0]["train"]["steps"] == steps
    for r in range(2):
        for k, v in net.state_dict().items():
            torch.testing.assert_close(ranks[r]["train"]["state"][k], v, rtol=1e-4, atol=1e-5)
    assert ranks[0]["train"]["acc"] == ranks[1]["train"]["acc"] == pytest.approx(acc, abs=1e-9)
    assert acc > 1.0 / CLASSES + 0.1  # it learned something (features carry the label)


def test_killed_rank_fails_the_job_fast_and_resume_continues(setup):
    graph, *_, d = setup
    ck = d / "ckpt"
    base = ["--fanouts", "4", "3", "--hidden", "16", "--batch-size", "32", "--lr", "0.05", "--seed", "3",
            "--dropout", "0", "--epochs", "2", "--checkpoint", str(ck), "--timeout", "30"]
    res = launch("train_cli", d / "parts", d, {"argv": [str(d / "parts")] + base}, timeout=90,
                 env_extra={"GNNKIT_TEST_DIE": "1:1"})  # rank 1 dies after epoch 1's checkpoint
    (rc0, log0, t0), (rc1, _, _) = res
    assert rc1 == 3
    assert rc0 == 1 and "rank 0" in log0 and "peer rank failed" in log0, log0[-2000:]
    assert t0 < 60
    assert (ck / "last.pt").is_file() and torch.load(ck / "last.pt", weights_only=True)["epoch"] == 1
    res = launch("train_cli", d / "parts", d, {"argv": [str(d / "parts")] + base + ["--resume"]}, timeout=90)
    assert all(rc == 0 for rc, _, _ in res), res[0][1][-2000:]
    state = torch.load(ck / "last.pt", weights_only=True)
    assert state["epoch"] == 2
    # resumed epoch 2 from the checkpoint of epoch 1 == the uninterrupted 2-epoch run of the first launch
    for k, v in setup[7][0]["train"]["state"].items():
        torch.testing.assert_close(state["model"][k], v, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a host without CUDA")
def test_device_cuda_without_a_gpu_fails_before_the_process_group():
    from gnnkit.distributed.train import main

    with pytest.raises(SystemExit, match="--device cuda, but torch sees no CUDA device"):
        main(["/nonexistent-parts", "--device", "cuda"])
