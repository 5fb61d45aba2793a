"""Activations and (log-)softmax. Each backward is one node, itself differentiable."""

from __future__ import annotations

import math

import numpy

from seqkit.backend import get_array_module
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.ops import sum
from seqkit.functions.math import exp


class Tanh(FunctionNode):
    def forward(self, inputs):
        self.retain_outputs((0,))
        return (get_array_module(inputs[0]).tanh(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        (y,) = self.get_retained_outputs()
        return (TanhGrad().apply((y, grad_outputs[0]))[0],)


class TanhGrad(FunctionNode):
    """``gy * (1 - y**2)`` in one node."""

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        y, gy = inputs
        return (gy * (1 - y * y),)

    def backward(self, indexes, grad_outputs):
        y, gy = self.get_retained_inputs()
        (g,) = grad_outputs
        out = []
        if 0 in indexes:
            out.append(g * gy * y * -2.0)
        if 1 in indexes:
            out.append(g * (1 - y * y))
        return tuple(out)


class Sigmoid(FunctionNode):
    def forward(self, inputs):
        (x,) = inputs
        xp = get_array_module(x)
        self.retain_outputs((0,))
        # tanh form: stable for large |x| and one transcendental per element
        return (xp.tanh(x * 0.5) * 0.5 + 0.5,)

    def backward(self, indexes, grad_outputs):
        (y,) = self.get_retained_outputs()
        return (SigmoidGrad().apply((y, grad_outputs[0]))[0],)


class SigmoidGrad(FunctionNode):
    """``gy * y * (1 - y)`` in one node."""

    def forward(self, inputs):
        self.retain_inputs((0, 1))
        y, gy = inputs
        return (gy * y * (1 - y),)

    def backward(self, indexes, grad_outputs):
        y, gy = self.get_retained_inputs()
        (g,) = grad_outputs
        out = []
        if 0 in indexes:
            out.append(g * gy * (1 - y * 2.0))
        if 1 in indexes:
            out.append(g * y * (1 - y))
        return tuple(out)


class ReLU(FunctionNode):
    def forward(self, inputs):
        (x,) = inputs
        self.retain_outputs((0,))
        return (get_array_module(x).maximum(x, 0, dtype=x.dtype),)

    def backward(self, indexes, grad_outputs):
        (y,) = self.get_retained_outputs()
        return (grad_outputs[0] * (y.data > 0).astype(y.dtype),)


class Softplus(FunctionNode):
    """``log(1 + exp(x))``, computed stably."""

    def forward(self, inputs):
        (x,) = inputs
        xp = get_array_module(x)
        self.retain_inputs((0,))
        return (xp.logaddexp(x, x.dtype.type(0)),)

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        return (grad_outputs[0] * sigmoid(x),)


class GELU(FunctionNode):
    """Exact GELU, ``x * Phi(x)`` with the Gaussian CDF (as in BERT and PyTorch's default)."""

    def forward(self, inputs):
        (x,) = inputs
        self.retain_inputs((0,))
        return (x * _phi(x),)

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        return (GELUGrad().apply((x, grad_outputs[0]))[0],)


def _phi(x):
    """Gaussian CDF, elementwise, in the dtype of ``x``."""
    z = x * (1 / math.sqrt(2))
    if get_array_module(x) is numpy:
        erf = numpy.asarray(_erf(z), dtype=x.dtype)  # a 0-d input gives a Python float
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy.special import erf as cupy_erf

        erf = cupy_erf(z)
    return (1 + erf) * 0.5


_erf = numpy.frompyfunc(math.erf, 1, 1)  # exact to double precision; NumPy has no erf of its own


class GELUGrad(FunctionNode):
    """``gy * (Phi(x) + x * phi(x))`` in one node."""

    def forward(self, inputs):
        x, gy = inputs
        self.retain_inputs((0, 1))
        xp = get_array_module(x)
        pdf = xp.exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
        return (gy * (_phi(x) + x * pdf),)

    def backward(self, indexes, grad_outputs):
        x, gy = self.get_retained_inputs()
        (g,) = grad_outputs
        pdf = exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
        out = []
        if 0 in indexes:  # d/dx [Phi + x phi] = 2 phi - x^2 phi
            out.append(g * gy * pdf * (2 - x * x))
        if 1 in indexes:  # g * (Phi + x phi), differentiable in x too (Phi must not be a constant)
            out.append(GELUGrad().apply((x, g))[0])
        return tuple(out)


def tanh(x) -> Variable:
    """Elementwise hyperbolic tangent."""
    return Tanh().apply((x,))[0]


def sigmoid(x) -> Variable:
    """Elementwise logistic sigmoid ``1 / (1 + exp(-x))``."""
    return Sigmoid().apply((x,))[0]


def relu(x) -> Variable:
    """Elementwise ``max(x, 0)``."""
    return ReLU().apply((x,))[0]


def softplus(x) -> Variable:
    """Elementwise ``log(1 + exp(x))``."""
    return Softplus().apply((x,))[0]


def gelu(x) -> Variable:
    """Elementwise GELU ``x * Phi(x)`` (exact, with the error function)."""
    return GELU().apply((x,))[0]


# ---- softmax ------------------------------------------------------------------------------------------
class Softmax(FunctionNode):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, inputs):
        (x,) = inputs
        xp = get_array_module(x)
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        self.retain_outputs((0,))
        return (y,)

    def backward(self, indexes, grad_outputs):
        return (softmax_grad(self.get_retained_outputs()[0], grad_outputs[0], self.axis),)


def softmax_grad(y: Variable, gy: Variable, axis: int) -> Variable:
    """The gradient of a softmax with output ``y`` along ``axis``: ``y * (gy - sum(y * gy))``, differentiable."""
    gx = y * gy
    return gx - y * sum(gx, axis=axis, keepdims=True)


class LogSoftmax(FunctionNode):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, inputs):
        (x,) = inputs
        self.retain_outputs((0,))
        return (_log_softmax(x, self.axis),)

    def backward(self, indexes, grad_outputs):
        (y,) = self.get_retained_outputs()
        (gy,) = grad_outputs
        return (gy - exp(y) * sum(gy, axis=self.axis, keepdims=True),)


def _log_softmax(x, axis):
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    y = x - m
    lse = xp.log(xp.exp(y).sum(axis=axis, keepdims=True))
    y -= lse
    return y


def softmax(x, axis: int = -1) -> Variable:
    """Softmax along ``axis`` (the max is subtracted first, so large inputs do not overflow)."""
    return Softmax(axis).apply((x,))[0]


def log_softmax(x, axis: int = -1) -> Variable:
    """Log-softmax along ``axis``, computed as ``x - logsumexp(x)`` stably."""
    return LogSoftmax(axis).apply((x,))[0]
