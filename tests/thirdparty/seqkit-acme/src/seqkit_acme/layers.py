"""Acme's layers: an independently recurrent network (IndRNN) and a cosine-similarity attention."""

import dataclasses
import math
from typing import ClassVar

import seqkit.functions as F
from seqkit import initializers
from seqkit.core.autograd import Parameter
from seqkit.functions.attention import masked_softmax
from seqkit.layers import AttentionLayer, RecurrentLayer, RecurrentWeight


@dataclasses.dataclass
class IndRNNOptions:
    num_layers: int = 1  # stacked IndRNN layers
    bidirectional: bool = False  # also read each sequence backwards (encoders)
    dropout: float = 0.0  # between layers


class IndRNN(RecurrentLayer):
    """Independently recurrent network (Li et al., 2018) with a tanh: ``h' = tanh(W x + b + u * h)``.

    Each unit sees only its own previous value, through one weight of the vector ``u`` (drawn from
    ``U(0, 1)``), so ``u`` replaces the ``(H, H)`` recurrent matrix of an Elman RNN. Parameters per layer
    ``l``: ``W_ih_l{l}`` and ``b_l{l}`` (the input projection) and per direction ``u_l{l}[_reverse]`` ``(H,)``.
    """

    gates = 1
    weight_table: ClassVar = {"u": RecurrentWeight.bias()}

    def __init__(self, in_size, hidden_size, num_layers=1, *, bidirectional=False, dropout=0.0, dtype=None):
        super().__init__(in_size, hidden_size, num_layers, bidirectional=bidirectional, dropout=dropout, dtype=dtype)
        for layer in range(num_layers):
            for direction in range(self.directions):
                u = getattr(self, self.weight_names(layer, direction).u)
                # U(0, 1): from seqkit's seeded generator, so that seqkit.random.seed decides it
                u.data[...] = initializers.create(initializers.uniform(0.5), u.data.shape, u.data.dtype) + 0.5

    def cell(self, gx, weights, state):
        (h,) = state
        return (F.tanh(gx + weights.u * h),)


class CosineAttention(AttentionLayer):
    """``score(q, k) = g * cos(q, W k)``: the cosine of the query and the projected key, times a learnt gain ``g``.

    The weights sum the memory itself, so the context is as wide as the memory. The gain starts at
    ``sqrt(query_size)`` so that the softmax is not flat at first.
    """

    eps = 1e-6

    def __init__(self, query_size: int, memory_size: int, dtype=None) -> None:
        super().__init__()
        self.query_size = query_size
        init = initializers.uniform(1.0 / math.sqrt(memory_size))
        self.W = Parameter(initializers.create(init, (query_size, memory_size), dtype))
        self.gain = Parameter(initializers.create(initializers.constant(math.sqrt(query_size)), (1,), dtype))

    def _unit(self, x):  # x / |x| over the last of 3 axes
        norm = F.sqrt(F.sum(x * x, axis=2) + self.eps)
        return x / F.reshape(norm, (*norm.shape, 1))

    def precompute(self, memory):
        return self._unit(F.linear(memory, self.W))  # (B, Tk, query_size), unit rows

    def __call__(self, query, memory, mask=None, *, precomputed=None):
        keys = self.precompute(memory) if precomputed is None else precomputed
        one_step = query.ndim == 2
        q = F.reshape(query, (query.shape[0], 1, self.query_size)) if one_step else query
        scores = F.matmul(self._unit(q), keys, transb=True) * self.gain  # (B, Tq, Tk)
        weights = masked_softmax(scores, None if mask is None else mask[:, None, :])
        context = F.matmul(weights, memory)  # (B, Tq, Dk)
        if one_step:
            return F.reshape(context, (q.shape[0], memory.shape[2])), F.reshape(weights, (q.shape[0], -1))
        return context, weights
