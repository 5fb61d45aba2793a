"""A minimal gated unit (Zhou et al., 2016, "Minimal Gated Unit for Recurrent Neural Networks"): a GRU with one
gate instead of two, usable wherever a recipe takes an encoder or decoder RNN.

Per step, with ``h`` the previous state::

    f = sigmoid(W_f x + U_f h + b_f)          # the forget gate
    n = tanh(W_n x + U_n (f * h) + b_n)       # the candidate
    h = (1 - f) * h + f * n

``seqkit.layers.RecurrentLayer`` gives the rest: parameters, the list and padded calls, packing, both directions,
stacked layers with dropout between them, ``step`` for decoders, states and input checks.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import seqkit.functions as F
from seqkit.layers import RecurrentLayer, RecurrentWeight


@dataclasses.dataclass
class MGUOptions:
    """Keyword options of the layer (the sizes come from the model that builds it)."""

    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0


class MGU(RecurrentLayer):
    """Multi-layer, optionally bidirectional minimal gated unit over whole variable-length sequences.

    Parameters per layer ``l``: ``W_ih_l{l}`` ``(directions * 2H, in)`` and ``b_l{l}`` (the ``[f, n]`` input
    projections, ``W_f``/``W_n`` and ``b_f``/``b_n`` above, of both directions), and per direction
    ``U_f_l{l}[_reverse]``, ``U_n_l{l}[_reverse]`` ``(H, H)``.
    """

    gates = 2  # [f, n]
    weight_table: ClassVar = {"U_f": RecurrentWeight.matrix(), "U_n": RecurrentWeight.matrix()}

    def cell(self, gx, weights, state):
        (h,) = state
        g_f, g_n = F.split_axis(gx, 2, axis=1)
        f = F.sigmoid(g_f + F.linear(h, weights.U_f))
        n = F.tanh(g_n + F.linear(f * h, weights.U_n))
        return (h + f * (n - h),)
