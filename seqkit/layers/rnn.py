"""Recurrent layers: ``LSTM`` and ``GRU`` over whole variable-length sequences, ``LSTMCell`` and ``GRUCell``.

Whole-sequence layers take a Python list of ``(T_i, D)`` arrays or Variables in any order, or a padded
``(B, T, D)`` batch with ``lengths``, and answer in the same form and order. Inside, sequences are sorted by
length and packed time-major; each layer runs one GEMM for the input projections of all steps (both
directions at once) and a fused recurrence (``F.lstm_recurrence`` / ``F.gru_recurrence``): one small GEMM per
step, a batch that shrinks as sequences end, and the recurrent weight gradient as one GEMM over all steps.
``reference()`` computes the same function with cells in a plain Python loop over each sequence; the tests
hold the fused path to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

import seqkit.functions as F
from seqkit import initializers
from seqkit.backend import get_array_module
from seqkit.config import config
from seqkit.core.autograd import Parameter, Variable, as_variable
from seqkit.functions import rnn as R
from seqkit.layers.layer import Layer, frozen_parameter, transposed_copy


def _input_weight(gates: int, hidden: int, in_size: int, dtype) -> Parameter:
    """``(gates*H, in)``, uniform in ``±1/sqrt(H)`` as in PyTorch."""
    init = initializers.uniform(1.0 / math.sqrt(hidden))
    return Parameter(initializers.create(init, (gates * hidden, in_size), dtype))


def _recurrent_weight(gates: int, hidden: int, dtype) -> Parameter:
    """``(gates*H, H)``, each gate's ``(H, H)`` block orthogonal."""
    return Parameter(initializers.create(initializers.orthogonal(blocks=gates), (gates * hidden, hidden), dtype))


def _set_forget_bias(b, hidden: int, value: float) -> None:
    """Set the forget-gate block of every direction's ``[i, f, o, g]`` bias ``b`` to ``value``, in place."""
    b.reshape(-1, 4, hidden)[:, 1] = value


class _Packing:
    """How a batch of variable-length sequences maps to the packed time-major layout, and back."""

    def __init__(self, lengths: Sequence[int]) -> None:
        lengths = numpy.asarray(lengths, dtype=numpy.int64)
        self.lengths = lengths
        self.order = numpy.argsort(-lengths, kind="stable")  # sorted position -> original sequence
        self.unorder = numpy.argsort(self.order)
        self.batch_sizes = R.batch_sizes_of(lengths[self.order])

    def rows(self, starts: numpy.ndarray) -> numpy.ndarray:
        """Packed row k -> row of a flat input where sequence j's step t is ``starts[j] + t``."""
        return numpy.concatenate([starts[self.order[:b]] + t for t, b in enumerate(self.batch_sizes)])


def _check_list(name: str, xs) -> tuple[list[int], int]:
    if not isinstance(xs, (list, tuple)) or not xs:
        raise ValueError(f"{name}: expected a non-empty list of (T_i, D) sequences, got {type(xs).__name__} {xs!r:.40}")
    shapes = [tuple(x.shape) for x in xs]
    if any(len(s) != 2 for s in shapes) or len({s[1] for s in shapes}) != 1:
        raise ValueError(f"{name}: every sequence must be (T_i, D) with the same D; got shapes {shapes}")
    if any(s[0] == 0 for s in shapes):
        raise ValueError(f"{name}: sequence {[s[0] for s in shapes].index(0)} is empty; every sequence needs a step")
    return [s[0] for s in shapes], shapes[0][1]


class _RecurrentLayer(Layer):
    gates = 0
    has_cell = False

    @property
    def transposed_weights(self) -> tuple[str, ...]:
        return tuple(n for n in self._registry if n.startswith(("W_ih", "W_hh")))

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
            raise ValueError(
                f"{type(self).__name__}: sizes must be positive, got in {in_size}, hidden "
                f"{hidden_size}, layers {num_layers}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout}")
        self.in_size, self.hidden_size, self.num_layers = in_size, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.out_size = hidden_size * self.directions
        G, H = self.gates, hidden_size
        for layer in range(num_layers):
            d_in = in_size if layer == 0 else self.out_size
            setattr(self, f"W_ih_l{layer}", _input_weight(self.directions * G, H, d_in, dtype))
            setattr(self, f"b_l{layer}", Parameter(initializers.create(0.0, self.directions * G * H, dtype)))
            for suffix in self._suffixes(layer):
                setattr(self, f"W_hh{suffix}", _recurrent_weight(G, H, dtype))
                self._direction_params(suffix, dtype)

    def _direction_params(self, suffix: str, dtype: Any) -> None:
        """Parameters a subclass keeps per layer and direction besides ``W_hh`` (none by default)."""

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    # ---- the public call --------------------------------------------------------------------------------
    def __call__(self, xs, state=None, lengths=None):
        """Run over ``xs``: a list of ``(T_i, in)`` sequences, or a padded ``(B, T, in)`` batch with ``lengths``.

        ``state``: initial states ``(layers * directions, B, H)`` (for an LSTM a pair ``(h, c)``), in the
        order of ``xs``; zeros when None. Returns ``(ys, final_state)``: ``ys`` in the input's form with
        ``directions * H`` features (zeros past each length when padded), and the final states shaped like
        ``state``.
        """
        name = type(self).__name__
        if lengths is None:
            lens, size = _check_list(name, xs)
            packing = _Packing(lens)
            starts = numpy.concatenate([[0], numpy.cumsum(lens)[:-1]])
            index = packing.rows(starts)
            x = R.gather_rows(F.concat(list(xs), axis=0), index)
        else:
            if xs.ndim != 3:
                raise ValueError(f"{name}: a padded batch must be (B, T, D), got shape {xs.shape}")
            B, T, size = xs.shape
            lens = [int(n) for n in lengths]
            if len(lens) != B or not all(1 <= n <= T for n in lens):
                raise ValueError(
                    f"{name}: lengths {lens} must be {B} values in [1, {T}] for a batch of shape {xs.shape}"
                )
            packing = _Packing(lens)
            index = packing.rows(numpy.arange(B) * T)
            x = R.gather_rows(F.reshape(xs, (B * T, size)), index)
        if size != self.in_size:
            raise ValueError(f"{name}: expected {self.in_size} input features, got {size}")
        y, finals = self._run_packed(x, packing, self._sorted_state(state, packing))
        if lengths is None:
            bounds = numpy.cumsum(lens)[:-1].tolist()
            ys = F.split_axis(R.gather_rows(y, numpy.argsort(index)), bounds, axis=0) if len(lens) > 1 else [y]
            ys = list(ys)
        else:
            ys = F.reshape(R.scatter_rows(y, index, B * T), (B, T, self.out_size))
        finals = [F.stack([R.gather_rows(h, packing.unorder) for h in part]) for part in finals]
        return ys, (tuple(finals) if self.has_cell else finals[0])

    def step(self, x, state=None):
        """One time step for a whole batch, for decoders in Python loops (unidirectional layers only).

        ``x`` (B, in); ``state`` as ``__call__``'s final state (zeros when None). Returns ``(h, state)`` with
        ``h`` (B, H) the top layer's output. Runs the fused recurrence for one step, so it shares its kernels.
        """
        name = type(self).__name__
        if self.directions != 1:
            raise ValueError(f"{name}.step: a bidirectional layer cannot run one step at a time")
        if x.ndim != 2 or x.shape[1] != self.in_size:
            raise ValueError(f"{name}.step: expected x of shape (B, {self.in_size}), got {tuple(x.shape)}")
        B = x.shape[0]
        n_parts = 2 if self.has_cell else 1
        if state is None:
            zeros = get_array_module(x).zeros((B, self.hidden_size), dtype=self.W_ih_l0.dtype)
            layers = [[zeros] * n_parts for _ in range(self.num_layers)]
        else:
            parts = state if self.has_cell else (state,)
            layers = list(zip(*[F.separate(p, axis=0) for p in parts]))
        finals: list[list] = [[] for _ in range(n_parts)]
        h = x
        for layer in range(self.num_layers):
            if layer and self.dropout:
                h = F.dropout(h, self.dropout)
            result = self._step_layer(layer, h, list(layers[layer]))
            h = result[0]
            for f, r in zip(finals, result[1:]):
                f.append(r)
        stacked = tuple(F.stack(f) for f in finals)
        return h, (stacked if self.has_cell else stacked[0])

    def _step_layer(self, layer: int, x, init: list) -> tuple:
        """One step of layer ``layer``: ``(h, *final state)``."""
        gx = F.linear(x, getattr(self, f"W_ih_l{layer}"), getattr(self, f"b_l{layer}"))
        return self._recurrence(gx, f"_l{layer}", init, (x.shape[0],), reverse=False)

    def _sorted_state(self, state, packing: _Packing):
        parts = (state if self.has_cell else (state,)) if state is not None else None
        expected = (self.num_layers * self.directions, len(packing.order), self.hidden_size)
        if parts is None:
            return None
        out = []
        for part in parts:
            if tuple(part.shape) != expected:
                raise ValueError(f"{type(self).__name__}: initial state must be {expected}, got {tuple(part.shape)}")
            out.append([R.gather_rows(s, packing.order) for s in F.separate(part, axis=0)])
        return out

    def _run_packed(self, x, packing: _Packing, state):
        xp = get_array_module(x)
        B, H = len(packing.order), self.hidden_size
        finals: list[list] = [[] for _ in range(2 if self.has_cell else 1)]
        for layer in range(self.num_layers):
            if layer and self.dropout:
                x = F.dropout(x, self.dropout)
            gx = F.linear(x, getattr(self, f"W_ih_l{layer}"), getattr(self, f"b_l{layer}"))
            inits = [
                [s[k] for s in state] if state is not None else [xp.zeros((B, H), dtype=x.dtype)] * len(finals)
                for k in range(layer * self.directions, (layer + 1) * self.directions)
            ]
            if self.directions == 2 and hasattr(self, "_bidirectional"):  # both directions in one op
                x, *result = self._bidirectional(gx, layer, inits, packing.batch_sizes)
                for d in range(2):
                    for f, r in zip(finals, result[d * len(finals) : (d + 1) * len(finals)]):
                        f.append(r)
                continue
            parts = F.split_axis(gx, self.directions, axis=1) if self.directions == 2 else (gx,)
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                result = self._recurrence(parts[d], suffix, inits[d], packing.batch_sizes, reverse=d == 1)
                outs.append(result[0])
                for f, r in zip(finals, result[1:]):
                    f.append(r)
            x = F.concat(outs, axis=1) if self.directions == 2 else outs[0]
        return x, finals

    # ---- the reference: cells in a plain Python loop over each sequence -------------------------------
    def reference(self, xs: Sequence, state=None):
        """The same function as ``__call__`` on a list input, from per-step cells in Python loops (slow; for
        tests). Dropout is not applied."""
        H = self.hidden_size
        parts = (state if self.has_cell else (state,)) if state is not None else None
        ys = [Variable(x) if not isinstance(x, Variable) else x for x in xs]
        finals: list[list] = [[] for _ in range(2 if self.has_cell else 1)]
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.directions + d
                W_ih = getattr(self, f"W_ih_l{layer}")
                b_ih = getattr(self, f"b_l{layer}")
                rows = slice(d * self.gates * H, (d + 1) * self.gates * H)
                seq_out, seq_final = [], [[] for _ in finals]
                for j, x in enumerate(ys):
                    zeros = [x.xp.zeros((1, H), x.dtype)] * len(finals)
                    s = zeros if parts is None else [p[k][j : j + 1] for p in parts]
                    steps = range(len(x) - 1, -1, -1) if d == 1 else range(len(x))
                    hs = {}
                    for t in steps:
                        gx = F.linear(x[t : t + 1], W_ih[rows], b_ih[rows])
                        s = self._cell_reference(gx, suffix, s)
                        hs[t] = s[0]
                    seq_out.append(F.concat([hs[t] for t in range(len(x))], axis=0))
                    for acc, v in zip(seq_final, s):
                        acc.append(v)
                outs.append(seq_out)
                for f, acc in zip(finals, seq_final):
                    f.append(F.concat(acc, axis=0))
            ys = [F.concat(list(o), axis=1) for o in zip(*outs)] if self.directions == 2 else outs[0]
        finals = [F.stack(f) for f in finals]
        return ys, (tuple(finals) if self.has_cell else finals[0])


class LSTM(_RecurrentLayer):
    """Multi-layer, optionally bidirectional LSTM (gate blocks ``[i, f, o, g]``; forget-gate bias 1.0 by
    default). Parameters per layer ``l``: ``W_ih_l{l}`` ``(directions*4H, in)`` and ``b_l{l}`` (both
    directions' input projections in one GEMM), ``W_hh_l{l}`` and ``W_hh_l{l}_reverse`` ``(4H, H)``."""

    gates = 4
    has_cell = True

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bidirectional: bool = False,
        dropout: float = 0.0,
        forget_bias: float = 1.0,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_size, hidden_size, num_layers, bidirectional=bidirectional, dropout=dropout, dtype=dtype)
        for layer in range(num_layers):
            _set_forget_bias(getattr(self, f"b_l{layer}").data, hidden_size, forget_bias)

    def _recurrence(self, gx, suffix, init, batch_sizes, reverse):
        return F.lstm_recurrence(gx, getattr(self, f"W_hh{suffix}"), init[0], init[1], batch_sizes, reverse)

    def _bidirectional(self, gx, layer, inits, batch_sizes):
        W_f, W_b = (getattr(self, f"W_hh{suffix}") for suffix in self._suffixes(layer))
        return F.bilstm_recurrence(gx, W_f, W_b, *inits[0], *inits[1], batch_sizes)

    _joint = None  # per layer, [W_ih, W_hh].T side by side (C-contiguous), in a unidirectional for_decoding() copy

    def _relayout(self, memo):
        """A unidirectional layer's decoding copy stores each layer's input and recurrent weights side by side, so
        that a step is one product of ``[x, h]``; its ``W_ih`` and ``W_hh`` are views of that array."""
        if self.directions != 1 or type(self.W_ih_l0.data) is not numpy.ndarray:
            return super()._relayout(memo)
        self._joint = []
        for layer in range(self.num_layers):
            W_ih, W_hh = getattr(self, f"W_ih_l{layer}"), getattr(self, f"W_hh_l{layer}")
            WT = transposed_copy(numpy.concatenate([W_ih.data, W_hh.data], axis=1))
            n = W_ih.shape[1]
            setattr(self, f"W_ih_l{layer}", frozen_parameter(WT[:n].T))
            setattr(self, f"W_hh_l{layer}", frozen_parameter(WT[n:].T))
            self._joint.append(WT)

    def _step_layer(self, layer, x, init):
        if self._joint is None or config.enable_backprop or config.autocast is not None:
            return super()._step_layer(layer, x, init)
        WT = self._joint[layer]
        xa, h, c = (v.data if isinstance(v, Variable) else v for v in (x, *init))
        H = self.hidden_size
        if not (xa.dtype == h.dtype == c.dtype == WT.dtype and h.shape == c.shape == (len(xa), H)
                and xa.ndim == 2 and xa.shape[1] + H == len(WT)):  # fmt: skip
            return super()._step_layer(layer, x, init)  # the plain step names the mismatch
        xp = get_array_module(xa)
        gates, c = xp.concatenate([xa, h], axis=1) @ WT, c.copy()  # one product of [x, h]
        h = xp.empty_like(c)
        R.lstm_step_forward(gates, getattr(self, f"b_l{layer}").data, c, xp.empty_like(c), h)
        h = as_variable(h)
        return h, h, as_variable(c)

    def _cell_reference(self, gx, suffix, state):
        h, c = state
        c, h = R.lstm_reference(c, gx + F.linear(h, getattr(self, f"W_hh{suffix}")))
        return [h, c]


class GRU(_RecurrentLayer):
    """Multi-layer, optionally bidirectional GRU (gate blocks ``[r, z, n]``, PyTorch's formulation with the
    reset gate applied to ``W_hn h + b_hn``). Parameters per layer ``l``: ``W_ih_l{l}`` ``(directions*3H, in)``,
    ``b_l{l}`` (input biases), and per direction ``W_hh_l{l}[_reverse]`` ``(3H, H)``, ``b_hh_l{l}[_reverse]``."""

    gates = 3

    def _direction_params(self, suffix: str, dtype: Any) -> None:
        setattr(self, f"b_hh{suffix}", Parameter(initializers.create(0.0, 3 * self.hidden_size, dtype)))

    def _recurrence(self, gx, suffix, init, batch_sizes, reverse):
        W, b = getattr(self, f"W_hh{suffix}"), getattr(self, f"b_hh{suffix}")
        return F.gru_recurrence(gx, W, b, init[0], batch_sizes, reverse)

    def _cell_reference(self, gx, suffix, state):
        return [R.gru_step_reference(state[0], gx, getattr(self, f"W_hh{suffix}"), getattr(self, f"b_hh{suffix}"))]


# ---- cells for step-by-step decoders ------------------------------------------------------------------
class LSTMCell(Layer):
    """One LSTM step for Python loops: ``h, c = cell(x, (h, c))``; ``x`` (B, in), states (B, H)."""

    transposed_weights = ("W_ih", "W_hh")

    def __init__(self, in_size: int, hidden_size: int, *, forget_bias: float = 1.0, dtype: Any = None) -> None:
        super().__init__()
        if min(in_size, hidden_size) < 1:
            raise ValueError(f"LSTMCell: sizes must be positive, got in {in_size}, hidden {hidden_size}")
        self.hidden_size = hidden_size
        self.W_ih = _input_weight(4, hidden_size, in_size, dtype)
        self.W_hh = _recurrent_weight(4, hidden_size, dtype)
        self.b = Parameter(initializers.create(0.0, 4 * hidden_size, dtype))
        _set_forget_bias(self.b.data, hidden_size, forget_bias)

    def __call__(self, x, state=None) -> tuple[Variable, Variable]:
        """Returns the new ``(h, c)``; ``state`` None means zeros."""
        gates = F.linear(x, self.W_ih, self.b)
        if state is None:
            c = get_array_module(x).zeros((x.shape[0], self.hidden_size), dtype=gates.dtype)
        else:
            h, c = state
            gates = F.linear(h, self.W_hh, gates)
        c, h = F.lstm(c, gates)
        return h, c


class GRUCell(Layer):
    """One GRU step for Python loops: ``h = cell(x, h)``; ``x`` (B, in), ``h`` (B, H)."""

    transposed_weights = ("W_ih", "W_hh")

    def __init__(self, in_size: int, hidden_size: int, *, dtype: Any = None) -> None:
        super().__init__()
        if min(in_size, hidden_size) < 1:
            raise ValueError(f"GRUCell: sizes must be positive, got in {in_size}, hidden {hidden_size}")
        self.hidden_size = hidden_size
        self.W_ih = _input_weight(3, hidden_size, in_size, dtype)
        self.b = Parameter(initializers.create(0.0, 3 * hidden_size, dtype))
        self.W_hh = _recurrent_weight(3, hidden_size, dtype)
        self.b_hh = Parameter(initializers.create(0.0, 3 * hidden_size, dtype))

    def __call__(self, x, h=None) -> Variable:
        """Returns the new ``h``; ``h`` None means zeros. Runs the fused GRU for one step."""
        if h is None:
            h = get_array_module(x).zeros((x.shape[0], self.hidden_size), dtype=self.W_ih.dtype)
        return F.gru_recurrence(F.linear(x, self.W_ih, self.b), self.W_hh, self.b_hh, h, (x.shape[0],))[0]
