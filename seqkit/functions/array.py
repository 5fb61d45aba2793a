"""Shape ops: expand_dims/squeeze, concat/stack/split, where, pad. (reshape, transpose, broadcast_to, sum_to,
cast and getitem, which Variable's operators use, are in ``seqkit/core/ops.py``.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from seqkit.backend import get_array_module
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.ops import axis_index, getitem, reshape, sum_to


def expand_dims(x, axis: int) -> Variable:
    """Insert an axis of length 1 at ``axis``."""
    shape = list(x.shape)
    shape.insert(axis_index(axis, len(shape) + 1, "expand_dims"), 1)
    return reshape(x, shape)


def squeeze(x, axis=None) -> Variable:
    """Remove axes of length 1 (all of them, or those in ``axis``; a listed axis must have length 1)."""
    if axis is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        axes = [axis_index(a, x.ndim, "squeeze") for a in ((axis,) if isinstance(axis, int) else axis)]
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1")
    return reshape(x, [n for i, n in enumerate(x.shape) if i not in axes])


# ---- joining and splitting ----------------------------------------------------------------------------
class Concat(FunctionNode):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, inputs):
        y = get_array_module(*inputs).concatenate(inputs, axis=self.axis)  # checks the axis and the shapes
        self.sizes = [x.shape[self.axis] for x in inputs]
        return (y,)

    def backward(self, indexes, grad_outputs):
        bounds = numpy.cumsum(self.sizes)[:-1].tolist()
        return split_axis(grad_outputs[0], bounds, self.axis)


def concat(xs: Sequence, axis: int = 1) -> Variable:
    """Join arrays along an existing ``axis`` (Chainer's default axis is 1)."""
    if not xs:
        raise ValueError("concat needs at least one array")
    return Concat(axis).apply(tuple(xs))[0]


def stack(xs: Sequence, axis: int = 0) -> Variable:
    """Join arrays along a new ``axis``."""
    if not xs:
        raise ValueError("stack needs at least one array")
    return concat([expand_dims(x, axis) for x in xs], axis=axis)


class SplitAxis(FunctionNode):
    def __init__(self, indices, axis):
        self.indices, self.axis = indices, axis

    def forward(self, inputs):
        (x,) = inputs
        self.in_shape, self.in_dtype = x.shape, x.dtype
        return tuple(get_array_module(x).split(x, self.indices, axis=self.axis))

    def backward(self, indexes, grad_outputs):
        xp = get_array_module(*[g for g in grad_outputs if g is not None])
        axis = self.axis % len(self.in_shape)
        bounds = [0, *self.indices, self.in_shape[axis]]
        pieces = []
        for g, lo, hi in zip(grad_outputs, bounds, bounds[1:]):
            if g is None:
                shape = list(self.in_shape)
                shape[axis] = hi - lo
                g = xp.zeros(shape, dtype=self.in_dtype)
            pieces.append(g)
        return (concat(pieces, axis=axis),)


def split_axis(x, indices_or_sections, axis: int) -> tuple[Variable, ...]:
    """Split ``x`` along ``axis`` at the given indices, or into that many equal sections (NumPy's rule)."""
    if isinstance(indices_or_sections, int):
        n = x.shape[axis]
        if n % indices_or_sections:
            raise ValueError(f"split_axis: axis {axis} of length {n} does not divide into {indices_or_sections}")
        step = n // indices_or_sections
        indices = list(range(step, n, step))
    else:
        indices = list(indices_or_sections)
    return SplitAxis(indices, axis).apply((x,))


def separate(x, axis: int = 0) -> tuple[Variable, ...]:
    """Split ``x`` into its slices along ``axis`` (the inverse of ``stack``)."""
    n = x.shape[axis]
    return tuple(squeeze(p, axis) for p in split_axis(x, list(range(1, n)), axis))


class Where(FunctionNode):
    int_inputs = (0,)

    def forward(self, inputs):
        cond, a, b = inputs
        self.retain_inputs((0,))
        self.shapes = a.shape, b.shape
        return (get_array_module(a).where(cond, a, b),)

    def backward(self, indexes, grad_outputs):
        (cond,) = self.get_retained_inputs()
        (gy,) = grad_outputs
        zero = gy.xp.zeros((), dtype=gy.dtype)
        out = []
        for i in indexes:
            if i == 0:
                out.append(None)
                continue
            g = where(cond.data, gy, zero) if i == 1 else where(cond.data, zero, gy)
            out.append(sum_to(g, self.shapes[i - 1]))
        return tuple(out)


def where(condition, a, b) -> Variable:
    """Elementwise ``a`` where ``condition`` holds, else ``b`` (all three broadcast together; either of ``a``
    and ``b`` may be a Python number)."""
    if isinstance(a, (int, float)):
        a = get_array_module(b).asarray(a, dtype=b.dtype)
    if isinstance(b, (int, float)):
        b = get_array_module(a).asarray(b, dtype=a.dtype)
    return Where().apply((condition, a, b))[0]


class Pad(FunctionNode):
    def __init__(self, pad_width, value):
        self.pad_width, self.value = pad_width, value

    def forward(self, inputs):
        (x,) = inputs
        self.in_shape = x.shape
        return (get_array_module(x).pad(x, self.pad_width, mode="constant", constant_values=self.value),)

    def backward(self, indexes, grad_outputs):
        slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(self.pad_width, self.in_shape))
        return (getitem(grad_outputs[0], slices),)


def pad(x, pad_width, value: float = 0.0) -> Variable:
    """Pad with a constant: ``pad_width`` is ``((before, after), ...)`` per axis, or one int for all sides."""
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * x.ndim
    pad_width = tuple((int(lo), int(hi)) for lo, hi in pad_width)
    if len(pad_width) != x.ndim:
        raise ValueError(f"pad: pad_width has {len(pad_width)} entries for an array of {x.ndim} axes")
    return Pad(pad_width, value).apply((x,))[0]
