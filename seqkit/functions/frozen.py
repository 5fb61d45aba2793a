"""Weights in the layouts a decoder step reads fastest, derived once while the weights cannot change.

A decoder step multiplies a few hundred rows by each weight. There OpenBLAS computes ``x @ W.T`` (the layout of
every ``(out, in)`` weight) 5-20% slower than the same product with ``W.T`` stored contiguously, and an LSTM
step's two products (input and recurrent weights) take 10-15% less time as one product of ``[x, h]`` with the
two weights side by side. Inside ``with frozen(params):`` ops may keep such layouts of those parameters' arrays
(built on first use, dropped when the block exits); outside it, and for any other array, they use the weights
as they are. The parameters must not change inside the block: decoding does not change them, and
``beam_search``, ``greedy_search`` and ``Run.translate`` run in one.

Only NumPy arrays get derived layouts: cuBLAS reads either layout at the same speed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator

import numpy

from seqkit.core.autograd import Variable


class _Local(threading.local):
    state = None  # (frozen arrays by id, derived layouts by key) inside a block, per thread


_local = _Local()


@contextlib.contextmanager
def frozen(params: Iterable[Variable]) -> Iterator[None]:
    """Declare the arrays of ``params`` (Parameters, e.g. ``model.params()``) unchanged until the block exits,
    so that ops may keep layouts derived from them. Blocks nest: an inner block shares what the outer ones
    derive, and drops on exit only what it derived from arrays that they had not frozen. Blocks that exit
    out of order (interleaved generators) drop every derived layout: none may outlive its block."""
    params = list(params)
    for p in params:
        if not isinstance(p, Variable):
            raise TypeError(f"frozen() takes Parameters (e.g. model.params()), got {type(p).__name__}")
    outer = _local.state
    arrays, cache = ({}, {}) if outer is None else outer
    mine = {id(p.data): p.data for p in params if type(p.data) is numpy.ndarray}
    added = {i: a for i, a in mine.items() if arrays.get(i) is not a}
    state = _local.state = ({**arrays, **added}, cache)
    try:
        yield
    finally:
        if _local.state is not state:
            cache.clear()
            _local.state = None
        else:
            _local.state = outer
            if outer is not None:
                for key in [k for k in cache if any(i in added for i in k[1:])]:
                    del cache[key]


def derived(kind: str, make: Callable[..., numpy.ndarray], *weights) -> numpy.ndarray | None:
    """The layout ``make(*weights)`` of the arrays ``weights``, kept under ``kind`` and built on first use; None
    unless every one of ``weights`` is frozen. Outside any block it returns at once: every ``linear`` asks."""
    state = _local.state
    if state is None:
        return None
    arrays, cache = state
    if any(arrays.get(id(w)) is not w for w in weights):
        return None
    key = (kind, *map(id, weights))
    if key not in cache:
        cache[key] = make(*weights)
    return cache[key]


def transposed(W):
    """``W.T``: a contiguous copy when ``W`` is frozen, the view otherwise."""
    T = derived("T", _transpose, W)
    return W.T if T is None else T


def stacked_transposed(A, B) -> numpy.ndarray | None:
    """``concatenate([A, B], axis=1).T``, contiguous, when both are frozen; None otherwise."""
    return derived("AB.T", _stack_transposed, A, B)


def _stack_transposed(A: numpy.ndarray, B: numpy.ndarray) -> numpy.ndarray:
    return _transpose(numpy.concatenate([A, B], axis=1))


def _transpose(W: numpy.ndarray) -> numpy.ndarray:
    # in blocks of 16 rows: about 3x the speed of numpy.ascontiguousarray(W.T) on a 16 MB weight
    out = numpy.empty(W.shape[::-1], dtype=W.dtype)
    for i in range(0, W.shape[0], 16):
        out[:, i : i + 16] = W[i : i + 16].T
    return out
