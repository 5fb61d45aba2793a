"""Elementwise math (exp, sqrt) and the affine map ``linear``. (Arithmetic, ``log``, ``matmul`` and the
reductions, which Variable's operators use, are in ``seqkit/core/ops.py``.)"""

from __future__ import annotations

import numpy

from seqkit.backend import get_array_module
from seqkit.core.accumulate import Outer, takes_factors
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.ops import autocast_inputs, cast, matmul, reshape, sum_to


# ---- elementwise math ---------------------------------------------------------------------------------
class Exp(FunctionNode):
    def forward(self, inputs):
        self.retain_outputs((0,))
        return (get_array_module(inputs[0]).exp(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] * self.get_retained_outputs()[0],)


class Sqrt(FunctionNode):
    def forward(self, inputs):
        self.retain_outputs((0,))
        return (get_array_module(inputs[0]).sqrt(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0] / (self.get_retained_outputs()[0] * 2.0),)


def exp(x) -> Variable:
    """Elementwise ``e ** x``."""
    return Exp().apply((x,))[0]


def sqrt(x) -> Variable:
    """Elementwise square root."""
    return Sqrt().apply((x,))[0]


# ---- the affine map -----------------------------------------------------------------------------------
class Linear(FunctionNode):
    """``x @ W.T + b`` for ``x`` of shape ``(..., in)``, ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``."""

    def forward(self, inputs):
        x, W = inputs[0], inputs[1]
        if x.shape[-1:] != W.shape[1:] or W.ndim != 2:
            raise ValueError(f"x's last axis must equal W's second axis ({W.shape[1:]}), W must be (out, in)")
        if x.dtype != W.dtype:
            raise TypeError(f"x is {x.dtype} but W is {W.dtype}; cast x with .astype({str(W.dtype)!r})")
        self.retain_inputs((0, 1))
        # (..., in) as one 2-D product: one GEMM, where NumPy's batched matmul loops over the leading axes
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
    low = autocast_inputs(*inputs)
    if low is not None:
        return cast(Linear().apply(low)[0], numpy.float32)
    return Linear().apply(inputs)[0]
