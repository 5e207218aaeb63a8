r"""``BatchNorm1d`` followed by a ReLU as one module, on the fused CPU kernel
(:func:`gnnkit.ops.batch_norm_relu`; Ioffe & Szegedy 2015, `arXiv:1502.03167
<https://arxiv.org/abs/1502.03167>`_).

.. math::
    y = \mathrm{ReLU}\Big(\frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}}\, \gamma + \beta\Big)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnkit.ops.batch_norm import batch_norm_relu

__all__ = ["BatchNormReLU"]

_KERNEL_DTYPES = (torch.float32, torch.float64)


class BatchNormReLU(nn.BatchNorm1d):
    r"""Drop-in for ``nn.Sequential(nn.BatchNorm1d(d), nn.ReLU())`` (``relu=False``: for
    ``nn.BatchNorm1d(d)``), with the same parameters, buffers, state-dict keys and defaults.

    Dispatch (by input, documented, not a fallback for errors): a 2-D float32 / float64 input on
    the CPU runs the fused gnnkit kernel, which also updates ``running_mean`` / ``running_var`` /
    ``num_batches_tracked`` as torch does (``momentum=None``: cumulative average); any other input
    (CUDA, bfloat16, 3-D ``[N, C, L]``) runs ``torch.nn.functional.batch_norm`` then ``relu``.
    Invalid inputs raise the errors of whichever path runs (e.g. ``ValueError`` for a single row
    in training on the CPU path).

    Args:
        num_features (int): :math:`C`.
        eps (float): added to the variance. (default: ``1e-5``)
        momentum (float, optional): running-statistics factor; None: cumulative average. (default: ``0.1``)
        affine (bool): learn :math:`\gamma, \beta`. (default: :obj:`True`)
        track_running_stats (bool): keep running statistics. (default: :obj:`True`)
        relu (bool): apply the ReLU. (default: :obj:`True`)

    Shapes: ``[N, C]`` (or ``[N, C, L]`` on torch's path) -> same.

    >>> m = BatchNormReLU(4)
    >>> sorted(m.state_dict()) == sorted(torch.nn.BatchNorm1d(4).state_dict())
    True
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, relu: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.relu = bool(relu)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            if x.device.type == "cpu" and x.dim() == 2 and x.shape[0] < 2:
                raise ValueError(f"BatchNormReLU: training needs more than one value per channel, got input "
                                 f"of shape {tuple(x.shape)}")
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        stats = (self.running_mean, self.running_var) if not self.training or self.track_running_stats else (None, None)
        if x.device.type == "cpu" and x.dim() == 2 and x.dtype in _KERNEL_DTYPES:
            return batch_norm_relu(x, stats[0], stats[1], self.weight, self.bias, bn_training, factor, self.eps,
                                   relu=self.relu)
        y = F.batch_norm(x, stats[0], stats[1], self.weight, self.bias, bn_training, factor, self.eps)
        return F.relu(y) if self.relu else y

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.relu else ", relu=False")
