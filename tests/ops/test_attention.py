"""sddmm, edge_softmax and the fused GAT kernel against unfused references."""
from itertools import product

import pytest
import torch

import gnnkit
from gnnkit.ops import edge_softmax, gat_attention, sddmm
from gnnkit.testing import (corner_case_graphs, edge_softmax_reference, gat_attention_reference,
                            random_edge_index, sddmm_reference)

GRAPHS = corner_case_graphs() + [("int64_" + n, g) for n, g in corner_case_graphs(torch.int64)]
DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("case,dtype,heads", product(GRAPHS, DTYPES, [None, 3]), ids=str)
def test_sddmm(case, dtype, heads):
    _, g = case
    shape = (4,) if heads is None else (heads, 4)
    a = torch.randn(g.num_nodes, *shape, dtype=dtype, requires_grad=True)
    b = torch.randn(g.num_nodes, *shape, dtype=dtype, requires_grad=True)
    out = sddmm(g, a, b)
    a2, b2 = a.detach().requires_grad_(), b.detach().requires_grad_()
    ref = sddmm_reference(g, a2, b2)
    torch.testing.assert_close(out, ref)
    gr = torch.randn_like(out)
    out.backward(gr)
    ref.backward(gr)
    torch.testing.assert_close(a.grad, a2.grad)
    torch.testing.assert_close(b.grad, b2.grad)


@pytest.mark.parametrize("case,dtype,heads", product(GRAPHS, DTYPES, [None, 2]), ids=str)
def test_edge_softmax(case, dtype, heads):
    _, g = case
    shape = (g.num_edges,) if heads is None else (g.num_edges, heads)
    s = (torch.randn(*shape, dtype=dtype) * 10).requires_grad_()
    out = edge_softmax(g, s)
    s2 = s.detach().requires_grad_()
    ref = edge_softmax_reference(g, s2)
    torch.testing.assert_close(out, ref)
    gr = torch.randn_like(out)
    out.backward(gr)
    ref.backward(gr)
    torch.testing.assert_close(s.grad, s2.grad)


def test_edge_softmax_stable_for_huge_scores():
    g = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [2, 2]]), num_nodes=3)
    out = edge_softmax(g, torch.tensor([1000.0, 999.0]))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("case,dtype", product(GRAPHS, DTYPES), ids=str)
def test_gat_attention_matches_unfused(case, dtype):
    _, g = case
    H, D = 3, 4
    x = torch.randn(g.num_nodes, H, D, dtype=dtype, requires_grad=True)
    a_s = torch.randn(g.num_nodes, H, dtype=dtype, requires_grad=True)
    a_d = torch.randn(g.num_nodes, H, dtype=dtype, requires_grad=True)
    out = gat_attention(g, x, a_s, a_d, negative_slope=0.2)
    leaves = [t.detach().requires_grad_() for t in (x, a_s, a_d)]
    ref = gat_attention_reference(g, *leaves, negative_slope=0.2)
    torch.testing.assert_close(out, ref)
    gr = torch.randn_like(out)
    out.backward(gr)
    ref.backward(gr)
    for t, r in zip((x, a_s, a_d), leaves):
        torch.testing.assert_close(t.grad, r.grad)


def test_gradcheck_attention_ops():
    g = gnnkit.Graph.from_edge_index(random_edge_index(9, 30, seed=7), num_nodes=9)
    d = dict(dtype=torch.float64, requires_grad=True)
    a, b = torch.randn(9, 2, 3, **d), torch.randn(9, 2, 3, **d)
    assert torch.autograd.gradcheck(lambda a, b: sddmm(g, a, b), (a, b))
    s = torch.randn(g.num_edges, 2, **d)
    assert torch.autograd.gradcheck(lambda s: edge_softmax(g, s), (s,))
    x, a_s, a_d = torch.randn(9, 2, 3, **d), torch.randn(9, 2, **d), torch.randn(9, 2, **d)
    assert torch.autograd.gradcheck(lambda x, s, t: gat_attention(g, x, s, t), (x, a_s, a_d))


def test_gat_dropout_reproducible_and_gradcheck():
    g = gnnkit.Graph.from_edge_index(random_edge_index(15, 60, seed=8), num_nodes=15)
    d = dict(dtype=torch.float64, requires_grad=True)
    x, a_s, a_d = torch.randn(15, 2, 3, **d), torch.randn(15, 2, **d), torch.randn(15, 2, **d)

    def f(x, s, t):
        gen = torch.Generator().manual_seed(123)  # same mask on every call
        return gat_attention(g, x, s, t, dropout=0.5, generator=gen)

    o1, o2 = f(x, a_s, a_d), f(x, a_s, a_d)
    assert torch.equal(o1, o2)
    assert not torch.allclose(o1, gat_attention(g, x, a_s, a_d))  # dropout did something
    assert torch.allclose(gat_attention(g, x, a_s, a_d, dropout=0.5, training=False),
                          gat_attention(g, x, a_s, a_d))
    assert torch.autograd.gradcheck(f, (x, a_s, a_d))


def test_gat_dropout_mask_is_the_dropout_op_mask():
    # one mask definition for every dropout: arc k, head h is element k * H + h of
    # gnnkit.ops.dropout's counter-based mask (oracle: testing.dropout_reference)
    from gnnkit.testing import dropout_reference, gat_attention_reference

    g = gnnkit.Graph.from_edge_index(random_edge_index(40, 300, seed=3), num_nodes=40)
    H, p = 3, 0.375  # float32-exact, so the kernel's float p gives the same threshold
    x, a_s, a_d = torch.randn(40, H, 4, dtype=torch.float64), torch.randn(40, H, dtype=torch.float64), \
        torch.randn(40, H, dtype=torch.float64)
    seed = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(77)).item())
    out = gat_attention(g, x, a_s, a_d, dropout=p, generator=torch.Generator().manual_seed(77))
    mask, keep = dropout_reference(torch.ones(g.num_edges, H, dtype=torch.float64), p, seed)
    assert 0.5 < keep.double().mean() < 0.75
    torch.testing.assert_close(out, gat_attention_reference(g, x, a_s, a_d, dropout_mask=mask))


def test_gat_dropout_is_unbiased():
    g = gnnkit.Graph.from_edge_index(random_edge_index(6, 30, seed=9), num_nodes=6)
    x, a_s, a_d = torch.randn(6, 1, 2, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64), \
        torch.randn(6, 1, dtype=torch.float64)
    torch.manual_seed(0)
    mean = torch.stack([gat_attention(g, x, a_s, a_d, dropout=0.3) for _ in range(3000)]).mean(0)
    torch.testing.assert_close(mean, gat_attention(g, x, a_s, a_d), atol=0.05, rtol=0.05)


def test_attention_ops_thread_count_invariance():
    g = gnnkit.Graph.from_edge_index(random_edge_index(1500, 30000, seed=10), num_nodes=1500)
    x = torch.randn(1500, 4, 8, requires_grad=True)
    a_s, a_d = torch.randn(1500, 4, requires_grad=True), torch.randn(1500, 4, requires_grad=True)
    prev = torch.get_num_threads()
    results = []
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            for p in (x, a_s, a_d):
                p.grad = None
            gen = torch.Generator().manual_seed(5)
            out = gat_attention(g, x, a_s, a_d, dropout=0.3, generator=gen)
            out.square().sum().backward()
            s = sddmm(g, x, x)
            results.append([out.detach(), x.grad.clone(), a_s.grad.clone(), a_d.grad.clone(), s.detach(),
                            edge_softmax(g, s.detach())])
    finally:
        torch.set_num_threads(prev)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))
