"""Recurrent layers: ``RecurrentLayer``, the base of whole-sequence RNN layers, with ``LSTM`` and ``GRU`` built on
it; ``LSTMCell`` and ``GRUCell`` for step-by-step decoders.

A whole-sequence layer takes a Python list of ``(T_i, D)`` arrays or Variables in any order, or a padded
``(B, T, D)`` batch with ``lengths``, and answers in the same form and order. Inside, sequences are sorted by
length and packed time-major; each layer runs one GEMM for the input projections of all steps (both
directions at once) and a recurrence over the packed steps: a subclass's fused op (``F.lstm_recurrence``,
``F.gru_recurrence``), or by default its ``cell`` in a loop whose batch shrinks as sequences end.
``seqkit.testing.rnn_reference`` computes the same function from ``cell`` one sequence at a time; the tests hold
the fused paths to it.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy

import seqkit.functions as F
from seqkit import initializers
from seqkit.backend import get_array_module
from seqkit.config import config
from seqkit.core.autograd import Parameter, Variable, as_variable
from seqkit.functions import rnn as R
from seqkit.layers.layer import Layer, frozen_parameter, transposed_copy

State = tuple  # per layer and direction: (h,) or, with a cell, (h, c); each (B, H)


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


@dataclasses.dataclass(frozen=True)
class RecurrentWeight:
    """One entry of a ``RecurrentLayer``'s ``weight_table``: a weight each layer and direction has.

    ``RecurrentWeight.matrix(k)`` is ``(k*H, H)``, each ``(H, H)`` block orthogonal, read as ``h @ W.T``
    (``F.linear(h, W)``); ``RecurrentWeight.bias(k)`` is ``(k*H,)``, zeros."""

    blocks: int
    is_matrix: bool

    @classmethod
    def matrix(cls, blocks: int = 1) -> RecurrentWeight:
        return cls(blocks, True)

    @classmethod
    def bias(cls, blocks: int = 1) -> RecurrentWeight:
        return cls(blocks, False)

    def create(self, hidden: int, dtype: Any) -> Parameter:
        if self.is_matrix:
            return _recurrent_weight(self.blocks, hidden, dtype)
        return Parameter(initializers.create(0.0, self.blocks * hidden, dtype))


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


class RNNLayer(Layer, metaclass=abc.ABCMeta):
    """What a model needs from the RNN a recipe names as its encoder or decoder (``model.encoder``,
    ``model.decoder``, ``model.rnn``): the RNN sub-kind of layers. Built as ``cls(in_size, hidden_size,
    num_layers, *, bidirectional=..., dropout=...)``; ``seqkit.testing.RNNLayerTests`` checks the whole contract.
    ``RecurrentLayer`` implements it from a cell; a layer made of other layers (a residual stack of LSTMs)
    extends this class directly."""

    #: True when the state is a pair ``(h, c)`` (an LSTM's), False when it is ``h`` alone
    has_cell: ClassVar[bool] = False
    #: the width of each output step: ``directions * hidden_size``
    out_size: int
    #: 2 for a bidirectional layer, else 1
    directions: int

    @abc.abstractmethod
    def __call__(self, xs, state=None, lengths=None):
        """``xs`` a list of ``(T_i, in_size)`` sequences, or a padded ``(B, T, in_size)`` batch with ``lengths``;
        ``state`` None or the initial state, each part ``(num_layers * directions, B, hidden_size)``. Returns
        ``(ys, final_state)``: ``ys`` in the form of ``xs`` (zeros past each length when padded)."""

    @abc.abstractmethod
    def step(self, x, state=None):
        """One time step of a unidirectional layer for decoding: ``x`` ``(B, in_size)`` -> ``(y, state)``."""


class RecurrentLayer(RNNLayer):
    """The base of a multi-layer, optionally bidirectional RNN over whole variable-length sequences.

    A subclass declares what differs between RNNs; the base does the rest (parameters, packing, both
    directions, stacking, dropout between layers, ``step``, states, input checks):

    - ``gates``: the blocks of ``H`` columns of a direction's input projection (4 for an LSTM);
    - ``has_cell``: True when the state of a layer and direction is ``(h, c)`` rather than ``(h,)``;
    - ``weight_table``: name -> ``RecurrentWeight``, the weights each layer ``l`` and direction has, besides the
      input projection; the base creates them as ``{name}_l{l}`` and ``{name}_l{l}_reverse``;
    - ``cell(gx, weights, state) -> state``: one time step from plain differentiable ops;
    - optionally ``recurrence(gx, weights, init, batch_sizes, reverse)``, a fused op for a whole direction
      (by default a loop of ``cell``), and ``bidirectional_recurrence`` for both directions at once.

    Every layer ``l`` has ``W_ih_l{l}`` ``(directions * gates * H, in)`` and ``b_l{l}``: the input projections of
    both directions in one GEMM, forward rows first. ``weights(l, d)`` gives all of a layer and direction's
    weights as a named tuple ``(W_ih, b, *weight_table)``.
    """

    gates: ClassVar[int]
    weight_table: ClassVar[dict[str, RecurrentWeight]]
    #: the named tuple ``weights()`` returns, made from ``weight_table`` for each subclass
    Weights: ClassVar[type]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = getattr(cls, "weight_table", None)
        if table is not None:
            clash = {"W_ih", "b"} & set(table)
            if clash:
                raise TypeError(f"{cls.__name__}.weight_table: {sorted(clash)} name the input projection")
            cls.Weights = collections.namedtuple(f"{cls.__name__}Weights", ("W_ih", "b", *table))

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
        name = type(self).__name__
        gates, table = getattr(self, "gates", None), getattr(self, "weight_table", None)
        if not isinstance(gates, int) or gates < 1 or not isinstance(table, dict):
            raise TypeError(f"{name}: a RecurrentLayer declares gates (an int > 0) and weight_table (a dict)")
        if min(in_size, hidden_size, num_layers) < 1:
            raise ValueError(
                f"{name}: sizes must be positive, got in {in_size}, hidden {hidden_size}, layers {num_layers}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.in_size, self.hidden_size, self.num_layers = in_size, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        self.out_size = hidden_size * self.directions
        G, H = gates, hidden_size
        for layer in range(num_layers):
            names = [self.weight_names(layer, d) for d in range(self.directions)]
            d_in = in_size if layer == 0 else self.out_size
            setattr(self, names[0].W_ih, _input_weight(self.directions * G, H, d_in, dtype))
            setattr(self, names[0].b, Parameter(initializers.create(0.0, self.directions * G * H, dtype)))
            for direction in names:
                for weight_name, spec in zip(direction[2:], table.values()):
                    setattr(self, weight_name, spec.create(H, dtype))

    # ---- what a subclass declares -----------------------------------------------------------------------
    @abc.abstractmethod
    def cell(self, gx, weights, state: State) -> State:
        """One time step of one layer and direction, from plain differentiable ops.

        ``gx`` ``(b, gates * H)``: this direction's input projections (``x @ W_ih.T + b``) of the step;
        ``weights``: ``self.weights(layer, direction)``; ``state``: ``(h,)`` or ``(h, c)``, each ``(b, H)``.
        Returns the new state, a tuple of the same form, whose ``h`` (first) is the step's output.
        ``seqkit.testing.rnn_reference`` holds ``recurrence`` to it."""

    def recurrence(self, gx, weights, init: State, batch_sizes: Sequence[int], reverse: bool = False) -> tuple:
        """One layer and direction over packed steps: ``gx`` ``(N, gates * H)``, step ``t`` the rows of the first
        ``batch_sizes[t]`` sequences (longest first); ``init`` the initial state, each part ``(B, H)``.
        Returns ``(hs, *final_state)``: ``hs`` ``(N, H)`` packed like ``gx``, the final state in sorted order.

        ``reverse`` walks from the last step to the first with a batch that grows: a sequence joins at its own
        last step, from its initial state. This default runs ``cell`` step by step; a fused op overrides it."""
        offsets = numpy.cumsum((0, *batch_sizes)).tolist()
        hs: list = [None] * len(batch_sizes)
        if not reverse:
            state, finished = tuple(init), []
            for t, b in enumerate(batch_sizes):
                if b < state[0].shape[0]:  # sequences b.. ended at the previous step: their state is final
                    finished.append(tuple(s[b:] for s in state))
                    state = tuple(s[:b] for s in state)
                state = tuple(self.cell(gx[offsets[t] : offsets[t + 1]], weights, state))
                hs[t] = state[0]
            finals = [F.concat([s, *(f[k] for f in reversed(finished))], axis=0) for k, s in enumerate(state)]
        else:
            state = tuple(s[: batch_sizes[-1]] for s in init)
            for t in reversed(range(len(batch_sizes))):
                b = batch_sizes[t]
                if b > state[0].shape[0]:  # sequences whose last step is t join, from their initial state
                    state = tuple(F.concat([s, s0[s.shape[0] : b]], axis=0) for s, s0 in zip(state, init))
                state = tuple(self.cell(gx[offsets[t] : offsets[t + 1]], weights, state))
                hs[t] = state[0]
            finals = list(state)
        return (F.concat(hs, axis=0), *finals)

    def bidirectional_recurrence(self, gx, forward, backward, init_forward: State, init_backward: State,
                                 batch_sizes: Sequence[int]) -> tuple:  # fmt: skip
        """Both directions of a layer: ``gx`` ``(N, 2 * gates * H)``, forward columns first. Returns
        ``(hs, *final_forward, *final_backward)`` with ``hs`` ``(N, 2H)``. By default two ``recurrence`` calls;
        a fused op that runs both at once overrides it."""
        gx_f, gx_b = F.split_axis(gx, 2, axis=1)
        hs_f, *final_f = self.recurrence(gx_f, forward, init_forward, batch_sizes, False)
        hs_b, *final_b = self.recurrence(gx_b, backward, init_backward, batch_sizes, True)
        return (F.concat([hs_f, hs_b], axis=1), *final_f, *final_b)

    # ---- the weights --------------------------------------------------------------------------------------
    def weight_names(self, layer: int, direction: int = 0):
        """The attribute (and ``state_dict``) names of ``weights(layer, direction)``, as a ``Weights`` tuple."""
        suffix = f"_l{layer}_reverse" if direction else f"_l{layer}"
        return self.Weights(f"W_ih_l{layer}", f"b_l{layer}", *(name + suffix for name in self.weight_table))

    def weights(self, layer: int, direction: int = 0):
        """The weights of layer ``layer`` and direction ``direction`` (0 forward, 1 reverse): a ``Weights`` named
        tuple ``(W_ih, b, *weight_table)``. ``W_ih`` and ``b`` hold both directions' rows, forward first."""
        return self.Weights(*(getattr(self, name) for name in self.weight_names(layer, direction)))

    @property
    def transposed_weights(self) -> tuple[str, ...]:
        """Every ``W_ih`` and every matrix of ``weight_table``: the ops read them as ``x @ W.T``."""
        matrices = [k for k, (name, spec) in enumerate(self.weight_table.items(), 2) if spec.is_matrix]
        return tuple(
            name
            for layer in range(self.num_layers)
            for d in range(self.directions)
            for k, name in enumerate(self.weight_names(layer, d))
            if (k == 0 and d == 0) or k in matrices
        )

    def extra_repr(self) -> str:
        return (
            f"in_size={self.in_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.directions == 2}, dropout={self.dropout}"
        )

    # ---- the public call --------------------------------------------------------------------------------
    def __call__(self, xs, state=None, lengths=None):
        """Run over ``xs``: a list of ``(T_i, in)`` sequences, or a padded ``(B, T, in)`` batch with ``lengths``.

        ``state``: initial states ``(layers * directions, B, H)`` (with a cell, a pair ``(h, c)``), in the
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
        ``h`` (B, H) the top layer's output. Runs ``recurrence`` for one step, so it shares its kernels.
        """
        name = type(self).__name__
        if self.directions != 1:
            raise ValueError(f"{name}.step: a bidirectional layer cannot run one step at a time")
        if x.ndim != 2 or x.shape[1] != self.in_size:
            raise ValueError(f"{name}.step: expected x of shape (B, {self.in_size}), got {tuple(x.shape)}")
        B = x.shape[0]
        n_parts = 2 if self.has_cell else 1
        expected = (self.num_layers, B, self.hidden_size)
        if state is None:
            zeros = get_array_module(x).zeros((B, self.hidden_size), dtype=self.weights(0).W_ih.dtype)
            layers = [[zeros] * n_parts for _ in range(self.num_layers)]
        else:
            parts = state if self.has_cell else (state,)
            if len(parts) != n_parts or any(tuple(p.shape) != expected for p in parts):
                got = [tuple(p.shape) for p in parts]
                raise ValueError(f"{name}.step: the state must be {n_parts} part(s) {expected}, got {got}")
            layers = list(zip(*[F.separate(p, axis=0) for p in parts]))
        finals: list[list] = [[] for _ in range(n_parts)]
        h = x
        for layer in range(self.num_layers):
            if layer and self.dropout:
                h = F.dropout(h, self.dropout)
            result = self._step_layer(layer, h, tuple(layers[layer]))
            h = result[0]
            for f, r in zip(finals, result[1:]):
                f.append(r)
        stacked = tuple(F.stack(f) for f in finals)
        return h, (stacked if self.has_cell else stacked[0])

    def _step_layer(self, layer: int, x, init: State) -> tuple:
        """One step of layer ``layer``: ``(h, *final state)``."""
        w = self.weights(layer)
        return self.recurrence(F.linear(x, w.W_ih, w.b), w, init, (x.shape[0],), False)

    def _sorted_state(self, state, packing: _Packing):
        if state is None:
            return None
        parts = state if self.has_cell else (state,)
        expected = (self.num_layers * self.directions, len(packing.order), self.hidden_size)
        if len(parts) != (2 if self.has_cell else 1):
            raise ValueError(f"{type(self).__name__}: initial state must be a pair of arrays {expected}")
        out = []
        for part in parts:
            if tuple(part.shape) != expected:
                raise ValueError(f"{type(self).__name__}: initial state must be {expected}, got {tuple(part.shape)}")
            out.append([R.gather_rows(s, packing.order) for s in F.separate(part, axis=0)])
        return out

    def _run_packed(self, x, packing: _Packing, state):
        xp = get_array_module(x)
        B, H, D = len(packing.order), self.hidden_size, self.directions
        n_parts = 2 if self.has_cell else 1
        finals: list[list] = [[] for _ in range(n_parts)]
        for layer in range(self.num_layers):
            if layer and self.dropout:
                x = F.dropout(x, self.dropout)
            weights = [self.weights(layer, d) for d in range(D)]
            gx = F.linear(x, weights[0].W_ih, weights[0].b)
            inits = [
                tuple(s[k] for s in state) if state is not None else (xp.zeros((B, H), dtype=x.dtype),) * n_parts
                for k in range(layer * D, (layer + 1) * D)
            ]
            if D == 2:
                x, *result = self.bidirectional_recurrence(gx, *weights, *inits, packing.batch_sizes)
            else:
                x, *result = self.recurrence(gx, weights[0], inits[0], packing.batch_sizes, False)
            for d in range(D):
                for f, r in zip(finals, result[d * n_parts : (d + 1) * n_parts]):
                    f.append(r)
        return x, finals


class LSTM(RecurrentLayer):
    """Multi-layer, optionally bidirectional LSTM (gate blocks ``[i, f, o, g]``; forget-gate bias 1.0 by
    default). Parameters per layer ``l``: ``W_ih_l{l}`` ``(directions*4H, in)`` and ``b_l{l}`` (both
    directions' input projections in one GEMM), ``W_hh_l{l}`` and ``W_hh_l{l}_reverse`` ``(4H, H)``."""

    gates = 4
    has_cell = True
    weight_table: ClassVar = {"W_hh": RecurrentWeight.matrix(4)}

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
            _set_forget_bias(self.weights(layer).b.data, hidden_size, forget_bias)

    def cell(self, gx, weights, state):
        h, c = state
        c, h = R.lstm_reference(c, gx + F.linear(h, weights.W_hh))
        return h, c

    def recurrence(self, gx, weights, init, batch_sizes, reverse=False):
        return F.lstm_recurrence(gx, weights.W_hh, init[0], init[1], batch_sizes, reverse)

    def bidirectional_recurrence(self, gx, forward, backward, init_forward, init_backward, batch_sizes):
        return F.bilstm_recurrence(gx, forward.W_hh, backward.W_hh, *init_forward, *init_backward, batch_sizes)

    #: per layer, ``(WT, b)``: ``[W_ih, W_hh].T`` side by side (C-contiguous) and the bias, in a unidirectional
    #: for_decoding() copy
    _joint = None

    def _relayout(self, memo):
        """A unidirectional layer's decoding copy stores each layer's input and recurrent weights side by side, so
        that a step is one product of ``[x, h]``; its ``W_ih`` and ``W_hh`` are views of that array."""
        if self.directions != 1 or type(self.weights(0).W_ih.data) is not numpy.ndarray:
            return super()._relayout(memo)
        self._joint = []
        for layer in range(self.num_layers):
            names, w = self.weight_names(layer), self.weights(layer)
            WT = transposed_copy(numpy.concatenate([w.W_ih.data, w.W_hh.data], axis=1))
            n = w.W_ih.shape[1]
            setattr(self, names.W_ih, frozen_parameter(WT[:n].T))
            setattr(self, names.W_hh, frozen_parameter(WT[n:].T))
            self._joint.append((WT, w.b))

    def _step_layer(self, layer, x, init):
        if self._joint is None or config.enable_backprop or config.autocast is not None:
            return super()._step_layer(layer, x, init)
        WT, b = self._joint[layer]
        xa, h, c = (v.data if isinstance(v, Variable) else v for v in (x, *init))
        H = self.hidden_size
        if not (xa.dtype == h.dtype == c.dtype == WT.dtype and h.shape == c.shape == (len(xa), H)
                and xa.ndim == 2 and xa.shape[1] + H == len(WT)):  # fmt: skip
            return super()._step_layer(layer, x, init)  # the plain step names the mismatch
        xp = get_array_module(xa)
        gates, c = xp.concatenate([xa, h], axis=1) @ WT, c.copy()  # one product of [x, h]
        h = xp.empty_like(c)
        R.lstm_step_forward(gates, b.data, c, xp.empty_like(c), h)
        h = as_variable(h)
        return h, h, as_variable(c)


class GRU(RecurrentLayer):
    """Multi-layer, optionally bidirectional GRU (gate blocks ``[r, z, n]``, PyTorch's formulation with the
    reset gate applied to ``W_hn h + b_hn``). Parameters per layer ``l``: ``W_ih_l{l}`` ``(directions*3H, in)``,
    ``b_l{l}`` (input biases), and per direction ``W_hh_l{l}[_reverse]`` ``(3H, H)``, ``b_hh_l{l}[_reverse]``."""

    gates = 3
    weight_table: ClassVar = {"W_hh": RecurrentWeight.matrix(3), "b_hh": RecurrentWeight.bias(3)}

    def cell(self, gx, weights, state):
        return (R.gru_step_reference(state[0], gx, weights.W_hh, weights.b_hh),)

    def recurrence(self, gx, weights, init, batch_sizes, reverse=False):
        return F.gru_recurrence(gx, weights.W_hh, weights.b_hh, init[0], batch_sizes, reverse)


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
