"""The ops behind a Variable's Python operators, and what they need.

``+ - * / ** -x`` (``add`` ... ``neg``; with a Python number, the ``*Constant`` nodes), ``@`` (``matmul``),
indexing (``getitem``), ``.T`` / ``transpose``, ``reshape``, ``sum`` / ``mean`` / ``max``, and the ops their
gradients are made of: ``broadcast_to`` / ``sum_to`` (undoing a broadcast), ``cast`` (mixed precision) and
``log`` (the gradient of ``a ** b`` with respect to ``b``). ``seqkit.core`` attaches the operators to
``Variable``; ``seqkit.functions`` re-exports every op here under the same name.
"""

from __future__ import annotations

import numbers

import numpy

from seqkit.backend import get_array_module, scatter_add
from seqkit.config import config
from seqkit.core.autograd import FunctionNode, Variable, as_variable


def axis_index(a: int, ndim: int, op: str) -> int:
    """Axis ``a`` (negative counts from the end) of an array of ``ndim`` axes as 0..ndim-1; a ValueError
    naming ``op`` when it is out of bounds."""
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}: axis {a} is out of bounds for an array of {ndim} dimensions")
    return a % ndim


# ---- binary arithmetic with broadcasting --------------------------------------------------------------
class Add(FunctionNode):
    def forward(self, inputs):
        a, b = inputs
        self.shapes = a.shape, b.shape
        return (a + b,)

    def backward(self, indexes, grad_outputs):
        (gy,) = grad_outputs
        return tuple(sum_to(gy, self.shapes[i]) for i in indexes)


class Sub(FunctionNode):
    def forward(self, inputs):
        a, b = inputs
        self.shapes = a.shape, b.shape
        return (a - b,)

    def backward(self, indexes, grad_outputs):
        (gy,) = grad_outputs
        return tuple(sum_to(gy if i == 0 else -gy, self.shapes[i]) for i in indexes)


class Mul(FunctionNode):
    def forward(self, inputs):
        self.retain_inputs((0, 1))
        a, b = inputs
        return (a * b,)

    def backward(self, indexes, grad_outputs):
        a, b = self.get_retained_inputs()
        (gy,) = grad_outputs
        return tuple(sum_to(gy * (b if i == 0 else a), (a, b)[i].shape) for i in indexes)


class Div(FunctionNode):
    def forward(self, inputs):
        self.retain_inputs((0, 1))
        a, b = inputs
        return (a / b,)

    def backward(self, indexes, grad_outputs):
        a, b = self.get_retained_inputs()
        (gy,) = grad_outputs
        ga = gy / b
        out = []
        if 0 in indexes:
            out.append(sum_to(ga, a.shape))
        if 1 in indexes:
            out.append(sum_to(-ga * a / b, b.shape))
        return tuple(out)


class Pow(FunctionNode):
    """``a ** b`` for two arrays (``a`` must be positive where ``b`` is differentiated)."""

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        self.retain_outputs((0,))
        a, b = inputs
        return (a**b,)

    def backward(self, indexes, grad_outputs):
        a, b = self.get_retained_inputs()
        (y,) = self.get_retained_outputs()
        (gy,) = grad_outputs
        out = []
        if 0 in indexes:
            out.append(sum_to(gy * b * a ** (b - 1), a.shape))
        if 1 in indexes:
            out.append(sum_to(gy * y * log(a), b.shape))
        return tuple(out)


# ---- ops with a Python scalar -------------------------------------------------------------------------
class AddConstant(FunctionNode):
    def __init__(self, c):
        self.c = c

    def forward(self, inputs):
        return (inputs[0] + self.c,)

    def backward(self, indexes, grad_outputs):
        return grad_outputs


class MulConstant(FunctionNode):
    def __init__(self, c):
        self.c = c

    def forward(self, inputs):
        return (inputs[0] * self.c,)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] * self.c,)


class Neg(FunctionNode):
    def forward(self, inputs):
        return (-inputs[0],)

    def backward(self, indexes, grad_outputs):
        return (-grad_outputs[0],)


class PowConstant(FunctionNode):
    """``x ** c`` for a scalar ``c``."""

    def __init__(self, c):
        self.c = c

    def forward(self, inputs):
        self.retain_inputs((0,))
        return (inputs[0] ** self.c,)

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        c = self.c
        if c == 2:
            return (grad_outputs[0] * x * 2.0,)
        return (grad_outputs[0] * (x ** (c - 1)) * c,)


class RDivConstant(FunctionNode):
    """``c / x`` for a scalar ``c``."""

    def __init__(self, c):
        self.c = c

    def forward(self, inputs):
        self.retain_inputs((0,))
        return (self.c / inputs[0],)

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        return (grad_outputs[0] * (-self.c) / (x * x),)


class RPowConstant(FunctionNode):
    """``c ** x`` for a positive scalar ``c``."""

    def __init__(self, c):
        self.c = c

    def forward(self, inputs):
        self.retain_outputs((0,))
        return (self.c ** inputs[0],)

    def backward(self, indexes, grad_outputs):
        (y,) = self.get_retained_outputs()
        return (grad_outputs[0] * y * float(numpy.log(self.c)),)


def _scalar(c):
    return c.item() if isinstance(c, numpy.generic) else c


def add(a, b) -> Variable:
    """``a + b`` with broadcasting; either may be a Python number."""
    if isinstance(b, numbers.Number):
        return AddConstant(_scalar(b)).apply((a,))[0]
    if isinstance(a, numbers.Number):
        return AddConstant(_scalar(a)).apply((b,))[0]
    return Add().apply((a, b))[0]


def sub(a, b) -> Variable:
    """``a - b`` with broadcasting; either may be a Python number."""
    if isinstance(b, numbers.Number):
        return AddConstant(-_scalar(b)).apply((a,))[0]
    if isinstance(a, numbers.Number):
        return AddConstant(_scalar(a)).apply((Neg().apply((b,))[0],))[0]
    return Sub().apply((a, b))[0]


def mul(a, b) -> Variable:
    """``a * b`` with broadcasting; either may be a Python number."""
    if isinstance(b, numbers.Number):
        return MulConstant(_scalar(b)).apply((a,))[0]
    if isinstance(a, numbers.Number):
        return MulConstant(_scalar(a)).apply((b,))[0]
    return Mul().apply((a, b))[0]


def div(a, b) -> Variable:
    """``a / b`` with broadcasting; either may be a Python number."""
    if isinstance(b, numbers.Number):
        return MulConstant(1.0 / _scalar(b)).apply((a,))[0]
    if isinstance(a, numbers.Number):
        return RDivConstant(_scalar(a)).apply((b,))[0]
    return Div().apply((a, b))[0]


def pow(a, b) -> Variable:  # noqa: A001 - mirrors the operator it implements
    """``a ** b`` with broadcasting; either may be a Python number."""
    if isinstance(b, numbers.Number):
        return PowConstant(_scalar(b)).apply((a,))[0]
    if isinstance(a, numbers.Number):
        return RPowConstant(_scalar(a)).apply((b,))[0]
    return Pow().apply((a, b))[0]


def neg(x) -> Variable:
    """``-x``."""
    return Neg().apply((x,))[0]


# ---- the logarithm (the gradient of a ** b needs it) --------------------------------------------------
class Log(FunctionNode):
    def forward(self, inputs):
        self.retain_inputs((0,))
        return (get_array_module(inputs[0]).log(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] / self.get_retained_inputs()[0],)


def log(x) -> Variable:
    """Elementwise natural logarithm."""
    return Log().apply((x,))[0]


# ---- matrix products ----------------------------------------------------------------------------------
def _t(a, flag):
    return a.swapaxes(-1, -2) if flag else a


class MatMul(FunctionNode):
    """``op(a) @ op(b)`` where ``op`` transposes the last two axes when asked; batch axes broadcast."""

    def __init__(self, transa: bool = False, transb: bool = False):
        self.transa, self.transb = transa, transb

    def forward(self, inputs):
        a, b = inputs
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError("matmul needs arrays of at least 2 dimensions; reshape vectors to (1, n) or (n, 1)")
        self.retain_inputs((0, 1))
        return (get_array_module(a).matmul(_t(a, self.transa), _t(b, self.transb)),)

    def backward(self, indexes, grad_outputs):
        a, b = self.get_retained_inputs()
        (gy,) = grad_outputs
        ta, tb = self.transa, self.transb
        out = []
        if 0 in indexes:
            ga = matmul(b, gy, transa=tb, transb=True) if ta else matmul(gy, b, transb=not tb)
            out.append(sum_to(ga, a.shape))
        if 1 in indexes:
            gb = matmul(gy, a, transa=True, transb=ta) if tb else matmul(a, gy, transa=not ta)
            out.append(sum_to(gb, b.shape))
        return tuple(out)


def matmul(a, b, *, transa: bool = False, transb: bool = False) -> Variable:
    """Matrix product of the last two axes (batched over leading axes, which broadcast).

    ``transa`` / ``transb`` transpose the last two axes of ``a`` / ``b`` first (without a copy). Under
    ``config.autocast`` float32 operands are multiplied in that dtype and the product comes back as float32.
    """
    low = autocast_inputs(a, b)
    if low is not None:
        return cast(MatMul(transa, transb).apply(low)[0], numpy.float32)
    return MatMul(transa, transb).apply((a, b))[0]


def autocast_inputs(*xs) -> list | None:
    """``xs`` cast to ``config.autocast``'s dtype when it is set and they are all float32; else None."""
    dtype = config.autocast
    if dtype is None or any(x.dtype != numpy.float32 for x in xs):
        return None
    return [cast(x, dtype) for x in xs]


# ---- views and broadcasting ---------------------------------------------------------------------------
class Cast(FunctionNode):
    """A dtype change; its gradient changes back (so float32 master weights get float32 gradients)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, inputs):
        (x,) = inputs
        self.in_dtype = x.dtype
        return (x.astype(self.dtype, copy=False),)

    def backward(self, indexes, grad_outputs):
        return (cast(grad_outputs[0], self.in_dtype),)


def cast(x, dtype) -> Variable:
    """``x`` as ``dtype`` (differentiable: the gradient comes back in ``x``'s dtype)."""
    if x.dtype == dtype:
        return as_variable(x)
    return Cast(numpy.dtype(dtype)).apply((x,))[0]


class Reshape(FunctionNode):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, inputs):
        (x,) = inputs
        self.in_shape = x.shape
        return (x.reshape(self.shape),)

    def backward(self, indexes, grad_outputs):
        return (reshape(grad_outputs[0], self.in_shape),)


def reshape(x, shape) -> Variable:
    """``x`` with a new shape (one axis may be -1)."""
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    if x.shape == shape:
        return as_variable(x)
    return Reshape(shape).apply((x,))[0]


class Transpose(FunctionNode):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, inputs):
        return (inputs[0].transpose(self.axes),)

    def backward(self, indexes, grad_outputs):
        axes = self.axes
        inverse = None if axes is None else tuple(numpy.argsort(axes).tolist())
        return (transpose(grad_outputs[0], inverse),)


def transpose(x, axes=None) -> Variable:
    """Permute axes (reverse them when ``axes`` is None), like ``numpy.transpose``."""
    if axes is not None:
        axes = tuple(axis_index(a, x.ndim, "transpose") for a in axes)
    return Transpose(axes).apply((x,))[0]


class BroadcastTo(FunctionNode):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, inputs):
        (x,) = inputs
        self.in_shape = x.shape
        # A materialised copy: cheaper than numpy.broadcast_to's view for the small arrays where overhead
        # matters, and what the next op would produce anyway for the large ones.
        y = get_array_module(x).empty(self.shape, dtype=x.dtype)
        y[...] = x
        return (y,)

    def backward(self, indexes, grad_outputs):
        return (sum_to(grad_outputs[0], self.in_shape),)


def broadcast_to(x, shape) -> Variable:
    """Broadcast ``x`` to ``shape`` (NumPy's rules)."""
    shape = tuple(shape)
    if x.shape == shape:
        return as_variable(x)
    return BroadcastTo(shape).apply((x,))[0]


class SumTo(FunctionNode):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, inputs):
        (x,) = inputs
        self.in_shape = x.shape
        return (_sum_to(x, self.shape),)

    def backward(self, indexes, grad_outputs):
        return (broadcast_to(grad_outputs[0], self.in_shape),)


def _sum_to(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    if lead:
        y = y.reshape(shape)
    return get_array_module(x).asarray(y)


def sum_to(x, shape) -> Variable:
    """Sum ``x`` down to ``shape``, undoing a broadcast (the gradient of ``broadcast_to``)."""
    shape = tuple(shape)
    if x.shape == shape:
        return as_variable(x)
    return SumTo(shape).apply((x,))[0]


# ---- indexing -----------------------------------------------------------------------------------------
class GetItem(FunctionNode):
    def __init__(self, slices):
        self.slices = slices

    def forward(self, inputs):
        (x,) = inputs
        self.in_shape = x.shape
        return (get_array_module(x).asarray(x[self.slices]),)

    def backward(self, indexes, grad_outputs):
        return (ScatterAdd(self.slices, self.in_shape).apply((grad_outputs[0],))[0],)


class ScatterAdd(FunctionNode):
    """Zeros of ``shape`` with ``gy`` added at ``slices`` (repeated integer indices accumulate)."""

    def __init__(self, slices, shape):
        self.slices, self.shape = slices, shape

    def forward(self, inputs):
        (gy,) = inputs
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        scatter_add(gx, self.slices, gy)
        return (gx,)

    def backward(self, indexes, grad_outputs):
        return (getitem(grad_outputs[0], self.slices),)


def _device_index(index, xp):
    if isinstance(index, Variable):
        index = index.data
    if isinstance(index, list):
        index = numpy.asarray(index)
    if isinstance(index, numpy.ndarray) and xp is not numpy:
        index = xp.asarray(index)
    return index


def getitem(x, slices) -> Variable:
    """``x[slices]``: basic slicing and integer/boolean array indexing, as NumPy does it."""
    xp = get_array_module(x)
    slices = tuple(_device_index(s, xp) for s in slices) if isinstance(slices, tuple) else _device_index(slices, xp)
    return GetItem(slices).apply((x,))[0]


# ---- reductions ---------------------------------------------------------------------------------------
def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for an array of {ndim} dimensions")
    return tuple(sorted(a % ndim for a in axes))


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(FunctionNode):
    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, inputs):
        (x,) = inputs
        self.shape = x.shape
        self.axes = _normalize_axis(self.axis, x.ndim)
        return (get_array_module(x).asarray(x.sum(axis=self.axes, keepdims=self.keepdims)),)

    def backward(self, indexes, grad_outputs):
        (gy,) = grad_outputs
        if not self.keepdims and gy.ndim:
            gy = gy.reshape(_keepdims_shape(self.shape, self.axes))
        return (broadcast_to(gy, self.shape),)


class Max(FunctionNode):
    """Maximum over axes; ties share the gradient equally (a valid subgradient)."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, inputs):
        (x,) = inputs
        self.retain_inputs((0,))
        self.axes = _normalize_axis(self.axis, x.ndim)
        return (get_array_module(x).asarray(x.max(axis=self.axes, keepdims=self.keepdims)),)

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        (gy,) = grad_outputs
        keep = _keepdims_shape(x.shape, self.axes)
        top = x.data.max(axis=self.axes, keepdims=True)
        mask = x.data == top
        mask = mask / mask.sum(axis=self.axes, keepdims=True)
        return (broadcast_to(gy.reshape(keep), x.shape) * mask.astype(x.dtype),)


def sum(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001 - NumPy's name
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return Sum(axis, keepdims).apply((x,))[0]


def mean(x, axis=None, keepdims: bool = False) -> Variable:
    """Mean over ``axis`` (an int, a tuple, or None for all)."""
    y = Sum(axis, keepdims).apply((x,))[0]  # checks the axes first
    shape = x.shape
    axes = _normalize_axis(axis, len(shape))
    n = 1
    for a in axes:
        n *= shape[a]
    return y * (1.0 / (n or 1))


def max(x, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001 - NumPy's name
    """Maximum over ``axis`` (an int, a tuple, or None for all)."""
    return Max(axis, keepdims).apply((x,))[0]
