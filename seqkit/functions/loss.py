"""Softmax cross-entropy with an ignore label (padding) and label smoothing.

The gradient is made by NumPy code or, beside it, one fused CUDA kernel
(``softmax_cross_entropy_grad_kernel``); ``SoftmaxCrossEntropyGrad.forward`` takes the kernel where
``use_kernels(xp)`` says so (CuPy arrays), and the NumPy lines are its reference.
"""

from __future__ import annotations

from seqkit.backend import ElementwiseKernel, check_index_range, get_array_module, use_kernels
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.ops import reshape, sum
from seqkit.functions.activation import softmax

_REDUCE = ("mean", "sum", "no")


class SoftmaxCrossEntropy(FunctionNode):
    """Keeps the logits, and ``exp(x - max)`` with its row sums (computed in forward anyway) for backward."""

    int_inputs = (1,)

    def __init__(self, ignore_label: int, label_smoothing: float, reduce: str):
        self.ignore_label, self.smoothing, self.reduce = ignore_label, label_smoothing, reduce

    def forward(self, inputs):
        x, t = inputs
        if x.ndim != 2 or t.shape != x.shape[:1]:
            raise ValueError("expected x of shape (N, C) and integer t of shape (N,)")
        if t.dtype.kind not in "iu":
            raise TypeError(f"labels t must be integers, got {t.dtype}")
        xp = get_array_module(x)
        self.retain_inputs((0,))
        n = x.shape[0]
        m = x.max(axis=1, keepdims=True)
        e = x - m
        xp.exp(e, out=e)
        s = e.sum(axis=1, keepdims=True)
        log_z = (m + xp.log(s))[:, 0]
        check_index_range("label", t, x.shape[1], self.ignore_label)
        keep = t != self.ignore_label
        self.t = xp.where(keep, t, 0)
        self.weights = keep.astype(x.dtype)  # per-row factor of the loss
        if self.reduce == "mean":
            self.weights /= xp.maximum(self.weights.sum(), 1)
        nll = log_z - x[xp.arange(n), self.t]
        if self.smoothing:
            nll = nll * (1 - self.smoothing) + (log_z - x.mean(axis=1)) * self.smoothing
        self.e, self.s = e, s  # softmax = e / s, normalised only where backward needs it
        loss = nll * self.weights
        return (loss if self.reduce == "no" else xp.asarray(loss.sum(), dtype=x.dtype),)

    def target_diff(self, y):
        """``y - target`` where target is the (smoothed) one-hot distribution; ``y`` an array or Variable."""
        xp = get_array_module(y)
        n, c = y.shape
        target = xp.full(y.shape, self.smoothing / c, dtype=y.dtype)
        target[xp.arange(n), self.t] += 1 - self.smoothing
        return y - target

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        return (SoftmaxCrossEntropyGrad(self).apply((x, grad_outputs[0]))[0], None)


class SoftmaxCrossEntropyGrad(FunctionNode):
    """``(softmax(x) - target) * weights * gy``: the forward uses the kept softmax, the backward recomputes it
    with differentiable ops so every order of derivative is exact."""

    def __init__(self, parent: SoftmaxCrossEntropy):
        self.parent = parent

    def forward(self, inputs):
        _, gy = inputs
        self.retain_inputs((0, 1))
        p = self.parent
        xp = get_array_module(gy)
        coef = p.weights * gy
        if use_kernels(xp):  # one fused kernel on a GPU; the lines below are its reference
            return (softmax_cross_entropy_grad_kernel(p.e, p.s[:, 0], p.t, coef, p.smoothing),)
        g = p.e * (coef / p.s[:, 0])[:, None]  # softmax times the row weights, in one pass
        g[xp.arange(len(g)), p.t] -= (1 - p.smoothing) * coef
        if p.smoothing:
            g -= (p.smoothing / g.shape[1]) * coef[:, None]
        return (g,)

    def backward(self, indexes, grad_outputs):
        x, gy = self.get_retained_inputs()
        (gg,) = grad_outputs
        p = self.parent
        y = softmax(x, axis=1)
        w = p.weights
        out = []
        if 0 in indexes:
            u = gg * reshape(gy * w, (-1, 1))
            yu = y * u
            out.append(yu - y * sum(yu, axis=1, keepdims=True))
        if 1 in indexes:
            per_row = sum(gg * p.target_diff(y), axis=1) * w
            out.append(per_row if p.reduce == "no" else sum(per_row))
        return tuple(out)


# e = exp(x - max) (N, C), s its row sums (N,), t labels (N,), coef = weight * gy per row (N,)
_SOFTMAX_CROSS_ENTROPY_GRAD = ElementwiseKernel(
    "T e, raw T s, raw I t, raw T coef, T smoothing, int32 C",
    "T g",
    """
    int row = i / C, col = i % C;
    T c = coef[row];
    g = e / s[row] * c - smoothing / C * c - (col == t[row] ? (T(1) - smoothing) * c : T(0));
    """,
    "seqkit_softmax_cross_entropy_grad",
)


def softmax_cross_entropy_grad_kernel(e, s, t, coef, smoothing: float):
    """``(e / s - smoothed one-hot of t) * coef`` row by row, for ``e`` (N, C), ``s``, ``t``, ``coef`` (N,)."""
    return _SOFTMAX_CROSS_ENTROPY_GRAD(e, s, t, coef, e.dtype.type(smoothing), e.shape[1])


def softmax_cross_entropy(
    x, t, *, ignore_label: int = -1, label_smoothing: float = 0.0, reduce: str = "mean"
) -> Variable:
    """Cross-entropy between ``softmax(x)`` and integer labels ``t``.

    ``x``: logits ``(N, C)``; ``t``: integer ``(N,)``. Rows whose label is ``ignore_label`` (padding) count
    for nothing. ``label_smoothing`` mixes the one-hot target with the uniform distribution over ``C``.
    ``reduce``: ``"mean"`` over non-ignored rows, ``"sum"``, or ``"no"`` (per-row losses, zero where ignored).
    """
    if reduce not in _REDUCE:
        raise ValueError(f"reduce must be one of {_REDUCE}, got {reduce!r}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    return SoftmaxCrossEntropy(ignore_label, label_smoothing, reduce).apply((x, t))[0]
