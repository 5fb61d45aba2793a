"""Masked softmax: the normalisation step of attention over padded memories, as one node."""

from __future__ import annotations

import numpy

from seqkit.backend import get_array_module
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.functions.activation import softmax, softmax_grad


class MaskedSoftmax(FunctionNode):
    """Softmax over ``axis`` restricted to the positions where ``mask`` holds; the others get exactly 0."""

    int_inputs = (1,)  # the mask is boolean

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, inputs):
        x, mask = inputs
        try:
            fits = numpy.broadcast_shapes(mask.shape, x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the scores' shape {x.shape}")
        xp = get_array_module(x)
        if mask.dtype != bool:
            mask = mask != 0
        # Masked scores become -inf before the max and the exp, so they give exp(-inf) = 0 exactly, however
        # large they are; a row with no real position has max -inf, replaced by 0 so that no NaN appears.
        z = xp.where(mask, x, x.dtype.type(-numpy.inf))
        m = z.max(axis=self.axis, keepdims=True)
        m[~xp.isfinite(m)] = 0
        z -= m
        xp.exp(z, out=z)
        s = z.sum(axis=self.axis, keepdims=True)
        s[s == 0] = 1
        z /= s
        self.retain_outputs((0,))
        return (z,)

    def backward(self, indexes, grad_outputs):
        # The softmax gradient; it is exactly 0 where y is, i.e. at every masked position.
        gx = softmax_grad(self.get_retained_outputs()[0], grad_outputs[0], self.axis)
        return tuple(gx if i == 0 else None for i in indexes)


def masked_softmax(x, mask=None, axis: int = -1) -> Variable:
    """Softmax of ``x`` along ``axis`` over the positions where ``mask`` is True.

    ``mask`` is a boolean array (or a Variable holding one) that broadcasts to ``x.shape``, e.g. ``(B, 1, Tk)``
    against scores ``(B, Tq, Tk)``; ``None`` means no masking (a plain softmax). Masked positions get exactly
    0.0 and rows with at least one real position sum to 1; a row with no real position is all zeros (and so
    is its gradient). Twice differentiable. Raises ``ValueError`` when ``mask`` does not broadcast to ``x``.
    """
    if mask is None:
        return softmax(x, axis=axis)
    if isinstance(mask, Variable):
        mask = mask.data
    mask = get_array_module(x).asarray(mask)  # also moves a host mask to the scores' device
    return MaskedSoftmax(axis).apply((x, mask))[0]
