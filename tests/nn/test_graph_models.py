"""Graph-level models: GIN / GINE against dense references, PathNN's invariant SP, distance
encoding and deduplication, and permutation invariance of every graph-level model (float64)."""
import pytest
import torch
from torch import nn

import gnnkit
from gnnkit.data.graph_datasets import CSL_SKIPS, csl_graph, decalin
from gnnkit.nn.dgn import DGN
from gnnkit.nn.encoders import AtomEncoder, BondEncoder
from gnnkit.nn.gin import GIN, GINConv, GINEConv
from gnnkit.nn.pathnn import PathConv, PathNN, compute_paths
from gnnkit.nn.pool import batch_graphs

pytestmark = pytest.mark.usefixtures("one_thread")


def _random_graph(n, p, seed):
    gen = torch.Generator().manual_seed(seed)
    up = torch.triu(torch.rand(n, n, generator=gen) < p, 1)
    up[torch.arange(n - 1), torch.arange(1, n)] = True          # connected (a Hamiltonian path)
    d, s = up.nonzero(as_tuple=True)
    return gnnkit.Graph.from_edge_index(torch.stack([torch.cat([s, d]), torch.cat([d, s])]),
                                        num_nodes=n, directed=False)


def _relabel(g, perm):
    return gnnkit.Graph.from_edge_index(perm[g.edge_index], num_nodes=g.num_nodes, directed=False)


def _dense(g):
    A = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
    A[g.edge_index[1], g.edge_index[0]] = 1.0
    return A


def test_gin_conv_matches_dense():
    torch.manual_seed(0)
    g = _random_graph(9, 0.3, 1)
    x = torch.randn(9, 4, dtype=torch.float64)
    conv = GINConv(4, 5, train_eps=True).double().eval()
    with torch.no_grad():
        conv.eps.fill_(0.25)
    torch.testing.assert_close(conv(x, g), conv.mlp(1.25 * x + _dense(g) @ x))


def test_gine_conv_matches_loop():
    torch.manual_seed(0)
    g = _random_graph(8, 0.4, 2)
    x = torch.randn(8, 3, dtype=torch.float64)
    e = torch.randn(g.num_edges, 3, dtype=torch.float64)
    conv = GINEConv(3, 3).double().eval()
    agg = torch.zeros_like(x)
    for k, (s, d) in enumerate(g.edge_index.t().tolist()):
        agg[d] += torch.relu(x[s] + e[k])
    torch.testing.assert_close(conv(x, g, e), conv.mlp((1 + conv.eps) * x + agg))
    with pytest.raises(ValueError, match=r"edge_attr must be \[E, F\]"):
        conv(x, g, e[:3])


def test_gin_is_bounded_by_1wl_on_csl():
    torch.manual_seed(0)
    model = GIN(1, 16, 10, num_layers=4, dropout=0.0, readout="add").double().eval()
    big, batch = batch_graphs([csl_graph(s) for s in CSL_SKIPS])
    with torch.no_grad():
        out = model(torch.ones(big.num_nodes, 1, dtype=torch.float64), big, batch)
    assert (out - out[0]).abs().max() < 1e-9


def test_atom_and_bond_encoders_use_ogb_dims():
    from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims
    a, b = AtomEncoder(8), BondEncoder(8)
    assert a.dims == get_atom_feature_dims() and b.dims == get_bond_feature_dims()
    x = torch.zeros(3, 9, dtype=torch.long)
    assert a(x).shape == (3, 8)
    x[2, 4] = 10
    with pytest.raises(IndexError, match=r"x\[2, 4\] = 10 is out of range \[0, 10\) for feature column 4"):
        a(x)


def _sp_loop(conv, x, paths, n):
    """Reference for PathNN-SP: the mean over all shortest v-t paths of the LSTM encodings."""
    enc = {}
    for p in paths.tolist():
        _, (h, _) = conv.lstm(x[list(reversed(p))].unsqueeze(0))
        enc.setdefault((p[0], p[-1]), []).append(h[-1, 0])
    out = torch.zeros_like(x)
    for (v, _), hs in enc.items():
        out[v] += torch.stack(hs).mean(0)
    return torch.relu(out + x)


def test_sp_is_mean_over_all_shortest_paths():
    torch.manual_seed(0)
    g = csl_graph(3, 11)
    x = torch.randn(11, 4, dtype=torch.float64)
    ps = compute_paths(g, 3, "sp")
    conv = PathConv(4, batch_norm=False).double()
    for k in range(1, 4):
        torch.testing.assert_close(conv(x, ps[k - 1], ps), _sp_loop(conv, x, ps[k - 1], 11))


def test_distance_encoding_matches_loop():
    torch.manual_seed(0)
    g = decalin()
    m = PathNN(2, 4, 3, max_len=3, mode="ap", encode_distances=True, batch_norm=False).double()
    ps = m.compute_paths(g)
    x = torch.randn(10, 4, dtype=torch.float64)
    conv = m.convs[2]
    out = torch.zeros_like(x)
    for p, d in zip(ps[2].tolist(), ps.dists[2].tolist()):
        seq = torch.cat([x[list(reversed(p))], m.dist_emb.weight[list(reversed(d))]], 1)
        _, (h, _) = m.lstm(seq.unsqueeze(0))
        out[p[0]] += h[-1, 0]
    torch.testing.assert_close(conv(x, ps[2], ps), torch.relu(out + x))
    # distances along AP paths are graph distances (<= position)
    assert bool((ps.dists[2] <= torch.arange(4)).all()) and ps.dists[2][:, 0].eq(0).all()


@pytest.mark.parametrize("mode,dist", [("sp", False), ("sp+", False), ("ap", True)])
def test_dedupe_equals_per_path_encoding(mode, dist):
    # CSL with constant features: every node alike, paths collapse to a few sequences
    torch.manual_seed(0)
    gs = [csl_graph(2, 13), csl_graph(3, 13), csl_graph(5, 13, perm=torch.randperm(13))]
    big, batch = batch_graphs(gs)
    # no batch norm here: with constant inputs a channel has zero variance and its ReLU mask is
    # decided by round-off, so gradients differ between any two summation orders
    kw = dict(mode=mode, encode_distances=dist, l2_norm=dist, batch_norm=False)
    a = PathNN(1, 6, 3, max_len=4, dedupe=True, **kw).double()
    b = PathNN(1, 6, 3, max_len=4, dedupe=False, **kw).double()
    b.load_state_dict(a.state_dict())
    ps = a.compute_paths(big)
    x = torch.ones(big.num_nodes, 1, dtype=torch.float64)
    oa, ob = a(x, ps, batch), b(x, ps, batch)
    torch.testing.assert_close(oa, ob)
    ga = torch.autograd.grad(oa.square().sum(), list(a.parameters()), allow_unused=True)
    gb = torch.autograd.grad(ob.square().sum(), list(b.parameters()), allow_unused=True)
    for u, v in zip(ga, gb):
        if u is not None or v is not None:   # (the encoder's weights get round-off-level grads)
            torch.testing.assert_close(u, v, rtol=1e-6, atol=1e-6 * max(1.0, float(v.abs().max())))
    # random features with batch norm: nothing to share, still equal
    a2 = PathNN(1, 6, 3, max_len=4, dedupe=True, mode=mode, encode_distances=dist).double()
    b2 = PathNN(1, 6, 3, max_len=4, dedupe=False, mode=mode, encode_distances=dist).double()
    b2.load_state_dict(a2.state_dict())
    xr = torch.randn(big.num_nodes, 1, dtype=torch.float64)
    torch.testing.assert_close(a2(xr, ps, batch), b2(xr, ps, batch))


def _models():
    yield "gin", GIN(3, 8, 2, num_layers=3, dropout=0.0), False
    yield "gine+vn", GIN(3, 8, 2, num_layers=3, dropout=0.0, edge_dim=2, virtual_node=True), True
    for mode in ("sp", "sp+", "ap"):
        yield f"pathnn-{mode}", PathNN(3, 8, 2, max_len=3, mode=mode, encode_distances=mode == "ap"), False
    yield "pathnn-ap-dedupe", PathNN(3, 8, 2, max_len=3, mode="ap", dedupe=True), False
    yield "dgn", DGN(3, 8, 2, num_layers=2, aggregators=("mean", "max", "dir1-av", "dir1-dx")), False


@pytest.mark.parametrize("name", [m[0] for m in _models()])
def test_graph_models_are_permutation_invariant(name):
    torch.manual_seed(0)
    model, edges = next((m, e) for n, m, e in _models() if n == name)
    model = model.double().eval()
    graphs = [_random_graph(9, 0.35, 5), _random_graph(7, 0.5, 6)]
    gen = torch.Generator().manual_seed(1)
    xs = [torch.randn(g.num_nodes, 3, dtype=torch.float64) for g in graphs]
    perms = [torch.randperm(g.num_nodes, generator=gen) for g in graphs]

    def run(gs, feats):
        big, batch = batch_graphs(gs)
        x = torch.cat(feats)
        # edge features as a symmetric function of the endpoints' features
        s, d = big.edge_index
        ea = torch.stack([x[s, 0] * x[d, 0], x[s, 1] + x[d, 1]], 1)
        with torch.no_grad():
            if isinstance(model, PathNN):
                return model(x, model.compute_paths(big), batch)
            if isinstance(model, DGN):
                return model(x, big, batch)
            return model(x, big, batch, edge_attr=ea if edges else None)

    out = run(graphs, xs)
    inv = [torch.empty_like(p).scatter_(0, p, torch.arange(p.numel())) for p in perms]
    relabelled = [_relabel(g, p) for g, p in zip(graphs, perms)]
    # node i becomes perm[i]: its features move to row perm[i]
    xs_p = [x[i] for x, i in zip(xs, inv)]
    out_p = run(relabelled, xs_p)
    assert (out - out_p).abs().max() < 1e-6, (out - out_p).abs().max()
