"""EXP, SR25 and substructure-counting generators against independent checks (networkx 1-WL
hashes and isomorphism, exhaustive SAT, brute-force subgraph counts)."""
import networkx as nx
import numpy as np
import pytest
import torch

from gnnkit.graphlevel.expressivity import (
    _brute_counts,
    _core,
    counting_dataset,
    exp_dataset,
    exp_pair,
    is_strongly_regular,
    latin_square_graph,
    LATIN_SQUARES_5,
    paley_graph,
    satisfiable,
    sr25_graphs,
    substructure_counts,
)
from gnnkit.graphlevel.synthetic import load_synthetic

pytestmark = pytest.mark.usefixtures("one_thread")


def _nx(g, x=None):
    h = nx.Graph()
    h.add_nodes_from(range(g.num_nodes))
    h.add_edges_from(g.edge_index.t().tolist())
    if x is not None:
        nx.set_node_attributes(h, {i: str(int(v)) for i, v in enumerate(x.flatten().tolist())}, "t")
    return h


@pytest.mark.parametrize("L", [4, 6, 8])
def test_exp_cores_sat_and_unsat(L):
    assert satisfiable(_core(1, L, True), L)
    assert not satisfiable(_core(1, L, False), L)


def test_exp_pairs_are_1wl_equivalent_non_isomorphic_and_differ_in_sat():
    rng = np.random.default_rng(5)
    for size in (12, 15):
        (gs, xs), (gu, xu), cs, cu, nv = exp_pair(rng, size)
        assert satisfiable(cs, nv) and not satisfiable(cu, nv)
        a, b = _nx(gs, xs), _nx(gu, xu)
        assert nx.weisfeiler_lehman_graph_hash(a, node_attr="t", iterations=8) == \
            nx.weisfeiler_lehman_graph_hash(b, node_attr="t", iterations=8)
        assert not nx.vf2pp_is_isomorphic(a, b, node_label="t")


def test_exp_dataset_is_reproducible():
    a, b = exp_dataset(seed=3, sizes=((12, 4),)), exp_dataset(seed=3, sizes=((12, 4),))
    assert torch.equal(a.indices, b.indices) and torch.equal(a.x, b.x)
    assert a.y.tolist() == [1, 0] * 4 and len(a) == 8
    assert not torch.equal(exp_dataset(seed=4, sizes=((12, 4),)).indices, a.indices)


def test_strongly_regular_constructions():
    assert is_strongly_regular(paley_graph(25)) == (25, 12, 5, 6)
    assert is_strongly_regular(paley_graph(13)) == (13, 6, 2, 3)
    for sq in LATIN_SQUARES_5:
        assert is_strongly_regular(latin_square_graph(sq)) == (25, 12, 5, 6)
    from gnnkit.data.graph_datasets import csl_graph
    assert is_strongly_regular(csl_graph(2, 11)) is None     # regular, not strongly regular
    with pytest.raises(ValueError, match="q must be 25 or a prime = 1 mod 4"):
        paley_graph(7)


@pytest.mark.slow
def test_sr25_graphs_are_pairwise_non_isomorphic():
    gs = sr25_graphs()
    assert len(gs) == 3
    hs = [_nx(g) for g in gs]
    assert all(not nx.vf2pp_is_isomorphic(hs[i], hs[j]) for i in range(3) for j in range(i + 1, 3))
    # ... and all look alike to 1-WL (regular graphs)
    assert len({nx.weisfeiler_lehman_graph_hash(h) for h in hs}) == 1


def test_substructure_counts_match_brute_force():
    gen = torch.Generator().manual_seed(0)
    for n, p in ((7, 0.5), (9, 0.4), (8, 0.8), (6, 1.0)):
        up = torch.triu(torch.rand(n, n, generator=gen) < p, 1)
        d, s = up.nonzero(as_tuple=True)
        import gnnkit
        g = gnnkit.Graph.from_edge_index(torch.stack([torch.cat([s, d]), torch.cat([d, s])]),
                                         num_nodes=n, directed=False)
        c = substructure_counts(g)
        assert c == _brute_counts(g)
        assert c["triangle"] == sum(nx.triangles(_nx(g)).values()) // 3
    k4 = substructure_counts(gnnkit.Graph.from_edge_index(
        torch.tensor([[i, j] for i in range(4) for j in range(4) if i != j]).t(), directed=False))
    assert k4 == {"triangle": 4, "4cycle": 3, "chordal": 6}


def test_counting_dataset_targets_and_splits():
    ds = counting_dataset("4cycle", num_graphs=40, seed=1)
    assert ds.task_type == "regression" and ds.y.shape == (40, 1)
    assert [ds.splits[k].numel() for k in ("train", "valid", "test")] == [12, 8, 20]
    for g in (0, 17, 39):
        assert ds.y[g, 0] == substructure_counts(ds.graph(g))["4cycle"]
    with pytest.raises(ValueError, match="target must be"):
        counting_dataset("5cycle", num_graphs=2)


def test_load_synthetic_names():
    csl = load_synthetic("csl")
    assert len(csl) == 150 and csl.num_classes == 10
    with pytest.raises(ValueError, match="unknown dataset 'cls'"):
        load_synthetic("cls")


def test_exp_pair_gin_identical_pathnn_ap_separates():
    # the PathNN paper's EXP protocol in miniature: untrained float64 models, one pair
    from gnnkit.nn.gin import GIN
    from gnnkit.nn.pathnn import PathNN
    from gnnkit.nn.pool import batch_graphs
    (gs, xs), (gu, xu), *_ = exp_pair(np.random.default_rng(11), 12)
    big, batch = batch_graphs([gs, gu])
    x = torch.cat([xs, xu]).double()
    torch.manual_seed(0)
    gin = GIN(1, 16, 4, num_layers=4, dropout=0.0, readout="add").double().eval()
    ap = PathNN(1, 16, 4, max_len=5, mode="ap", encode_distances=True, l2_norm=True,
                batch_norm=False).double().eval()
    with torch.no_grad():
        g = gin(x, big, batch)
        p = ap(x, ap.compute_paths(big), batch)
    rel = lambda e: float((e[0] - e[1]).abs().max() / e.abs().max())  # noqa: E731
    assert rel(g) < 1e-12 and rel(p) > 1e-4
