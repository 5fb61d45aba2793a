"""Layer normalisation over the last axis."""

from __future__ import annotations

from seqkit.backend import get_array_module
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.ops import mean, sum
from seqkit.functions.math import sqrt


class LayerNorm(FunctionNode):
    def __init__(self, eps: float):
        self.eps = eps

    def forward(self, inputs):
        x, gamma, beta = inputs
        if gamma.shape != x.shape[-1:] or beta.shape != x.shape[-1:]:
            raise ValueError("gamma and beta must have the shape of x's last axis")
        xp = get_array_module(x)
        self.retain_inputs((0, 1))
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        inv_std = 1 / xp.sqrt((xc * xc).mean(axis=-1, keepdims=True) + self.eps)
        return (xc * inv_std * gamma + beta,)

    def backward(self, indexes, grad_outputs):
        # Written with differentiable ops so that every order of derivative is exact.
        x, gamma = self.get_retained_inputs()
        (gy,) = grad_outputs
        xc = x - mean(x, axis=-1, keepdims=True)
        inv_std = 1 / sqrt(mean(xc * xc, axis=-1, keepdims=True) + self.eps)
        xhat = xc * inv_std
        lead = tuple(range(x.ndim - 1))
        out = []
        if 0 in indexes:
            g = gy * gamma
            out.append(
                (g - mean(g, axis=-1, keepdims=True) - xhat * mean(g * xhat, axis=-1, keepdims=True)) * inv_std
            )
        if 1 in indexes:
            out.append(sum(gy * xhat, axis=lead))
        if 2 in indexes:
            out.append(sum(gy, axis=lead))
        return tuple(out)


def layer_norm(x, gamma, beta, eps: float = 1e-5) -> Variable:
    """Normalise ``x`` over its last axis to zero mean and unit variance, then scale and shift.

    ``gamma`` and ``beta`` have the shape of the last axis.
    """
    return LayerNorm(eps).apply((x, gamma, beta))[0]
