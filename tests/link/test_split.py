"""random_link_split: leak-free, pairs kept together, reproducible, typed errors."""
import pytest
import torch

import gnnkit
from gnnkit.link import random_link_split, target_pairs


def _ring_plus(n=60, extra=120, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ring = torch.arange(n)
    ei = torch.cat([torch.stack([ring, (ring + 1) % n]), torch.randint(0, n, (2, extra), generator=gen)], 1)
    return gnnkit.Graph.from_edge_index(ei, num_nodes=n).coalesce().to_undirected()


def _set(ei):
    return set(zip(ei[0].tolist(), ei[1].tolist()))


def test_undirected_split_is_leak_free():
    g = _ring_plus()
    s = random_link_split(g, val=0.1, test=0.2, seed=3)
    m = target_pairs(g).shape[1]
    assert s.train_pos.shape[1] + s.val_pos.shape[1] + s.test_pos.shape[1] == m
    assert s.val_pos.shape[1] == round(0.1 * m) and s.test_pos.shape[1] == round(0.2 * m)
    train_arcs = _set(s.train_graph.edge_index)
    for held in (s.val_pos, s.test_pos):
        for u, v in held.t().tolist():  # neither direction of a held-out pair is in the MP graph
            assert (u, v) not in train_arcs and (v, u) not in train_arcs
    assert train_arcs == _set(s.train_pos) | _set(s.train_pos.flip(0))
    assert not s.train_graph.directed
    full = _set(g.edge_index)
    for neg in (s.val_neg, s.test_neg):
        assert neg.shape == (2, round(0.1 * m)) or neg.shape[1] == s.test_pos.shape[1]
        assert not any((u, v) in full for u, v in neg.t().tolist())
        assert bool((neg[0] < neg[1]).all())


def test_directed_and_reproducible():
    gen = torch.Generator().manual_seed(0)
    g = gnnkit.Graph.from_edge_index(torch.randint(0, 40, (2, 300), generator=gen), num_nodes=40).coalesce()
    a, b = random_link_split(g, 0.1, 0.1, seed=5), random_link_split(g, 0.1, 0.1, seed=5)
    assert torch.equal(a.test_pos, b.test_pos) and torch.equal(a.val_neg, b.val_neg)
    assert not torch.equal(a.test_pos, random_link_split(g, 0.1, 0.1, seed=6).test_pos)
    assert a.train_graph.directed and a.train_graph.num_edges == a.train_pos.shape[1]


def test_bad_fractions_and_empty():
    g = _ring_plus()
    with pytest.raises(ValueError, match="'val' \\+ 'test' = 1.2"):
        random_link_split(g, val=0.6, test=0.6)
    with pytest.raises(ValueError, match="'test' must be a fraction"):
        random_link_split(g, test=-0.1)
    with pytest.raises(ValueError, match="'graph' has no edges"):
        random_link_split(gnnkit.Graph.empty(5))
    with pytest.raises(ValueError, match="'neg_ratio'"):
        random_link_split(g, neg_ratio=-1)
