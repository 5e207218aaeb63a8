"""PathNN layers and model: against a per-path loop reference, batching, bad input."""
import pytest
import torch
from torch import nn

import gnnkit
from gnnkit.data.graph_datasets import bicyclopentyl, csl_graph, decalin
from gnnkit.nn.pathnn import PathConv, PathNN, PathSet, compute_paths
from gnnkit.nn.pool import batch_graphs
from gnnkit.ops.paths import PathCountError


def _loop_conv(conv, x, paths):
    """Reference PathConv: encode every path on its own with the LSTM, sum per start node."""
    agg = torch.zeros_like(x)
    for p in paths.tolist():
        seq = x[list(reversed(p))].unsqueeze(0)
        _, (h, _) = conv.lstm(seq)
        agg[p[0]] += h[-1, 0]
    h = agg + x if conv.residual else agg
    return torch.relu(conv.bn(h) if conv.bn is not None else h)


@pytest.mark.parametrize("mode", ["sp", "sp+", "ap"])
def test_pathconv_matches_loop(mode):
    torch.manual_seed(0)
    g = decalin()
    paths = compute_paths(g, 3, mode)
    conv = PathConv(5, chunk_size=7).double().eval()
    x = torch.randn(10, 5, dtype=torch.float64)
    for p in paths:
        torch.testing.assert_close(conv(x, p), _loop_conv(conv, x, p))


@pytest.mark.parametrize("mode", ["sp+", "ap"])
def test_prefix_tree_encoder_matches_per_path(mode):
    # reversible path sets (undirected graph, sp+/ap) use the prefix-tree LSTM; same result,
    # same gradients as encoding every path on its own
    torch.manual_seed(0)
    g = csl_graph(3, 11)
    P = compute_paths(g, 4, mode)
    assert isinstance(P, PathSet) and P.reversible
    model = PathNN(2, 6, 3, max_len=4, mode=mode).double().eval()
    x = torch.randn(11, 2, dtype=torch.float64)
    a = model(x, P)
    b = model(x, list(P))
    torch.testing.assert_close(a, b)
    ga = torch.autograd.grad(a.sum(), model.lstm.weight_hh_l0)[0]
    gb = torch.autograd.grad(b.sum(), model.lstm.weight_hh_l0)[0]
    torch.testing.assert_close(ga, gb)


def test_directed_paths_are_not_reversible():
    d = gnnkit.Graph.from_edge_index(torch.tensor([[0, 1], [1, 2]]))
    assert not compute_paths(d, 2, "ap").reversible
    # 'sp' holds all shortest paths (weighted 1/n per pair): closed under reversal
    assert compute_paths(decalin(), 2, "sp").reversible


def test_pathconv_gradients_flow():
    conv = PathConv(3).double()
    x = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    conv(x, compute_paths(decalin(), 2, "ap")[1]).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in conv.lstm.parameters())


def test_pathconv_no_paths():
    conv = PathConv(4, batch_norm=False)
    x = torch.randn(3, 4)
    torch.testing.assert_close(conv(x, torch.zeros(0, 3, dtype=torch.long)), torch.relu(x))


def test_batch_equals_single_graphs():
    torch.manual_seed(1)
    graphs = [decalin(), bicyclopentyl(), csl_graph(3, 9), gnnkit.Graph.empty(2)]
    model = PathNN(1, 8, 3, max_len=3, mode="ap").double().eval()
    singles = [model(torch.ones(g.num_nodes, 1, dtype=torch.float64), model.compute_paths(g))
               for g in graphs]
    big, batch = batch_graphs(graphs)
    out = model(torch.ones(big.num_nodes, 1, dtype=torch.float64), model.compute_paths(big), batch)
    torch.testing.assert_close(out, torch.cat(singles))


def test_model_trains_one_step():
    torch.manual_seed(0)
    big, batch = batch_graphs([decalin(), bicyclopentyl()])
    model = PathNN(1, 8, 2, max_len=3, mode="sp+")
    paths = model.compute_paths(big)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    y = torch.tensor([0, 1])
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.ones(20, 1), paths, batch), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 < losses[0]


def test_repr_and_bad_input():
    assert repr(PathNN(1, 8, 2, max_len=3, mode="ap")) == "PathNN(1, 8, 2, max_len=3, mode='ap')"
    assert repr(PathConv(8)) == "PathConv(8)"
    with pytest.raises(ValueError, match="mode must be one of"):
        PathNN(1, 8, 2, 3, mode="all")
    with pytest.raises(ValueError, match="max_len must be a positive int, got 0"):
        PathNN(1, 8, 2, 0)
    model = PathNN(1, 4, 2, max_len=2)
    g = decalin()
    with pytest.raises(ValueError, match=r"expected paths for lengths 1..2 \(2 tensors\), got 3"):
        model(torch.ones(10, 1), compute_paths(g, 3))
    with pytest.raises(ValueError, match=r"paths\[0\] must hold length-1 paths"):
        model(torch.ones(10, 1), compute_paths(g, 2)[::-1])
    with pytest.raises(IndexError, match=r"path node ids must lie in \[0, 4\)"):
        PathConv(4)(torch.ones(4, 4), torch.tensor([[0, 7]]))
    with pytest.raises(TypeError, match="int64 or int32 tensor"):
        PathConv(4)(torch.ones(4, 4), torch.tensor([[0, 1]], dtype=torch.int16))
    # K too large for the budget: refused with an estimate, before any allocation
    big = gnnkit.Graph.from_edge_index(torch.combinations(torch.arange(14)).t(), directed=False)
    with pytest.raises(PathCountError, match="Upper bound"):
        PathNN(1, 4, 2, max_len=9, mode="ap").compute_paths(big, max_paths=100_000)
