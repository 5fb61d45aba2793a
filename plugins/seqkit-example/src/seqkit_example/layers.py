"""A minimal gated unit (Zhou et al., 2016, "Minimal Gated Unit for Recurrent Neural Networks"): a GRU with one
gate instead of two, usable wherever a recipe takes an encoder or decoder RNN.

Per step, with ``h`` the previous state::

    f = sigmoid(W_f x + U_f h + b_f)          # the forget gate
    n = tanh(W_n x + U_n (f * h) + b_n)       # the candidate
    h = (1 - f) * h + f * n

It keeps the contract of ``seqkit.layers.LSTM``/``GRU`` that recipes rely on (``seqkit.testing`` checks it):

- built as ``MGU(in_size, hidden_size, num_layers, *, bidirectional=False, dropout=0.0)``; ``out_size`` is
  ``directions * hidden_size``;
- ``layer(xs, state=None) -> (ys, final_state)`` for a list of ``(T_i, in_size)`` sequences in any order (``ys``
  in the same order), or ``layer(x, state, lengths=lengths)`` for a padded ``(B, T, in_size)`` batch;
  ``final_state`` is ``(num_layers * directions, B, hidden_size)`` and is accepted back as ``state``;
- ``step(x, state) -> (h, state)`` runs one time step for a decoder (unidirectional layers).

The implementation uses public ops only: sequences are sorted by length and packed time-major, so the batch
shrinks as sequences end (and, for the reverse direction, grows as they begin) and no step computes padding.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy
import seqkit.functions as F
from seqkit import Parameter, initializers
from seqkit.backend import get_array_module
from seqkit.layers import Layer


@dataclasses.dataclass
class MGUOptions:
    """Keyword options of the layer (the sizes come from the model that builds it)."""

    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0


class MGU(Layer):
    """Multi-layer, optionally bidirectional minimal gated unit over whole variable-length sequences.

    Parameters per layer ``l``: ``W_x_l{l}`` ``(directions * 2H, in)`` and ``b_l{l}`` (the ``[f, n]`` input
    projections of both directions, one GEMM), and per direction ``U_f_l{l}[_reverse]``, ``U_n_l{l}[_reverse]``
    ``(H, H)``.
    """

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bidirectional: bool = False,
        dropout: float = 0.0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if min(in_size, hidden_size, num_layers) < 1:
            sizes = f"in {in_size}, hidden {hidden_size}, layers {num_layers}"
            raise ValueError(f"MGU: sizes must be positive, got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MGU: dropout must be in [0, 1), got {dropout}")
        self.in_size, self.hidden_size, self.num_layers = in_size, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.out_size = self.directions * hidden_size
        H = hidden_size
        # initializers.create follows config.dtype when dtype is None (seqkit.testing relies on it)
        for layer in range(num_layers):
            d_in = in_size if layer == 0 else self.out_size
            W = initializers.create(initializers.uniform(1 / math.sqrt(H)), (self.directions * 2 * H, d_in), dtype)
            setattr(self, f"W_x_l{layer}", Parameter(W))
            setattr(self, f"b_l{layer}", Parameter(initializers.create(0.0, self.directions * 2 * H, dtype)))
            for suffix in self._suffixes(layer):
                setattr(self, f"U_f{suffix}", Parameter(initializers.create(initializers.orthogonal(), (H, H), dtype)))
                setattr(self, f"U_n{suffix}", Parameter(initializers.create(initializers.orthogonal(), (H, H), dtype)))

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    # ---- whole sequences ----------------------------------------------------------------------------------
    def __call__(self, xs, state=None, lengths=None):
        """``xs``: a non-empty list of ``(T_i, in_size)`` arrays or Variables, or a padded ``(B, T, in_size)``
        batch with ``lengths``. ``state``: ``(num_layers * directions, B, H)`` or None (zeros). Returns
        ``(ys, final_state)``, ``ys`` in the input's form (zeros past each length when padded). Raises
        ``ValueError`` naming the problem for bad shapes."""
        lens, flat, starts = self._flatten(xs, lengths)
        B, H = len(lens), self.hidden_size
        self._check_state(state, B)
        order = numpy.argsort(-lens, kind="stable")  # longest first
        batch_sizes = [int((lens > t).sum()) for t in range(int(lens.max()))]
        # packed row k (time-major, sorted) <- row index[k] of ``flat``
        index = numpy.concatenate([starts[order[:b]] + t for t, b in enumerate(batch_sizes)])
        x = F.gather_rows(flat, index)
        xp = get_array_module(x)
        finals = []
        for layer in range(self.num_layers):
            if layer and self.dropout:
                x = F.dropout(x, self.dropout)
            gx = F.linear(x, getattr(self, f"W_x_l{layer}"), getattr(self, f"b_l{layer}"))
            parts = F.split_axis(gx, 2, axis=1) if self.directions == 2 else (gx,)
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.directions + d
                h0 = xp.zeros((B, H), dtype=gx.dtype) if state is None else F.gather_rows(state[k], order)
                y, final = self._run(parts[d], suffix, h0, batch_sizes, reverse=d == 1)
                outs.append(y)
                finals.append(final)
            x = F.concat(outs, axis=1) if self.directions == 2 else outs[0]
        final_state = F.stack([F.gather_rows(h, numpy.argsort(order)) for h in finals])
        if lengths is None:  # packed rows -> the sequences concatenated -> one array per sequence
            y = F.gather_rows(x, numpy.argsort(index))
            ys = list(F.split_axis(y, numpy.cumsum(lens)[:-1].tolist(), axis=0)) if B > 1 else [y]
        else:
            T = xs.shape[1]
            ys = F.reshape(F.scatter_rows(x, index, B * T), (B, T, self.out_size))
        return ys, final_state

    def _run(self, gx, suffix: str, h0, batch_sizes: list[int], reverse: bool):
        """One direction over the packed input projections ``gx`` ``(N, 2H)``. Returns the packed outputs
        ``(N, H)`` and the final states ``(B, H)`` in sorted order."""
        offsets = numpy.concatenate([[0], numpy.cumsum(batch_sizes)]).tolist()
        steps: list = [None] * len(batch_sizes)
        if not reverse:
            h, finished = h0, []
            for t, b in enumerate(batch_sizes):
                if b < h.shape[0]:  # sequences b.. ended at the previous step: their state is final
                    finished.append(h[b:])
                    h = h[:b]
                h = steps[t] = self._cell(gx[offsets[t] : offsets[t + 1]], h, suffix)
            final = F.concat([h, *finished[::-1]], axis=0) if finished else h
        else:
            h = h0[: batch_sizes[-1]]
            for t in reversed(range(len(batch_sizes))):
                b = batch_sizes[t]
                if b > h.shape[0]:  # sequences whose last step is t join, from their initial state
                    h = F.concat([h, h0[h.shape[0] : b]], axis=0)
                h = steps[t] = self._cell(gx[offsets[t] : offsets[t + 1]], h, suffix)
            final = h
        return F.concat(steps, axis=0), final

    def _cell(self, gx, h, suffix: str):
        """One step: ``gx`` ``(b, 2H)`` input projections, ``h`` ``(b, H)`` -> the new ``h``."""
        g_f, g_n = F.split_axis(gx, 2, axis=1)
        f = F.sigmoid(g_f + F.linear(h, getattr(self, f"U_f{suffix}")))
        n = F.tanh(g_n + F.linear(f * h, getattr(self, f"U_n{suffix}")))
        return h + f * (n - h)

    # ---- one step, for decoders ----------------------------------------------------------------------------
    def step(self, x, state=None):
        """One time step for a batch: ``x`` ``(B, in_size)``, ``state`` as ``__call__``'s final state (zeros when
        None). Returns ``(h, state)`` with ``h`` ``(B, H)`` the top layer's output. Unidirectional layers only."""
        if self.directions != 1:
            raise ValueError("MGU.step: a bidirectional layer cannot run one step at a time")
        if x.ndim != 2 or x.shape[1] != self.in_size:
            raise ValueError(f"MGU.step: expected x of shape (B, {self.in_size}), got {tuple(x.shape)}")
        B = x.shape[0]
        self._check_state(state, B)
        zeros = get_array_module(x).zeros((B, self.hidden_size), dtype=self.W_x_l0.dtype)
        previous = [zeros] * self.num_layers if state is None else F.separate(state, axis=0)
        h, new = x, []
        for layer in range(self.num_layers):
            if layer and self.dropout:
                h = F.dropout(h, self.dropout)
            gx = F.linear(h, getattr(self, f"W_x_l{layer}"), getattr(self, f"b_l{layer}"))
            h = self._cell(gx, previous[layer], f"_l{layer}")
            new.append(h)
        return h, F.stack(new)

    # ---- input checks ----------------------------------------------------------------------------------------
    def _flatten(self, xs, lengths):
        """``(lengths, all steps as rows (N, in), first row of each sequence)`` of a list or a padded batch."""
        if lengths is None:
            if not isinstance(xs, (list, tuple)) or not xs:
                raise ValueError(f"MGU: expected a non-empty list of (T_i, {self.in_size}) sequences, got {xs!r:.40}")
            shapes = [tuple(x.shape) for x in xs]
            if any(len(s) != 2 or s[0] < 1 or s[1] != self.in_size for s in shapes):
                raise ValueError(f"MGU: every sequence must be (T_i >= 1, {self.in_size}), got shapes {shapes}")
            lens = numpy.array([s[0] for s in shapes])
            return lens, F.concat(list(xs), axis=0), numpy.concatenate([[0], numpy.cumsum(lens)[:-1]])
        if xs.ndim != 3 or xs.shape[2] != self.in_size:
            raise ValueError(f"MGU: a padded batch must be (B, T, {self.in_size}), got shape {tuple(xs.shape)}")
        B, T, _ = xs.shape
        lens = numpy.array([int(n) for n in lengths])
        if len(lens) != B or not all(1 <= n <= T for n in lens):
            raise ValueError(f"MGU: lengths {lens.tolist()} must be {B} values in [1, {T}]")
        return lens, F.reshape(xs, (B * T, self.in_size)), numpy.arange(B) * T

    def _check_state(self, state, B: int) -> None:
        expected = (self.num_layers * self.directions, B, self.hidden_size)
        if state is not None and tuple(state.shape) != expected:
            raise ValueError(f"MGU: the initial state must be {expected}, got {tuple(state.shape)}")

    def extra_repr(self) -> str:
        return (
            f"in_size={self.in_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.directions == 2}, dropout={self.dropout}"
        )
