"""SAGEConv's fused aggregate + root step (gnnkit/nn/_sage_fused.py) against the composed oracle
(gnnkit.testing.spmm_reference + two linear maps), outputs and every gradient."""
import pytest
import torch
import torch.nn.functional as F

from gnnkit import Graph
from gnnkit.block import Block
from gnnkit.nn import SAGEConv
from gnnkit.testing import random_edge_index, spmm_reference


def _block():
    # 5 destinations (the first 5 of 9 sources); destination 3 has no in-arcs
    rowptr = torch.tensor([0, 3, 5, 8, 8, 11])
    col = torch.tensor([5, 6, 0, 7, 1, 8, 2, 6, 4, 8, 5], dtype=torch.int32)
    return Block(rowptr, col, 9)


def _graph():
    return Graph.from_edge_index(random_edge_index(12, 40, seed=3), num_nodes=12)


def _oracle(conv, x, g):
    n_dst = g.indptr.numel() - 1
    agg = spmm_reference(g, x, conv.aggr)
    out = F.linear(agg, conv.lin_l.weight, conv.lin_l.bias)
    return out + F.linear(x[:n_dst], conv.lin_r.weight)


@pytest.mark.parametrize("make", [_block, _graph])
@pytest.mark.parametrize("aggr", ["mean", "sum"])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_step_matches_composed_ops(make, aggr, bias):
    torch.manual_seed(0)
    g = make()
    n_src = g.num_src_nodes if isinstance(g, Block) else g.num_nodes
    # F_in < F_out: SAGEConv aggregates first, which is the fused path
    conv = SAGEConv(4, 6, aggr=aggr, bias=bias).double()
    x = torch.randn(n_src, 4, dtype=torch.float64, requires_grad=True)
    out = conv(x, g)
    gout = torch.randn_like(out)
    grads = torch.autograd.grad(out, [x] + list(conv.parameters()), gout)
    want = _oracle(conv, x, g)
    want_grads = torch.autograd.grad(want, [x] + list(conv.parameters()), gout)
    torch.testing.assert_close(out, want)
    for a, b in zip(grads, want_grads):
        torch.testing.assert_close(a, b)
    assert out.grad_fn.name().endswith("_SageAggRootBackward")


def test_gradcheck_fused_step():
    conv = SAGEConv(3, 5).double()
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    g = _block()
    assert torch.autograd.gradcheck(lambda t, wl, b, wr: _sage(t, g, wl, b, wr),
                                    (x, conv.lin_l.weight, conv.lin_l.bias, conv.lin_r.weight))


def _sage(x, g, wl, b, wr):
    from gnnkit.nn._sage_fused import sage_mean_root

    return sage_mean_root(x, g, wl, b, wr, "mean")


def test_unfused_paths_unchanged():
    # a (x_src, x_dst) pair, max aggregation and the transform-first path keep composed ops
    torch.manual_seed(1)
    g = _block()
    x = torch.randn(9, 8)
    conv = SAGEConv(8, 2, aggr="max")
    want = F.linear(spmm_reference(g, x, "max"), conv.lin_l.weight, conv.lin_l.bias) + \
        F.linear(x[:5], conv.lin_r.weight)
    torch.testing.assert_close(conv(x, g), want)
    conv = SAGEConv(8, 2)  # F_out << F_in on a graph with N_src == N_dst: transform first
    gg = _graph()
    xg = torch.randn(12, 8)
    torch.testing.assert_close(conv(xg, gg), _oracle(conv, xg, gg), rtol=1e-5, atol=1e-6)
    pair = conv((x, x[:5]), g)
    torch.testing.assert_close(pair, _oracle(conv, x, g), rtol=1e-5, atol=1e-6)
