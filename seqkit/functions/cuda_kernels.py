"""Fused CUDA kernels (CuPy ``ElementwiseKernel``), each replacing several launches of elementwise ops.

Compiled on first use and cached (CuPy also caches the binaries on disk). Every kernel has a CPU twin, the
NumPy code it replaces, which stays the reference: tests/test_gpu.py compares them on random inputs.

- ``lstm_forward_step`` / ``lstm_backward_step``: one time step of the fused LSTM recurrence, gates
  ``[i, f, o, g]`` (``F.lstm_recurrence``);
- ``gru_forward_step`` / ``gru_backward_step``: one time step of the fused GRU recurrence, gates
  ``[r, z, n]`` (``F.gru_recurrence``);
- ``dropout_mask``: the scaled keep-mask and the output from uniform draws, in one pass (``F.dropout``);
- ``softmax_cross_entropy_grad``: ``(softmax - smoothed one-hot) * weight * gy`` from the kept ``exp(x - max)``
  and its row sums (``F.softmax_cross_entropy``'s backward);
- ``adam_update``: one Adam (or AdamW) step on a flat parameter chunk (``seqkit.optim.Adam``);
- ``counter_uniform``: uniform numbers as a hash of a key and their position (``seqkit.random`` on a GPU).

Raw arrays are indexed by hand, by their flat C-order position (CuPy maps it through the strides, so a
column slice, such as one direction's half of a bidirectional layer's projections, is read correctly).
"""

from __future__ import annotations

import functools
import math

import numpy

_SIGMOID = "template <typename T> __device__ T seqkit_sigmoid(T x) { return T(1) / (T(1) + exp(-x)); }\n"


def use(xp) -> bool:
    """Whether the fused kernels run for arrays of ``xp`` (CuPy's); the NumPy code beside each call is their
    reference. (``seqkit.testing.kernel_emulator`` turns them on for NumPy arrays, to test them without a GPU.)"""
    return xp is not numpy


def ElementwiseKernel(*args, **kwargs):
    import cupy

    return cupy.ElementwiseKernel(*args, **kwargs)


@functools.cache
def _kernel(name: str):
    in_params, out_params, operation = _KERNELS[name]
    return ElementwiseKernel(in_params, out_params, operation, f"seqkit_{name}", preamble=_SIGMOID)


_KERNELS = {
    # a (b, 4H): in, h W^T; out, the activated gates. gx (b, 4H): the input projections. c (b, H): in c_prev,
    # out c. Writes tanh(c) and h, both (b, H); i runs over (b, H).
    "lstm_forward": (
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
    ),
    # a (b, 4H) activated gates, tc = tanh(c), c_prev, dh: (b, H). dc: in, the cell gradient; out, c_prev's.
    # Writes the pre-activation gradients d (b, 4H).
    "lstm_backward": (
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
    ),
    # gx (b, 3H) input projections, gh (b, 3H) = h W^T + bias, h: in h_prev, out the new h (b, H).
    # Writes the activations a (b, 3H) [r, z, n] and gh_n (b, H).
    "gru_forward": (
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
    ),
    # a (b, 3H) activations, gh_n and h_prev (b, H). dh: in, the gradient of the new h; out, its part
    # through z (dh * z; the caller adds e W). Writes d (b, 3H) for gx and e (b, 3H) for gh.
    "gru_backward": (
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
    ),
    "dropout_mask": (
        "T x, T u, T ratio, T scale",
        "T mask, T y",
        "mask = u >= ratio ? scale : T(0); y = x * mask;",
    ),
    # e = exp(x - max) (N, C), s its row sums (N,), t labels (N,), coef = weight * gy per row (N,)
    "softmax_cross_entropy_grad": (
        "T e, raw T s, raw I t, raw T coef, T smoothing, int32 C",
        "T g",
        """
        int row = i / C, col = i % C;
        T c = coef[row];
        g = e / s[row] * c - smoothing / C * c - (col == t[row] ? (T(1) - smoothing) * c : T(0));
        """,
    ),
    # The operations of Adam._update_chunk in its order: decay is AdamW's factor (1 for Adam), step and eps
    # the bias-corrected step size and epsilon.
    "adam_update": (
        "T g, T beta1, T beta2, T step, T eps, T decay",
        "T p, T m, T v",
        """
        p *= decay;
        m += (g - m) * (T(1) - beta1);
        v = v * beta2 + g * g * (T(1) - beta2);
        p -= m / (sqrt(v) + eps) * step;
        """,
    ),
    # splitmix64 of key + (offset + i) * golden gamma; the top 24 (float) or 53 (double) bits scaled to [0, 1)
    "counter_uniform": (
        "uint64 key, uint64 offset",
        "T u",
        """
        unsigned long long z = key + (offset + (unsigned long long)i) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        u = sizeof(T) == 4 ? T(z >> 40) * T(5.9604644775390625e-08) : T(z >> 11) * T(1.1102230246251565e-16);
        """,
    ),
}


def lstm_forward_step(a, gx, c, tanh_c, h) -> None:
    _kernel("lstm_forward")(gx, a.shape[1] // 4, a, c, tanh_c, h)


def lstm_backward_step(a, tc, c_prev, dh, dc, d) -> None:
    _kernel("lstm_backward")(a, tc, c_prev, dh, a.shape[1] // 4, dc, d)


def gru_forward_step(gx, gh, a, gh_n, h) -> None:
    _kernel("gru_forward")(gx, gh, gx.shape[1] // 3, a, gh_n, h)


def gru_backward_step(a, gh_n, h_prev, dh, d, e) -> None:
    _kernel("gru_backward")(a, gh_n, h_prev, a.shape[1] // 3, dh, d, e)


def dropout_mask(x, u, ratio: float):
    """``(mask, x * mask)`` where ``mask`` is ``1 / (1 - ratio)`` where ``u >= ratio``, else 0."""
    t = x.dtype.type
    return _kernel("dropout_mask")(x, u, t(ratio), t(1.0 / (1.0 - ratio)))


def softmax_cross_entropy_grad(e, s, t, coef, smoothing: float):
    return _kernel("softmax_cross_entropy_grad")(e, s, t, coef, e.dtype.type(smoothing), e.shape[1])


def adam_update(p, g, m, v, beta1, beta2, step, eps, decay) -> None:
    t = p.dtype.type
    _kernel("adam_update")(g, t(beta1), t(beta2), t(step), t(eps), t(decay), p, m, v)


def counter_uniform(xp, key: int, offset: int, shape: tuple, dtype):
    """Uniform numbers in [0, 1): element ``n`` (C order) is a hash of ``key`` and ``offset + n``."""
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"uniform draws are float32 or float64, got {dtype}")
    if use(xp):
        return _kernel("counter_uniform")(numpy.uint64(key), numpy.uint64(offset), xp.empty(shape, dtype))
    n = numpy.uint64(offset) + numpy.arange(math.prod(shape), dtype=numpy.uint64)
    z = numpy.uint64(key) + n * numpy.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> numpy.uint64(30))) * numpy.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> numpy.uint64(27))) * numpy.uint64(0x94D049BB133111EB)
    z ^= z >> numpy.uint64(31)
    bits = 24 if dtype == numpy.float32 else 53
    return ((z >> numpy.uint64(64 - bits)).astype(dtype) * dtype.type(2.0**-bits)).reshape(shape)
