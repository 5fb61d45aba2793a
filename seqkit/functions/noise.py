"""Dropout (active only while ``config.train`` is True)."""

from __future__ import annotations

from seqkit.backend import get_array_module
from seqkit.config import config
from seqkit.core.autograd import FunctionNode, Variable, as_variable
from seqkit.functions import cuda_kernels
from seqkit.random import generator


class Dropout(FunctionNode):
    """Keeps its scaled mask (the op's only state) for backward."""

    def __init__(self, ratio: float):
        self.ratio = ratio

    def forward(self, inputs):
        (x,) = inputs
        xp = get_array_module(x)
        u = generator(xp).random(x.shape, dtype=x.dtype)
        if cuda_kernels.use(xp):  # one fused kernel on a GPU; the lines below are its reference
            self.mask, y = cuda_kernels.dropout_mask(x, u, self.ratio)
            return (y,)
        self.mask = (u >= self.ratio) * x.dtype.type(1.0 / (1.0 - self.ratio))
        return (x * self.mask,)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] * self.mask,)


def dropout(x, ratio: float = 0.5) -> Variable:
    """Zero each element with probability ``ratio`` and scale the rest by ``1 / (1 - ratio)``.

    Identity when ``config.train`` is False or ``ratio`` is 0.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"dropout ratio must be in [0, 1), got {ratio}")
    if not config.train or ratio == 0.0:
        return as_variable(x)
    return Dropout(ratio).apply((x,))[0]
