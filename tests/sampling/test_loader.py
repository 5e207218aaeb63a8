"""NeighborLoader (the node pipeline): coverage, gathering from memory maps, determinism,
background thread."""
import threading

import numpy as np
import pytest
import torch

import gnnkit
from gnnkit.sampling import ItemSampler, Loader, NeighborSampler
from gnnkit.sampling.loader import NeighborLoader
from gnnkit.tasks.batch import Batch


def graph(n=200, e=1500, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return gnnkit.Graph.from_edge_index(torch.randint(0, n, (2, e), generator=gen), num_nodes=n)


def test_epoch_covers_input_nodes_once():
    g = graph()
    train = torch.arange(0, 200, 3)
    loader = NeighborLoader(g, [4, 3], input_nodes=train, batch_size=16, seed=1)
    assert len(loader) == 5 and "num_batches=5" in repr(loader)
    seen = torch.cat([b.n_id[: b.extra['batch_size']] for b in loader])
    assert torch.equal(seen.sort().values, train)
    loader = NeighborLoader(g, [4, 3], input_nodes=train, batch_size=16, drop_last=True, seed=1)
    assert len(loader) == 4 and [b.extra['batch_size'] for b in loader] == [16] * 4
    mask = torch.zeros(200, dtype=torch.bool)
    mask[train] = True
    assert len(NeighborLoader(g, [2], input_nodes=mask, batch_size=16)) == 5


def test_gathers_from_memmap(tmp_path):
    g = graph()
    x = np.random.default_rng(0).standard_normal((200, 7)).astype(np.float32)
    y = np.arange(200, dtype=np.int64) % 5
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    ym = np.load(tmp_path / "y.npy", mmap_mode="r")
    loader = NeighborLoader(g, [3, 3], batch_size=50, features=xm, labels=ym, seed=0)
    for b in loader:
        assert isinstance(b, Batch) and b.split_index == {"train": None}
        assert np.array_equal(b.x.numpy(), x[b.n_id.numpy()])
        seeds = b.n_id[: b.extra["batch_size"]]
        assert isinstance(b.seed, int) and b.target.shape[0] == seeds.numel()
        assert np.array_equal(b.target.numpy(), y[seeds.numpy()])
        assert b.graph[0].num_src_nodes == b.x.shape[0]


def test_deterministic_across_prefetch_and_threads():
    g = graph()

    def run(prefetch, threads):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            loader = NeighborLoader(g, [5, -1], batch_size=32, prefetch=prefetch, seed=7, directed=True)
            return [list(loader) for _ in range(2)]
        finally:
            torch.set_num_threads(old)

    a, b = run(0, 1), run(3, 2)
    for ea, eb in zip(a, b):
        for x, y in zip(ea, eb):
            assert torch.equal(x.n_id, y.n_id)
            (bi, bo), (ci, co) = x.graph[0], y.graph[0]  # directed: (in, out) block pairs
            assert torch.equal(bi.e_id, ci.e_id) and torch.equal(bo.e_id, co.e_id)
    # two epochs shuffle differently
    assert not torch.equal(a[0][0].n_id[:32], a[1][0].n_id[:32])


def test_worker_errors_reach_the_consumer_and_early_exit():
    g = graph()
    with pytest.raises(ValueError, match="no edge_weight"):
        NeighborLoader(g, [2], batch_size=10, weighted=True)  # g has no weights

    class Failing(NeighborSampler):
        def sample_from_nodes(self, seeds, *, seed):
            if int(seeds[0]) % 7 == 3:
                raise RuntimeError("boom in the worker")
            return super().sample_from_nodes(seeds, seed=seed)

    loader = Loader(ItemSampler(torch.arange(200), 1, shuffle=False), Failing(g, [2]), prefetch=2)
    with pytest.raises(RuntimeError, match="boom in the worker"):
        list(loader)
    before = threading.active_count()
    loader = NeighborLoader(g, [2], batch_size=1, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    assert threading.active_count() <= before + 1


def test_progress_bar_runs():
    pytest.importorskip("tqdm")
    loader = NeighborLoader(graph(), [2], batch_size=100, progress=True, seed=0)
    assert sum(b.extra['batch_size'] for b in loader) == 200


def test_bad_input():
    g = graph()
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        NeighborLoader(g, [2], batch_size=0)
    with pytest.raises(ValueError, match="prefetch must be an int >= 0"):
        NeighborLoader(g, [2], prefetch=-1)
    with pytest.raises(IndexError, match=r"input_nodes\[1\] = 200 is out of range"):
        NeighborLoader(g, [2], input_nodes=torch.tensor([0, 200]))
    with pytest.raises(ValueError, match="features has 3 rows"):
        NeighborLoader(g, [2], features=torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"fanouts\[0\] = -5"):
        NeighborLoader(g, [-5])
    with pytest.raises(TypeError, match="features"):
        NeighborLoader(g, [2], features=[[1.0]])
