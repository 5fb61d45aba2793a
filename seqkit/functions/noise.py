"""Dropout (active only while ``config.train`` is True).

The mask is made by NumPy code or, beside it, one fused CUDA kernel (``dropout_mask_kernel``, the mask and
the output in one pass); ``Dropout.forward`` takes the kernel where ``use_kernels(xp)`` says so (CuPy
arrays), and the NumPy lines are its reference.
"""

from __future__ import annotations

from seqkit.backend import ElementwiseKernel, get_array_module, use_kernels
from seqkit.config import config
from seqkit.core.autograd import FunctionNode, Variable, as_variable
from seqkit.random import generator


class Dropout(FunctionNode):
    """Keeps its scaled mask (the op's only state) for backward."""

    def __init__(self, ratio: float):
        self.ratio = ratio

    def forward(self, inputs):
        (x,) = inputs
        xp = get_array_module(x)
        u = generator(xp).random(x.shape, dtype=x.dtype)
        if use_kernels(xp):  # one fused kernel on a GPU; the lines below are its reference
            self.mask, y = dropout_mask_kernel(x, u, self.ratio)
            return (y,)
        self.mask = (u >= self.ratio) * x.dtype.type(1.0 / (1.0 - self.ratio))
        return (x * self.mask,)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] * self.mask,)


_DROPOUT_MASK = ElementwiseKernel(
    "T x, T u, T ratio, T scale",
    "T mask, T y",
    "mask = u >= ratio ? scale : T(0); y = x * mask;",
    "seqkit_dropout_mask",
)


def dropout_mask_kernel(x, u, ratio: float):
    """``(mask, x * mask)`` where ``mask`` is ``1 / (1 - ratio)`` where ``u >= ratio``, else 0."""
    t = x.dtype.type
    return _DROPOUT_MASK(x, u, t(ratio), t(1.0 / (1.0 - ratio)))


def dropout(x, ratio: float = 0.5) -> Variable:
    """Zero each element with probability ``ratio`` and scale the rest by ``1 / (1 - ratio)``.

    Identity when ``config.train`` is False or ``ratio`` is 0.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"dropout ratio must be in [0, 1), got {ratio}")
    if not config.train or ratio == 0.0:
        return as_variable(x)
    return Dropout(ratio).apply((x,))[0]
