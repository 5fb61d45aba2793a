"""Attention over variable-length memories (encoder states), for encoder-decoder models.

``AttentionLayer`` is the base of every attention a model builds by name: it declares how a model constructs
one (``from_sizes``), the size of the context it returns (``context_size``), the call, and the optional
precomputation of what derives from the memory alone (``precompute``).

Every layer is called as ``attn(query, memory, mask=None)`` and returns ``(context, weights)``:

- ``query``: ``(B, Dq)`` for one decoder step, or ``(B, Tq, Dq)`` for many steps at once.
- ``memory``: ``(B, Tk, Dk)``, the keys and the values (``MultiHeadAttention`` also takes ``value=``).
- ``mask``: boolean ``(B, Tk)``, True at real positions and False at padding (``lengths_to_mask`` builds it);
  with a 3-D query also ``(B, Tq, Tk)``, one row per query (e.g. a causal mask). ``None``: all real.
- ``context``: ``(B, Dk)`` or ``(B, Tq, Dk)`` (``MultiHeadAttention``: ``d_model`` features);
  ``weights``: ``(B, Tk)`` or ``(B, Tq, Tk)`` (``MultiHeadAttention``: per head, ``(B, H, Tk)`` or
  ``(B, H, Tq, Tk)``).

Masked positions get exactly 0.0 weight, however large their scores, and rows with at least one real position
sum to 1; a row with no real position gets all-zero weights and a zero weighted sum (for
``MultiHeadAttention``, the output projection of zero: ``b_o``). Padding in ``memory`` must still be finite
(``0 * inf`` is NaN).

Scores for all queries and all memory positions come from one batched matrix product (heads included), never
a loop over sentences or heads. For step-by-step decoding, ``precompute(memory)`` returns what the layer
derives from the memory alone (projected keys, and values for multi-head); pass it as
``attn(query, memory, mask, precomputed=...)`` at every step so the projection runs once per memory.
A 3-D query computes it once per call anyway.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

import numpy

import seqkit.functions as F
from seqkit import initializers
from seqkit.backend import get_array_module
from seqkit.core.autograd import Parameter, Variable
from seqkit.functions.attention import masked_softmax
from seqkit.layers.layer import Layer


def lengths_to_mask(lengths: Sequence[int] | Any, max_len: int | None = None, xp=numpy):
    """The boolean ``(B, max_len)`` mask with ``mask[b, t] = t < lengths[b]`` (True = a real position).

    ``max_len`` defaults to the largest length. ``xp`` is the array module of the result (``numpy`` or
    ``cupy``). Raises ``ValueError`` for a negative length or one above ``max_len``.
    """
    lengths = numpy.asarray(lengths.get() if hasattr(lengths, "get") else lengths).reshape(-1)
    if max_len is None:
        max_len = int(lengths.max()) if lengths.size else 0
    if lengths.size and (lengths.min() < 0 or lengths.max() > max_len):
        raise ValueError(f"lengths_to_mask: lengths must lie in [0, {max_len}], got {lengths.tolist()}")
    mask = numpy.arange(max_len)[None, :] < lengths[:, None]
    return mask if xp is numpy else xp.asarray(mask)


def _glorot(shape: tuple[int, ...], fan_in: int, fan_out: int, dtype) -> Parameter:
    """Glorot uniform with explicit fans (the score vector ``v`` has no ``(out, in)`` shape to read them from)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return Parameter(initializers.create(initializers.uniform(limit), shape, dtype))


def _zeros(shape: tuple[int, ...], dtype) -> Parameter:
    return Parameter(initializers.create(0.0, shape, dtype))


class AttentionLayer(Layer, metaclass=abc.ABCMeta):
    """The base of an attention layer that models build by name (a recipe's ``model.attention``).

    A model builds it with ``cls.from_sizes(query_size, memory_size, heads)``, sizes what follows it from
    ``context_size(memory_size)``, calls ``precompute(memory)`` once per memory and then
    ``layer(query, memory, mask, precomputed=...)`` for the teacher-forced decoder and at every decoding step.
    """

    @classmethod
    def from_sizes(cls, query_size: int, memory_size: int, heads: int) -> AttentionLayer:
        """A layer for queries of ``query_size`` and memories of ``memory_size`` features; ``heads``: the number
        of heads the recipe asks for (``model.attention_heads``), which a single-head layer ignores.
        By default ``cls(query_size, memory_size)``."""
        return cls(query_size, memory_size)

    def context_size(self, memory_size: int) -> int:
        """The features of the context the call returns for a memory of ``memory_size`` features. By default
        ``memory_size``: the context is a weighted sum of the memory."""
        return memory_size

    @abc.abstractmethod
    def __call__(self, query, memory, mask=None, *, precomputed=None) -> tuple[Variable, Variable]:
        """``(context, weights)`` for ``query`` ``(B, Dq)`` or ``(B, Tq, Dq)`` over ``memory`` ``(B, Tk, Dk)``,
        ``mask`` ``(B, Tk)`` (True at real positions) or None; ``precomputed``: what ``precompute(memory)``
        returned, or None to derive it here. See the module docstring for the shapes."""

    def precompute(self, memory) -> Any:
        """What the layer derives from ``memory`` alone, passed back as ``precomputed=`` at every decoder step so
        that it runs once per memory. By default None: nothing is precomputed."""
        return None


class _Attention(AttentionLayer):
    """Shape checks, masking and the weighted sum shared by the single-head layers.

    A subclass sets ``query_size`` / ``memory_size`` (``None``: any size, as long as the two agree when
    ``same_size``) and implements ``_keys(memory)`` (what ``precompute`` returns) and ``_scores(q, keys)``
    (``(B, Tq, Dq)`` queries against keys -> ``(B, Tq, Tk)`` scores).
    """

    query_size: int | None = None
    memory_size: int | None = None
    same_size = False  # dot products need Dq == Dk

    def __call__(self, query, memory, mask=None, *, precomputed=None) -> tuple[Variable, Variable]:
        """``(context, weights)`` for ``query`` ``(B, Dq)`` / ``(B, Tq, Dq)`` over ``memory`` ``(B, Tk, Dk)``.

        See the module docstring for the shapes. Raises ``ValueError`` naming the layer and the shapes for a
        mask of the wrong shape or mismatched batch or feature sizes.
        """
        one_step, q, mask = _check(self, query, memory, mask)
        keys = self._keys(memory) if precomputed is None else self._check_precomputed(precomputed, memory)
        weights = masked_softmax(self._scores(q, keys), mask)  # (B, Tq, Tk)
        context = F.matmul(weights, memory)  # (B, Tq, Dk): one batched GEMM
        if one_step:
            context = F.reshape(context, (context.shape[0], context.shape[2]))
            weights = F.reshape(weights, (weights.shape[0], weights.shape[2]))
        return context, weights

    def precompute(self, memory) -> Variable:
        """What the layer derives from ``memory`` alone, to pass as ``precomputed=`` at every decoder step."""
        _check(self, None, memory, None)
        return self._keys(memory)

    def _keys(self, memory):
        return memory

    def _scores(self, q, keys):
        raise NotImplementedError

    def _check_precomputed(self, keys, memory):
        expected = self.precomputed_shape(memory.shape)
        if tuple(keys.shape) != expected:
            raise ValueError(
                f"{type(self).__name__}: precomputed keys of shape {tuple(keys.shape)} do not match memory "
                f"{tuple(memory.shape)}; expected {expected} (from precompute(memory))"
            )
        return keys

    def precomputed_shape(self, memory_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(memory_shape)


class AdditiveAttention(_Attention):
    """Bahdanau (additive, "concat") attention: ``score(q, k) = v . tanh(W_q q + W_k k + b)``.

    ``AdditiveAttention(query_size, memory_size, attn_size=None, dtype=None)``; ``attn_size`` (the size of
    the hidden layer, ``Da``) defaults to ``memory_size``. Parameters: ``W_q`` ``(Da, Dq)``, ``W_k``
    ``(Da, Dk)``, ``b`` ``(Da,)``, ``v`` ``(Da,)``. ``precompute(memory)`` returns ``W_k k + b``
    ``(B, Tk, Da)``; a call then costs ``W_q q`` plus ``B * Tq * Tk * Da`` tanh's.
    """

    transposed_weights = ("W_q", "W_k")

    def __init__(self, query_size: int, memory_size: int, attn_size: int | None = None, dtype=None) -> None:
        super().__init__()
        attn_size = memory_size if attn_size is None else attn_size
        self.query_size, self.memory_size, self.attn_size = query_size, memory_size, attn_size
        self.W_q = _glorot((attn_size, query_size), query_size, attn_size, dtype)
        self.W_k = _glorot((attn_size, memory_size), memory_size, attn_size, dtype)
        self.b = _zeros((attn_size,), dtype)
        self.v = _glorot((attn_size,), attn_size, 1, dtype)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, memory_size={self.memory_size}, attn_size={self.attn_size}"

    def precomputed_shape(self, memory_shape):
        return (memory_shape[0], memory_shape[1], self.attn_size)

    def _keys(self, memory):
        return F.linear(memory, self.W_k, self.b)  # (B, Tk, Da)

    def _scores(self, q, keys):
        B, Tq, _ = q.shape
        Tk, Da = keys.shape[1], self.attn_size
        pq = F.reshape(F.linear(q, self.W_q), (B, Tq, 1, Da))
        h = F.tanh(pq + F.reshape(keys, (B, 1, Tk, Da)))  # (B, Tq, Tk, Da)
        return F.reshape(F.linear(h, F.reshape(self.v, (1, Da))), (B, Tq, Tk))


class _DotProduct(_Attention):
    """A score from the dot product of query and key: ``Dq == Dk``, any size, no parameters."""

    same_size = True

    @classmethod
    def from_sizes(cls, query_size: int, memory_size: int, heads: int) -> _DotProduct:
        return cls()


class DotAttention(_DotProduct):
    """Luong dot attention: ``score(q, k) = q . k`` (``Dq == Dk``, any size). No parameters."""

    def _scores(self, q, keys):
        return F.matmul(q, keys, transb=True)


class ScaledDotProductAttention(_DotProduct):
    """``score(q, k) = q . k / sqrt(d)`` with ``d = Dq = Dk`` (as in the Transformer). No parameters."""

    def _scores(self, q, keys):
        return F.matmul(q * (1.0 / math.sqrt(q.shape[-1])), keys, transb=True)


class GeneralAttention(_Attention):
    """Luong general attention: ``score(q, k) = q^T W_a k`` with ``W_a`` ``(Dq, Dk)``, no bias.

    ``GeneralAttention(query_size, memory_size, dtype=None)``. ``precompute(memory)`` returns ``k W_a^T``
    ``(B, Tk, Dq)``, so each step is then one batched dot product.
    """

    transposed_weights = ("W_a",)

    def __init__(self, query_size: int, memory_size: int, dtype=None) -> None:
        super().__init__()
        self.query_size, self.memory_size = query_size, memory_size
        self.W_a = _glorot((query_size, memory_size), memory_size, query_size, dtype)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, memory_size={self.memory_size}"

    def precomputed_shape(self, memory_shape):
        return (memory_shape[0], memory_shape[1], self.query_size)

    def _keys(self, memory):
        return F.linear(memory, self.W_a)  # (B, Tk, Dq): W_a k for every position

    def _scores(self, q, keys):
        return F.matmul(q, keys, transb=True)


class MultiHeadAttention(AttentionLayer):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017), all heads in one batched product.

    ``MultiHeadAttention(d_model, n_heads, *, query_size=None, memory_size=None, value_size=None, dtype=None)``:
    the query and memory (key) feature sizes default to ``d_model``, which ``n_heads`` must divide, and the
    value size to ``memory_size`` (values are the memory unless ``value=`` is given).
    Parameters ``W_q`` ``(d_model, Dq)``, ``W_k`` ``(d_model, Dk)``, ``W_v`` ``(d_model, Dv)``, ``W_o``
    ``(d_model, d_model)`` and biases ``b_q``, ``b_k``, ``b_v``, ``b_o`` ``(d_model,)``.

    ``attn(query, memory, mask=None, *, value=None, precomputed=None)``: keys come from ``memory``
    ``(B, Tk, Dk)``, values from ``value`` ``(B, Tk, Dv)`` (default: ``memory``). Returns ``context``
    ``(B, d_model)`` / ``(B, Tq, d_model)`` and the weights of every head, ``(B, H, Tk)`` / ``(B, H, Tq, Tk)``
    (not averaged, so that no information is lost: ``F.mean(weights, axis=1)`` averages them).
    ``precompute(memory, value=None)`` returns the projected keys and values ``((B, H, Tk, d_model / H),) * 2``.
    """

    transposed_weights = ("W_q", "W_k", "W_v", "W_o")

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        query_size: int | None = None,
        memory_size: int | None = None,
        value_size: int | None = None,
        dtype=None,
    ) -> None:
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(f"MultiHeadAttention: d_model={d_model} must be a multiple of n_heads={n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.query_size = d_model if query_size is None else query_size
        self.memory_size = d_model if memory_size is None else memory_size
        self.value_size = self.memory_size if value_size is None else value_size
        self.W_q = _glorot((d_model, self.query_size), self.query_size, d_model, dtype)
        self.b_q = _zeros((d_model,), dtype)
        self.W_k = _glorot((d_model, self.memory_size), self.memory_size, d_model, dtype)
        self.b_k = _zeros((d_model,), dtype)
        self.W_v = _glorot((d_model, self.value_size), self.value_size, d_model, dtype)
        self.b_v = _zeros((d_model,), dtype)
        self.W_o = _glorot((d_model, d_model), d_model, d_model, dtype)
        self.b_o = _zeros((d_model,), dtype)

    @classmethod
    def from_sizes(cls, query_size: int, memory_size: int, heads: int) -> MultiHeadAttention:
        """``d_model = query_size`` split into ``heads`` heads."""
        return cls(query_size, heads, query_size=query_size, memory_size=memory_size)

    def context_size(self, memory_size: int) -> int:
        return self.d_model

    def extra_repr(self) -> str:
        sizes = f"query_size={self.query_size}, memory_size={self.memory_size}, value_size={self.value_size}"
        return f"d_model={self.d_model}, n_heads={self.n_heads}, {sizes}"

    def __call__(self, query, memory, mask=None, *, value=None, precomputed=None) -> tuple[Variable, Variable]:
        """``(context, weights)``; see the class docstring for the shapes. Raises ``ValueError`` naming the
        layer and the shapes for a mask of the wrong shape or mismatched batch or feature sizes."""
        one_step, q, mask = _check(self, query, memory, mask)
        if precomputed is None:
            k, v = self.precompute(memory, value)
        else:
            k, v = self._check_precomputed(precomputed, memory)
        B, Tq, _ = q.shape
        H, dh = self.n_heads, self.d_model // self.n_heads
        q = self._heads(F.linear(q, self.W_q, self.b_q) * (1.0 / math.sqrt(dh)))  # (B, H, Tq, dh)
        if mask is not None:
            mask = mask[:, None]  # (B, 1, 1 or Tq, Tk): the same for every head
        weights = masked_softmax(F.matmul(q, k, transb=True), mask)  # (B, H, Tq, Tk)
        heads = F.matmul(weights, v)  # (B, H, Tq, dh)
        merged = F.reshape(F.transpose(heads, (0, 2, 1, 3)), (B, Tq, self.d_model))
        context = F.linear(merged, self.W_o, self.b_o)
        if one_step:
            context = F.reshape(context, (B, self.d_model))
            weights = F.reshape(weights, (B, H, weights.shape[-1]))
        return context, weights

    def precompute(self, memory, value=None) -> tuple[Variable, Variable]:
        """The keys and values split into heads, ``(B, H, Tk, d_model / H)`` each, for ``precomputed=``."""
        _check(self, None, memory, None)
        if value is None:
            value = memory
        elif tuple(value.shape) != (memory.shape[0], memory.shape[1], self.value_size):
            raise ValueError(
                f"MultiHeadAttention: value of shape {tuple(value.shape)} does not match memory "
                f"{tuple(memory.shape)}; expected ({memory.shape[0]}, {memory.shape[1]}, {self.value_size})"
            )
        return (
            self._heads(F.linear(memory, self.W_k, self.b_k)),
            self._heads(F.linear(value, self.W_v, self.b_v)),
        )

    def _heads(self, x):
        """``(B, T, d_model)`` -> ``(B, H, T, d_model / H)``."""
        B, T, _ = x.shape
        return F.transpose(F.reshape(x, (B, T, self.n_heads, self.d_model // self.n_heads)), (0, 2, 1, 3))

    def _check_precomputed(self, precomputed, memory):
        expected = (memory.shape[0], self.n_heads, memory.shape[1], self.d_model // self.n_heads)
        shapes = [tuple(p.shape) for p in precomputed] if isinstance(precomputed, (tuple, list)) else None
        if shapes is None or shapes != [expected, expected]:
            raise ValueError(
                f"MultiHeadAttention: precomputed {shapes or type(precomputed).__name__} does not match memory "
                f"{tuple(memory.shape)}; expected two arrays of shape {expected} (from precompute(memory))"
            )
        return precomputed


def _check(layer, query, memory, mask):
    """Validate the shapes; return ``(one_step, query as (B, Tq, Dq), mask as (B, 1 or Tq, Tk) or None)``.

    ``query=None`` checks ``memory`` alone.
    """
    name = type(layer).__name__
    q_shape = None if query is None else tuple(query.shape)
    m_shape = tuple(memory.shape)

    def fail(problem):
        shapes = f"memory {m_shape}" if q_shape is None else f"query {q_shape}, memory {m_shape}"
        if mask is not None:
            shapes += f", mask {tuple(mask.shape)}"
        raise ValueError(f"{name}: {problem} ({shapes})")

    if len(m_shape) != 3:
        fail("memory must be (B, Tk, Dk)")
    B, Tk, Dk = m_shape
    if Tk == 0:
        fail("memory has no positions")
    if layer.memory_size is not None and Dk != layer.memory_size:
        fail(f"memory has {Dk} features, the layer expects {layer.memory_size}")
    if query is None:
        return False, None, None
    if len(q_shape) not in (2, 3):
        fail("query must be (B, Dq) or (B, Tq, Dq)")
    if q_shape[0] != B:
        fail(f"query has batch size {q_shape[0]}, memory {B}")
    Dq = q_shape[-1]
    if layer.query_size is not None and Dq != layer.query_size:
        fail(f"query has {Dq} features, the layer expects {layer.query_size}")
    if getattr(layer, "same_size", False) and Dq != Dk:
        fail(f"query and memory must have the same number of features for a dot product, got {Dq} and {Dk}")
    one_step = len(q_shape) == 2
    Tq = 1 if one_step else q_shape[1]
    if mask is not None:
        if isinstance(mask, Variable):
            mask = mask.data
        xp = get_array_module(memory)
        mask = xp.asarray(mask)
        if tuple(mask.shape) == (B, Tk):
            mask = mask[:, None, :]
        elif one_step or tuple(mask.shape) != (B, Tq, Tk):
            allowed = f"({B}, {Tk})" if one_step else f"({B}, {Tk}) or ({B}, {Tq}, {Tk})"
            fail(f"mask must be (B, Tk) = {allowed}, True at real positions")
        if mask.dtype != bool:
            mask = mask != 0
    if one_step:
        query = F.reshape(query, (B, 1, Dq))
    return one_step, query, mask
