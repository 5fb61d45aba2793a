"""Recurrent ops: the LSTM step ``lstm`` and fused whole-sequence LSTM/GRU recurrences over packed batches.

Gate layout: an LSTM's pre-activations are four blocks of ``H`` columns ``[i, f, o, g]`` (input, forget and
output gates, then the candidate); a GRU's are three blocks ``[r, z, n]`` (reset, update, candidate).

Packed batches (the layout cuDNN and PyTorch's ``PackedSequence`` use): sequences sorted by length, longest
first, stored time-major, so step ``t`` is the rows ``offsets[t]:offsets[t + 1]`` and holds the first
``batch_sizes[t]`` sequences. The batch shrinks as short sequences end; no work is spent on padding.

The fused recurrences run one small GEMM per step for the recurrent part and, in backward, compute the
recurrent weight gradient as ONE GEMM over all steps. Their higher-order gradients come from the plain
per-step references below (see ``seqkit.functions.fused``).

One time step of each recurrence is a NumPy function with a fused CUDA kernel beside it, taking the same
arguments (``lstm_step_forward`` and ``lstm_step_forward_kernel``, ``gru_step_forward`` and
``gru_step_forward_kernel``, and their backward steps). A recurrence picks one of the pair once, before its
loop over time, with ``use_kernels(xp)``: the kernel for CuPy arrays, the NumPy function for NumPy arrays,
which is also the kernel's reference in tests/test_gpu.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from seqkit.backend import ElementwiseKernel, get_array_module, use_kernels
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.ops import add, matmul
from seqkit.functions.activation import sigmoid, tanh
from seqkit.functions.array import concat, split_axis
from seqkit.functions.fused import fused_backward
from seqkit.functions.math import linear


def _sigmoid_(a):
    """In-place logistic sigmoid through tanh (stable, one transcendental per element)."""
    xp = get_array_module(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


_SIGMOID = "template <typename T> __device__ T seqkit_sigmoid(T x) { return T(1) / (T(1) + exp(-x)); }\n"


# ---- one LSTM step (Chainer's F.lstm) -----------------------------------------------------------------
class LSTM(FunctionNode):
    """One LSTM step. Keeps its gate activations and ``tanh(c)`` for backward."""

    def forward(self, inputs):
        c_prev, x = inputs
        B, H = c_prev.shape
        b = x.shape[0]
        if x.ndim != 2 or x.shape[1] != 4 * H or b > B:
            raise ValueError(f"x must be (b, 4H) with b <= {B} and H = {H} from c_prev")
        xp = get_array_module(x)
        self.retain_inputs((0, 1))
        self.output_shapes = ((c_prev.shape, c_prev.dtype), ((b, H), x.dtype))
        c = c_prev.copy()
        self.tanh_c, h = xp.empty((b, H), x.dtype), xp.empty((b, H), x.dtype)
        if use_kernels(xp):  # one fused kernel on a GPU (x enters as the input projection of zero h W^T)
            self.gates = xp.zeros_like(x)
            lstm_step_forward_kernel(self.gates, x, c[:b], self.tanh_c, h)
        else:
            self.gates = x.copy()
            lstm_step_forward(self.gates, None, c[:b], self.tanh_c, h)
        return c, h

    def backward(self, indexes, grad_outputs):
        return fused_backward(self, indexes, grad_outputs, self._backward_arrays, lstm_reference)

    def _backward_arrays(self, inputs, grad_outputs):
        c_prev, _ = inputs
        gc, gh = grad_outputs
        xp = get_array_module(gh)
        b = self.tanh_c.shape[0]
        gx = xp.empty_like(self.gates)
        gc_prev = gc.copy()
        step_backward = _lstm_step_backward_kernel if use_kernels(xp) else _lstm_step_backward
        step_backward(self.gates, self.tanh_c, c_prev[:b], gh, gc_prev[:b], gx)
        return gc_prev, gx


def lstm_step_forward(a, gx, c, tanh_c, h) -> None:
    """One LSTM step on arrays, in place (the NumPy twin of ``lstm_step_forward_kernel``): ``a`` (b, 4H) holds
    ``h_prev W^T``, adds ``gx`` (whatever else the pre-activations have: the input projections, or just the bias;
    None for nothing) and leaves with the activated gates; ``c`` (b, H) is updated; ``tanh(c)`` and the new ``h``
    are written into ``tanh_c`` and ``h``."""
    H = c.shape[1]
    xp = get_array_module(a)
    if gx is not None:
        a += gx
    _sigmoid_(a[:, : 3 * H])
    xp.tanh(a[:, 3 * H :], out=a[:, 3 * H :])
    c *= a[:, H : 2 * H]
    c += a[:, :H] * a[:, 3 * H :]
    xp.tanh(c, out=tanh_c)
    xp.multiply(a[:, 2 * H : 3 * H], tanh_c, out=h)


# a (b, 4H): in, h W^T; out, the activated gates. gx (b, 4H): the input projections. c (b, H): in c_prev, out c.
# Writes tanh(c) and h, both (b, H); i runs over (b, H).
_LSTM_FORWARD = ElementwiseKernel(
    "raw T gx, int32 H",
    "raw T a, raw T c, T tanh_c, T h",
    """
    int row = i / H, col = i % H;
    int k = row * 4 * H + col;
    T in_gate = seqkit_sigmoid(a[k] + gx[k]);
    T forget = seqkit_sigmoid(a[k + H] + gx[k + H]);
    T out_gate = seqkit_sigmoid(a[k + 2 * H] + gx[k + 2 * H]);
    T cand = tanh(a[k + 3 * H] + gx[k + 3 * H]);
    a[k] = in_gate; a[k + H] = forget; a[k + 2 * H] = out_gate; a[k + 3 * H] = cand;
    T c_new = forget * c[i] + in_gate * cand;
    c[i] = c_new;
    tanh_c = tanh(c_new);
    h = out_gate * tanh_c;
    """,
    "seqkit_lstm_forward",
    preamble=_SIGMOID,
)


def lstm_step_forward_kernel(a, gx, c, tanh_c, h) -> None:
    """``lstm_step_forward`` as one fused CUDA kernel (``gx`` may not be None)."""
    _LSTM_FORWARD(gx, a.shape[1] // 4, a, c, tanh_c, h)


def _lstm_step_backward(a, tc, c_prev, dh, dc, d):
    """One step of LSTM backward, in place: ``dc`` (b, H) holds the incoming cell gradient and leaves with the
    gradient of ``c_prev``; ``d`` (b, 4H) receives the pre-activation gradients. ``a`` holds the activated
    gates ``[i, f, o, g]``, ``tc`` = tanh(c)."""
    H = tc.shape[1]
    xp = get_array_module(a)
    i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    t = tc * tc
    xp.subtract(1, t, out=t)
    t *= o
    t *= dh
    dc += t  # dc += dh * o * (1 - tanh(c)^2)
    xp.multiply(dc, g, out=d[:, :H])
    xp.multiply(dc, c_prev, out=d[:, H : 2 * H])
    xp.multiply(dh, tc, out=d[:, 2 * H : 3 * H])
    s = 1 - a[:, : 3 * H]
    s *= a[:, : 3 * H]
    d[:, : 3 * H] *= s  # sigmoid'
    dg = d[:, 3 * H :]
    xp.multiply(g, g, out=dg)
    xp.subtract(1, dg, out=dg)
    dg *= i
    dg *= dc  # tanh'
    dc *= f


# a (b, 4H) activated gates, tc = tanh(c), c_prev, dh: (b, H). dc: in, the cell gradient; out, c_prev's.
# Writes the pre-activation gradients d (b, 4H).
_LSTM_BACKWARD = ElementwiseKernel(
    "raw T a, T tc, T c_prev, T dh, int32 H",
    "T dc, raw T d",
    """
    int row = i / H, col = i % H;
    int k = row * 4 * H + col;
    T in_gate = a[k], forget = a[k + H], out_gate = a[k + 2 * H], cand = a[k + 3 * H];
    T dc_total = dc + dh * out_gate * (T(1) - tc * tc);
    d[k] = dc_total * cand * in_gate * (T(1) - in_gate);
    d[k + H] = dc_total * c_prev * forget * (T(1) - forget);
    d[k + 2 * H] = dh * tc * out_gate * (T(1) - out_gate);
    d[k + 3 * H] = dc_total * in_gate * (T(1) - cand * cand);
    dc = dc_total * forget;
    """,
    "seqkit_lstm_backward",
)


def _lstm_step_backward_kernel(a, tc, c_prev, dh, dc, d) -> None:
    """``_lstm_step_backward`` as one fused CUDA kernel."""
    _LSTM_BACKWARD(a, tc, c_prev, dh, a.shape[1] // 4, dc, d)


def lstm(c_prev, x) -> tuple[Variable, Variable]:
    """One LSTM step from pre-activations ``x`` ``(b, 4H)`` (blocks ``[i, f, o, g]``) and cell ``c_prev`` ``(B, H)``.

    Returns ``(c, h)``: ``c`` ``(B, H)`` and ``h`` ``(b, H)``. ``b`` may be smaller than ``B`` (a batch that
    shrinks as sorted sequences end): the first ``b`` rows are updated and the rest of ``c_prev`` passes
    through unchanged.
    """
    return LSTM().apply((c_prev, x))


def lstm_reference(c_prev, x) -> tuple[Variable, Variable]:
    """``lstm`` built from plain ops: the reference that tests and higher-order gradients use."""
    b = x.shape[0]
    i, f, o, g = split_axis(x, 4, axis=1)
    i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), tanh(g)
    c_new = f * c_prev[:b] + i * g
    h = o * tanh(c_new)
    c = c_new if b == c_prev.shape[0] else concat([c_new, c_prev[b:]], axis=0)
    return c, h


# ---- packing ------------------------------------------------------------------------------------------
class GatherRows(FunctionNode):
    """``x[indices]`` along axis 0 for distinct ``indices`` (so the backward is a plain scatter)."""

    def __init__(self, indices):
        self.indices = indices

    def forward(self, inputs):
        (x,) = inputs
        self.n_rows = x.shape[0]
        return (x[self.indices],)

    def backward(self, indexes, grad_outputs):
        return (scatter_rows(grad_outputs[0], self.indices, self.n_rows),)


class ScatterRows(FunctionNode):
    """Zeros of ``n_rows`` rows with ``x``'s rows written at distinct ``indices``."""

    def __init__(self, indices, n_rows):
        self.indices, self.n_rows = indices, n_rows

    def forward(self, inputs):
        (x,) = inputs
        y = get_array_module(x).zeros((self.n_rows, *x.shape[1:]), dtype=x.dtype)
        y[self.indices] = x
        return (y,)

    def backward(self, indexes, grad_outputs):
        return (gather_rows(grad_outputs[0], self.indices),)


def _on_device_of(indices, x):
    xp = get_array_module(x)
    return indices if xp is numpy else xp.asarray(indices)


def gather_rows(x, indices) -> Variable:
    """Rows ``indices`` (distinct integers) of ``x``, in that order: how batches are packed and unpacked."""
    return GatherRows(_on_device_of(indices, x)).apply((x,))[0]


def scatter_rows(x, indices, n_rows: int) -> Variable:
    """An ``(n_rows, ...)`` array of zeros with row ``indices[k]`` set to ``x[k]`` (``indices`` distinct)."""
    return ScatterRows(_on_device_of(indices, x), n_rows).apply((x,))[0]


def batch_sizes_of(sorted_lengths: Sequence[int]) -> tuple[int, ...]:
    """``batch_sizes[t]`` = how many of the (descending) lengths exceed ``t``."""
    lengths = numpy.asarray(sorted_lengths)
    return tuple(int(n) for n in (lengths[None, :] > numpy.arange(int(lengths[0]))[:, None]).sum(axis=1))


def _steps(batch_sizes, reverse):
    offsets = numpy.concatenate([[0], numpy.cumsum(batch_sizes)]).tolist()
    steps = [(offsets[t], offsets[t + 1]) for t in range(len(batch_sizes))]
    return steps[::-1] if reverse else steps


def _check_packed(name, gx, W, h0, batch_sizes, gates):
    H = W.shape[1]
    if W.shape != (gates * H, H) or gx.ndim != 2 or gx.shape[1] != gates * H:
        raise ValueError(f"{name}: W must be ({gates}H, H) and gx (N, {gates}H)")
    if gx.shape[0] != sum(batch_sizes) or h0.shape != (batch_sizes[0], H):
        raise ValueError(f"{name}: gx must have sum(batch_sizes) = {sum(batch_sizes)} rows, h0 ({batch_sizes[0]}, H)")
    return H


# ---- fused whole-sequence LSTM ------------------------------------------------------------------------
class LSTMRecurrence(FunctionNode):
    """Inputs ``gx`` (N, 4H), ``W`` (4H, H), ``h0`` (B, H), ``c0`` (B, H); outputs ``hs`` (N, H), ``hN``, ``cN``.

    Keeps the gate activations, ``tanh(c)``, and the previous ``h`` and ``c`` of every step for backward.
    """

    def __init__(self, batch_sizes: tuple[int, ...], reverse: bool):
        self.batch_sizes, self.reverse = batch_sizes, reverse

    def forward(self, inputs):
        gx, W, h0, c0 = inputs
        H = _check_packed("lstm_recurrence", gx, W, h0, self.batch_sizes, 4)
        xp = get_array_module(gx)
        self.retain_inputs((0, 1, 2, 3))
        N = gx.shape[0]
        self.output_shapes = (((N, H), gx.dtype), (h0.shape, h0.dtype), (c0.shape, c0.dtype))
        hs = xp.empty((N, H), dtype=gx.dtype)
        h, c, self.saved = _lstm_forward(gx, W, h0, c0, self.batch_sizes, self.reverse, hs)
        return hs, h, c

    def backward(self, indexes, grad_outputs):
        def reference(gx, W, h0, c0):
            return lstm_recurrence_reference(gx, W, h0, c0, self.batch_sizes, self.reverse)

        return fused_backward(self, indexes, grad_outputs, self._backward_arrays, reference)

    def _backward_arrays(self, inputs, grad_outputs):
        _, W, _, _ = inputs
        ghs, ghN, gcN = grad_outputs
        dgates = get_array_module(W).empty_like(self.saved[0])
        gW, dh, dc = _lstm_backward(self.saved, W, ghs, ghN, gcN, self.batch_sizes, self.reverse, dgates)
        return dgates, gW, dh, dc


class BiLSTMRecurrence(FunctionNode):
    """Both directions of a bidirectional LSTM layer in one op: inputs ``gx`` (N, 8H) (the forward direction's
    projections, then the reverse one's), ``W_f``, ``W_b`` (4H, H), ``h0_f``, ``c0_f``, ``h0_b``, ``c0_b``
    (B, H); outputs ``hs`` (N, 2H) (both directions side by side, as the next layer reads them) and the four
    final states. Each direction reads its columns of ``gx`` and writes its columns of ``hs`` and of the
    gradient in place, where two ``LSTMRecurrence`` ops would need a split and a concatenation (copies) both
    ways."""

    def __init__(self, batch_sizes: tuple[int, ...]):
        self.batch_sizes = batch_sizes

    def forward(self, inputs):
        gx, W_f, W_b, h0_f, c0_f, h0_b, c0_b = inputs
        H = W_f.shape[1]
        if gx.ndim != 2 or gx.shape[1] != 8 * H or W_b.shape != W_f.shape:
            raise ValueError(f"bilstm_recurrence: gx must be (N, 8H) and both W (4H, H), H = {H}")
        for W, h0 in ((W_f, h0_f), (W_b, h0_b)):
            _check_packed("bilstm_recurrence", gx[:, : 4 * H], W, h0, self.batch_sizes, 4)
        xp = get_array_module(gx)
        self.retain_inputs(range(7))
        N = gx.shape[0]
        self.output_shapes = (((N, 2 * H), gx.dtype), *(((h0_f.shape, h0_f.dtype),) * 4))
        hs = xp.empty((N, 2 * H), dtype=gx.dtype)
        self.saved, finals = [], []
        for d, (W, h0, c0) in enumerate(((W_f, h0_f, c0_f), (W_b, h0_b, c0_b))):
            cols = slice(d * 4 * H, (d + 1) * 4 * H)
            h, c, saved = _lstm_forward(gx[:, cols], W, h0, c0, self.batch_sizes, d == 1, hs[:, d * H : (d + 1) * H])
            self.saved.append(saved)
            finals += [h, c]
        return (hs, *finals)

    def backward(self, indexes, grad_outputs):
        def reference(gx, W_f, W_b, h0_f, c0_f, h0_b, c0_b):
            g_f, g_b = split_axis(gx, 2, axis=1)
            hs_f, *f = lstm_recurrence_reference(g_f, W_f, h0_f, c0_f, self.batch_sizes, False)
            hs_b, *b = lstm_recurrence_reference(g_b, W_b, h0_b, c0_b, self.batch_sizes, True)
            return (concat([hs_f, hs_b], axis=1), *f, *b)

        return fused_backward(self, indexes, grad_outputs, self._backward_arrays, reference)

    def _backward_arrays(self, inputs, grad_outputs):
        _, W_f, W_b = inputs[:3]
        ghs, *g_finals = grad_outputs
        H = W_f.shape[1]
        dgx = get_array_module(W_f).empty((ghs.shape[0], 8 * H), dtype=ghs.dtype)
        grads = []
        for d, W in enumerate((W_f, W_b)):
            ghN, gcN = g_finals[2 * d : 2 * d + 2]
            grads.append(_lstm_backward(self.saved[d], W, ghs[:, d * H : (d + 1) * H], ghN, gcN, self.batch_sizes,
                                        d == 1, dgx[:, d * 4 * H : (d + 1) * 4 * H]))  # fmt: skip
        (gW_f, dh_f, dc_f), (gW_b, dh_b, dc_b) = grads
        return dgx, gW_f, gW_b, dh_f, dc_f, dh_b, dc_b


def _lstm_forward(gx, W, h0, c0, batch_sizes, reverse, hs):
    """The fused recurrence, writing the hidden states into ``hs`` (N, H) (a view may be given). Returns the
    final ``h``, ``c`` and what backward needs: the activated gates, previous ``h`` and ``c``, ``tanh(c)``."""
    xp = get_array_module(gx)
    N, H = hs.shape
    gates = xp.empty(gx.shape, dtype=gx.dtype)
    h_prev, c_prev, tanh_c = (xp.empty((N, H), dtype=gx.dtype) for _ in range(3))
    h, c = h0.copy(), c0.copy()
    WT = W.T
    step_forward = lstm_step_forward_kernel if use_kernels(xp) else lstm_step_forward
    for lo, hi in _steps(batch_sizes, reverse):
        b = hi - lo
        hb, cb = h[:b], c[:b]
        h_prev[lo:hi] = hb
        c_prev[lo:hi] = cb
        a = gates[lo:hi]
        xp.matmul(hb, WT, out=a)
        step_forward(a, gx[lo:hi], cb, tanh_c[lo:hi], hs[lo:hi])
        hb[...] = hs[lo:hi]
    return h, c, (gates, h_prev, c_prev, tanh_c)


def _lstm_backward(saved, W, ghs, ghN, gcN, batch_sizes, reverse, dgates):
    """Backward of ``_lstm_forward``: the pre-activation gradients into ``dgates`` (N, 4H) (a view may be
    given); returns the recurrent weight's gradient and those of the initial ``h`` and ``c``."""
    gates, h_prev, c_prev, tanh_c = saved
    xp = get_array_module(W)
    dh, dc = ghN.copy(), gcN.copy()
    step_backward = _lstm_step_backward_kernel if use_kernels(xp) else _lstm_step_backward
    for lo, hi in _steps(batch_sizes, not reverse):
        b = hi - lo
        dhb, dcb = dh[:b], dc[:b]
        dhb += ghs[lo:hi]
        step_backward(gates[lo:hi], tanh_c[lo:hi], c_prev[lo:hi], dhb, dcb, dgates[lo:hi])
        xp.matmul(dgates[lo:hi], W, out=dhb)
    gW = dgates.T @ h_prev  # the recurrent weight gradient: one GEMM over all steps
    return gW, dh, dc


def lstm_recurrence(gx, W, h0, c0, batch_sizes: Sequence[int], reverse: bool = False):
    """Run an LSTM over a packed batch. ``gx`` (N, 4H): input projections with biases, packed time-major;
    ``W`` (4H, H): recurrent weights; ``h0``, ``c0`` (B, H): initial states of the sorted sequences.

    Returns ``(hs, hN, cN)``: hidden states ``(N, H)`` in the packed layout and the final states ``(B, H)``.
    ``reverse=True`` runs every sequence from its end to its start (the backward half of a bidirectional
    layer), with outputs still aligned to the input positions.
    """
    return LSTMRecurrence(tuple(int(b) for b in batch_sizes), reverse).apply((gx, W, h0, c0))


def bilstm_recurrence(gx, W_f, W_b, h0_f, c0_f, h0_b, c0_b, batch_sizes: Sequence[int]):
    """Both directions of a bidirectional LSTM layer over a packed batch: ``gx`` (N, 8H) holds the forward
    direction's input projections, then the reverse one's. Returns ``(hs, hN_f, cN_f, hN_b, cN_b)`` with ``hs``
    (N, 2H) the two directions' hidden states side by side; the same as ``lstm_recurrence`` on each half of
    ``gx`` (``reverse=True`` for the second) and a concatenation, without the copies."""
    return BiLSTMRecurrence(tuple(int(b) for b in batch_sizes)).apply((gx, W_f, W_b, h0_f, c0_f, h0_b, c0_b))


def lstm_recurrence_reference(gx, W, h0, c0, batch_sizes, reverse=False):
    """``lstm_recurrence`` as a per-step loop of plain ops (the reference for tests and higher orders)."""
    h, c = h0, c0
    outs = {}
    for lo, hi in _steps(batch_sizes, reverse):
        b = hi - lo
        c, hb = lstm_reference(c, add(gx[lo:hi], matmul(h[:b], W, transb=True)))
        h = hb if b == h.shape[0] else concat([hb, h[b:]], axis=0)
        outs[lo] = hb
    return concat([outs[k] for k in sorted(outs)], axis=0), h, c


# ---- fused whole-sequence GRU -------------------------------------------------------------------------
class GRURecurrence(FunctionNode):
    """Inputs ``gx`` (N, 3H) (with the input biases), ``W`` (3H, H), ``b`` (3H,) (the recurrent bias),
    ``h0`` (B, H); outputs ``hs`` (N, H), ``hN`` (B, H).

    ``r = s(gx_r + gh_r)``, ``z = s(gx_z + gh_z)``, ``n = tanh(gx_n + r * gh_n)``, ``h' = (1 - z) n + z h``
    with ``gh = h W^T + b``. Keeps the activations, ``gh_n`` and the previous ``h`` of every step.
    """

    def __init__(self, batch_sizes: tuple[int, ...], reverse: bool):
        self.batch_sizes, self.reverse = batch_sizes, reverse

    def forward(self, inputs):
        gx, W, bias, h0 = inputs
        H = _check_packed("gru_recurrence", gx, W, h0, self.batch_sizes, 3)
        xp = get_array_module(gx)
        self.retain_inputs((0, 1, 2, 3))
        N = gx.shape[0]
        self.output_shapes = (((N, H), gx.dtype), (h0.shape, h0.dtype))
        acts = xp.empty_like(gx)
        gh_n = xp.empty((N, H), dtype=gx.dtype)
        h_prev = xp.empty((N, H), dtype=gx.dtype)
        hs = xp.empty((N, H), dtype=gx.dtype)
        h = h0.copy()
        WT = W.T
        step_forward = gru_step_forward_kernel if use_kernels(xp) else gru_step_forward
        for lo, hi in _steps(self.batch_sizes, self.reverse):
            b = hi - lo
            hb = h[:b]
            h_prev[lo:hi] = hb
            gh = hb @ WT
            gh += bias
            step_forward(gx[lo:hi], gh, acts[lo:hi], gh_n[lo:hi], hb)
            hs[lo:hi] = hb
        self.acts, self.gh_n, self.h_prev = acts, gh_n, h_prev
        return hs, h

    def backward(self, indexes, grad_outputs):
        def reference(gx, W, bias, h0):
            return gru_recurrence_reference(gx, W, bias, h0, self.batch_sizes, self.reverse)

        return fused_backward(self, indexes, grad_outputs, self._backward_arrays, reference)

    def _backward_arrays(self, inputs, grad_outputs):
        _, W, _, _ = inputs
        ghs, ghN = grad_outputs
        xp = get_array_module(W)
        acts, gh_n, h_prev = self.acts, self.gh_n, self.h_prev
        dgx = xp.empty_like(acts)
        dgh = xp.empty_like(acts)
        dh = ghN.copy()
        step_backward = _gru_step_backward_kernel if use_kernels(xp) else _gru_step_backward
        for lo, hi in _steps(self.batch_sizes, not self.reverse):
            b = hi - lo
            dhb = dh[:b]
            dhb += ghs[lo:hi]
            e = dgh[lo:hi]
            step_backward(acts[lo:hi], gh_n[lo:hi], h_prev[lo:hi], dhb, dgx[lo:hi], e)
            dhb += e @ W
        gW = dgh.T @ h_prev  # the recurrent weight gradient: one GEMM over all steps
        return dgx, gW, dgh.sum(axis=0), dh


def gru_step_forward(gx, gh, a, gh_n, h) -> None:
    """One GRU step on arrays, in place (the NumPy twin of ``gru_step_forward_kernel``): from the input
    projections ``gx`` (b, 3H) and ``gh`` (b, 3H) = ``h W^T + b``, writes the activations ``[r, z, n]`` into
    ``a`` (b, 3H) and ``gh``'s candidate block into ``gh_n`` (b, H); ``h`` (b, H) enters as the previous
    hidden state and leaves as the new one."""
    H = h.shape[1]
    xp = get_array_module(a)
    xp.add(gx[:, : 2 * H], gh[:, : 2 * H], out=a[:, : 2 * H])
    _sigmoid_(a[:, : 2 * H])
    gh_n[...] = gh[:, 2 * H :]
    n = a[:, 2 * H :]
    xp.multiply(a[:, :H], gh[:, 2 * H :], out=n)
    n += gx[:, 2 * H :]
    xp.tanh(n, out=n)
    h -= n
    h *= a[:, H : 2 * H]
    h += n  # (h - n) z + n = (1 - z) n + z h


# gx (b, 3H) input projections, gh (b, 3H) = h W^T + bias, h: in h_prev, out the new h (b, H).
# Writes the activations a (b, 3H) [r, z, n] and gh_n (b, H).
_GRU_FORWARD = ElementwiseKernel(
    "raw T gx, raw T gh, int32 H",
    "raw T a, T gh_n, T h",
    """
    int row = i / H, col = i % H;
    int k = row * 3 * H + col;
    T r = seqkit_sigmoid(gx[k] + gh[k]);
    T z = seqkit_sigmoid(gx[k + H] + gh[k + H]);
    T hn = gh[k + 2 * H];
    T n = tanh(gx[k + 2 * H] + r * hn);
    a[k] = r; a[k + H] = z; a[k + 2 * H] = n;
    gh_n = hn;
    h = (h - n) * z + n;
    """,
    "seqkit_gru_forward",
    preamble=_SIGMOID,
)


def gru_step_forward_kernel(gx, gh, a, gh_n, h) -> None:
    """``gru_step_forward`` as one fused CUDA kernel."""
    _GRU_FORWARD(gx, gh, gx.shape[1] // 3, a, gh_n, h)


def _gru_step_backward(a, gh_n, h_prev, dh, d, e) -> None:
    """One step of GRU backward, in place: ``a`` (b, 3H) holds the activations ``[r, z, n]``, ``gh_n`` and
    ``h_prev`` (b, H) what forward kept. ``dh`` (b, H) enters as the gradient of the new ``h`` and leaves as
    its part through ``z`` (``dh * z``; the caller adds ``e W``); ``d`` (b, 3H) receives the gradient of
    ``gx``, ``e`` (b, 3H) that of ``gh``."""
    H = gh_n.shape[1]
    xp = get_array_module(a)
    r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
    dn = d[:, 2 * H :]
    xp.multiply(dh, 1 - z, out=dn)
    dn *= 1 - n * n
    xp.multiply(dh, h_prev - n, out=d[:, H : 2 * H])
    xp.multiply(dn, gh_n, out=d[:, :H])
    s = a[:, : 2 * H]
    d[:, : 2 * H] *= s * (1 - s)  # sigmoid'
    e[:, : 2 * H] = d[:, : 2 * H]
    xp.multiply(dn, r, out=e[:, 2 * H :])
    dh *= z


# a (b, 3H) activations, gh_n and h_prev (b, H). dh: in, the gradient of the new h; out, its part through z
# (dh * z; the caller adds e W). Writes d (b, 3H) for gx and e (b, 3H) for gh.
_GRU_BACKWARD = ElementwiseKernel(
    "raw T a, T gh_n, T h_prev, int32 H",
    "T dh, raw T d, raw T e",
    """
    int row = i / H, col = i % H;
    int k = row * 3 * H + col;
    T r = a[k], z = a[k + H], n = a[k + 2 * H];
    T dn = dh * (T(1) - z) * (T(1) - n * n);
    T dr = dn * gh_n * r * (T(1) - r);
    T dz = dh * (h_prev - n) * z * (T(1) - z);
    d[k] = dr; d[k + H] = dz; d[k + 2 * H] = dn;
    e[k] = dr; e[k + H] = dz; e[k + 2 * H] = dn * r;
    dh = dh * z;
    """,
    "seqkit_gru_backward",
)


def _gru_step_backward_kernel(a, gh_n, h_prev, dh, d, e) -> None:
    """``_gru_step_backward`` as one fused CUDA kernel."""
    _GRU_BACKWARD(a, gh_n, h_prev, a.shape[1] // 3, dh, d, e)


def gru_recurrence(gx, W, b, h0, batch_sizes: Sequence[int], reverse: bool = False):
    """Run a GRU over a packed batch (see ``lstm_recurrence`` for the layout). ``gx`` (N, 3H) holds the input
    projections with the input biases; ``b`` (3H,) is the recurrent bias. Returns ``(hs, hN)``."""
    return GRURecurrence(tuple(int(n) for n in batch_sizes), reverse).apply((gx, W, b, h0))


def gru_step_reference(h, gx, W, b):
    """One GRU step from plain ops: ``h`` (b, H), ``gx`` (b, 3H)."""
    gh = linear(h, W, b)
    xr, xz, xn = split_axis(gx, 3, axis=1)
    hr, hz, hn = split_axis(gh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return n + z * (h - n)


def gru_recurrence_reference(gx, W, b, h0, batch_sizes, reverse=False):
    """``gru_recurrence`` as a per-step loop of plain ops."""
    h = h0
    outs = {}
    for lo, hi in _steps(batch_sizes, reverse):
        n = hi - lo
        hb = gru_step_reference(h[:n], gx[lo:hi], W, b)
        h = hb if n == h.shape[0] else concat([hb, h[n:]], axis=0)
        outs[lo] = hb
    return concat([outs[k] for k in sorted(outs)], axis=0), h
