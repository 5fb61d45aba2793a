"""Arithmetic, elementwise math, matrix products and reductions (broadcasting like NumPy)."""

from __future__ import annotations

import numbers

import numpy

from seqkit.backend import get_array_module
from seqkit.config import config
from seqkit.core.autograd import FunctionNode, Outer, Variable, takes_factors
from seqkit.functions.array import broadcast_to, cast, reshape, sum_to


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


# ---- elementwise math ---------------------------------------------------------------------------------
class Exp(FunctionNode):
    def forward(self, inputs):
        self.retain_outputs((0,))
        return (get_array_module(inputs[0]).exp(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] * self.get_retained_outputs()[0],)


class Log(FunctionNode):
    def forward(self, inputs):
        self.retain_inputs((0,))
        return (get_array_module(inputs[0]).log(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] / self.get_retained_inputs()[0],)


class Sqrt(FunctionNode):
    def forward(self, inputs):
        self.retain_outputs((0,))
        return (get_array_module(inputs[0]).sqrt(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] / (self.get_retained_outputs()[0] * 2.0),)


def exp(x) -> Variable:
    """Elementwise ``e ** x``."""
    return Exp().apply((x,))[0]


def log(x) -> Variable:
    """Elementwise natural logarithm."""
    return Log().apply((x,))[0]


def sqrt(x) -> Variable:
    """Elementwise square root."""
    return Sqrt().apply((x,))[0]


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
    low = _autocast(a, b)
    if low is not None:
        return cast(MatMul(transa, transb).apply(low)[0], numpy.float32)
    return MatMul(transa, transb).apply((a, b))[0]


def _autocast(*xs) -> list | None:
    """``xs`` cast to ``config.autocast``'s dtype when it is set and they are all float32; else None."""
    dtype = config.autocast
    if dtype is None or any(x.dtype != numpy.float32 for x in xs):
        return None
    return [cast(x, dtype) for x in xs]


class Linear(FunctionNode):
    """``x @ W.T + b`` for ``x`` of shape ``(..., in)``, ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``."""

    def forward(self, inputs):
        x, W = inputs[0], inputs[1]
        if x.shape[-1:] != W.shape[1:] or W.ndim != 2:
            raise ValueError(f"x's last axis must equal W's second axis ({W.shape[1:]}), W must be (out, in)")
        if x.dtype != W.dtype:
            raise TypeError(f"x is {x.dtype} but W is {W.dtype}; cast x with .astype({str(W.dtype)!r})")
        self.retain_inputs((0, 1))
        # (..., in) as one 2-D product: NumPy's batched matmul is several times slower for the same work
        y = (x.reshape(-1, x.shape[-1]) @ W.T).reshape(*x.shape[:-1], W.shape[0])
        if len(inputs) == 3:
            self.bias_shape = inputs[2].shape
            y += inputs[2]
        return (y,)

    def backward(self, indexes, grad_outputs):
        x, W = self.get_retained_inputs()
        (gy,) = grad_outputs
        out = []
        if 0 in indexes:
            out.append(matmul(gy, W) if gy.ndim == 2 else reshape(matmul(gy.reshape(-1, W.shape[0]), W), x.shape))
        if 1 in indexes:
            gy2, x2 = (gy, x) if x.ndim == 2 else (gy.reshape(-1, W.shape[0]), x.reshape(-1, W.shape[1]))
            if takes_factors(self, 1):
                out.append(Outer(gy2.data, x2.data))  # a leaf weight: backprop sums its uses in one GEMM
            else:
                out.append(matmul(gy2, x2, transa=True))
        if 2 in indexes:
            out.append(sum_to(gy, self.bias_shape))
        return tuple(out)


def linear(x, W, b=None) -> Variable:
    """Affine map ``x @ W.T + b``: ``x`` ``(..., in)``, ``W`` ``(out, in)``, ``b`` ``(out,)`` or None.

    ``b`` may be any array that broadcasts to the output, e.g. another ``(N, out)`` projection, which saves
    a separate addition. Under ``config.autocast`` (mixed precision) float32 inputs are computed in that dtype
    and the result comes back as float32.
    """
    inputs = (x, W) if b is None else (x, W, b)
    low = _autocast(*inputs)
    if low is not None:
        return cast(Linear().apply(low)[0], numpy.float32)
    return Linear().apply(inputs)[0]


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
