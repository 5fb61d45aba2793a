"""Transformer layers (Vaswani et al. 2017): self- and cross-attention with fused projections, and the
encoder and decoder layers built from them, pre-norm or post-norm.

- ``TransformerEncoderLayer(d_model, heads, ffn_size, ...)``, called as ``layer(x, padding_mask=None)`` on
  ``x`` ``(B, T, D)``; ``causal=True`` makes it a decoder-only (language model) layer, which also decodes one
  step at a time with ``layer.step(x_t, cache)``.
- ``TransformerDecoderLayer(d_model, heads, ffn_size, ...)``, called as ``layer(x, memory,
  memory_padding_mask=None)`` (causal self-attention, then attention over the memory) for training, and as
  ``layer.step(x_t, memory_keys_values, memory_padding_mask, cache)`` for one decoding step.

Padding masks are boolean ``(B, T)``, True at padding (as PyTorch's ``key_padding_mask``;
``~lengths_to_mask(lengths)`` builds one). Masked keys get exactly zero weight (``masked_softmax``).

Self-attention projects queries, keys and values with one GEMM (``W_qkv`` ``(3D, D)``, rows in q, k, v order,
as PyTorch's ``in_proj_weight``); cross-attention projects the memory's keys and values with one GEMM
(``W_kv`` ``(2D, D)``), once per source (``memory_keys_values``), and the queries with ``W_q``. Heads are one
batched product. A decoding step attends with one query per row against a per-row cache of keys and values
``(rows, heads, t, D / heads)``, to which the step appends its own: a step costs O(t), not a re-run of the
prefix. For cross-attention a step's rows come in ``group`` consecutive rows per source (a beam), reshaped to
attend to their source's keys together.

Parameter names, for copying weights from PyTorch's ``nn.TransformerEncoderLayer`` / ``DecoderLayer``:
``self_attn.W_qkv``/``b_qkv`` (``in_proj_weight``/``bias``), ``self_attn.W_o``/``b_o`` (``out_proj``);
``cross_attn.W_q``/``b_q`` and ``W_kv``/``b_kv`` (rows ``[:D]`` and ``[D:]`` of ``multihead_attn``'s
``in_proj``), ``cross_attn.W_o``/``b_o``; ``linear1``, ``linear2`` (``W``, ``b``); ``norm1``, ``norm2``,
``norm3`` (``gamma``, ``beta``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import seqkit.functions as F
from seqkit import initializers
from seqkit.backend import get_array_module
from seqkit.core.autograd import Parameter, Variable
from seqkit.functions.attention import masked_softmax
from seqkit.layers.basic import LayerNorm, Linear
from seqkit.layers.layer import Layer
from seqkit.layers.positions import sinusoidal_positions

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def attention_keep_mask(padding_mask=None, causal_size: int | None = None, xp=numpy):
    """The boolean mask of the keys each query may attend to, True where allowed, broadcasting to scores
    ``(B, heads, Tq, Tk)``: ``~padding_mask`` ``(B, 1, 1, Tk)`` and/or the lower triangle ``(1, 1, T, T)``
    (``causal_size = T``). None when neither is given."""
    keep = None
    if padding_mask is not None:
        if isinstance(padding_mask, Variable):
            padding_mask = padding_mask.data
        padding_mask = xp.asarray(padding_mask)
        if padding_mask.ndim != 2:
            raise ValueError(f"padding_mask must be (B, T), True at padding; got shape {tuple(padding_mask.shape)}")
        keep = ~padding_mask.astype(bool)[:, None, None, :]
    if causal_size is not None:
        tri = xp.tri(causal_size, dtype=bool)[None, None]
        keep = tri if keep is None else keep & tri
    return keep


def _weight(shape: tuple[int, int], fan_in: int, fan_out: int, dtype) -> Parameter:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return Parameter(initializers.create(initializers.uniform(limit), shape, dtype))


def _zeros(size: int, dtype) -> Parameter:
    return Parameter(initializers.create(0.0, size, dtype))


def _attend(q, k, v, keep, dropout: float, bias=None):
    """Heads ``q`` ``(B, H, Tq, dh)`` (already scaled), ``k``, ``v`` ``(B, H, Tk, dh)`` -> the weighted values
    ``(B, H, Tq, dh)`` and the weights ``(B, H, Tq, Tk)``. ``bias`` (None, or broadcasting to the scores, e.g.
    ``(H, Tq, Tk)``) is added to the scores before the masked softmax."""
    scores = F.matmul(q, k, transb=True)
    weights = masked_softmax(scores if bias is None else scores + bias, keep)
    heads = F.matmul(F.dropout(weights, dropout) if dropout else weights, v)
    return heads, weights


def _merge(heads, d_model: int):
    """``(B, H, T, dh)`` -> ``(B, T, H * dh)``."""
    B, _, T, _ = heads.shape
    return F.reshape(F.transpose(heads, (0, 2, 1, 3)), (B, T, d_model))


class _Heads(Layer):
    """What both attentions share: sizes, the output projection, the split into heads."""

    def __init__(self, d_model: int, heads: int, dropout: float, dtype) -> None:
        super().__init__()
        if heads < 1 or d_model % heads:
            raise ValueError(f"{type(self).__name__}: d_model={d_model} must be a multiple of heads={heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout}")
        self.d_model, self.heads, self.dropout = d_model, heads, dropout
        self.head_size = d_model // heads
        self.scale = 1.0 / math.sqrt(self.head_size)

    def _split(self, projected, parts: int) -> list[Variable]:
        """``(B, T, parts * D)`` from one GEMM -> ``parts`` arrays ``(B, H, T, dh)``."""
        B, T, _ = projected.shape
        H, dh = self.heads, self.head_size
        stacked = F.transpose(F.reshape(projected, (B, T, parts, H, dh)), (2, 0, 3, 1, 4))  # (parts, B, H, T, dh)
        if parts == 1:
            return [F.reshape(stacked, (B, H, T, dh))]
        return [F.reshape(p, (B, H, T, dh)) for p in F.split_axis(stacked, parts, axis=0)]

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, heads={self.heads}, dropout={self.dropout}"


class SelfAttention(_Heads):
    """Multi-head self-attention with one ``(3D, D)`` projection for queries, keys and values.

    ``attn(x, keep=None)``: ``x`` ``(B, T, D)``, ``keep`` a boolean mask broadcasting to ``(B, H, T, T)``, True
    where a query may attend (``attention_keep_mask``) -> ``(B, T, D)``. ``attn.step(x_t, cache)``: ``x_t``
    ``(R, D)``, ``cache`` ``(keys, values)`` ``(R, H, t, dh)`` of the earlier positions -> ``(R, D)`` and the
    cache with this position appended; the query attends to every cached position and itself. Both take an
    optional ``bias`` added to the scaled scores before the softmax: ``(H, T, T)`` for the call, ``(H, 1, t + 1)``
    for a step (a position scheme's ``attention_bias``).
    """

    transposed_weights = ("W_qkv", "W_o")

    def __init__(self, d_model: int, heads: int, *, dropout: float = 0.0, dtype: Any = None) -> None:
        super().__init__(d_model, heads, dropout, dtype)
        D = d_model
        self.W_qkv = _weight((3 * D, D), D, D, dtype)
        self.b_qkv = _zeros(3 * D, dtype)
        self.W_o = _weight((D, D), D, D, dtype)
        self.b_o = _zeros(D, dtype)

    def __call__(self, x, keep=None, bias=None) -> Variable:
        q, k, v = self._split(F.linear(x, self.W_qkv, self.b_qkv), 3)
        heads, _ = _attend(q * self.scale, k, v, keep, self.dropout, bias)
        return F.linear(_merge(heads, self.d_model), self.W_o, self.b_o)

    def step(self, x, cache, bias=None) -> tuple[Variable, tuple[Variable, Variable]]:
        R = x.shape[0]
        q, k, v = self._split(F.reshape(F.linear(x, self.W_qkv, self.b_qkv), (R, 1, -1)), 3)  # (R, H, 1, dh)
        k = F.concat([cache[0], k], axis=2)
        v = F.concat([cache[1], v], axis=2)
        heads, _ = _attend(q * self.scale, k, v, None, self.dropout, bias)
        return F.linear(F.reshape(heads, (R, self.d_model)), self.W_o, self.b_o), (k, v)

    def empty_cache(self, rows: int, xp=numpy, dtype=None) -> tuple[Any, Any]:
        """The cache before the first step: ``(keys, values)`` with no positions, ``(rows, H, 0, dh)``."""
        empty = xp.zeros((rows, self.heads, 0, self.head_size), dtype=dtype or self.W_o.dtype)
        return empty, empty


class CrossAttention(_Heads):
    """Multi-head attention of queries over a memory: ``W_q`` ``(D, D)`` for the queries, one ``(2D, D)``
    projection ``W_kv`` for the memory's keys and values.

    ``attn.memory_keys_values(memory)``: ``(B, S, D)`` -> ``(keys, values)`` ``(B, H, S, dh)``, once per memory.
    ``attn(x, keys_values, keep=None)``: ``x`` ``(n, T, D)`` with ``n`` the memories' batch, or ``(n * g, D)``
    for one step of ``g`` consecutive rows per memory; ``keep`` broadcasts to ``(n, H, T, S)`` (a padding mask's
    ``attention_keep_mask``). Returns the output (shaped as ``x``) and the weights per head ``(n, H, T, S)``
    (``(n * g, H, S)`` for a step).
    """

    transposed_weights = ("W_q", "W_kv", "W_o")

    def __init__(self, d_model: int, heads: int, *, dropout: float = 0.0, dtype: Any = None) -> None:
        super().__init__(d_model, heads, dropout, dtype)
        D = d_model
        self.W_q = _weight((D, D), D, D, dtype)
        self.b_q = _zeros(D, dtype)
        self.W_kv = _weight((2 * D, D), D, D, dtype)
        self.b_kv = _zeros(2 * D, dtype)
        self.W_o = _weight((D, D), D, D, dtype)
        self.b_o = _zeros(D, dtype)

    def memory_keys_values(self, memory) -> tuple[Variable, Variable]:
        k, v = self._split(F.linear(memory, self.W_kv, self.b_kv), 2)
        return k, v

    def __call__(self, x, keys_values, keep=None) -> tuple[Variable, Variable]:
        k, v = keys_values
        one_step = x.ndim == 2
        if one_step:  # (n * g, D) -> (n, g, D): a memory's rows attend together
            x = F.reshape(x, (k.shape[0], -1, self.d_model))
        (q,) = self._split(F.linear(x, self.W_q, self.b_q), 1)
        heads, weights = _attend(q * self.scale, k, v, keep, self.dropout)
        out = F.linear(_merge(heads, self.d_model), self.W_o, self.b_o)
        if one_step:
            n, H, g, S = weights.shape
            out = F.reshape(out, (n * g, self.d_model))
            weights = F.reshape(F.transpose(weights, (0, 2, 1, 3)), (n * g, H, S))
        return out, weights


class _TransformerLayer(Layer):
    """Options and the feed-forward block shared by the encoder and decoder layers."""

    def __init__(self, d_model: int, heads: int, ffn_size: int, dropout: float, attention_dropout: float,
                 activation_dropout: float, activation: str, norm_first: bool, eps: float, dtype) -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        if activation not in ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        for what, ratio in (("dropout", dropout), ("activation_dropout", activation_dropout)):
            if not 0.0 <= ratio < 1.0:
                raise ValueError(f"{name}: {what} must be in [0, 1), got {ratio}")
        self.d_model, self.heads, self.ffn_size = d_model, heads, ffn_size
        self.dropout, self.activation_dropout = dropout, activation_dropout
        self.activation, self.norm_first, self.eps = activation, norm_first, eps
        self._act = ACTIVATIONS[activation]
        self.self_attn = SelfAttention(d_model, heads, dropout=attention_dropout, dtype=dtype)

    def _ffn_layers(self, dtype) -> None:
        self.linear1 = Linear(self.d_model, self.ffn_size, dtype=dtype)
        self.linear2 = Linear(self.ffn_size, self.d_model, dtype=dtype)

    def _ff(self, x):
        h = F.dropout(self._act(self.linear1(x)), self.activation_dropout)
        return F.dropout(self.linear2(h), self.dropout)

    def _residual(self, x, norm: LayerNorm, block):
        """``x + block(norm(x))`` (pre-norm) or ``norm(x + block(x))`` (post-norm); ``block`` applies dropout."""
        if self.norm_first:
            return x + block(norm(x))
        return norm(x + block(x))

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, heads={self.heads}, ffn_size={self.ffn_size}, dropout={self.dropout}, "
                f"activation={self.activation!r}, norm_first={self.norm_first}")  # fmt: skip


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward block, each with a residual connection and layer normalisation:
    ``x + sa(norm1(x))``, ``x + ff(norm2(x))`` with ``norm_first`` (pre-norm), ``norm1(x + sa(x))``,
    ``norm2(x + ff(x))`` without; ``ff(x) = linear2(activation(linear1(x)))``.

    ``dropout`` applies to each block's output (before the residual sum), ``attention_dropout`` to the attention
    weights, ``activation_dropout`` to the feed-forward block's hidden activations. ``layer(x, padding_mask=None,
    *, causal=False)``: ``x`` ``(B, T, D)``, ``padding_mask`` ``(B, T)`` True at padding -> ``(B, T, D)``;
    ``causal`` lets each position attend only to itself and earlier ones. ``layer.step(x_t, cache)`` is one
    causal step (``x_t`` ``(R, D)``, ``cache`` as ``SelfAttention.step``'s, ``self_attn.empty_cache(R)`` at
    first) -> ``(R, D)`` and the new cache. Both take ``bias=``, the self-attention's (``SelfAttention``).
    """

    def __init__(
        self, d_model: int, heads: int, ffn_size: int, *, dropout: float = 0.1, attention_dropout: float = 0.0,
        activation_dropout: float = 0.0, activation: str = "relu", norm_first: bool = True, eps: float = 1e-5,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(d_model, heads, ffn_size, dropout, attention_dropout, activation_dropout, activation,
                         norm_first, eps, dtype)  # fmt: skip
        self._ffn_layers(dtype)
        self.norm1 = LayerNorm(d_model, eps, dtype)
        self.norm2 = LayerNorm(d_model, eps, dtype)

    def __call__(self, x, padding_mask=None, *, causal: bool = False, bias=None) -> Variable:
        keep = attention_keep_mask(padding_mask, x.shape[1] if causal else None, get_array_module(x))
        x = self._residual(x, self.norm1, lambda h: F.dropout(self.self_attn(h, keep, bias), self.dropout))
        return self._residual(x, self.norm2, self._ff)

    def step(self, x, cache, *, bias=None) -> tuple[Variable, tuple[Variable, Variable]]:
        new_cache = []

        def sa(h):
            out, kv = self.self_attn.step(h, cache, bias)
            new_cache.append(kv)
            return F.dropout(out, self.dropout)

        x = self._residual(x, self.norm1, sa)
        return self._residual(x, self.norm2, self._ff), new_cache[0]


class TransformerDecoderLayer(_TransformerLayer):
    """Causal self-attention, attention over the encoder's memory, and a feed-forward block, each with a
    residual connection and layer normalisation (``norm1``, ``norm2``, ``norm3``; pre-norm with ``norm_first``,
    as ``TransformerEncoderLayer``). The same options as ``TransformerEncoderLayer``.

    ``layer(x, memory, memory_padding_mask=None)``: ``x`` ``(B, T, D)``, ``memory`` ``(B, S, D)``,
    ``memory_padding_mask`` ``(B, S)`` True at padding -> ``(B, T, D)``. For decoding,
    ``layer.memory_keys_values(memory)`` once per source, then per step ``layer.step(x_t, memory_keys_values,
    memory_padding_mask, cache)`` -> ``(y_t, cache)`` (``need_weights=True``: ``(y_t, cache, weights)``, the
    cross-attention weights averaged over heads ``(R, S)``, or per head ``(R, heads, S)`` with
    ``average_heads=False``); ``x_t`` ``(R, D)`` with ``R`` a multiple of the
    sources, ``group = R / sources`` consecutive rows per source; ``cache`` from ``self_attn.empty_cache(R)``.
    Both take ``bias=`` for the causal self-attention (``SelfAttention``); the cross-attention has none.
    """

    def __init__(
        self, d_model: int, heads: int, ffn_size: int, *, dropout: float = 0.1, attention_dropout: float = 0.0,
        activation_dropout: float = 0.0, activation: str = "relu", norm_first: bool = True, eps: float = 1e-5,
        dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(d_model, heads, ffn_size, dropout, attention_dropout, activation_dropout, activation,
                         norm_first, eps, dtype)  # fmt: skip
        self.cross_attn = CrossAttention(d_model, heads, dropout=attention_dropout, dtype=dtype)
        self._ffn_layers(dtype)
        self.norm1 = LayerNorm(d_model, eps, dtype)
        self.norm2 = LayerNorm(d_model, eps, dtype)
        self.norm3 = LayerNorm(d_model, eps, dtype)

    def memory_keys_values(self, memory) -> tuple[Variable, Variable]:
        """The memory's keys and values for the cross-attention, ``(B, H, S, dh)`` each."""
        return self.cross_attn.memory_keys_values(memory)

    def __call__(self, x, memory, memory_padding_mask=None, *, bias=None) -> Variable:
        xp = get_array_module(x)
        causal = attention_keep_mask(None, x.shape[1], xp)
        keep = attention_keep_mask(memory_padding_mask, None, xp)
        kv = self.memory_keys_values(memory)
        x = self._residual(x, self.norm1, lambda h: F.dropout(self.self_attn(h, causal, bias), self.dropout))
        x = self._residual(x, self.norm2, lambda h: F.dropout(self.cross_attn(h, kv, keep)[0], self.dropout))
        return self._residual(x, self.norm3, self._ff)

    def step(self, x, memory_keys_values, memory_padding_mask, cache, *, need_weights: bool = False,
             average_heads: bool = True, bias=None):  # fmt: skip
        xp = get_array_module(x)
        keep = attention_keep_mask(memory_padding_mask, None, xp)
        found = {}

        def sa(h):
            out, found["cache"] = self.self_attn.step(h, cache, bias)
            return F.dropout(out, self.dropout)

        def ca(h):
            out, found["weights"] = self.cross_attn(h, memory_keys_values, keep)
            return F.dropout(out, self.dropout)

        x = self._residual(x, self.norm1, sa)
        x = self._residual(x, self.norm2, ca)
        y = self._residual(x, self.norm3, self._ff)
        if need_weights:
            weights = found["weights"]  # (R, heads, S)
            return y, found["cache"], F.mean(weights, axis=1) if average_heads else weights
        return y, found["cache"]


__all__ = [
    "ACTIVATIONS", "CrossAttention", "SelfAttention", "TransformerDecoderLayer", "TransformerEncoderLayer",
    "attention_keep_mask", "sinusoidal_positions",
]  # fmt: skip
