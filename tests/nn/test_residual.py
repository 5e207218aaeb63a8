"""The Platonov et al. model family (gnnkit.nn.residual) against a dense plain-torch transcription
of the official ``modules.py`` (yandex-research/heterophilous-graphs), on a small directed graph."""
import math

import pytest
import torch
import torch.nn.functional as F

from gnnkit import Graph
from gnnkit.nn import get_model
from gnnkit.nn.residual import BLOCKS, ResidualGNN, sgc_features


def _graph(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    src, dst = torch.randint(0, n, (2, 40), generator=g)
    keep = src != dst
    ei = torch.stack([src[keep], dst[keep]])
    ei = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)   # symmetric, no loops, no repeats
    ei = torch.cat([ei, torch.tensor([[0], [0]])], 1)          # one self loop: removed by the model
    A = torch.zeros(n, n)
    A[ei[1], ei[0]] = 1.0                                       # A[i, j] = 1 for arc j -> i
    A.fill_diagonal_(0.0)
    return Graph.from_edge_index(ei, num_nodes=n), A


def _softmax_rows(scores, mask):
    """scores [N, N, H] over the masked j of every row i; rows without j give 0."""
    s = scores.masked_fill(~mask[..., None], float("-inf"))
    a = torch.softmax(s, dim=1)
    return torch.nan_to_num(a, nan=0.0)


def _ff(ff, u):
    h = ff.first(u) if not ff.graph_first else None
    return ff.second(F.gelu(h)) if h is not None else None


def _reference(model, x, A):
    """Eval-mode forward of ``model`` written densely from the paper's equations."""
    n, d = x.size(0), model.hidden_channels
    I = torch.eye(n)
    Al = A + I
    dl = Al.sum(1)
    gcn = Al / torch.sqrt(dl[:, None] * dl[None, :])
    deg = A.sum(1, keepdim=True)
    mean = torch.where(deg > 0, A / deg.clamp_min(1), torch.zeros_like(A))
    h = model.lin_in(x)
    if model.features == "adj":
        h = model.lin_in(x) + A.t() @ model.adj_rows       # [X || A] with A rows = out-neighbours
    h = F.gelu(h)
    for kind, norm, blk in zip(model.kinds, model.norms, model.blocks):
        u = norm(h)
        if kind == "ff":
            r = blk.second(F.gelu(blk.first(u)))
        elif kind == "gcn":
            conv = blk.first
            r = blk.second(F.gelu(gcn @ u @ conv.lin.weight.t() + conv.bias))
        elif kind == "sage":
            conv = blk.first
            z = torch.cat([u, mean @ u], 1)
            W = torch.cat([conv.lin_r.weight, conv.lin_l.weight], 1)
            r = blk.second(F.gelu(z @ W.t() + conv.lin_l.bias))
        elif kind in ("gat", "gat-sep"):
            H = model.heads
            D = d // H
            if kind == "gat":
                conv = blk.conv
                v, asrc, adst, mask = u @ conv.lin.weight.t(), conv.att_src, conv.att_dst, Al > 0
            else:
                v, asrc, adst, mask = blk.lin(u), blk.att_src, blk.att_dst, A > 0
            vh = v.view(n, H, D)
            e = F.leaky_relu((vh * adst).sum(-1)[:, None, :] + (vh * asrc).sum(-1)[None, :, :], 0.2)
            a = _softmax_rows(e, mask)                        # [i, j, H]
            msg = torch.einsum("ijh,jhd->ihd", a, vh).reshape(n, d)
            if kind == "gat":
                ff = blk.ff
                z = msg + conv.bias
            else:
                ff = blk.ff
                z = torch.cat([v, msg], 1)
            r = ff.second(F.gelu(ff.first(z)))
        else:   # gt, gt-sep
            H = model.heads
            D = d // H
            mask = (Al if kind == "gt" else A) > 0
            q, k, v = (lin(u).view(n, H, D) for lin in (blk.q, blk.k, blk.v))
            s = torch.einsum("ihd,jhd->ijh", q, k) / math.sqrt(D)
            msg = torch.einsum("ijh,jhd->ihd", _softmax_rows(s, mask), v).reshape(n, d)
            r = blk.out(torch.cat([u, msg], 1) if kind == "gt-sep" else msg)
        h = h + r
    return model.lin_out(model.norm_out(h))


@pytest.mark.parametrize("block", BLOCKS)
def test_blocks_match_dense_reference(block):
    torch.manual_seed(0)
    g, A = _graph()
    x = torch.randn(g.num_nodes, 5)
    model = ResidualGNN(5, 3, hidden_channels=16, num_layers=2, block=block, heads=4).eval()
    with torch.no_grad():
        for p in model.parameters():   # non-trivial LayerNorm affine and biases
            p.add_(0.1 * torch.randn_like(p))
        out = model(x, g)
        ref = _reference(model, x, A)
    assert out.shape == (g.num_nodes, 3)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_gradients_flow_to_every_parameter():
    g, _ = _graph()
    x = torch.randn(g.num_nodes, 5)
    for block in BLOCKS:
        model = ResidualGNN(5, 1, hidden_channels=8, num_layers=1, block=block, heads=2)
        model(x, g).sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, (block, missing)


def test_resnet_graph_features():
    torch.manual_seed(1)
    g, A = _graph()
    x = torch.randn(g.num_nodes, 4)
    adj = ResidualGNN(4, 2, hidden_channels=8, num_layers=1, block="ff", features="adj",
                      num_nodes=g.num_nodes).eval()
    with torch.no_grad():
        torch.testing.assert_close(adj(x, g), _reference(adj, x, A), rtol=1e-4, atol=1e-5)
    # S^K X with S the GCN operator (self loops replaced by one per node)
    Al = A + torch.eye(g.num_nodes)
    dl = Al.sum(1)
    S = Al / torch.sqrt(dl[:, None] * dl[None, :])
    torch.testing.assert_close(sgc_features(g, x, K=5), torch.linalg.matrix_power(S, 5) @ x,
                               rtol=1e-4, atol=1e-5)
    sgc = ResidualGNN(4, 2, hidden_channels=8, num_layers=1, block="ff", features="sgc")
    assert sgc.lin_in.in_features == 8 and sgc(x, g).shape == (g.num_nodes, 2)


def test_errors_and_repr():
    with pytest.raises(ValueError, match="block must be one of"):
        ResidualGNN(4, 2, block="gin")
    with pytest.raises(ValueError, match=r"hidden_channels \(30\) must be a multiple of heads \(8\)"):
        ResidualGNN(4, 2, hidden_channels=30, block="gt")
    with pytest.raises(ValueError, match="num_nodes must be a positive int"):
        ResidualGNN(4, 2, block="ff", features="adj")
    with pytest.raises(ValueError, match="norm must be one of"):
        ResidualGNN(4, 2, norm="group")
    m = ResidualGNN(4, 2, hidden_channels=8, num_layers=1, block="ff", features="adj", num_nodes=5)
    with pytest.raises(ValueError, match="built for 5 nodes, the graph has 12"):
        m(torch.randn(12, 4), _graph()[0])
    assert repr(ResidualGNN(7, 1)) == "ResidualGNN(7, 1, hidden_channels=512, num_layers=5, block='gcn')"


def test_registry_entries():
    m = get_model("res-gt-sep", 7, 1, hidden_channels=16, num_layers=1)
    assert m.block == "gt-sep" and m.kinds == ["gt-sep", "ff"] and m.dropout == 0.2
    assert get_model("resnet-sgc", 7, 1).features == "sgc"
    assert get_model("sage", 7, 3, norm="batch").norm == "batch"


def test_bf16_autocast_close_to_float32():
    torch.manual_seed(0)
    g, _ = _graph()
    x = torch.randn(g.num_nodes, 5)
    for block in ("gcn", "gat-sep", "gt"):
        m32 = ResidualGNN(5, 2, hidden_channels=16, num_layers=1, block=block, heads=4).eval()
        m16 = ResidualGNN(5, 2, hidden_channels=16, num_layers=1, block=block, heads=4,
                          autocast="bf16").eval()
        m16.load_state_dict(m32.state_dict())
        out = m16(x, g)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, m32(x, g), rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="autocast must be None or 'bf16'"):
        ResidualGNN(5, 2, autocast="fp16")
