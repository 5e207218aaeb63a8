"""node2vec / DeepWalk (compiled walks + compiled SGNS) and the linear probe."""
import pytest
import torch

import gnnkit
from gnnkit.embed import deepwalk_embedding, linear_probe, node2vec_embedding, sgns_train
from gnnkit.ops._library import ops
from gnnkit.testing import sgns_positive_reference


def _two_cliques(k=15):
    a = torch.combinations(torch.arange(k)).t()
    ei = torch.cat([a, a + k, torch.tensor([[0], [k]])], 1)
    return gnnkit.Graph.from_edge_index(ei, num_nodes=2 * k).to_undirected()


def test_embeddings_separate_communities_and_probe():
    g = _two_cliques()
    emb = node2vec_embedding(g, 16, walk_length=40, walks_per_node=20, window=4, epochs=3, seed=0)
    assert emb.shape == (30, 16) and emb.dtype == torch.float32 and bool(torch.isfinite(emb).all())
    e = torch.nn.functional.normalize(emb, dim=1)
    sim = e @ e.t()
    same = torch.block_diag(torch.ones(15, 15), torch.ones(15, 15)).bool()
    assert float(sim[same].mean()) > float(sim[~same].mean()) + 0.3
    y = torch.cat([torch.zeros(15), torch.ones(15)]).long()
    r = linear_probe(emb, y, torch.tensor([1, 2, 16, 17]), torch.arange(30), weight_decay=0.01)
    assert r["test_acc"] > 0.9 and "weight_decay" in r


def test_single_thread_is_reproducible():
    g = _two_cliques(8)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = deepwalk_embedding(g, 8, walk_length=10, walks_per_node=2, window=3, seed=1)
        b = deepwalk_embedding(g, 8, walk_length=10, walks_per_node=2, window=3, seed=1)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(a, b)


def test_update_order_matches_gensim_oracle():
    # window 1 (no shrink), no negatives, no down-sampling: the kernel is deterministic and must
    # follow gensim's pair-by-pair order, skip |score| >= 6 and decay the rate per walk.
    gen = torch.Generator().manual_seed(0)
    walks = torch.randint(0, 6, (5, 8), generator=gen)
    walks[1, 5:] = -1
    emb_in = torch.randn(6, 8, generator=gen) * 1.2
    emb_out = torch.randn(6, 8, generator=gen) * 1.2
    want_in, want_out = sgns_positive_reference(walks, emb_in, emb_out, 0.5, 0.1, walk_offset=2, total_walks=9)
    got_in, got_out = emb_in.clone(), emb_out.clone()
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        pairs = ops().sgns_train(walks, got_in, got_out, torch.ones(6), None, 1, 0, 0.5, 0.1, 2, 9, 3)
    finally:
        torch.set_num_threads(old)
    assert pairs == 2 * (4 * 7 + 4)
    assert not torch.equal(got_in, emb_in)
    torch.testing.assert_close(got_in, want_in, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_out, want_out, rtol=1e-5, atol=1e-5)


def test_bad_input():
    walks = torch.tensor([[0, 1, 5]])
    with pytest.raises(IndexError, match=r"walks\[0, 2\] = 5"):
        ops().sgns_train(walks, torch.zeros(3, 4), torch.zeros(3, 4), torch.ones(3), None, 2, 1, 0.025,
                         1e-4, 0, 1, 0)
    with pytest.raises(ValueError, match="'noise' must have shape"):
        ops().sgns_train(walks.clamp(max=2), torch.zeros(3, 4), torch.zeros(3, 4), torch.ones(2), None, 2, 1,
                         0.025, 1e-4, 0, 1, 0)
    with pytest.raises(TypeError, match="'emb_in' must be float32"):
        ops().sgns_train(walks.clamp(max=2), torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, 4),
                         torch.ones(3), None, 2, 1, 0.025, 1e-4, 0, 1, 0)
    with pytest.raises(ValueError, match="'window'"):
        sgns_train(walks.clamp(max=2), 3, 4, window=0)
    with pytest.raises(ValueError, match="'graph' has no nodes"):
        node2vec_embedding(gnnkit.Graph.empty(0))
    with pytest.raises(ValueError, match="DeepWalk walks are uniform"):
        deepwalk_embedding(_two_cliques(3), p=2.0)
