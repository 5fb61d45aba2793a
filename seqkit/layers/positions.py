"""Position schemes of the Transformer: ``PositionEncoding``, the layer sub-kind a recipe's ``model.positions``
names, and seqkit's two, ``sinusoidal`` (fixed, Vaswani et al. 2017) and ``learned`` (a table of vectors).

A scheme tells the model where each token is in one or both of two ways: ``embed(x, offset)`` adds position
information to the (scaled) token embeddings, and ``attention_bias(query_positions, key_positions)`` returns an
additive bias per head that every self-attention adds to its scores before the softmax (ALiBi, relative biases).
The model calls both for whole sequences in training and for one position at a time when decoding with a cache.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy

from seqkit import initializers
from seqkit.backend import get_array_module, get_device
from seqkit.core.autograd import Parameter, Variable
from seqkit.errors import UserError
from seqkit.layers.layer import Layer


def sinusoidal_positions(length: int, d_model: int, dtype: Any = numpy.float64, start: int = 0) -> numpy.ndarray:
    """The sinusoidal position encodings of positions ``start .. start + length - 1``, ``(length, d_model)``
    NumPy: ``sin(p / 10000^(2i / d))`` in column ``2i`` and ``cos`` of the same in column ``2i + 1``."""
    pos = numpy.arange(start, start + length, dtype=numpy.float64)[:, None]
    rate = numpy.exp(numpy.arange(0, d_model, 2, dtype=numpy.float64) * (-math.log(10000.0) / d_model))
    out = numpy.empty((length, d_model))
    out[:, 0::2] = numpy.sin(pos * rate)
    out[:, 1::2] = numpy.cos(pos * rate[: d_model // 2])
    return out.astype(dtype)


class PositionEncoding(Layer, metaclass=abc.ABCMeta):
    """The base of a position scheme that the Transformer models build by name (a recipe's ``model.positions``).

    A model builds one per token stream with ``cls.from_sizes(d_model, heads, max_positions)`` (the encoder's and
    the decoder's are separate instances), then:

    - ``embed(x, offset)`` on the scaled token embeddings ``x`` ``(B, T, D)`` of positions ``offset ..
      offset + T - 1`` (``offset`` is 0 in training and the number of earlier positions at a decoding step, with
      ``T = 1``), before the embedding dropout;
    - ``attention_bias(query_positions, key_positions)`` once per forward pass (or decoding step) for all
      self-attention layers of that stream: integer arrays on the parameters' array module, ``arange(T)`` for both
      in training, ``[offset]`` and ``arange(offset + 1)`` at a decoding step. It returns None (no bias) or a bias
      ``(heads, Tq, Tk)`` (an array or a Variable) that the attention adds to its scaled scores before the masked
      softmax. Cross-attention gets none. Masked keys stay masked whatever the bias there.

    ``layer(x, offset=0)`` is ``embed(x, offset)``.
    """

    @classmethod
    def from_sizes(cls, d_model: int, heads: int, max_positions: int) -> PositionEncoding:
        """The scheme for a model of ``d_model`` features and ``heads`` attention heads whose sentences are at most
        ``max_positions`` long (``model.max_positions``; a scheme may ignore it). By default ``cls(d_model)``."""
        return cls(d_model)

    @abc.abstractmethod
    def embed(self, x, offset: int = 0) -> Variable:
        """``x`` ``(B, T, D)`` with the position information of positions ``offset .. offset + T - 1`` added
        (``x`` itself for a scheme that only biases the attention)."""

    def attention_bias(self, query_positions, key_positions) -> Any:
        """None (the default: no bias), or the additive bias ``(heads, Tq, Tk)`` of each query position against
        each key position (the models cast an array to the parameters' dtype)."""
        return None

    def __call__(self, x, offset: int = 0) -> Variable:
        return self.embed(x, offset)


class SinusoidalPositions(PositionEncoding):
    """Fixed sinusoidal encodings (``sinusoidal_positions``) added to the embeddings; no parameters, no length
    limit. The table lives on the embeddings' device, grown as needed and kept between calls."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.d_model = d_model
        object.__setattr__(self, "_tables", {})

    def _table(self, length: int, x):
        xp, dtype = get_array_module(x), x.dtype
        key = (xp.__name__, str(get_device(x)), numpy.dtype(dtype).str)
        table = self._tables.get(key)
        if table is None or len(table) < length:
            n = max(length, 2 * len(table) if table is not None else 0, 256)
            table = xp.asarray(sinusoidal_positions(n, self.d_model, dtype))
            self._tables[key] = table
        return table

    def embed(self, x, offset: int = 0) -> Variable:
        T = x.shape[1]
        return x + self._table(offset + T, x)[offset : offset + T]

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}"


class LearnedPositions(PositionEncoding):
    """A learned vector per position, ``W`` ``(max_positions, d_model)`` (initialised ``N(0, 1 / d_model)``, the
    scale of the scaled token embeddings), added to the embeddings; a longer sentence is a ``UserError``."""

    def __init__(self, d_model: int, max_positions: int = 1024, *, dtype: Any = None) -> None:
        super().__init__()
        self.d_model, self.max_positions = d_model, max_positions
        self.W = Parameter(initializers.create(initializers.normal(d_model**-0.5), (max_positions, d_model), dtype))

    @classmethod
    def from_sizes(cls, d_model: int, heads: int, max_positions: int) -> LearnedPositions:
        return cls(d_model, max_positions)

    def embed(self, x, offset: int = 0) -> Variable:
        T = x.shape[1]
        if offset + T > self.max_positions:
            raise UserError(f"a sentence needs {offset + T} positions, model.max_positions is {self.max_positions}")
        return x + self.W[offset : offset + T]

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_positions={self.max_positions}"


__all__ = ["LearnedPositions", "PositionEncoding", "SinusoidalPositions", "sinusoidal_positions"]
