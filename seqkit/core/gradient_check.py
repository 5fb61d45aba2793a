"""Compare analytic gradients with numerical ones (central differences along a random direction).

Run checks in float64: ``check_backward(F.tanh, x, gy)`` computes ``d/dt <f(x + t d), gy>`` at ``t = 0`` by
central differences for a random direction ``d`` over all differentiable inputs and compares it with
``<backprop(gy), d>``; it also checks that every gradient has its input's shape and dtype.
``check_double_backward`` applies the same check to the function ``(x, gy) -> grad``, built with
``create_graph=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from seqkit.backend import get_array_module
from seqkit.core.autograd import Variable
from seqkit.core.backward import grad


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _numeric_directional(f, xs, requires, directions, gys, eps) -> float:
    """Central difference of ``<f(x + t d), gy>`` at t = 0."""

    def value(t):
        shifted = [x if d is None else x + t * d for x, d in zip(xs, directions)]
        ys = _as_tuple(f(*[Variable(a, requires_grad=r) for a, r in zip(shifted, requires)]))
        return sum(float((y.data * gy).sum()) for y, gy in zip(ys, gys) if gy is not None)

    return (value(eps) - value(-eps)) / (2 * eps)


def check_backward(
    fn: Callable,
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-3,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    no_grads: Sequence[bool] | None = None,
    seed: int | None = 0,
) -> None:
    """Raise ``AssertionError`` when ``fn``'s analytic gradients disagree with numerical ones.

    ``inputs``: an array or a tuple of arrays (integer arrays are never differentiated). ``grad_outputs``:
    an array or tuple matching ``fn``'s outputs (``None`` entries skip an output; ``None`` alone means
    ones for a scalar output, random values otherwise). ``no_grads[i]`` excludes input ``i``.
    """
    xs = _as_tuple(inputs)
    xp = get_array_module(*xs)
    rng = numpy.random.default_rng(seed)
    if no_grads is None:
        no_grads = [x.dtype.kind != "f" for x in xs]
    variables = [Variable(x, requires_grad=not ng) for x, ng in zip(xs, no_grads)]
    ys = _as_tuple(fn(*variables))
    if grad_outputs is None:
        gys = [xp.asarray(rng.standard_normal(y.shape)).astype(y.dtype) for y in ys]
    else:
        gys = list(_as_tuple(grad_outputs))
    if len(gys) != len(ys):
        raise ValueError(f"{len(gys)} grad_outputs given for {len(ys)} outputs")
    used = [(y, gy) for y, gy in zip(ys, gys) if gy is not None]
    targets = [v for v in variables if v.requires_grad]
    if not targets:
        raise ValueError("check_backward: no input to differentiate")
    gxs = grad([y for y, _ in used], targets, [gy for _, gy in used])

    directions = []
    for v in variables:
        d = None
        if v.requires_grad:
            d = xp.asarray(rng.standard_normal(v.shape)).astype(v.dtype)
        directions.append(d)
    analytic = 0.0
    for v, g, d in zip(targets, gxs, [d for d in directions if d is not None]):
        if g is None:
            continue
        if g.shape != v.shape or g.dtype != v.dtype:
            raise AssertionError(
                f"gradient has shape {g.shape} {g.dtype} but its input has shape {v.shape} {v.dtype}"
            )
        analytic += float((g.data * d).sum())
    numeric = _numeric_directional(fn, xs, [not ng for ng in no_grads], directions, gys, eps)
    if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
        raise AssertionError(
            f"gradient check failed: analytic {analytic!r} vs numerical {numeric!r} "
            f"(directional derivative; atol={atol}, rtol={rtol})"
        )


def check_double_backward(
    fn: Callable,
    inputs: Any,
    grad_outputs: Any,
    grad_grad_inputs: Any,
    *,
    eps: float = 1e-3,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    no_grads: Sequence[bool] | None = None,
    seed: int | None = 0,
) -> None:
    """Check the gradient of ``fn``'s gradient: ``check_backward`` on ``(x..., gy...) -> (gx...)``."""
    xs = _as_tuple(inputs)
    gys = _as_tuple(grad_outputs)
    n = len(xs)
    if no_grads is None:
        no_grads = [x.dtype.kind != "f" for x in xs]
    diff = [i for i in range(n) if not no_grads[i]]

    def first_order(*args):
        inner, gy_vars = args[:n], args[n:]
        ys = _as_tuple(fn(*inner))
        pairs = [(y, g) for y, g in zip(ys, gy_vars) if g is not None]
        gx = grad([y for y, _ in pairs], [inner[i] for i in diff], [g for _, g in pairs], create_graph=True)
        return tuple(g if g is not None else inner[i] * 0 for g, i in zip(gx, diff))

    check_backward(
        first_order,
        xs + gys,
        grad_grad_inputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        no_grads=list(no_grads) + [False] * len(gys),
        seed=seed,
    )
