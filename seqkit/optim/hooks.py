"""Optimizer hooks: callables ``hook(optimizer)`` that change the gathered flat gradients before the rule runs."""

from __future__ import annotations

import functools
import math
from typing import Any

from seqkit.optim.flat import FlatGroup


def global_norm(optimizer: Any) -> float:
    """The L2 norm of all gathered gradients of ``optimizer`` (every group together), as a Python float.

    One reduction per flat buffer (a host synchronisation on a GPU).
    """
    return math.sqrt(sum(float(g.xp.vdot(g.grad, g.grad)) for g in optimizer.flat.groups))


class GradientClipping:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm`` (PyTorch's
    ``clip_grad_norm_``: factor ``max_norm / (norm + 1e-6)`` when below 1).

    ``last_norm`` holds the norm before clipping at the latest update, for logs (``None`` before the first; a
    0-d device array on a GPU, where the norm is never brought to the host during training).
    Raises ``ValueError`` unless ``max_norm > 0``.
    """

    def __init__(self, max_norm: float) -> None:
        if not max_norm > 0:
            raise ValueError(f"GradientClipping: max_norm must be > 0, got {max_norm}")
        self.max_norm = max_norm
        self.last_norm: float | None = None

    def __call__(self, optimizer: Any) -> None:
        groups = optimizer.flat.groups
        if all(g.device.kind == "cpu" for g in groups):
            self.last_norm = global_norm(optimizer)
            rate = self.max_norm / (self.last_norm + 1e-6)
            if rate < 1:
                for group in groups:
                    group.grad *= rate
            return
        # on a GPU the norm and the factor stay on the device: no synchronisation (last_norm is read at log time)
        xp = groups[0].xp
        norm = xp.sqrt(sum(g.xp.vdot(g.grad, g.grad).astype(xp.float64) for g in groups))
        rate = xp.minimum(1.0, self.max_norm / (norm + 1e-6))
        for group in groups:
            group.grad *= rate.astype(group.dtype)
        self.last_norm = norm

    def __repr__(self) -> str:
        return f"GradientClipping(max_norm={self.max_norm})"


class WeightDecay:
    """L2 regularisation: ``grad += rate * param`` (coupled decay, as ``weight_decay`` in PyTorch's SGD and
    Adam; for AdamW's decoupled decay use ``AdamW``). Raises ``ValueError`` unless ``rate >= 0``."""

    def __init__(self, rate: float) -> None:
        if not rate >= 0:
            raise ValueError(f"WeightDecay: rate must be >= 0, got {rate}")
        self.rate = rate

    def __call__(self, optimizer: Any) -> None:
        for group in optimizer.flat.groups:
            group.foreach_chunk(functools.partial(self._decay, group))

    def _decay(self, group: FlatGroup, s: slice, tmp: Any) -> None:
        group.xp.multiply(group.data[s], self.rate, out=tmp)
        group.grad[s] += tmp

    def __repr__(self) -> str:
        return f"WeightDecay(rate={self.rate})"
