"""GCNConv and gcn_norm: dense references, PyG equality, input formats, caching, blocks, flags."""
import pytest
import torch

from gnnkit import Graph
from gnnkit.nn import Block, GCNConv, gcn_norm
from gnnkit.ops import spmm
from gnnkit.testing import corner_case_graphs, random_edge_index

pytestmark = pytest.mark.usefixtures("one_thread")

EI = torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]])  # PyG's 4-node star


def dense_gcn_matrix(g: Graph, improved=False, add_loops=True):
    """Dense D^-1/2 (A + fill I) D^-1/2 in the aggregation orientation M[dst, src]."""
    n = g.num_nodes
    M = torch.zeros(n, n, dtype=torch.float64)
    w = torch.ones(g.num_edges, dtype=torch.float64) if g.edge_weight is None else g.edge_weight.double()
    src, dst = g.edge_index
    M.index_put_((dst, src), w, accumulate=True)
    if add_loops:
        no_loop = M.diagonal() == 0
        M[no_loop, no_loop] = 2.0 if improved else 1.0
    deg = M.sum(1)
    d = torch.where(deg > 0, deg.rsqrt(), torch.zeros_like(deg))
    return d[:, None] * M * d[None, :]


def test_gcn_norm_star_hand_computed():
    # Star: centre 0 has degree 3 (+1 loop) = 4, leaves 1 (+1) = 2.
    adj = gcn_norm(Graph.from_edge_index(EI))
    dense = torch.zeros(4, 4)
    dense[adj.dst_index(), adj.indices.long()] = adj.edge_weight
    assert dense[0, 0] == pytest.approx(1 / 4)
    assert dense[1, 1] == pytest.approx(1 / 2)
    assert dense[0, 1] == pytest.approx(1 / (4 * 2) ** 0.5)


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("name,g", corner_case_graphs())
def test_gcn_norm_matches_dense(name, g, improved):
    adj = gcn_norm(g, improved=improved)
    got = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
    got.index_put_((adj.dst_index(), adj.indices.long()), adj.edge_weight.double(), accumulate=True)
    assert torch.allclose(got, dense_gcn_matrix(g, improved), atol=1e-6), name


def test_gcn_conv_forward_matches_dense_and_pyg():
    pyg = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    # PyG collapses repeated self loops (gnnkit keeps them, see Graph.add_self_loops): compare
    # on a graph with at most one loop per node.
    ei = random_edge_index(30, 120, seed=1, self_loops=False)
    ei = torch.cat([ei, torch.tensor([[3, 7], [3, 7]])], 1)
    g = Graph.from_edge_index(ei, num_nodes=30)
    x = torch.randn(30, 16)
    conv = GCNConv(16, 8)
    with torch.no_grad():
        conv.bias.normal_()
    out = conv(x, g)
    assert out.shape == (30, 8)
    ref = (dense_gcn_matrix(g) @ (x.double() @ conv.lin.weight.double().t())) + conv.bias.double()
    assert torch.allclose(out.double(), ref, atol=1e-5)
    p = pyg.GCNConv(16, 8)
    p.load_state_dict(conv.state_dict())
    assert torch.allclose(out, p(x, ei), atol=1e-5)
    # improved, no-bias and normalize=False variants against PyG too.  PyG 2.8 ignores
    # improved=True when no edge_weight is passed (add_remaining_self_loops drops the fill value
    # for edge_weight=None), so PyG gets explicit unit weights.
    ones = torch.ones(ei.size(1))
    for kw in ({"improved": True}, {"bias": False}, {"normalize": False}):
        c, q = GCNConv(16, 8, **kw), pyg.GCNConv(16, 8, **kw)
        q.load_state_dict(c.state_dict())
        assert torch.allclose(c(x, g), q(x, ei, ones), atol=1e-5), kw


def test_gcn_conv_input_formats_and_flow():
    pyg = pytest.importorskip("torch_geometric")
    torch.manual_seed(0)
    ei = random_edge_index(20, 60, seed=3, self_loops=False)
    w = torch.rand(ei.size(1))
    g = Graph.from_edge_index(ei, num_nodes=20, edge_weight=w, return_perm=False)
    x = torch.randn(20, 5)
    conv = GCNConv(5, 3)
    ref = conv(x, g)
    assert torch.allclose(conv(x, ei, edge_weight=w), ref, atol=1e-6)
    data = pyg.data.Data(edge_index=ei, edge_weight=w, num_nodes=20)
    assert torch.allclose(conv(x, data), ref, atol=1e-6)
    # explicit edge_weight overrides the graph's weights
    g1 = Graph.from_edge_index(ei, num_nodes=20)
    assert torch.allclose(conv(x, g1, edge_weight=w[Graph.from_edge_index(ei, num_nodes=20, return_perm=True)[1]]),
                          ref, atol=1e-6)
    # PyG flow='target_to_source' on the flipped arcs is the same operator
    p = pyg.nn.GCNConv(5, 3, flow="target_to_source")
    p.load_state_dict(conv.state_dict())
    assert torch.allclose(p(x, ei.flip(0), w), ref, atol=1e-5)


def test_gcn_conv_cached_and_reset():
    g1 = Graph.from_edge_index(EI)
    g2 = Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]]), num_nodes=4)
    x = torch.randn(4, 3)
    conv = GCNConv(3, 2, cached=True)
    a = conv(x, g1)
    assert conv._cached_graph is not None
    # cached: the second graph is ignored (PyG semantics, transductive use)
    assert torch.allclose(conv(x, g2), a)
    conv.reset_parameters()
    assert conv._cached_graph is None
    b = conv(x, g2)
    uncached = GCNConv(3, 2)
    uncached.load_state_dict(conv.state_dict())
    assert torch.allclose(b, uncached(x, g2))
    assert not torch.allclose(uncached(x, g1), b)


def test_gcn_conv_bipartite_block_equals_full_graph():
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(12, 40, seed=2), num_nodes=12, directed=False)
    x = torch.randn(12, 4)
    conv = GCNConv(4, 3)
    full = conv(x, g)
    block = Block(g.indptr, g.indices, num_src_nodes=12)
    assert torch.allclose(conv(x, block), full, atol=1e-6)
    # A genuine bipartite block: destinations 0..4 of the full graph, sources = all 12 nodes.
    # The output rows are the full-graph rows up to the block's own degree normalisation:
    # compare with the dense formula D_out^-1/2 (A + I) D_in^-1/2 computed on the block.
    sub = Block(g.indptr[:6].clone(), g.indices[: int(g.indptr[5])].clone(), num_src_nodes=12)
    out = conv(x, sub)
    assert out.shape == (5, 3)
    M = torch.zeros(5, 12)
    src = sub.indices.long()
    dst = torch.repeat_interleave(torch.arange(5), sub.indptr.diff())
    M[dst, src] = 1.0
    for i in range(5):
        M[i, i] = 1.0 if M[i, i] == 0 else M[i, i]
    d_in, d_out = M.sum(1), M.sum(0)
    inv = lambda d: torch.where(d > 0, d.rsqrt(), torch.zeros_like(d))  # noqa: E731
    ref = (inv(d_in)[:, None] * M * inv(d_out)[None, :]) @ conv.lin(x) + conv.bias
    assert torch.allclose(out, ref, atol=1e-5)


def test_gcn_conv_accepts_disk_graph_and_csr_objects(tmp_path):
    from gnnkit.data.disk import save_graph

    g = Graph.from_edge_index(EI)
    x = torch.randn(4, 3)
    conv = GCNConv(3, 2)
    full = conv(x, g)
    assert torch.allclose(conv(x, save_graph(tmp_path / "g", g)), full, atol=1e-6)

    class CSR:  # any object with CSR tensors is taken as a (square) block
        indptr, indices, num_nodes = g.indptr, g.indices, 4

    assert torch.allclose(conv(x, CSR()), full, atol=1e-6)


@pytest.mark.parametrize("improved", [False, True])
def test_gcn_conv_block_with_full_graph_degrees_equals_full_graph(improved):
    # A block carrying src_degree (full-graph in-degrees, as every sampler block does) is
    # normalised with them: destinations 0..4 with all their in-arcs give the full-graph rows
    # of a directed, loop-free graph with parallel arcs.
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(12, 40, seed=2), num_nodes=12).remove_self_loops()
    x = torch.randn(12, 4, dtype=torch.float64)
    conv = GCNConv(4, 3, improved=improved).double()
    full = conv(x, g)
    sub = Block(g.indptr[:6].clone(), g.indices[: int(g.indptr[5])].clone(), num_src_nodes=12,
                src_degree=g.in_degree())

    torch.testing.assert_close(conv(x, sub), full[:5])
    # same through the dense reference and the free function
    M = dense_gcn_matrix(g, improved=improved)[:5]
    torch.testing.assert_close(spmm(gcn_norm(sub, improved=improved, dtype=torch.float64), x), M @ x)


def test_gcn_conv_gradients_flow():
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(15, 50, seed=4), num_nodes=15)
    x = torch.randn(15, 6, requires_grad=True)
    conv = GCNConv(6, 4)
    conv(x, g).pow(2).sum().backward()
    for t in (x.grad, conv.lin.weight.grad, conv.bias.grad):
        assert t is not None and torch.isfinite(t).all() and t.abs().sum() > 0
    # float64 gradcheck through the compiled spmm
    conv64 = GCNConv(6, 4).double()
    x64 = torch.randn(15, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: conv64(v, g), (x64,))


def test_gcn_conv_corner_cases():
    conv = GCNConv(3, 2)
    for name, g in corner_case_graphs():
        out = conv(torch.randn(g.num_nodes, 3), g)
        assert out.shape == (g.num_nodes, 2) and torch.isfinite(out).all(), name


def test_gcn_conv_repr_and_bad_flags():
    assert str(GCNConv(16, 32)) == "GCNConv(16, 32)"
    with pytest.raises(ValueError, match="GCNConv.*does not support adding self-loops"):
        GCNConv(4, 4, normalize=False, add_self_loops=True)
    with pytest.raises(ValueError, match="GCNConv.*improved=True"):
        GCNConv(4, 4, improved=True, add_self_loops=False)
    with pytest.raises(ValueError, match="GCNConv: out_channels must be a positive int, got 0"):
        GCNConv(4, 0)
    with pytest.raises(ValueError, match="GCNConv: in_channels must be a positive int, got True"):
        GCNConv(True, 4)
    conv = GCNConv(4, 2)
    with pytest.raises(ValueError, match=r"GCNConv: x must have shape \[N, 4\], got \(3, 5\)"):
        conv(torch.randn(3, 5), Graph.empty(3))
    with pytest.raises(TypeError, match="GCNConv: expected a gnnkit.Graph"):
        conv(torch.randn(3, 4), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="cached=True does not support bipartite blocks"):
        GCNConv(4, 2, cached=True)(torch.randn(3, 4), Block(torch.tensor([0, 1]), torch.tensor([2]), 3))
