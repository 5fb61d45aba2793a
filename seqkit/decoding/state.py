"""What a decoder carries from one step to the next: ``DecoderState`` and ``EnsembleState``.

A search holds one row per open hypothesis and, after every step, keeps some rows and repeats others
(``select``). Values come in two kinds: per-row values (the recurrent state, an input-feeding vector), whose
row axis is taken; and per-source values (the encoder's memory, its mask, precomputed attention keys), kept
once per source sentence and shared by ``group`` consecutive rows, a sentence's beam. When a selection keeps
rows in equal blocks of one source each, as beam search does, the per-source values move only when a sentence
leaves, and a step can attend with a block's queries together; any other selection gives one copy per row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy

from seqkit.backend import get_array_module


@dataclasses.dataclass
class DecoderState:
    """A decoder's state for a batch of rows.

    - ``rows``: per-row values (arrays or Variables, or tuples of them, such as an LSTM's ``(h, c)``), row axis
      0 unless ``row_axis`` names another (an RNN's ``(layers, rows, H)`` state: 1);
    - ``sources``: per-source values, first axis the source sentence; row ``r`` belongs to source ``r // group``;
    - ``attention``: the last step's attention weights ``(rows, S)`` (or ``(rows, heads, S)``), or None.
    """

    rows: dict[str, Any] = dataclasses.field(default_factory=dict)
    sources: dict[str, Any] = dataclasses.field(default_factory=dict)
    group: int = 1
    attention: Any = None
    row_axis: dict[str, int] = dataclasses.field(default_factory=dict)

    def after_step(self, attention: Any = None, **rows: Any) -> DecoderState:
        """The state after a step: the given per-row values replaced (or added), this step's ``attention``."""
        return dataclasses.replace(self, rows={**self.rows, **rows}, attention=attention)

    def select(self, index) -> DecoderState:
        """The rows ``index`` (an integer array; rows may repeat) of this state, attention weights included."""
        host = numpy.asarray(index)
        group, used = _beam_blocks(host // self.group)  # the source sentence of each new row
        sources = self.sources
        if sources:
            n = len(_first(next(iter(sources.values()))))
            if not (len(used) == n and (used == numpy.arange(n)).all()):
                xp_used = _xp(sources).asarray(used)
                sources = {k: _take(v, xp_used, 0) for k, v in sources.items()}
        xp_index = _xp(self.rows, sources).asarray(host)
        rows = {k: _take(v, xp_index, self.row_axis.get(k, 0)) for k, v in self.rows.items()}
        attention = None if self.attention is None else _take(self.attention, xp_index, 0)
        return DecoderState(rows, sources, group, attention, self.row_axis)


@dataclasses.dataclass
class EnsembleState:
    """The states of an ensemble's members, selected together; ``attention`` is the first member's."""

    members: list

    @property
    def attention(self) -> Any:
        return self.members[0].attention

    def select(self, index) -> EnsembleState:
        return EnsembleState([m.select(index) for m in self.members])


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def _xp(*groups: dict):
    for values in groups:
        for v in values.values():
            return get_array_module(getattr(_first(v), "data", _first(v)))
    return numpy


def _take(value, index, axis: int):
    if isinstance(value, tuple):
        return tuple(_take(v, index, axis) for v in value)
    return value[(slice(None),) * axis + (index,)]  # F.getitem for a Variable


def _beam_blocks(sources) -> tuple[int, numpy.ndarray]:
    """``(g, heads)`` when ``sources`` is each of the increasing ``heads`` repeated ``g`` times in a row (a beam
    of ``g`` rows per sentence); ``(1, sources)`` for any other layout."""
    if len(sources) == 0:
        return 1, sources
    differs = numpy.flatnonzero(sources != sources[0])
    g = int(differs[0]) if len(differs) else len(sources)
    heads = sources[::g]
    if len(sources) % g == 0 and (numpy.repeat(heads, g) == sources).all() and (numpy.diff(heads) > 0).all():
        return g, heads
    return 1, sources


__all__ = ["DecoderState", "EnsembleState"]
