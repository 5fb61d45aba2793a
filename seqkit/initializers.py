"""Parameter initialisers: callables that fill an array in place, drawing from ``seqkit.random``.

An *initialiser* is any callable ``init(array) -> None`` that overwrites a floating-point NumPy or CuPy array
in place. The ones here draw their random numbers from ``seqkit.random.generator(xp)``, so
``seqkit.random.seed(n)`` makes them reproducible. ``zeros``, ``ones``, ``glorot_uniform`` and
``glorot_normal`` are initialisers themselves; ``constant``, ``uniform``, ``normal`` and ``orthogonal`` take
settings and return one. ``create(init, shape)`` allocates a new array and fills it::

    W = Parameter(initializers.create(initializers.orthogonal(blocks=4), (4 * H, H)))

Fans follow PyTorch: a weight of shape ``(out, in, *kernel)`` has ``fan_in = in * prod(kernel)`` and
``fan_out = out * prod(kernel)``; so a ``Linear`` weight ``(out, in)`` has ``fan_in = in``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy

from seqkit.backend import get_array_module
from seqkit.config import config
from seqkit.random import generator

Initializer = Callable[[Any], None]


def _draw(xp, kind: str, shape: tuple[int, ...], dtype) -> Any:
    """``kind`` is ``"uniform"`` (in [0, 1)) or ``"normal"`` (standard); float32/float64 are drawn directly,
    other float dtypes (float16) in float32 and cast."""
    dtype = numpy.dtype(dtype)
    draw_dtype = dtype if dtype in (numpy.float32, numpy.float64) else numpy.float32
    rng = generator(xp)
    values = rng.random(shape, dtype=draw_dtype) if kind == "uniform" else rng.standard_normal(shape, dtype=draw_dtype)
    return values.astype(dtype, copy=False)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``. Raises ``ValueError`` below 2-D."""
    if len(shape) < 2:
        raise ValueError(f"fan_in/fan_out need a weight of at least 2 dimensions (out, in), got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


# ---- constants --------------------------------------------------------------------------------------------
def constant(value: float) -> Initializer:
    """An initialiser that sets every element to ``value``."""

    def init(array) -> None:
        array.fill(value)

    init.__qualname__ = init.__name__ = f"constant({value!r})"
    return init


def zeros(array) -> None:
    """Set every element to 0."""
    array.fill(0)


def ones(array) -> None:
    """Set every element to 1."""
    array.fill(1)


# ---- random -----------------------------------------------------------------------------------------------
def uniform(scale: float = 0.05) -> Initializer:
    """An initialiser drawing from U(-scale, scale)."""

    def init(array) -> None:
        array[...] = (2 * _draw(get_array_module(array), "uniform", array.shape, array.dtype) - 1) * scale

    init.__qualname__ = init.__name__ = f"uniform({scale!r})"
    return init


def normal(std: float = 1.0, mean: float = 0.0) -> Initializer:
    """An initialiser drawing from N(mean, std²)."""

    def init(array) -> None:
        array[...] = _draw(get_array_module(array), "normal", array.shape, array.dtype) * std + mean

    init.__qualname__ = init.__name__ = f"normal({std!r})"
    return init


def glorot_uniform(array, gain: float = 1.0) -> None:
    """Glorot/Xavier uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (see ``fans``)."""
    fan_in, fan_out = fans(array.shape)
    uniform(gain * math.sqrt(6.0 / (fan_in + fan_out)))(array)


def glorot_normal(array, gain: float = 1.0) -> None:
    """Glorot/Xavier normal: N(0, s²) with ``s = gain * sqrt(2 / (fan_in + fan_out))`` (see ``fans``)."""
    fan_in, fan_out = fans(array.shape)
    normal(gain * math.sqrt(2.0 / (fan_in + fan_out)))(array)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal


def orthogonal(gain: float = 1.0, blocks: int = 1) -> Initializer:
    """An initialiser making a weight ``(rows, *rest)`` orthogonal, viewed as ``(rows, prod(rest))``.

    With ``blocks=k`` the rows are split into ``k`` equal blocks, each made orthogonal on its own: use it for a
    recurrent matrix ``(k*H, H)`` of ``k`` stacked gates (4 for an LSTM, 3 for a GRU), so that every gate's
    ``(H, H)`` block is orthogonal. Each block is the ``Q`` of a QR decomposition of a Gaussian matrix with
    signs fixed by ``R``'s diagonal (uniformly distributed over orthogonal matrices), times ``gain``; it has
    orthonormal rows when it is wide and orthonormal columns when it is tall. Raises ``ValueError`` for a
    1-D array or a row count not divisible by ``blocks``.
    """
    if blocks < 1:
        raise ValueError(f"orthogonal: blocks must be >= 1, got {blocks}")

    def init(array) -> None:
        if array.ndim < 2:
            raise ValueError(f"orthogonal initialisation needs at least 2 dimensions, got shape {array.shape}")
        if array.shape[0] % blocks:
            raise ValueError(f"orthogonal: {array.shape[0]} rows cannot be split into {blocks} equal blocks")
        xp = get_array_module(array)
        rows, cols = array.shape[0] // blocks, math.prod(array.shape[1:])
        out = xp.empty((blocks, rows, cols), dtype=numpy.float64)  # QR in float64 whatever the target dtype
        for k in range(blocks if rows * cols else 0):
            q, r = xp.linalg.qr(_draw(xp, "normal", (max(rows, cols), min(rows, cols)), numpy.float64))
            q *= xp.where(xp.diagonal(r) < 0, -1.0, 1.0)
            out[k] = q if rows >= cols else q.T
        array[...] = (out * gain).reshape(array.shape)

    init.__qualname__ = init.__name__ = f"orthogonal(gain={gain!r}, blocks={blocks})"
    return init


# ---- creating arrays --------------------------------------------------------------------------------------
def float_dtype(dtype: Any = None) -> numpy.dtype:
    """``dtype`` as a NumPy dtype, ``config.dtype`` when None. Raises ``TypeError`` unless it is floating-point."""
    dtype = numpy.dtype(config.dtype if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"parameters must have a floating-point dtype, got {dtype}")
    return dtype


def create(init: Initializer | float | Any, shape: tuple[int, ...] | int, dtype: Any = None, xp: Any = numpy) -> Any:
    """A new ``xp`` array of ``shape`` and ``dtype`` (default ``config.dtype``) filled by ``init``.

    ``init`` is an initialiser (a callable filling an array), a number (every element set to it), or an array
    (copied and cast; its shape must equal ``shape``). Raises ``TypeError`` for a non-floating ``dtype`` (see
    ``float_dtype``) and ``ValueError`` for an array of another shape.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    array = xp.empty(shape, dtype=float_dtype(dtype))
    if callable(init):
        init(array)
    elif isinstance(init, numbers.Real):
        array.fill(init)
    else:
        if tuple(getattr(init, "shape", ())) != shape:
            raise ValueError(f"initial value has shape {tuple(getattr(init, 'shape', ()))}, expected {shape}")
        array[...] = xp.asarray(init)
    return array


__all__ = [
    "Initializer", "constant", "create", "fans", "float_dtype", "glorot_normal", "glorot_uniform", "normal", "ones",
    "orthogonal", "uniform", "xavier_normal", "xavier_uniform", "zeros",
]  # fmt: skip
