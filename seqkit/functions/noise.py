"""Dropout (active only while ``config.train`` is True).

On a GPU the mask and the output come from one fused CUDA kernel (``dropout_mask_kernel``). On the CPU they
are made block by block (``dropout_blocks``): each block's random numbers and scaled mask stay in cache, so
the input is read once, the output written once and the mask kept as booleans, with the same values, bit for
bit, as the whole-array reference (``dropout_reference``): the generator's stream does not depend on how its
numbers are drawn in parts.
"""

from __future__ import annotations

import numpy

from seqkit.backend import ElementwiseKernel, get_array_module, use_kernels
from seqkit.config import config
from seqkit.core.autograd import FunctionNode, Variable, as_variable
from seqkit.random import generator

#: elements per block of the CPU path: its float arrays (two of them) fit in a core's L2 cache
BLOCK = 1 << 14


def dropout_reference(x, u, ratio: float):
    """``(mask, x * mask)`` from the uniform numbers ``u``: ``mask`` is ``1 / (1 - ratio)`` where ``u >= ratio``,
    else 0 (the definition the kernel and the blocks follow)."""
    mask = (u >= ratio) * x.dtype.type(1.0 / (1.0 - ratio))
    return mask, x * mask


def dropout_blocks(x: numpy.ndarray, ratio: float, gen: numpy.random.Generator):
    """``(keep, y)``: ``dropout_reference(x, gen.random(x.shape, x.dtype), ratio)``'s ``mask != 0`` and ``y``,
    made block by block."""
    flat = numpy.ascontiguousarray(x).reshape(-1)
    n, scale = flat.size, x.dtype.type(1.0 / (1.0 - ratio))
    keep, y = numpy.empty(n, dtype=bool), numpy.empty_like(flat)
    u, mask = numpy.empty(min(n, BLOCK), x.dtype), numpy.empty(min(n, BLOCK), x.dtype)
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)
        block = slice(start, start + k)
        gen.random(dtype=x.dtype, out=u[:k])
        numpy.greater_equal(u[:k], ratio, out=keep[block])
        numpy.multiply(keep[block], scale, out=mask[:k])
        numpy.multiply(flat[block], mask[:k], out=y[block])
    return keep.reshape(x.shape), y.reshape(x.shape)


def apply_blocks(g: numpy.ndarray, keep: numpy.ndarray, scale) -> numpy.ndarray:
    """``g * (keep * scale)`` block by block (``scale`` a NumPy scalar of the mask's dtype), as
    ``dropout_blocks`` applies its mask."""
    flat, flat_keep = numpy.ascontiguousarray(g).reshape(-1), keep.reshape(-1)
    n = flat.size
    out = numpy.empty(n, dtype=numpy.result_type(g.dtype, scale.dtype))
    mask = numpy.empty(min(n, BLOCK), scale.dtype)
    for start in range(0, n, BLOCK):
        k = min(BLOCK, n - start)
        block = slice(start, start + k)
        numpy.multiply(flat_keep[block], scale, out=mask[:k])
        numpy.multiply(flat[block], mask[:k], out=out[block])
    return out.reshape(g.shape)


class Dropout(FunctionNode):
    """Keeps its mask (the op's only state) for backward: scaled, or as booleans and the scale on the CPU."""

    def __init__(self, ratio: float):
        self.ratio = ratio

    def forward(self, inputs):
        (x,) = inputs
        xp = get_array_module(x)
        if use_kernels(xp):  # one fused kernel on a GPU
            self.mask, y = dropout_mask_kernel(x, generator(xp).random(x.shape, dtype=x.dtype), self.ratio)
            self.scale = None
            return (y,)
        self.mask, y = dropout_blocks(x, self.ratio, generator(xp))
        self.scale = x.dtype.type(1.0 / (1.0 - self.ratio))
        return (y,)

    def backward(self, indexes, grad_outputs):
        return (DropoutGrad(self.mask, self.scale).apply(grad_outputs)[0],)


class DropoutGrad(FunctionNode):
    """``g`` times the dropout mask; linear, so its own gradient is the same node again."""

    def __init__(self, mask, scale) -> None:
        self.mask, self.scale = mask, scale  # scale: None when the mask is scaled already (a GPU's)

    def forward(self, inputs):
        (g,) = inputs
        return (g * self.mask if self.scale is None else apply_blocks(g, self.mask, self.scale),)

    def backward(self, indexes, grad_outputs):
        return (DropoutGrad(self.mask, self.scale).apply(grad_outputs)[0],)


_DROPOUT_MASK = ElementwiseKernel(
    "T x, T u, T ratio, T scale",
    "T mask, T y",
    "mask = u >= ratio ? scale : T(0); y = x * mask;",
    "seqkit_dropout_mask",
)


def dropout_mask_kernel(x, u, ratio: float):
    """``dropout_reference(x, u, ratio)`` in one kernel."""
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
