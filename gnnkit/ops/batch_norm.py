r"""Batch normalisation over the rows of ``x [N, C]`` fused with an optional ReLU (CPU kernel).

.. math::
    y = a\Big(\frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\, w + b\Big), \qquad
    a = \mathrm{ReLU}\ (\text{relu=True})\ \text{or the identity}

(Ioffe & Szegedy, ICML 2015, "Batch Normalization", `arXiv:1502.03167
<https://arxiv.org/abs/1502.03167>`_).  In training :math:`\mu, \sigma^2` are the per-channel
batch mean and biased variance and the running statistics are updated in place as torch does
(:math:`r \leftarrow m\,s + (1 - m)\,r`, the unbiased variance for ``running_var``); in
evaluation the running statistics are used.  The backward reads the ReLU mask from the output.

Why: torch's CPU ``native_batch_norm`` (+ backward) took ~0.35 ms per call on a ``[3200, 128]``
float32 batch (1.6 MB) and the separate ReLU + ``threshold_backward`` two more passes: about a
third of a GIN training step (issue #18).  This kernel makes two statistics passes and one
element pass forward, one reduction and one element pass backward, vectorised over the channels;
results are bitwise the same for any thread count (fixed row blocks, block-ordered reduction).
:func:`gnnkit.testing.batch_norm_relu_reference` is the plain-PyTorch oracle.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gnnkit.ops._library import ops

__all__ = ["batch_norm_relu"]


def batch_norm_relu(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                    weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
                    momentum: float = 0.1, eps: float = 1e-5, *, relu: bool = True) -> Tensor:
    r"""``relu(F.batch_norm(x, ...))`` (or plain batch norm with ``relu=False``) in one kernel.

    The arguments are those of :func:`torch.nn.functional.batch_norm`; as there, batch statistics
    are used when ``training`` or when no running statistics are given, and the running
    statistics (when given) are updated in place in training.

    Args:
        x (Tensor): ``[N, C]``, float32 or float64, dense, on CPU (``N >= 2`` in training).
        running_mean, running_var (Tensor, optional): ``[C]`` of ``x``'s dtype, or both None.
        weight, bias (Tensor, optional): ``[C]`` affine parameters (None: 1 and 0).
        training (bool): batch statistics and running-statistics update. (default: :obj:`False`)
        momentum (float): running-statistics factor :math:`m`. (default: ``0.1``)
        eps (float): added to the variance. (default: ``1e-5``)
        relu (bool): apply a ReLU to the output. (default: :obj:`True`)

    Returns:
        ``y [N, C]``, a new contiguous tensor; differentiable in ``x``, ``weight`` and ``bias``.

    >>> x = torch.tensor([[1.0, -2.0], [3.0, 2.0]])
    >>> batch_norm_relu(x, None, None, training=True)
    tensor([[0.0000, 0.0000],
            [1.0000, 1.0000]])
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"batch_norm_relu: 'x' must be a torch.Tensor, got {type(x).__name__}")
    if x.layout != torch.strided or x.device.type != "cpu":
        raise ValueError(f"batch_norm_relu: the gnnkit kernel runs on dense CPU tensors; 'x' is on {x.device} "
                         f"with layout {x.layout} (gnnkit.nn.BatchNormReLU uses torch's batch norm there)")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm_relu: pass both 'running_mean' and 'running_var' or neither")
    use_batch = training or running_mean is None
    out, mean, var = ops().batch_norm_relu(x, weight, bias, None if use_batch else running_mean,
                                           None if use_batch else running_var, float(eps), bool(relu))
    if training and running_mean is not None:
        with torch.no_grad():
            ops().batch_norm_update_stats(running_mean, running_var, mean, var, x.shape[0], float(momentum))
    return out
