"""Embedding lookup (``embed_id``). ``linear`` lives with the matrix products in ``math``."""

from __future__ import annotations

from seqkit.backend import check_index_range, get_array_module, scatter_add
from seqkit.core.autograd import FunctionNode, Variable


class EmbedID(FunctionNode):
    int_inputs = (0,)

    def __init__(self, ignore_label):
        self.ignore_label = ignore_label

    def forward(self, inputs):
        ids, W = inputs
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids must be integers, got {ids.dtype}")
        check_index_range("id", ids, W.shape[0], self.ignore_label)
        self.retain_inputs((0,))
        self.W_shape = W.shape
        if self.ignore_label is None:
            return (W[ids],)
        xp = get_array_module(W)
        keep = ids != self.ignore_label
        y = W[xp.where(keep, ids, 0)]
        y *= keep[..., None]
        return (y,)

    def backward(self, indexes, grad_outputs):
        (ids,) = self.get_retained_inputs()
        return (None, EmbedIDGrad(self.W_shape, self.ignore_label).apply((ids, grad_outputs[0]))[0])


class EmbedIDGrad(FunctionNode):
    """Scatter-add of the output gradient into the rows of ``W`` (ignored ids add nothing)."""

    int_inputs = (0,)

    def __init__(self, W_shape, ignore_label):
        self.W_shape, self.ignore_label = W_shape, ignore_label

    def forward(self, inputs):
        ids, gy = inputs
        self.retain_inputs((0,))
        xp = get_array_module(gy)
        gW = xp.zeros(self.W_shape, dtype=gy.dtype)
        ids = ids.ravel()
        gy = gy.reshape((ids.size, *self.W_shape[1:]))  # not -1: ids may be empty
        if self.ignore_label is not None:
            keep = ids != self.ignore_label
            ids, gy = ids[keep], gy[keep]
        scatter_add(gW, ids, gy)
        return (gW,)

    def backward(self, indexes, grad_outputs):
        (ids,) = self.get_retained_inputs()
        return (None, embed_id(ids, grad_outputs[0], ignore_label=self.ignore_label))


def embed_id(ids, W, ignore_label: int | None = None) -> Variable:
    """Rows of ``W`` ``(V, D)`` picked by integer ``ids`` of any shape: result ``ids.shape + (D,)``.

    Ids equal to ``ignore_label`` (padding) give zero vectors and no gradient.
    """
    return EmbedID(ignore_label).apply((ids, W))[0]
