"""Mini-batch runners: all-neighbour mini-batches equal full-batch inference; SAGEConv vs PyG."""
import pytest
import torch

import gnnkit
from gnnkit.nn.sage_conv import SAGEConv
from gnnkit.sampling import sample_neighbors
from gnnkit.nn import gcn_norm
from gnnkit.nn import MiniBatchGNN


def graph(n=60, e=300, seed=0, undirected=False):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    ei = ei[:, ei[0] != ei[1]]  # GCN's mini-batch norm assumes no self loops
    g = gnnkit.Graph.from_edge_index(ei, num_nodes=n)
    return g.to_undirected() if undirected else g


@pytest.mark.parametrize("kind", ["sage", "gcn", "gat", "dir-sage"])
@pytest.mark.parametrize("undirected", [False, True])
def test_all_neighbours_equals_full_batch(kind, undirected):
    torch.manual_seed(0)
    g = graph(undirected=undirected)
    x = torch.randn(g.num_nodes, 5, dtype=torch.float64)
    model = MiniBatchGNN(kind, 5, 4, 3, num_layers=3, heads=2).double().eval()
    full = model.full_forward(x, g)
    seeds = torch.tensor([7, 0, 33, 59, 12])
    s = sample_neighbors(g, seeds, [-1, -1, -1], directed=kind == "dir-sage", seed=3)
    out = model(x[s.n_id], s)
    assert out.shape == (5, 3)
    torch.testing.assert_close(out, full[seeds], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["sage", "gcn", "gat", "dir-sage"])
def test_sampled_minibatch_trains(kind):
    torch.manual_seed(0)
    g = graph(undirected=True)
    x = torch.randn(g.num_nodes, 5)
    model = MiniBatchGNN(kind, 5, 4, 3, num_layers=2, heads=2)
    s = sample_neighbors(g, torch.arange(10), [3, 2], directed=kind == "dir-sage", seed=1)
    out = model(x[s.n_id], s)
    out.sum().backward()
    assert out.shape == (10, 3)
    assert all(p.grad is not None for p in model.parameters())


def test_gcn_norm_block_uses_full_graph_degrees_hand_computed():
    # arcs 1->0, 2->0, 3->0 (d_0 = 3), 0->1 (d_1 = 1); nodes 2, 3 have in-degree 0
    g = gnnkit.Graph.from_edge_index(torch.tensor([[1, 2, 3, 0], [0, 0, 0, 1]]))
    s = sample_neighbors(g, [0], [2], seed=0)  # 2 of the 3 in-arcs of node 0
    b = gcn_norm(s.blocks[0], dtype=torch.float64)
    assert b.indptr.tolist() == [0, 3] and b.indices[-1] == 0  # loop appended to the row
    src = s.n_id[b.indices[:2].long()]
    dhat = {0: 4.0, 1: 2.0, 2: 1.0, 3: 1.0}
    want = [3 / 2 / (dhat[int(j)] * 4.0) ** 0.5 for j in src] + [1 / 4.0]
    torch.testing.assert_close(b.edge_weight, torch.tensor(want, dtype=torch.float64))
    # improved: lambda = 2 on the diagonal and in the degrees
    b2 = gcn_norm(s.blocks[0], improved=True, dtype=torch.float64)
    want2 = [3 / 2 / ((dhat[int(j)] + 1) * 5.0) ** 0.5 for j in src] + [2 / 5.0]
    torch.testing.assert_close(b2.edge_weight, torch.tensor(want2, dtype=torch.float64))
    # without loops: d instead of d + 1, no loop arc
    b0 = gcn_norm(s.blocks[0], add_self_loops=False, dtype=torch.float64)
    assert b0.num_edges == 2
    want0 = [3 / 2 / ((dhat[int(j)] - 1) * 3.0) ** 0.5 if dhat[int(j)] > 1 else 0.0 for j in src]
    torch.testing.assert_close(b0.edge_weight, torch.tensor(want0, dtype=torch.float64))


def test_gcn_norm_block_unbiased():
    # the sampled aggregation of one node averages to the full aggregation
    g = graph(n=40, e=400, undirected=True)
    x = torch.randn(g.num_nodes, 2, dtype=torch.float64)
    full = gnnkit.ops.spmm(gcn_norm(g, dtype=torch.float64), x)
    v = int(g.in_degree().argmax())
    acc = torch.zeros(2, dtype=torch.float64)
    T = 3000
    for t in range(T):
        s = sample_neighbors(g, [v], [3], seed=t)
        b = gcn_norm(s.blocks[0], dtype=torch.float64)
        acc += gnnkit.ops.spmm(b, x[s.n_id])[0]
    torch.testing.assert_close(acc / T, full[v], atol=0.05, rtol=0)


def test_gcn_norm_all_neighbour_blocks_equal_full_graph():
    # fan-out -1: every block row is the full-graph row of gcn_norm (loops appended at the end)
    g = graph(undirected=False)
    full = gcn_norm(g, dtype=torch.float64)
    s = sample_neighbors(g, [5, 9], [-1, -1], seed=0)
    for b in s.blocks:
        nb = gcn_norm(b, dtype=torch.float64)
        x = torch.randn(b.num_src_nodes, 3, dtype=torch.float64)
        xf = torch.zeros(g.num_nodes, 3, dtype=torch.float64).index_copy_(0, b.n_id, x)
        torch.testing.assert_close(gnnkit.ops.spmm(nb, x),
                                   gnnkit.ops.spmm(full, xf)[b.n_id[:b.num_dst_nodes]])


def test_minibatch_bad_input():
    g = graph()
    s = sample_neighbors(g, [1], [2], seed=0)
    with pytest.raises(ValueError, match="kind must be one of"):
        MiniBatchGNN("gin", 5, 4, 3)
    with pytest.raises(ValueError, match="got 1 blocks for 2 layers"):
        MiniBatchGNN("sage", 5, 4, 3)(torch.randn(s.blocks[0].num_src_nodes, 5), s)
    with pytest.raises(ValueError, match="needs out_blocks"):
        MiniBatchGNN("dir-sage", 5, 4, 3, num_layers=1)(torch.randn(s.blocks[0].num_src_nodes, 5), s)
    with pytest.raises(ValueError, match="x has 1 rows"):
        MiniBatchGNN("sage", 5, 4, 3, num_layers=1)(torch.randn(1, 5), s)


# ---------------------------------------------------------------------------- SAGEConv
def test_sage_conv_repr_and_errors():
    assert str(SAGEConv(16, 32)) == "SAGEConv(16, 32, aggr=mean)"
    with pytest.raises(ValueError, match="aggr must be one of"):
        SAGEConv(4, 4, aggr="std")
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        SAGEConv(4, 0)
    with pytest.raises(ValueError, match=r"x must have shape \[N, 4\]"):
        SAGEConv(4, 2)(torch.randn(3, 5), graph(n=3, e=4))


def test_sage_conv_dense_reference():
    g = graph(n=8, e=30)
    x = torch.randn(8, 6, dtype=torch.float64)
    for fin, fout in ((6, 3), (6, 9)):  # transform-first and aggregate-first paths
        conv = SAGEConv(fin, fout).double()
        A = torch.zeros(8, 8, dtype=torch.float64)
        A.index_put_((g.edge_index[1], g.edge_index[0]), torch.ones(g.num_edges, dtype=torch.float64),
                     accumulate=True)  # A[i, j] = number of arcs j -> i
        mean = A @ x / A.sum(1, keepdim=True).clamp_min(1)
        want = mean @ conv.lin_l.weight.T + conv.lin_l.bias + x @ conv.lin_r.weight.T
        torch.testing.assert_close(conv(x, g), want)


def test_sage_conv_matches_pyg():
    pyg = pytest.importorskip("torch_geometric.nn")
    g = graph(n=20, e=80)
    x = torch.randn(20, 6)
    ours = SAGEConv(6, 4, normalize=True)
    ref = pyg.SAGEConv(6, 4, normalize=True)
    with torch.no_grad():
        ref.lin_l.weight.copy_(ours.lin_l.weight)
        ref.lin_l.bias.copy_(ours.lin_l.bias)
        ref.lin_r.weight.copy_(ours.lin_r.weight)
    torch.testing.assert_close(ours(x, g), ref(x, g.edge_index), rtol=1e-5, atol=1e-6)
    # bipartite pair input, and weights are ignored like PyG
    gw = g.with_edge_weight(torch.rand(g.num_edges))
    torch.testing.assert_close(ours((x, x), gw), ref((x, x), g.edge_index), rtol=1e-5, atol=1e-6)
