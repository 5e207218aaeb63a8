"""gnnkit.ops.batch_norm_relu and gnnkit.nn.BatchNormReLU against torch.nn.BatchNorm1d + ReLU."""
import pytest
import torch

from gnnkit.nn import BatchNormReLU
from gnnkit.ops import batch_norm_relu
from gnnkit.ops._library import ops
from gnnkit.testing import batch_norm_relu_reference

TOL = {torch.float32: dict(atol=2e-5, rtol=1e-5), torch.float64: dict(atol=1e-12, rtol=1e-12)}


def _pair(C, dtype, relu=True, **kw):
    torch.manual_seed(1)
    m = BatchNormReLU(C, relu=relu, **kw).to(dtype)
    if m.affine:
        with torch.no_grad():
            m.weight.uniform_(0.5, 2.0)
            m.bias.uniform_(-1.0, 1.0)
    ref = torch.nn.BatchNorm1d(C, **kw).to(dtype)
    ref.load_state_dict(m.state_dict())
    f = (lambda x: torch.relu(ref(x))) if relu else ref
    return m, ref, f


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_matches_torch_train_then_eval(dtype, relu, affine):
    m, ref, f = _pair(24, dtype, relu, affine=affine)
    for step in range(3):  # running stats accumulate over several batches
        x = (torch.randn(300, 24, dtype=dtype) * 3 + step).requires_grad_()
        xr = x.detach().clone().requires_grad_()
        y, yr = m(x), f(xr)
        torch.testing.assert_close(y, yr, **TOL[dtype])
        g = torch.randn_like(y)
        y.backward(g)
        yr.backward(g)
        torch.testing.assert_close(x.grad, xr.grad, **TOL[dtype])
    if affine:
        torch.testing.assert_close(m.weight.grad, ref.weight.grad, atol=1e-3 if dtype == torch.float32 else 1e-10,
                                   rtol=1e-5)
        torch.testing.assert_close(m.bias.grad, ref.bias.grad, atol=1e-3 if dtype == torch.float32 else 1e-10,
                                   rtol=1e-5)
    torch.testing.assert_close(m.running_mean, ref.running_mean, **TOL[dtype])
    torch.testing.assert_close(m.running_var, ref.running_var, **TOL[dtype])
    assert int(m.num_batches_tracked) == int(ref.num_batches_tracked) == 3
    m.eval()
    ref.eval()
    x = torch.randn(50, 24, dtype=dtype, requires_grad=True)
    xr = x.detach().clone().requires_grad_()
    y, yr = m(x), f(xr)
    torch.testing.assert_close(y, yr, **TOL[dtype])
    y.sum().backward()
    yr.sum().backward()
    torch.testing.assert_close(x.grad, xr.grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("training", [True, False])
def test_masked_nonfinite_gradient_is_zero_like_torch(dtype, training):
    # torch's ReLU backward gives exactly 0 where the output is 0, whatever the incoming gradient;
    # inf / NaN there must not leak into the BN gradient (a multiply by the mask would make NaN)
    m, ref, f = _pair(16, dtype)
    m.train(training)
    ref.train(training)
    x = torch.randn(40, 16, dtype=dtype, requires_grad=True)
    xr = x.detach().clone().requires_grad_()
    y, yr = m(x), f(xr)
    g = torch.randn_like(y)
    masked = (y == 0).nonzero()
    assert len(masked) >= 3
    g[tuple(masked[0])], g[tuple(masked[1])], g[tuple(masked[2])] = float("nan"), float("inf"), -float("inf")
    y.backward(g)
    yr.backward(g)
    assert torch.isfinite(x.grad).all() and torch.isfinite(m.weight.grad).all()
    torch.testing.assert_close(x.grad, xr.grad, **TOL[dtype])
    torch.testing.assert_close(m.weight.grad, ref.weight.grad, **TOL[dtype])
    torch.testing.assert_close(m.bias.grad, ref.bias.grad, **TOL[dtype])


def test_momentum_none_cumulative_average_and_no_running_stats():
    m, ref, f = _pair(8, torch.float64, momentum=None)
    for _ in range(3):
        x = torch.randn(40, 8, dtype=torch.float64)
        torch.testing.assert_close(m(x), f(x))
    torch.testing.assert_close(m.running_mean, ref.running_mean)
    torch.testing.assert_close(m.running_var, ref.running_var)
    m, ref, f = _pair(8, torch.float64, track_running_stats=False)
    x = torch.randn(40, 8, dtype=torch.float64)
    torch.testing.assert_close(m.eval()(x), f(x) if ref.eval() else None)  # batch stats in eval too
    assert m.running_mean is None and sorted(m.state_dict()) == sorted(ref.state_dict())


def test_state_dict_layout_and_repr():
    assert list(BatchNormReLU(5).state_dict()) == list(torch.nn.BatchNorm1d(5).state_dict())
    assert repr(BatchNormReLU(5)) == repr(torch.nn.BatchNorm1d(5)).replace("BatchNorm1d", "BatchNormReLU")
    assert "relu=False" in repr(BatchNormReLU(5, relu=False))


def test_oracle_and_functional():
    x = torch.randn(30, 6, dtype=torch.float64)
    rm, rv = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    rm2, rv2 = rm.clone(), rv.clone()
    w, b = torch.rand(6, dtype=torch.float64), torch.rand(6, dtype=torch.float64)
    y = batch_norm_relu(x, rm, rv, w, b, True, 0.3, 1e-3)
    yr = batch_norm_relu_reference(x, rm2, rv2, w, b, True, 0.3, 1e-3)
    torch.testing.assert_close(y, yr)
    torch.testing.assert_close(rm, rm2)
    torch.testing.assert_close(rv, rv2)
    # the doctest's hand-computable case: per channel, (-1, +1) after normalisation, ReLU -> (0, 1)
    y = batch_norm_relu(torch.tensor([[1.0, -2.0], [3.0, 2.0]]), None, None, training=True, eps=0.0)
    assert torch.equal(y, torch.tensor([[0.0, 0.0], [1.0, 1.0]]))


def test_gradcheck():
    x = torch.randn(12, 5, dtype=torch.float64, requires_grad=True)
    w = torch.rand(5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    o = ops()
    for relu in (True, False):
        assert torch.autograd.gradcheck(lambda x, w, b: o.batch_norm_relu(x, w, b, None, None, 1e-5, relu)[0],
                                        (x, w, b))
    rm, rv = torch.randn(5, dtype=torch.float64), torch.rand(5, dtype=torch.float64) + 0.5
    assert torch.autograd.gradcheck(lambda x, w, b: o.batch_norm_relu(x, w, b, rm, rv, 1e-5, True)[0], (x, w, b))


def test_thread_count_bitwise():
    torch.manual_seed(0)
    x = torch.randn(4096, 96)  # above the kernel's serial threshold: row blocks run on the pool
    g = torch.randn_like(x)
    o = ops()
    before = torch.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            y, m, v = o.batch_norm_relu(x, None, None, None, None, 1e-5, True)
            outs.append((y, m, v) + tuple(o.batch_norm_relu_backward(g, x, y, None, m, v, 1e-5, True, True)))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*outs):
        assert torch.equal(a, b)


def test_isa_variants_agree(monkeypatch):
    x = torch.randn(200, 40)
    g = torch.randn_like(x)
    res = []
    for isa in ("generic", "avx2", "avx512"):
        monkeypatch.setenv("GNNKIT_BN_ISA", isa)
        try:
            y, m, v = ops().batch_norm_relu(x, None, None, None, None, 1e-5, True)
        except ValueError:
            continue  # this CPU lacks the instruction set
        res.append((y, m, v) + tuple(ops().batch_norm_relu_backward(g, x, y, None, m, v, 1e-5, True, True)))
    for r in res[1:]:
        for a, b in zip(res[0], r):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_bad_inputs():
    o = ops()
    with pytest.raises(ValueError, match="more than one value"):
        BatchNormReLU(4)(torch.randn(1, 4))
    with pytest.raises(ValueError, match="more than one value"):
        o.batch_norm_relu(torch.randn(1, 4), None, None, None, None, 1e-5, True)
    BatchNormReLU(4).eval()(torch.randn(1, 4))  # one row is fine in evaluation
    with pytest.raises(ValueError, match="'x' must have shape"):
        o.batch_norm_relu(torch.randn(4), None, None, None, None, 1e-5, True)
    with pytest.raises(ValueError, match="'weight' must have shape \\[4\\]"):
        o.batch_norm_relu(torch.randn(3, 4), torch.ones(5), None, None, None, 1e-5, True)
    with pytest.raises(TypeError, match="'x' must be float32 or float64"):
        o.batch_norm_relu(torch.randn(3, 4).half(), None, None, None, None, 1e-5, True)
    with pytest.raises(TypeError, match="'bias' dtype"):
        o.batch_norm_relu(torch.randn(3, 4), None, torch.ones(4, dtype=torch.float64), None, None, 1e-5, True)
    with pytest.raises(ValueError, match="both 'mean' and 'var'"):
        o.batch_norm_relu(torch.randn(3, 4), None, None, torch.zeros(4), None, 1e-5, True)
    with pytest.raises(ValueError, match="'eps'"):
        o.batch_norm_relu(torch.randn(3, 4), None, None, None, None, -1.0, True)
    with pytest.raises(ValueError, match="dense CPU"):
        batch_norm_relu(torch.randn(3, 4).to_sparse(), None, None, training=True)


class _TorchBNReLU(BatchNormReLU):
    """The unfused modules' math: torch's batch norm, then ReLU."""

    def forward(self, x):
        y = torch.nn.BatchNorm1d.forward(self, x)
        return torch.relu(y) if self.relu else y


@pytest.mark.parametrize("virtual_node", [False, True])
def test_gin_same_as_unfused(virtual_node):
    import copy

    from gnnkit.data.graph_datasets import decalin
    from gnnkit.nn import batch_graphs
    from gnnkit.nn.gin import GIN

    torch.manual_seed(0)
    g, batch = batch_graphs([decalin(), decalin(), decalin()])  # the virtual-node BNs need 2+ graphs
    model = GIN(3, 16, 2, num_layers=3, dropout=0.0, virtual_node=virtual_node).double()
    keys = set(model.state_dict())
    assert {"convs.0.mlp.0.weight", "convs.0.mlp.1.running_var", "convs.0.mlp.3.weight",
            "bns.2.num_batches_tracked"} <= keys  # the unfused layout (Linear-BN-ReLU-Linear)
    ref = copy.deepcopy(model)
    for mod in ref.modules():
        if isinstance(mod, BatchNormReLU):
            mod.__class__ = _TorchBNReLU
    x = torch.randn(g.num_nodes, 3, dtype=torch.float64)
    out, out_ref = model(x, g, batch), ref(x, g, batch)
    torch.testing.assert_close(out, out_ref, atol=1e-12, rtol=1e-12)
    out.sum().backward()
    out_ref.sum().backward()
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        if p.grad is not None or q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-10, rtol=1e-10, msg=name)
    for (name, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12, msg=name)
    model.eval()
    ref.eval()
    torch.testing.assert_close(model(x, g, batch), ref(x, g, batch), atol=1e-12, rtol=1e-12)
