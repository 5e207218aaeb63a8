"""Dir-GNN layers and model: dense references, PyG equivalence, edge cases, bad input."""
import pytest
import torch

import gnnkit
from gnnkit.nn.dir_conv import (AggLinear, DirGAT, DirGATConv, DirGCN, DirGCNConv, DirGNN,
                                 DirGNNConv, DirSAGE, DirSAGEConv, dir_norm)

# directed graph with a self loop (3), a duplicate-free mix of in/out degrees and an isolated node (5)
EI = torch.tensor([[0, 0, 1, 2, 3, 3, 4], [1, 2, 2, 0, 3, 4, 0]])
N = 6


@pytest.fixture
def g():
    return gnnkit.Graph.from_edge_index(EI, num_nodes=N)


def dense_adj():
    A = torch.zeros(N, N, dtype=torch.float64)
    A[EI[0], EI[1]] = 1.0                      # A[src, dst]
    return A


def inv_sqrt(d):
    return torch.where(d > 0, d.clamp(min=1e-300).rsqrt(), torch.zeros_like(d))


def test_dir_norm_matches_dense(g):
    A = dense_adj()
    Ahat = inv_sqrt(A.sum(1))[:, None] * A * inv_sqrt(A.sum(0))[None, :]   # D_out^-1/2 A D_in^-1/2
    gin, gout = dir_norm(g)
    x = torch.randn(N, 3, dtype=torch.float64)
    # in-direction aggregates sources j -> i: Ahat^T x;  out-direction aggregates i -> j: Ahat x
    torch.testing.assert_close(gnnkit.ops.spmm(gin, x), Ahat.t() @ x)
    torch.testing.assert_close(gnnkit.ops.spmm(gout, x), Ahat @ x)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_dir_gcn_conv_matches_official_formula(g, alpha):
    torch.manual_seed(0)
    conv = DirGCNConv(3, 4, alpha).double()
    for p in conv.parameters():
        torch.nn.init.normal_(p)
    A = dense_adj()
    Ahat = inv_sqrt(A.sum(1))[:, None] * A * inv_sqrt(A.sum(0))[None, :]
    x = torch.randn(N, 3, dtype=torch.float64)
    lin_in, lin_out = conv.conv_in.lin, conv.conv_out.lin
    # official DirGCNConv: alpha * lin_src_to_dst(adj_norm @ x) + (1 - alpha) * lin_dst_to_src(adj_t_norm @ x)
    ref = alpha * lin_out(Ahat @ x) + (1 - alpha) * lin_in(Ahat.t() @ x)
    torch.testing.assert_close(conv(x, g), ref)


def test_dir_sage_conv_matches_dense(g):
    torch.manual_seed(1)
    conv = DirSAGEConv(3, 2, alpha=0.4).double()
    A = dense_adj()
    mean_in = A.t() / A.sum(0).clamp(min=1)[:, None]       # row i: mean over in-neighbours
    mean_out = A / A.sum(1).clamp(min=1)[:, None]          # row i: mean over out-neighbours
    x = torch.randn(N, 3, dtype=torch.float64)
    ref = conv.lin_root(x) + 0.6 * conv.conv_in.lin(mean_in @ x) + 0.4 * conv.conv_out.lin(mean_out @ x)
    torch.testing.assert_close(conv(x, g), ref)


def test_matches_pyg_dir_gnn_conv(g):
    pyg = pytest.importorskip("torch_geometric.nn")
    from gnnkit.nn import GCNConv
    torch.manual_seed(2)
    ours = DirGNNConv(GCNConv(3, 5), alpha=0.7, root_weight=True).double()
    theirs = pyg.DirGNNConv(pyg.GCNConv(3, 5), alpha=0.7, root_weight=True).double()
    with torch.no_grad():
        for a, b in ((ours.conv_in, theirs.conv_in), (ours.conv_out, theirs.conv_out)):
            b.lin.weight.copy_(a.lin.weight)
            b.bias.copy_(a.bias.normal_())
        theirs.lin.weight.copy_(ours.lin_root.weight)
        theirs.lin.bias.copy_(ours.lin_root.bias)
    x = torch.randn(N, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x, g), theirs(x, EI))
    torch.testing.assert_close(ours(x, EI), theirs(x, EI))    # edge_index input works too
    assert ours.conv_in.add_self_loops is False                # as PyG: root weight replaces loops


def test_alpha_extremes_and_isolated_nodes(g):
    torch.manual_seed(3)
    x = torch.randn(N, 3)
    only_in = DirGCNConv(3, 2, alpha=0.0)
    out = only_in(x, g)
    # node 5 is isolated, so both directions give the bias only
    torch.testing.assert_close(out[5], only_in.conv_in.lin.bias)
    # with alpha = 0 the out-arcs are ignored: changing a node that only sends arcs to nothing
    # matters only through in-arcs.  Node 1 has out-arc 1->2 and in-arc 0->1: perturbing x[2]
    # changes node 1 only through the out-direction.
    x2 = x.clone()
    x2[2] += 1.0
    torch.testing.assert_close(only_in(x2, g)[1], out[1])
    only_out = DirGCNConv(3, 2, alpha=1.0)
    assert not torch.allclose(only_out(x2, g)[1], only_out(x, g)[1])


def test_undirected_graph_both_directions_see_same_neighbours():
    u = gnnkit.Graph.from_edge_index(EI, num_nodes=N, directed=False)
    conv = DirGNNConv(AggLinear(3, 2), alpha=0.5, root_weight=False)
    conv.conv_out.load_state_dict(conv.conv_in.state_dict())
    x = torch.randn(N, 3)
    torch.testing.assert_close(conv(x, u), conv.conv_in(x, u))


def test_dir_gat_conv_alpha0_is_gat_on_in_arcs(g):
    torch.manual_seed(4)
    conv = DirGATConv(3, 4, heads=2, alpha=0.0)
    x = torch.randn(N, 3)
    assert conv(x, g).shape == (N, 8)
    torch.testing.assert_close(conv(x, g), conv.conv_in(x, g))


def test_empty_graph_and_memo(g):
    conv = DirGCNConv(3, 2)
    e = gnnkit.Graph.empty(0)
    assert conv(torch.zeros(0, 3), e).shape == (0, 2)
    conv(torch.randn(N, 3), g)
    gin, gout = conv.graphs(g)
    assert conv.graphs(g)[0] is gin          # memoised for the same graph object
    conv.reset_parameters()
    assert conv._memo[0] is None


def test_repr():
    assert repr(DirGCNConv(3, 4, 0.5)) == "DirGCNConv(3, 4, alpha=0.5)"
    assert repr(DirSAGEConv(3, 4, 1.0)) == "DirSAGEConv(3, 4, alpha=1.0)"
    assert repr(DirGATConv(3, 4, 2, 0.5)) == "DirGATConv(3, 4, heads=2, alpha=0.5)"
    assert repr(DirGNNConv(AggLinear(2, 3), 0.2, False)) == \
        "DirGNNConv(AggLinear(2, 3, reduce='sum'), alpha=0.2, root_weight=False)"


def test_bad_input(g):
    with pytest.raises(ValueError, match="alpha must be in \\[0, 1\\], got 1.5"):
        DirGNNConv(AggLinear(2, 3), alpha=1.5)
    with pytest.raises(TypeError, match="conv must be an nn.Module"):
        DirGNNConv(lambda x, g: x)
    with pytest.raises(ValueError, match="norm must be None or 'dir'"):
        DirGNNConv(AggLinear(2, 3), norm="sym")
    with pytest.raises(ValueError, match="root_weight=True needs conv.in_channels"):
        DirGNNConv(torch.nn.Identity(), root_weight=True)
    with pytest.raises(ValueError, match="conv must be one of"):
        DirGNN(3, 4, 2, conv="dir-gin")
    with pytest.raises(ValueError, match="jumping_knowledge must be None, 'max' or 'cat'"):
        DirGNN(3, 4, 2, jumping_knowledge="lstm")
    from gnnkit.nn import Block
    block = Block(torch.tensor([0, 1, 2]), torch.tensor([1, 2]), num_src_nodes=3)
    with pytest.raises(ValueError, match="does not support bipartite blocks"):
        DirGCNConv(3, 2)(torch.randn(3, 3), block)


@pytest.mark.parametrize("jk", [None, "max", "cat"])
@pytest.mark.parametrize("cls", [DirGCN, DirSAGE, DirGAT])
def test_models_shapes(g, cls, jk):
    m = cls(3, 8, 2, num_layers=3, alpha=0.5, jumping_knowledge=jk, normalize=True, dropout=0.1)
    assert m(torch.randn(N, 3), g).shape == (N, 2)


def test_direction_matters_on_a_directed_task():
    # nodes 0..99: one out-arc i -> d_i (d_i in 100..199) and three in-arcs from random nodes of
    # 100..199; label = sign of x[d_i].  Only the out-direction carries the signal.
    torch.manual_seed(0)
    n, m_ = 200, 100
    d = 100 + torch.randperm(m_)
    src_in = torch.randint(100, n, (3 * m_,))
    dst_in = torch.arange(m_).repeat(3)
    ei = torch.cat([torch.stack([torch.arange(m_), d]), torch.stack([src_in, dst_in])], 1)
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n).coalesce()
    x = torch.randn(n, 1)
    y = (x[:, 0] > 0).long()
    y[:m_] = (x[d, 0] > 0).long()
    lab = torch.arange(m_)

    def fit(alpha):
        torch.manual_seed(1)
        m = DirGCN(1, 16, 2, num_layers=1, alpha=alpha)
        opt = torch.optim.Adam(m.parameters(), lr=0.05)
        for _ in range(150):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x, g)[lab], y[lab]).backward()
            opt.step()
        return float((m(x, g).argmax(1)[lab] == y[lab]).float().mean())

    assert fit(1.0) > 0.95 and fit(0.0) < 0.8


@pytest.mark.data
def test_dir_gcn_on_chameleon_directed_smoke(data_root):
    from gnnkit.data import get_dataset
    ds = get_dataset("chameleon_directed", root=data_root)
    assert ds.graph.directed
    torch.manual_seed(0)
    m = DirGCN(ds.x.size(1), 16, int(ds.y.max()) + 1, num_layers=2, alpha=1.0,
               jumping_knowledge="max", normalize=True)
    idx = ds.split(0)
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    for _ in range(15):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(ds.x, ds.graph)[idx["train"]], ds.y[idx["train"]]).backward()
        opt.step()
    acc = float((m(ds.x, ds.graph).argmax(1)[idx["val"]] == ds.y[idx["val"]]).float().mean())
    assert acc > 0.4   # 5 classes: chance is ~0.2
