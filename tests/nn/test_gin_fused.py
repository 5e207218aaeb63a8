"""GIN's fused training layer (gnnkit/nn/_gin_fused.py) against the modules run one by one."""
import copy

import pytest
import torch

import gnnkit
from gnnkit.nn._gin_fused import can_fuse, gin_layer
from gnnkit.nn.gin import GIN
from gnnkit.nn.pool import batch_graphs
from gnnkit.testing import random_edge_index

pytestmark = pytest.mark.usefixtures("one_thread")


def _batch(num_graphs=5, seed=0):
    graphs = []
    for k in range(num_graphs):
        n = 6 + 3 * k
        graphs.append(gnnkit.Graph.from_edge_index(random_edge_index(n, 4 * n, seed=seed + k), num_nodes=n))
    g, batch = batch_graphs(graphs)
    return g, batch, num_graphs


def _pair(dtype, **kw):
    torch.manual_seed(3)
    a = GIN(4, 8, 2, num_layers=3, dropout=0.0, **kw).to(dtype)
    with torch.no_grad():  # non-trivial biases and BN affine parameters
        for p in a.parameters():
            p.add_(0.3 * torch.randn_like(p))
    b = copy.deepcopy(a)
    a.fuse_layers = False
    return a, b


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kw", [dict(), dict(train_eps=True), dict(virtual_node=True, jk="sum"),
                                dict(readout="add", mlp_ratio=1)])
def test_fused_layers_match_the_modules(dtype, kw):
    g, batch, B = _batch()
    a, b = _pair(dtype, **kw)
    tol = dict(atol=1e-10, rtol=1e-10) if dtype == torch.float64 else dict(atol=2e-4, rtol=2e-4)
    for step in range(2):  # running statistics accumulate
        x = torch.randn(g.num_nodes, 4, dtype=dtype)
        oa, ob = a(x, g, batch, B), b(x, g, batch, B)
        torch.testing.assert_close(ob, oa, **tol)
        ga = torch.randn_like(oa)
        a.zero_grad()
        b.zero_grad()
        oa.backward(ga)
        ob.backward(ga)
        for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
            assert pb.grad is not None, name
            if name.startswith("convs.") and name.endswith(("mlp.0.bias", "mlp.3.bias")):
                # before a training-mode BatchNorm: exactly 0 (the modules round it to ~1e-7)
                assert torch.count_nonzero(pb.grad) == 0, name
                assert pa.grad.abs().max() < (1e-10 if dtype == torch.float64 else 1e-3), name
            else:
                torch.testing.assert_close(pb.grad, pa.grad, **tol, msg=name)
    for (name, ba), (_, bb) in zip(a.named_buffers(), b.named_buffers()):
        torch.testing.assert_close(bb, ba, **tol, msg=name)


def test_momentum_none_cumulative_average():
    g, batch, B = _batch(seed=4)
    a, b = _pair(torch.float64)
    for m in (*a.modules(), *b.modules()):
        if isinstance(m, torch.nn.BatchNorm1d):
            m.momentum = None
    for _ in range(3):
        x = torch.randn(g.num_nodes, 4, dtype=torch.float64)
        a(x, g, batch, B), b(x, g, batch, B)
    for (name, ba), (_, bb) in zip(a.named_buffers(), b.named_buffers()):
        torch.testing.assert_close(bb, ba, atol=1e-12, rtol=1e-12, msg=name)


def test_gradcheck():
    g, batch, B = _batch(num_graphs=2, seed=7)
    _, m = _pair(torch.float64, train_eps=True)
    conv, bn = m.convs[1], m.bns[1]
    x = torch.randn(g.num_nodes, 8, dtype=torch.float64, requires_grad=True)
    assert can_fuse(conv, bn, x, g)
    params = [conv.mlp[0].weight, conv.mlp[1].weight, conv.mlp[3].weight, bn.bias, conv.eps]

    def f(x, *ps):
        return gin_layer(conv, bn, x, g)
    assert torch.autograd.gradcheck(f, (x, *params))


def test_not_fused_where_it_does_not_apply():
    g, batch, B = _batch()
    _, m = _pair(torch.float32)
    x = torch.randn(g.num_nodes, 8)
    assert can_fuse(m.convs[0], m.bns[0], x, g)
    m.eval()  # running statistics: the module path
    assert not can_fuse(m.convs[0], m.bns[0], x, g)
    m.train()
    assert not can_fuse(m.convs[0], m.bns[0], x[:1], g)            # BN needs >= 2 rows
    assert not can_fuse(m.convs[0], m.bns[0], x.bfloat16(), g)      # dtype
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not can_fuse(m.convs[0], m.bns[0], x, g)
    gw = gnnkit.Graph(g.indptr, g.indices, edge_weight=torch.rand(g.num_edges))
    assert not can_fuse(m.convs[0], m.bns[0], x, gw)                # weighted: spmm uses the weights


def test_weighted_graph_runs_the_modules():
    g, batch, B = _batch(seed=9)
    gw = gnnkit.Graph(g.indptr, g.indices, edge_weight=torch.rand(g.num_edges, dtype=torch.float64))
    a, b = _pair(torch.float64)
    x = torch.randn(g.num_nodes, 4, dtype=torch.float64)
    torch.testing.assert_close(b(x, gw, batch, B), a(x, gw, batch, B))
    assert not torch.allclose(b(x, gw, batch, B), b(x, g, batch, B))   # the weights matter
