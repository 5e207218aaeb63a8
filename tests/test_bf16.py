"""bf16 feature storage: the spmm / GAT kernels accumulate in fp32 (forward and backward), and
SAGEConv aggregates bf16 features into an fp32 layer."""
import pytest
import torch

import gnnkit
from gnnkit.nn import SAGEConv

pytestmark = pytest.mark.usefixtures("one_thread")


def test_spmm_bf16_accumulates_in_fp32():
    # one row with 1000 in-arcs of ones: a bf16 accumulator stalls at 256 (256 + 1 rounds to
    # 256); fp32 accumulation gives 1000, which bf16 represents exactly
    n = 1001
    g = gnnkit.Graph.from_edge_index(torch.stack([torch.arange(1, n), torch.zeros(n - 1, dtype=torch.long)]),
                                     num_nodes=n)
    x = torch.ones(n, 3, dtype=torch.bfloat16, requires_grad=True)
    out = gnnkit.ops.spmm(g, x, "sum")
    assert out.dtype == torch.bfloat16 and out[0].tolist() == [1000.0] * 3
    # backward: grad_x[j] = sum over j's out-arcs of grad_out; the transpose row of node 0 is empty
    out.backward(torch.ones_like(out))
    assert x.grad.dtype == torch.bfloat16 and x.grad[1:].eq(1).all() and x.grad[0].eq(0).all()


def test_spmm_and_gat_bf16_match_fp64_within_bf16_rounding():
    gen = torch.Generator().manual_seed(0)
    g = gnnkit.Graph.from_edge_index(torch.randint(0, 400, (2, 6000), generator=gen), num_nodes=400)
    x64 = torch.randn(400, 16, generator=gen, dtype=torch.float64)
    xb = x64.bfloat16()
    ref_in = xb.double().requires_grad_(True)  # same (rounded) inputs in fp64
    xb.requires_grad_(True)
    for reduce in ("sum", "mean"):
        out, ref = gnnkit.ops.spmm(g, xb, reduce), gnnkit.ops.spmm(g, ref_in, reduce)
        gout = torch.randn(out.shape, generator=gen, dtype=torch.float64)
        out.backward(gout.bfloat16())
        ref.backward(gout.bfloat16().double())
        scale = ref.abs().max()
        assert (out.double() - ref).abs().max() <= 2 ** -7 * scale  # one bf16 rounding of the output
        assert (xb.grad.double() - ref_in.grad).abs().max() <= 2 ** -7 * ref_in.grad.abs().max()
        xb.grad = ref_in.grad = None
    h = torch.randn(400, 2, 8, generator=gen, dtype=torch.float64)
    a_s, a_d = torch.randn(400, 2, generator=gen, dtype=torch.float64), torch.randn(400, 2, generator=gen,
                                                                                      dtype=torch.float64)
    hb = h.bfloat16().requires_grad_(True)
    h64 = h.bfloat16().double().requires_grad_(True)
    out = gnnkit.ops.gat_attention(g, hb, a_s.bfloat16(), a_d.bfloat16())
    ref = gnnkit.ops.gat_attention(g, h64, a_s.bfloat16().double(), a_d.bfloat16().double())
    assert (out.double() - ref).abs().max() <= 2 ** -6 * ref.abs().max()
    out.sum().backward()
    ref.sum().backward()
    assert (hb.grad.double() - h64.grad).abs().max() <= 2 ** -6 * h64.grad.abs().max()


def test_sage_conv_on_bf16_features_matches_fp32_layer():
    torch.manual_seed(0)
    g = gnnkit.Graph.from_edge_index(torch.randint(0, 300, (2, 3000)), num_nodes=300)
    s = gnnkit.sampling.sample_neighbors(g, torch.arange(20), [10], seed=0)
    x = torch.randn(300, 64)[s.n_id]
    conv = SAGEConv(64, 8)
    out_b = conv(x.bfloat16(), s.blocks[0])
    out_f = conv(x.bfloat16().float(), s.blocks[0])
    assert out_b.dtype == torch.float32
    torch.testing.assert_close(out_b, out_f, rtol=2e-2, atol=2e-2)
    out_b.sum().backward()
    assert conv.lin_l.weight.grad.dtype == torch.float32
