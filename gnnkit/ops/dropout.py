r"""Inverted dropout with a counter-based mask, optionally fused with a ReLU (CPU kernel).

.. math::
    y_i = a(x_i)\, \frac{[u_i \ge t]}{1 - p}, \qquad
    u_i = \mathrm{bits}(s, i) \in \{0, \dots, 2^{32} - 1\}, \qquad
    t = \min(\mathrm{round}(p\, 2^{32}),\ 2^{32} - 1)

with :math:`a = \mathrm{ReLU}` (``relu=True``) or the identity, :math:`i` the row-major index of
the element and :math:`\mathrm{bits}(s, i)` word ``i & 1`` of output ``i >> 1`` of the SplitMix64
stream started at the seed :math:`s` (``csrc/rng.h``; :func:`gnnkit.testing.dropout_reference`
is the plain-numpy oracle).  An element is kept with probability :math:`(2^{32} - t) / 2^{32}`,
within :math:`2^{-33}` of :math:`1 - p` (the quantisation of a 32-bit uniform).

Why: torch's CPU generator costs ~4 ns per element (``torch.rand_like`` of a ``[10000, 512]``
tensor 19 ms, ``F.dropout`` 44 ms, a multiply 1.2 ms on the team machine), so the masks dominated
the mini-batch SAGE step and the residual models of issue #16.  Here the mask is a pure function of
``(seed, i)``: nothing is stored for the backward pass (the backward of the identity variant is
the same op on the gradient with the same seed; the ReLU variant's backward reads its output:
``grad / (1 - p)`` where ``y > 0``), and the result is the same for any thread count.  The seed
is one draw from torch's generator per call (``torch.manual_seed`` reproduces runs; successive
calls draw different masks).  float32 and float64 are computed in their own precision, bfloat16
and float16 in fp32 with one rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit.ops._library import ops
from gnnkit.ops.random_walk import draw_seed

__all__ = ["dropout"]


def dropout(x: Tensor, p: float, training: bool = True, *, relu: bool = False,
            seed: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    r"""Inverted dropout (optionally ``dropout(relu(x))`` in one pass) on a dense CPU tensor.

    Args:
        x (Tensor): any shape; float32, float64, bfloat16 or float16; dense, on CPU (strided views
            are read through a contiguous copy; the mask follows the logical element order).
        p (float): drop probability in ``[0, 1)``.
        training (bool): ``False`` returns ``x`` (``relu(x)`` with ``relu``) unchanged.
            (default: :obj:`True`)
        relu (bool): apply a ReLU before the dropout. (default: :obj:`False`)
        seed (int, optional): the mask's 64-bit key; default: one draw from ``generator``.
        generator (torch.Generator, optional): where the seed is drawn (default: torch's global one).

    Returns:
        A new contiguous tensor of ``x``'s shape and dtype (``x`` itself when nothing is dropped
        and ``relu`` is off).

    >>> y = dropout(torch.ones(2, 4), 0.5, seed=7)
    >>> set(y.flatten().tolist()) <= {0.0, 2.0}
    True
    >>> torch.equal(y, dropout(torch.ones(2, 4), 0.5, seed=7))  # a pure function of the seed
    True
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"dropout: 'x' must be a torch.Tensor, got {type(x).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: 'p' must be a float in [0, 1), got {p!r}")
    if x.layout != torch.strided or x.device.type != "cpu":
        raise ValueError(f"dropout: the gnnkit kernel runs on dense CPU tensors; 'x' is on {x.device} "
                         f"with layout {x.layout} (gnnkit.nn._utils.dropout handles sparse and CUDA "
                         f"inputs with torch's generator)")
    if not x.is_floating_point():
        raise TypeError(f"dropout: 'x' must be a floating tensor, got {x.dtype}")
    if not training or p == 0.0:
        return torch.relu(x) if relu else x
    if seed is None:
        seed = draw_seed(generator)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not -2**63 <= seed < 2**63:
        raise ValueError(f"dropout: 'seed' must be an int64, got {seed!r}")
    return ops().dropout(x, float(p), int(seed), bool(relu))
