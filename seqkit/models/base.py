"""What every translation model shares: the decoding interface and batching of token ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from seqkit.backend import get_array_module
from seqkit.layers import BUILTIN_LAYERS, Layer
from seqkit.registry import Registry


class Translator(Layer):
    """A model that greedy and beam search can drive (see ``seqkit.decoding``).

    Subclasses implement ``encode(src) -> encoded``, ``initial_state(encoded) -> state`` and
    ``step(state, prev_tokens) -> (log_probs (B, V), state)``, where ``state`` is a
    ``seqkit.decoding.DecoderState`` (its ``attention`` holds the step's attention weights ``(B, S)``, if any;
    searches keep and repeat hypotheses with ``state.select(rows)``), and set ``bos_id`` / ``eos_id``.
    """

    bos_id = 2
    eos_id = 3

    @property
    def xp(self):
        """The array module the parameters live on."""
        return get_array_module(next(self.params()).data)


def pad_batch(seqs: Sequence[Any], pad_id: int, xp=numpy) -> tuple[Any, list[int]]:
    """Integer sequences -> an ``(B, max_len)`` array padded with ``pad_id`` (on ``xp``), and the lengths."""
    lengths = [len(s) for s in seqs]
    out = numpy.full((len(seqs), max(lengths)), pad_id, dtype=numpy.int64)
    for row, s in zip(out, seqs):
        row[: len(s)] = s
    return (out if xp is numpy else xp.asarray(out)), lengths


def default_layers() -> Registry:
    """seqkit's own layers (``seqkit.layers.BUILTIN_LAYERS``), what a model built without ``layers=`` looks its
    layers up in. Plugins' layers are in the plugin manager's registry, ``pm.registry("layer")``, which recipes
    and runs pass; a model never creates a plugin manager itself."""
    registry = Registry("layer")
    registry.plugin = "seqkit"
    for name, (cls, aliases) in BUILTIN_LAYERS.items():
        registry.add(name, cls, aliases=aliases)
    return registry
