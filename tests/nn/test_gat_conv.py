"""GATConv: PyG equality on copied weights, dense reference, formats, blocks, dropout, flags."""
import pytest
import torch

from gnnkit import Graph
from gnnkit.nn import Block, GATConv
from gnnkit.testing import corner_case_graphs, random_edge_index

pytestmark = pytest.mark.usefixtures("one_thread")



def dense_gat(conv: GATConv, x, g: Graph):
    """Dense masked-softmax GAT (loops replaced by one loop per node), heads concat/mean."""
    n, H, D = g.num_nodes, conv.heads, conv.out_channels
    adj = torch.zeros(n, n, dtype=torch.bool)  # adj[dst, src]
    src, dst = g.edge_index
    adj[dst, src] = True
    adj.fill_diagonal_(True)
    count = torch.zeros(n, n)
    count.index_put_((dst[src != dst], src[src != dst]), torch.ones(int((src != dst).sum())), accumulate=True)
    count += torch.eye(n)
    h = conv.lin(x).view(n, H, D)
    a_s = (h * conv.att_src).sum(-1)  # [n, H]
    a_d = (h * conv.att_dst).sum(-1)
    e = torch.nn.functional.leaky_relu(a_d[:, None, :] + a_s[None, :, :], conv.negative_slope)  # [dst, src, H]
    e = e.masked_fill(~adj[..., None], float("-inf"))
    w = torch.exp(e - e.amax(1, keepdim=True)) * count[..., None]  # duplicate arcs count twice
    att = w / w.sum(1, keepdim=True)
    out = torch.einsum("ijh,jhd->ihd", att, h)
    out = out.reshape(n, H * D) if conv.concat else out.mean(1)
    return out + (conv.bias if conv.bias is not None else 0)


@pytest.mark.parametrize("heads,concat,residual", [(1, True, False), (3, True, True), (2, False, False)])
def test_gat_conv_matches_pyg_and_dense(heads, concat, residual):
    pyg = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    ei = random_edge_index(25, 100, seed=5)  # with self loops and duplicate arcs
    g = Graph.from_edge_index(ei, num_nodes=25)
    x = torch.randn(25, 6)
    conv = GATConv(6, 4, heads=heads, concat=concat, residual=residual)
    with torch.no_grad():
        conv.bias.normal_()
    out = conv(x, g)
    assert out.shape == (25, heads * 4 if concat else 4)
    p = pyg.GATConv(6, 4, heads=heads, concat=concat, residual=residual)
    p.load_state_dict(conv.state_dict())
    assert torch.allclose(out, p(x, ei), atol=1e-5)
    if not residual:
        assert torch.allclose(out, dense_gat(conv, x, g), atol=1e-5)


def test_gat_conv_gradients_match_pyg():
    pyg = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(1)
    ei = random_edge_index(20, 80, seed=6)
    g = Graph.from_edge_index(ei, num_nodes=20)
    conv, p = GATConv(5, 3, heads=2), pyg.GATConv(5, 3, heads=2)
    p.load_state_dict(conv.state_dict())
    x1 = torch.randn(20, 5, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    grad = torch.randn(20, 6)
    conv(x1, g).backward(grad)
    p(x2, ei).backward(grad)
    assert torch.allclose(x1.grad, x2.grad, atol=1e-5)
    for name, prm in conv.named_parameters():
        assert torch.allclose(prm.grad, dict(p.named_parameters())[name].grad, atol=1e-5), name


def test_gat_conv_input_formats():
    pyg = pytest.importorskip("torch_geometric")
    torch.manual_seed(0)
    ei = random_edge_index(15, 40, seed=7)
    g = Graph.from_edge_index(ei, num_nodes=15)
    x = torch.randn(15, 4)
    conv = GATConv(4, 2, heads=2)
    ref = conv(x, g)
    assert torch.allclose(conv(x, ei), ref, atol=1e-6)
    assert torch.allclose(conv(x, pyg.data.Data(edge_index=ei, num_nodes=15)), ref, atol=1e-6)
    # the looped graph is memoised for the same immutable Graph object
    conv(x, g)
    assert conv._memo[0] is g


def test_gat_conv_block_equals_full_graph():
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(12, 40, seed=2), num_nodes=12)
    x = torch.randn(12, 4)
    conv = GATConv(4, 3, heads=2, residual=True)
    full = conv(x, g)
    assert torch.allclose(conv(x, Block(g.indptr, g.indices, num_src_nodes=12)), full, atol=1e-6)
    # destination prefix: block of the first 5 destinations over all 12 sources gives the
    # full-graph rows (attention only depends on each destination's in-arcs)
    sub = Block(g.indptr[:6].clone(), g.indices[: int(g.indptr[5])].clone(), num_src_nodes=12)
    assert torch.allclose(conv(x, sub), full[:5], atol=1e-6)


def test_gat_conv_no_self_loops_and_corner_cases():
    conv = GATConv(3, 2, heads=2, add_self_loops=False)
    g = Graph.from_edge_index(torch.tensor([[1], [0]]), num_nodes=3)
    x = torch.randn(3, 3)
    out = conv(x, g)
    assert torch.allclose(out[0], conv.lin(x[1]) + conv.bias, atol=1e-6)  # single in-arc
    assert torch.allclose(out[1:], conv.bias.expand(2, 4))  # no in-arcs -> 0 + bias
    looped = GATConv(3, 2, heads=2)
    for name, cg in corner_case_graphs():
        res = looped(torch.randn(cg.num_nodes, 3), cg)
        assert res.shape == (cg.num_nodes, 4) and torch.isfinite(res).all(), name


def test_gat_conv_attention_dropout_deterministic_and_eval():
    torch.manual_seed(0)
    g = Graph.from_edge_index(random_edge_index(30, 150, seed=8), num_nodes=30)
    x = torch.randn(30, 4)
    conv = GATConv(4, 4, heads=2, dropout=0.5)
    torch.manual_seed(3)
    a = conv(x, g)
    torch.manual_seed(3)
    b = conv(x, g)
    c = conv(x, g)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    conv.eval()
    ref = GATConv(4, 4, heads=2)
    ref.load_state_dict(conv.state_dict())
    assert torch.allclose(conv(x, g), ref(x, g))


def test_gat_conv_repr_and_bad_flags():
    assert str(GATConv(8, 32, heads=2)) == "GATConv(8, 32, heads=2)"
    assert str(GATConv(8, 32)) == "GATConv(8, 32, heads=1)"
    with pytest.raises(ValueError, match=r"GATConv: dropout must be in \[0, 1\), got 1.5"):
        GATConv(4, 4, dropout=1.5)
    with pytest.raises(ValueError, match="GATConv: heads must be a positive int, got 0"):
        GATConv(4, 4, heads=0)
    with pytest.raises(ValueError, match="GATConv: negative_slope must be >= 0"):
        GATConv(4, 4, negative_slope=-1.0)
    with pytest.raises(ValueError, match=r"GATConv: x must have shape \[N, 4\]"):
        GATConv(4, 4)(torch.randn(3, 2), Graph.empty(3))
