"""gnnkit.ops.dropout (csrc/cpu/dropout_cpu.cpp): the counter-based dropout kernel, its ReLU
fusion, autograd, reproducibility and input checks; and the dispatch of gnnkit.nn._utils.dropout."""
import math

import pytest
import torch
import torch.nn.functional as F

from gnnkit.nn import _utils
from gnnkit.ops import dropout
from gnnkit.ops._library import ops
from gnnkit.testing import dropout_reference

# odd sizes exercise the scalar tail after the 16-element vector blocks; 300k > the serial
# threshold (2^18 elements), so the parallel split runs too
SHAPES = [(1,), (17,), (5, 33), (3, 4, 7), (300_001,)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("relu", [False, True])
def test_matches_reference_bitwise(shape, dtype, relu):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    y = dropout(x, 0.3, relu=relu, seed=2**62 + 12345)
    want, _ = dropout_reference(x, 0.3, 2**62 + 12345, relu)
    assert y.dtype == dtype and y.shape == x.shape
    torch.testing.assert_close(y, want, rtol=0, atol=0)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_instruction_set_variants_agree(isa, monkeypatch):
    x = torch.randn(4099)
    want, _ = dropout_reference(x, 0.4, 99, True)
    monkeypatch.setenv("GNNKIT_DROPOUT_ISA", isa)
    try:
        y = dropout(x, 0.4, relu=True, seed=99)
    except ValueError as e:  # this CPU lacks the variant: the error says so
        assert "supports at most" in str(e)
        pytest.skip(str(e))
    assert torch.equal(y, want)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_fraction_and_scale(p):
    n = 1 << 20
    y = dropout(torch.ones(n), p, seed=3)
    kept = y != 0
    frac = kept.double().mean().item()
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(frac - (1 - p)) < 6 * sd, (frac, 1 - p, sd)  # binomial bound, ~1e-9 false alarm
    assert torch.all(y[kept] == torch.tensor(1 / (1 - p), dtype=torch.float32))


def test_keep_probability_quantisation():
    # t = min(round(p 2^32), 2^32 - 1): p within 2^-33 of a representable threshold keeps the
    # same set; the largest p below 1 keeps (almost) nothing but stays finite
    x = torch.ones(4096, dtype=torch.float64)
    assert torch.equal(dropout(x, 0.5, seed=5) != 0, dropout(x, 0.5 + 2**-40, seed=5) != 0)
    y = dropout(x, 1 - 2**-40, seed=5)
    assert torch.isfinite(y).all() and (y != 0).sum() <= 1


def test_backward_uses_the_same_mask():
    x = (torch.rand(64, 37) + 0.5).requires_grad_()  # nonzero entries: grad * x == y
    y = dropout(x, 0.4, seed=17)
    y.backward(torch.ones_like(y))
    torch.testing.assert_close(x.grad * x.detach(), y.detach(), rtol=1e-6, atol=0)
    assert torch.equal(x.grad != 0, y != 0)


def test_relu_backward():
    x = torch.randn(64, 37, requires_grad=True)
    y = dropout(x, 0.4, relu=True, seed=17)
    g = torch.randn_like(y)
    y.backward(g)
    want = torch.where((x.detach() > 0) & (dropout_reference(x, 0.4, 17)[1]), g / 0.6, torch.zeros(()))
    torch.testing.assert_close(x.grad, want)


@pytest.mark.parametrize("relu", [False, True])
def test_gradcheck_fp64(relu):
    x = torch.randn(6, 9, dtype=torch.float64)
    x = (x + 0.1 * x.sign()).requires_grad_()  # away from the ReLU kink
    assert torch.autograd.gradcheck(lambda t: dropout(t, 0.35, relu=relu, seed=8), (x,))
    assert torch.autograd.gradgradcheck(lambda t: dropout(t, 0.35, seed=8), (x,))


def test_same_result_for_1_and_2_threads():
    x = torch.randn(700_000)  # above the serial threshold
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = dropout(x, 0.5, relu=True, seed=4)
        torch.set_num_threads(2)
        b = dropout(x, 0.5, relu=True, seed=4)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(a, b)


def test_reproducible_under_manual_seed_and_fresh_per_call():
    x = torch.randn(1000)
    torch.manual_seed(0)
    a1, a2 = dropout(x, 0.5), dropout(x, 0.5)
    torch.manual_seed(0)
    b1, b2 = dropout(x, 0.5), dropout(x, 0.5)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1 != 0, a2 != 0)
    g = torch.Generator().manual_seed(5)
    c = dropout(x, 0.5, generator=g)
    assert torch.equal(c, dropout(x, 0.5, generator=torch.Generator().manual_seed(5)))


def test_empty_p0_eval_and_strided():
    e = torch.empty(0, 5)
    assert dropout(e, 0.5).shape == (0, 5)
    x = torch.randn(8, 6)
    assert dropout(x, 0.0) is x and dropout(x, 0.7, training=False) is x
    assert torch.equal(dropout(x, 0.0, relu=True), x.relu())
    # a strided view is read in its logical order: same mask as its contiguous copy
    base = torch.randn(12, 10)
    v = base.t()[:, ::2]
    assert torch.equal(dropout(v, 0.3, seed=1), dropout(v.contiguous(), 0.3, seed=1))
    assert dropout(v, 0.3, seed=1).is_contiguous()


def test_bf16_training_step():
    x = torch.randn(32, 16, dtype=torch.bfloat16, requires_grad=True)
    y = dropout(x, 0.2, relu=True, seed=6)
    y.float().sum().backward()
    kept = y != 0
    assert x.grad.dtype == torch.bfloat16
    assert torch.all(x.grad[kept] == torch.tensor(1 / 0.8, dtype=torch.float32).bfloat16())
    assert torch.all(x.grad[~kept] == 0)


@pytest.mark.parametrize("bad, err, match", [
    (dict(x=torch.ones(3, dtype=torch.long)), TypeError, "floating"),
    (dict(p=1.0), ValueError, r"'p' must be a float in \[0, 1\)"),
    (dict(p=-0.1), ValueError, "'p'"),
    (dict(p=float("nan")), ValueError, "'p'"),
    (dict(x=torch.eye(3).to_sparse()), ValueError, "dense CPU"),
    (dict(x=[1.0, 2.0]), TypeError, "torch.Tensor"),
    (dict(seed=2**64), ValueError, "'seed'"),
])
def test_bad_input(bad, err, match):
    args = dict(x=torch.ones(3), p=0.5, seed=1) | bad
    with pytest.raises(err, match=match):
        dropout(args["x"], args["p"], seed=args["seed"])


def test_kernel_checks_name_the_argument():
    C = ops()
    with pytest.raises(ValueError, match="dropout: 'p' must be in"):
        C.dropout(torch.ones(3), 1.5, 0, False)
    with pytest.raises(TypeError, match="'x' must be a floating tensor"):
        C.dropout(torch.ones(3, dtype=torch.int32), 0.5, 0, False)
    with pytest.raises(ValueError, match="'grad' has shape"):
        C.dropout_relu_backward(torch.ones(3), torch.ones(4), 0.5)
    with pytest.raises(TypeError, match="'out' dtype"):
        C.dropout_relu_backward(torch.ones(3), torch.ones(3, dtype=torch.float64), 0.5)


def test_utils_dropout_dispatch():
    x = torch.randn(50, 8)
    torch.manual_seed(3)
    a = _utils.dropout(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.5))  # dense CPU: the kernel, seeded from torch's generator
    torch.manual_seed(3)
    fused = _utils.activation_dropout(x, F.relu, 0.5)
    torch.manual_seed(3)
    assert torch.equal(fused, _utils.dropout(x.relu(), 0.5))
    s = _utils.dropout(x.to_sparse(), 0.5)  # sparse stays sparse (torch.rand on the values)
    assert s.is_sparse and set(s.values().unique().tolist()) <= set((x * 2).flatten().tolist())
    assert torch.equal(_utils.dropout(x, 1.0), torch.zeros_like(x))
