"""Loader pipeline stages: item sharding, link sampling with negatives / seed-edge exclusion,
the GraphSAINT loader, Dir-GNN batches."""
import pytest
import torch

import gnnkit
from gnnkit.nn import MiniBatchGNN
from gnnkit.sampling import (GraphSAINTLoader, GraphSAINTRandomWalkSampler, ItemSampler, Loader,
                             NegativeSampling, NeighborLoader, NeighborSampler, FeatureFetcher)

pytestmark = pytest.mark.usefixtures("one_thread")


def graph(n=120, e=900, seed=0, undirected=True):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    ei = ei[:, ei[0] != ei[1]]
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n)
    return g.to_undirected() if undirected else g


def test_item_sampler_shards_are_the_one_process_batches():
    items = torch.arange(1000, 1103)
    one = list(ItemSampler(items, 10, seed=5))
    assert [b.index for b in one] == list(range(11))
    shards = [list(ItemSampler(items, 10, seed=5, rank=r, world_size=3)) for r in range(3)]
    got = sorted((b for s in shards for b in s), key=lambda b: b.index)
    assert [b.index for b in got] == list(range(11))
    for a, b in zip(one, got):
        assert torch.equal(a.items, b.items) and a.seed == b.seed
    assert torch.equal(torch.cat([b.items for b in one]).sort().values, items)
    assert [len(ItemSampler(items, 10, rank=r, world_size=3, drop_uneven=True)) for r in range(3)] == [3, 3, 3]
    assert [len(ItemSampler(items, 10, rank=r, world_size=3)) for r in range(3)] == [4, 4, 3]
    s = ItemSampler(items, 10, seed=5)
    e0, e1 = list(s), list(s)
    s.set_epoch(0)
    assert torch.equal(list(s)[0].items, e0[0].items) and not torch.equal(e0[0].items, e1[0].items)
    pairs = torch.stack([items, items + 1])
    lab = torch.arange(103.0)
    for b in ItemSampler(pairs, 7, labels=lab, seed=1):
        assert b.items.shape[0] == 2 and torch.equal(b.labels, b.items[0].double().float() - 1000)
    r = [b.items for b in ItemSampler(torch.arange(5), 4, replacement=True, num_batches=3, seed=2)]
    assert len(r) == 3 and all(x.numel() == 4 for x in r)
    assert all(torch.equal(x, y.items) for x, y in zip(r, ItemSampler(torch.arange(5), 4, replacement=True,
                                                                      num_batches=3, seed=2)))


def test_item_sampler_bad_input():
    with pytest.raises(ValueError, match="rank = 2 must be < world_size = 2"):
        ItemSampler(torch.arange(4), 2, rank=2, world_size=2)
    with pytest.raises(IndexError, match=r"items\[1\] = -3 is negative"):
        ItemSampler(torch.tensor([1, -3]), 2)
    with pytest.raises(ValueError, match=r"pairs \[2, P\]"):
        ItemSampler(torch.zeros(3, 4, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="integer ids"):
        ItemSampler(torch.zeros(3), 2)
    with pytest.raises(ValueError, match="labels has 2 rows for 4 items"):
        ItemSampler(torch.arange(4), 2, labels=torch.zeros(2))
    with pytest.raises(IndexError, match=r"items\[4\] = 120 is out of range"):
        Loader(ItemSampler(torch.arange(116, 121), 2), NeighborSampler(graph(), [2]))


def test_batches_do_not_depend_on_rank_or_prefetch():
    g = graph()
    full = list(NeighborLoader(g, [3, 2], batch_size=16, seed=3, prefetch=0))
    part = list(NeighborLoader(g, [3, 2], batch_size=16, seed=3, prefetch=2, rank=1, world_size=2))
    assert [b.extra["batch_index"] for b in part] == [1, 3, 5, 7]
    for b in part:
        a = full[b.extra["batch_index"]]
        assert torch.equal(a.n_id, b.n_id) and torch.equal(a.graph[0].e_id, b.graph[0].e_id)


def _global_arcs(block, n_id):
    src = n_id[block.indices.long()]
    dst = n_id[block.dst_index()]
    return set(zip(src.tolist(), dst.tolist()))


def test_link_batches_binary_negatives_and_seed_edge_exclusion():
    g = graph()
    pos = g.edge_index[:, ::37]
    x = torch.randn(g.num_nodes, 3)
    ns = NegativeSampling("binary", amount=2)
    for exclude in (False, True):
        loader = Loader(ItemSampler(pos, 8, seed=0), NeighborSampler(g, [-1, 3], exclude_seed_edges=exclude),
                        FeatureFetcher(x), neg_sampling=ns, prefetch=0)
        for b in loader:
            pairs = b.extra["seed_pairs"]
            p = pairs.shape[1] // 3
            assert b.target.tolist() == [1.0] * p + [0.0] * (2 * p)
            assert torch.equal(b.n_id[b.edge_label_index], pairs)  # positions in the node set
            assert torch.equal(b.x, x[b.n_id]) and torch.equal(b.target, b.extra["edge_label"])
            seed_arcs = set(zip(pairs[0, :p].tolist(), pairs[1, :p].tolist()))
            seed_arcs |= {(v, u) for u, v in seed_arcs}  # undirected graph: both directions
            arcs = _global_arcs(b.graph[-1], b.n_id)
            if exclude:
                assert not arcs & seed_arcs
            else:
                assert seed_arcs <= arcs  # all neighbours in the last layer: the seed arcs are there
    # exclusion removes exactly the seed arcs
    s1 = NeighborSampler(g, [-1], exclude_seed_edges=True).sample_from_edges(pos[:, :5], seed=1)
    s0 = NeighborSampler(g, [-1]).sample_from_edges(pos[:, :5], seed=1)
    removed = _global_arcs(s0.graph[0], s0.n_id) - _global_arcs(s1.graph[0], s1.n_id)
    want = set(zip(pos[0, :5].tolist(), pos[1, :5].tolist()))
    assert removed == want | {(v, u) for u, v in want}


def test_link_batches_triplet_and_custom_hook():
    g = graph()
    pos = g.edge_index[:, :6]
    calls = []

    def hook(graph, pairs, num, seed):
        calls.append(num)
        return torch.full((num,), 7)  # triplet: destinations only

    out = NeighborSampler(g, [2]).sample_from_edges(pos, neg_sampling=NegativeSampling("triplet", 3, hook),
                                                    seed=4)
    assert calls == [18]
    m = out.metadata
    assert torch.equal(out.n_id[m["src_index"]], pos[0]) and torch.equal(out.n_id[m["dst_pos_index"]], pos[1])
    assert m["dst_neg_index"].shape == (6, 3) and bool((out.n_id[m["dst_neg_index"]] == 7).all())
    bad = NegativeSampling("triplet", 2, lambda graph, pairs, num, seed: torch.zeros(2, num).long())
    with pytest.raises(ValueError, match="row 0 of the negatives"):
        NeighborSampler(g, [2]).sample_from_edges(pos, neg_sampling=bad, seed=0)
    with pytest.raises(ValueError, match="integer amount"):
        NegativeSampling("triplet", 1.5)
    with pytest.raises(IndexError, match=r"pairs\[1, 0\] = 500 is out of range"):
        NeighborSampler(g, [2]).sample_from_edges(torch.tensor([[0], [500]]), seed=0)


def test_saint_loader_is_the_sampler_on_the_pipeline():
    g = graph(n=80, e=400)
    x, y = torch.randn(80, 4), torch.arange(80) % 3
    train = torch.arange(0, 80, 2)
    loader = GraphSAINTLoader(g, 6, 3, num_steps=4, sample_coverage=5, features=x, labels=y,
                              input_nodes=train, seed=9, prefetch=1)
    ref = GraphSAINTRandomWalkSampler(g, 6, 3, num_steps=4, sample_coverage=5, seed=9)
    batches = list(loader)
    assert len(batches) == 4
    for b in batches:
        sub = ref.sample(b.seed)  # same roots and walks for the same seed
        assert torch.equal(sub.n_id, b.n_id) and torch.equal(sub.graph.indices, b.graph.indices)
        assert torch.equal(b.x, x[b.n_id]) and torch.equal(b.target, y[b.n_id])
        assert torch.equal(b.n_id[b.split_index["train"]], b.n_id[b.n_id % 2 == 0])
        assert torch.equal(b.extra["node_norm"], sub.node_norm)


def test_dir_sage_trains_on_directed_loader_batches():
    g = graph(undirected=False)
    x = torch.randn(g.num_nodes, 5)
    model = MiniBatchGNN("dir-sage", 5, 8, 3, num_layers=2)
    b = next(iter(NeighborLoader(g, [3, 3], batch_size=10, features=x, directed=True, seed=0)))
    assert isinstance(b.graph[0], tuple) and b.graph[0][1].reverse
    out = model(b.x, b.graph)
    out.sum().backward()
    assert out.shape == (10, 3) and all(p.grad is not None for p in model.parameters())


def test_gather_rows_op(tmp_path):
    import numpy as np

    from gnnkit.ops._library import ops
    from gnnkit.sampling import gather_rows
    from gnnkit.sampling.fetcher import as_rows

    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 50, (300,), generator=gen)
    for src in (torch.randn(50, 7, generator=gen), torch.randn(50, 3, 2, generator=gen).bfloat16(),
                torch.arange(50), torch.randn(50, 9, generator=gen)[:, 2:6]):  # last: strided rows
        if src.dim() > 1 and not src[0].is_contiguous():
            with pytest.raises(ValueError, match="each row of 'src' must be contiguous"):
                gather_rows(src, idx)
            continue
        assert torch.equal(gather_rows(src, idx), src[idx])
        assert torch.equal(gather_rows(src, idx.int()), src[idx])
    np.save(tmp_path / "x.npy", np.arange(200, dtype=np.float32).reshape(50, 4))
    xm = as_rows(np.load(tmp_path / "x.npy", mmap_mode="r"), "x")
    assert torch.equal(gather_rows(xm, idx), torch.arange(200.0).view(50, 4)[idx])
    with pytest.raises(IndexError, match=r"gather_rows: index\[2\] = 50 is out of range for 'src' with 50 rows"):
        gather_rows(torch.zeros(50, 2), torch.tensor([0, 1, 50, -1]))
    assert gather_rows(torch.zeros(50, 2), torch.zeros(0, dtype=torch.long)).shape == (0, 2)
    torch.library.opcheck(ops().gather_rows, (torch.randn(20, 3), torch.tensor([3, 1, 19])),
                          test_utils=("test_schema", "test_faketensor"))
