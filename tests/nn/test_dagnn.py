"""DAGNNConv: dense reference of Eq. 8, hop weights, blocks, flags."""
import pytest
import torch

from gnnkit import Graph
from gnnkit.nn import Block, DAGNNConv, adaptive_combine, dagnn_hops, gcn_norm
from gnnkit.testing import random_edge_index

pytestmark = pytest.mark.usefixtures("one_thread")



def dense_norm(g: Graph):
    n = g.num_nodes
    A = torch.zeros(n, n, dtype=torch.float64)
    src, dst = g.edge_index
    A.index_put_((dst, src), torch.ones(g.num_edges, dtype=torch.float64), accumulate=True)
    no_loop = A.diagonal() == 0
    A[no_loop, no_loop] = 1.0
    d = A.sum(1).rsqrt()
    return d[:, None] * A * d[None, :]


def test_dagnn_hops_path_graph_by_hand():
    # 2-node path with loops: A_hat = [[1/2, 1/2], [1/2, 1/2]] -> every hop averages.
    adj = gcn_norm(Graph.from_edge_index(torch.tensor([[0, 1], [1, 0]])))
    hops = dagnn_hops(adj, torch.tensor([[2.0], [4.0]]), K=3)
    assert hops.shape == (2, 4, 1)
    assert torch.allclose(hops[:, :, 0], torch.tensor([[2.0, 3.0, 3.0, 3.0], [4.0, 3.0, 3.0, 3.0]]))


def test_adaptive_combine_by_hand():
    proj = torch.nn.Linear(1, 1)
    with torch.no_grad():
        proj.weight.fill_(0.0)
        proj.bias.fill_(0.0)  # sigmoid(0) = 1/2 for every hop
    hops = torch.tensor([[[2.0], [4.0]]])
    assert adaptive_combine(hops, proj).item() == pytest.approx(3.0)


def test_dagnn_conv_matches_dense_eq8():
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(20, 70, seed=1), num_nodes=20, directed=False)
    z = torch.randn(20, 5, dtype=torch.float64)
    conv = DAGNNConv(5, K=4).double()
    out = conv(z, g)
    A = dense_norm(g)
    H = torch.stack([torch.linalg.matrix_power(A, k) @ z for k in range(5)], 1)  # [N, K+1, C]
    s = torch.sigmoid(H @ conv.proj.weight.t() + conv.proj.bias)  # [N, K+1, 1]
    ref = (s * H).sum(1)
    assert torch.allclose(out, ref, atol=1e-10)
    assert torch.autograd.gradcheck(lambda v: conv(v, g), (z.clone().requires_grad_(),))


def test_dagnn_conv_k0_and_cached():
    g = Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
    z = torch.randn(3, 2)
    conv0 = DAGNNConv(2, K=0)
    assert torch.allclose(conv0(z, g), torch.sigmoid(conv0.proj(z)) * z)
    conv = DAGNNConv(2, K=2, cached=True)
    a = conv(z, g)
    assert torch.allclose(conv(z, Graph.empty(3)), a)  # cache ignores the new graph
    conv.reset_parameters()
    assert conv._cached_graph is None


def test_dagnn_conv_blocks_equal_full_graph():
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(10, 30, seed=3), num_nodes=10, directed=False)
    z = torch.randn(10, 3)
    conv = DAGNNConv(3, K=3)
    full = conv(z, g)
    blocks = [Block(g.indptr, g.indices, num_src_nodes=10) for _ in range(3)]
    assert torch.allclose(conv(z, blocks), full, atol=1e-5)
    # a single square block is accepted like a graph
    assert torch.allclose(conv(z, blocks[0]), full, atol=1e-5)


def test_dagnn_conv_repr_and_bad_input():
    assert str(DAGNNConv(7, K=10)) == "DAGNNConv(7, K=10)"
    with pytest.raises(ValueError, match="DAGNNConv: K must be an int >= 0, got -1"):
        DAGNNConv(4, K=-1)
    with pytest.raises(ValueError, match="DAGNNConv: channels must be a positive int"):
        DAGNNConv(0)
    conv = DAGNNConv(2, K=2)
    with pytest.raises(ValueError, match="needs a list of 2 blocks, got 1"):
        conv(torch.randn(3, 2), [Block(torch.tensor([0, 1, 2]), torch.tensor([0, 2]), 3)])
    with pytest.raises(ValueError, match="for mini-batches pass a list of K=2 blocks"):
        conv(torch.randn(3, 2), Block(torch.tensor([0, 1, 2]), torch.tensor([0, 2]), 3))
