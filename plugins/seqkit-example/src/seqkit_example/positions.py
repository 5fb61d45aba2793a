"""ALiBi (Press et al., 2022, "Train Short, Test Long: Attention with Linear Biases"): no position embedding; each
self-attention head ``h`` adds ``-m_h * |i - j|`` to the score of query position ``i`` against key position ``j``.

On causal self-attention (the decoder, the language model) every key a query sees has ``j <= i``, so the bias is
the paper's ``-m_h * (i - j)``; on the encoder's bidirectional self-attention the distance is symmetric,
``-m_h * |i - j|``, as the common encoder-decoder adaptations do. Cross-attention gets no bias.

The slopes are the paper's geometric sequence: for ``n`` heads, a power of two, ``m_h = 2^(-8 h / n)``,
``h = 1 .. n``; otherwise the ``k`` slopes of the largest power of two ``k < n``, then every other slope of
``2k`` heads for the rest.
"""

from __future__ import annotations

import numpy
from seqkit.backend import get_array_module
from seqkit.layers import PositionEncoding


def alibi_slopes(heads: int) -> numpy.ndarray:
    """The ``heads`` slopes ``m_h`` of the paper (float64 NumPy)."""

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (h + 1) for h in range(n)]

    if heads < 1:
        raise ValueError(f"alibi: heads must be >= 1, got {heads}")
    k = 2 ** (heads.bit_length() - 1)
    slopes = power_of_two(k)
    if k < heads:
        slopes += power_of_two(2 * k)[0::2][: heads - k]
    return numpy.asarray(slopes, dtype=numpy.float64)


class ALiBi(PositionEncoding):
    """Attention with linear biases: ``embed`` leaves the embeddings as they are; ``attention_bias`` is
    ``-m_h * |i - j|``, ``(heads, Tq, Tk)``. No parameters, no length limit."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.slopes = alibi_slopes(heads)  # a NumPy constant, not a parameter

    @classmethod
    def from_sizes(cls, d_model: int, heads: int, max_positions: int) -> ALiBi:
        return cls(heads)

    def embed(self, x, offset: int = 0):
        return x

    def attention_bias(self, query_positions, key_positions):
        xp = get_array_module(query_positions)
        distance = xp.abs(query_positions[:, None] - key_positions[None, :]).astype(numpy.float64)  # (Tq, Tk)
        return -xp.asarray(self.slopes)[:, None, None] * distance[None]

    def extra_repr(self) -> str:
        return f"heads={self.heads}"
