"""GraphSAINT random-walk sampler: walks, induced subgraphs, normalisation coefficients."""
import pytest
import torch

import gnnkit
from gnnkit.ops._library import ops
from gnnkit.sampling.neighbor import draw_seed
from gnnkit.sampling.saint import GraphSAINTRandomWalkSampler, induced_subgraph, saint_random_walk


def graph(n=40, e=160, seed=0, undirected=True, weighted=False):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    w = torch.rand(e, generator=gen) if weighted else None
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n, edge_weight=w)
    return g.to_undirected() if undirected else g


def test_walks_follow_in_arcs():
    g = graph(undirected=False)
    start = torch.arange(40).repeat(5)
    w = saint_random_walk(g, start, 6, seed=3)
    assert w.shape == (200, 7) and torch.equal(w[:, 0], start)
    arcs = set(map(tuple, g.edge_index.t().tolist()))
    sinks = set((g.in_degree() == 0).nonzero().view(-1).tolist())
    for row in w.tolist():
        for a, b in zip(row[:-1], row[1:]):
            assert (b, a) in arcs or (a in sinks and a == b)


def test_walks_thread_invariant_and_seeded():
    g = graph(n=500, e=5000)
    start = torch.randint(0, 500, (3000,), generator=torch.Generator().manual_seed(0))
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = saint_random_walk(g, start, 8, seed=11)
        torch.set_num_threads(3)
        b = saint_random_walk(g, start, 8, seed=11)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(a, b)
    assert not torch.equal(a, saint_random_walk(g, start, 8, seed=12))


def test_walk_step_is_uniform():
    # node 0 has in-neighbours 1..4: first steps are uniform over them
    g = gnnkit.Graph.from_edge_index(torch.tensor([[1, 2, 3, 4], [0, 0, 0, 0]]))
    w = saint_random_walk(g, torch.zeros(4000, dtype=torch.long), 1, seed=0)
    counts = torch.bincount(w[:, 1], minlength=5)[1:].double()
    chi2 = ((counts - 1000) ** 2 / 1000).sum().item()
    assert chi2 < 16.27  # chi2(3) quantile 0.999


def test_dead_end_stays_put_exact():
    # 0 <- 1 <- 2 (arcs 2 -> 1 -> 0): in-neighbour walks from 0 go 0, 1, 2 and then stay at 2
    # (no in-arcs), as torch_cluster's random_walk; an isolated node stays put from the start
    g = gnnkit.Graph.from_edge_index(torch.tensor([[2, 1], [1, 0]]), num_nodes=4)
    w = saint_random_walk(g, [0, 1, 2, 3], 4, seed=7)
    assert w.tolist() == [[0, 1, 2, 2, 2], [1, 2, 2, 2, 2], [2, 2, 2, 2, 2], [3, 3, 3, 3, 3]]
    assert saint_random_walk(g, [0], 0, seed=7).tolist() == [[0]]
    assert saint_random_walk(g, torch.zeros(0, dtype=torch.long), 3, seed=7).shape == (0, 4)


def test_walks_run_on_the_shared_walk_engine():
    # saint_random_walk drives walk::walk_one (the engine of gnnkit.ops.random_walk) on the CSR
    # itself: its in-neighbour walks on g are random_walk's out-neighbour walks on g.reverse()
    # for the same seed, except that a dead end stays put instead of padding -1.
    from gnnkit.ops import random_walk

    g = graph(n=60, e=150, seed=4, undirected=False)
    start = torch.arange(60).repeat(3)
    a = saint_random_walk(g, start, 7, seed=123)
    b = random_walk(g.reverse(), start, walk_length=7, seed=123)
    assert bool((g.in_degree() == 0).any()), "the check needs some dead ends"
    alive = b >= 0
    assert torch.equal(a[alive], b[alive])
    # from its first -1 on, a padded walk repeats its last node, which has no in-arcs
    first_dead = (~alive).int().argmax(1)
    padded = (~alive).any(1).nonzero().view(-1).tolist()
    assert padded, "the check needs some walks that reach a dead end"
    for r in padded:
        k = int(first_dead[r])
        assert bool((a[r, k:] == b[r, k - 1]).all()) and int(g.in_degree()[b[r, k - 1]]) == 0


def test_malformed_csr_raises_typed_errors():
    # rows and columns are checked before they are followed
    with pytest.raises(ValueError, match=r"rowptr is not a valid CSR offset array at row 1"):
        ops().saint_random_walk(torch.tensor([0, 3, 1, 3]), torch.tensor([0, 1, 2]), torch.tensor([1]), 2, 0)
    with pytest.raises(IndexError, match=r"col\[0\] = 5 is out of range \[0, 2\)"):
        ops().saint_random_walk(torch.tensor([0, 1, 1]), torch.tensor([5], dtype=torch.int32),
                                torch.tensor([0]), 1, 0)
    with pytest.raises(ValueError, match=r"rowptr\[-1\] = 2 must equal the number of edges"):
        ops().saint_random_walk(torch.tensor([0, 1, 2]), torch.tensor([0]), torch.tensor([0]), 1, 0)


@pytest.mark.parametrize("weighted", [False, True])
def test_induced_subgraph_matches_graph_subgraph(weighted):
    g = graph(undirected=False, weighted=weighted)
    for nodes in (torch.tensor([0, 3, 5, 17, 39]), torch.arange(40), torch.zeros(0, dtype=torch.long)):
        sub, pos = induced_subgraph(g, nodes)
        ref, ref_pos = g.subgraph(nodes)
        assert torch.equal(sub.indptr, ref.indptr) and torch.equal(sub.indices.long(), ref.indices.long())
        assert torch.equal(pos, ref_pos)
        if weighted:
            assert torch.equal(sub.edge_weight, ref.edge_weight)


def test_norms_match_independent_count():
    g = graph()
    s = GraphSAINTRandomWalkSampler(g, num_roots=4, walk_length=3, sample_coverage=5, seed=2)
    # recount with gnnkit.Graph.subgraph, replaying the sampler's seed sequence
    gen = torch.Generator().manual_seed(2)
    nc = torch.zeros(g.num_nodes)
    ec = torch.zeros(g.num_edges)
    total = n = 0
    while total < 5 * g.num_nodes:
        seed = draw_seed(gen)
        roots = torch.randint(0, g.num_nodes, (4,), generator=torch.Generator().manual_seed(seed))
        nodes = torch.unique(saint_random_walk(g, roots, 3, seed=seed))
        _, pos = g.subgraph(nodes)
        nc[nodes] += 1
        ec[pos] += 1
        total += nodes.numel()
        n += 1
    assert s.num_presampled == n
    assert torch.equal(s.node_count.float(), nc) and torch.equal(s.edge_count.float(), ec)
    sub = s.sample()
    v = sub.n_id[sub.graph.dst_index()]
    want_edge = nc[v].double().clamp_min(0.1) / ec[sub.edge_pos].double().where(ec[sub.edge_pos] > 0,
                                                                               torch.tensor(0.1, dtype=torch.float64))
    torch.testing.assert_close(sub.edge_norm, want_edge)
    want_node = n / (nc[sub.n_id].double().clamp_min(0.1) * g.num_nodes)
    torch.testing.assert_close(sub.node_norm, want_node)
    torch.testing.assert_close(s.lam[sub.n_id], nc[sub.n_id].double().clamp_min(0.1) / n)


def test_normalisation_is_unbiased():
    torch.manual_seed(0)
    g = graph(n=30, e=90)
    s = GraphSAINTRandomWalkSampler(g, num_roots=3, walk_length=2, sample_coverage=150, seed=5)
    f = torch.rand(g.num_nodes, dtype=torch.float64)
    T = 1200
    loss_est = 0.0
    agg = torch.zeros(g.num_nodes, dtype=torch.float64)
    hits = torch.zeros(g.num_nodes, dtype=torch.float64)
    for _ in range(T):
        sub = s.sample()
        loss_est += float((sub.node_norm * f[sub.n_id]).sum())
        # sum of edge_norm over the in-arcs of v inside the subgraph estimates deg(v)
        agg.index_add_(0, sub.n_id[sub.graph.dst_index()], sub.edge_norm)
        hits[sub.n_id] += 1
    assert abs(loss_est / T - float(f.mean())) < 0.05 * float(f.mean())
    deg = g.in_degree().double()
    ok = hits > 150
    rel = (agg[ok] / hits[ok] - deg[ok]).abs() / deg[ok].clamp_min(1)
    assert float(rel.max()) < 0.15, rel


def test_iteration_and_bad_input():
    g = graph()
    s = GraphSAINTRandomWalkSampler(g, num_roots=3, walk_length=2, num_steps=4, sample_coverage=0, seed=1)
    subs = list(s)
    assert len(s) == 4 and len(subs) == 4 and s.num_presampled == 0
    assert bool((subs[0].edge_norm == 1).all())
    assert "num_roots=3" in repr(s)
    with pytest.raises(ValueError, match="num_roots must be an int >= 1"):
        GraphSAINTRandomWalkSampler(g, 0, 2)
    with pytest.raises(ValueError, match="walk_length must be an int >= 0"):
        GraphSAINTRandomWalkSampler(g, 2, -1)
    with pytest.raises(ValueError, match="sample_coverage"):
        GraphSAINTRandomWalkSampler(g, 2, 2, sample_coverage=-1)
    with pytest.raises(ValueError, match="walk_length must be an int >= 0"):
        saint_random_walk(g, [0], -2)
    with pytest.raises(IndexError, match=r"start\[1\] = 40 is out of range"):
        saint_random_walk(g, [0, 40], 2, seed=0)
    with pytest.raises(TypeError, match="integer node ids"):
        saint_random_walk(g, torch.tensor([0.5]), 2)
    with pytest.raises(ValueError, match="walk_length"):
        ops().saint_random_walk(g.indptr, g.indices, torch.tensor([0]), -1, 0)
