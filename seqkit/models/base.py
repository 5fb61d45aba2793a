"""What every translation model shares: the decoding interface and batching of token ids."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy

from seqkit.backend import get_array_module
from seqkit.core.autograd import Variable
from seqkit.decoding.state import DecoderState
from seqkit.errors import UserError
from seqkit.layers import BUILTIN_LAYERS, Layer
from seqkit.registry import Registry


class Translator(Layer, metaclass=abc.ABCMeta):
    """The base of every model a recipe builds by name (the ``model`` registry): trained through ``loss``, decoded
    by greedy and beam search (see ``seqkit.decoding``) through ``encode``, ``initial_state`` and ``step``.

    seqkit builds a registered model with ``cls.build(options, ...)``, which a model overrides when its
    constructor takes other arguments. ``state`` is a ``seqkit.decoding.DecoderState`` (its ``attention`` holds
    the step's attention weights ``(B, S)``, if any; searches keep and repeat hypotheses with
    ``state.select(rows)``).
    """

    #: the id of padding; set by the constructor
    pad_id: int
    #: the id that starts every target sentence: the first ``prev_tokens`` of ``step``; set by the constructor
    bos_id: int
    #: the id that ends every sentence: search stops a hypothesis there; set by the constructor
    eos_id: int

    @classmethod
    def build(
        cls, options: Any, *, source_vocab: int, target_vocab: int, pad_id: int, bos_id: int, eos_id: int,
        layers: Registry,
    ) -> Translator:  # fmt: skip
        """The model of a recipe: ``options`` the recipe's ``[model]`` section as the registered options dataclass,
        the vocabulary sizes and special ids of the run's tokenizers, and ``layers`` the registry that layer names
        in the options are looked up in. By default ``cls(source_vocab, target_vocab, options, pad_id=...,
        bos_id=..., eos_id=..., layers=...)``."""
        return cls(source_vocab, target_vocab, options, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id, layers=layers)

    @classmethod
    def parameter_count(cls, options: Any, *, source_vocab: int, target_vocab: int) -> int | None:
        """A lower bound on the parameters of the model ``build`` makes from ``options``, computed from them
        without allocating anything (None: no estimate). Recipes refuse a model whose float32 weights alone
        would not fit in memory (``seqkit.recipes``), before it is built."""
        return None

    @abc.abstractmethod
    def loss(self, src: list, tgt: list) -> tuple[Variable, int]:
        """Training: ``src`` and ``tgt`` lists of integer id arrays, one per sentence, without BOS/EOS. Returns the
        mean loss per target token (a scalar ``Variable`` to backpropagate) and the number of target tokens it
        averages over (the trainer weighs batches by it)."""

    @abc.abstractmethod
    def encode(self, src: list) -> Any:
        """Decoding: what ``initial_state`` needs from a batch of source id arrays (e.g. the encoder's memory)."""

    @abc.abstractmethod
    def initial_state(self, encoded: Any) -> DecoderState:
        """Decoding: the state before the first target token, one row per source sentence."""

    @abc.abstractmethod
    def step(self, state: DecoderState, prev_tokens: Any) -> tuple[Variable, DecoderState]:
        """Decoding: one step for every row, ``prev_tokens`` ``(B,)`` -> log-probabilities ``(B, V)`` of the next
        token and the state after it."""

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


def layer_class(layers: Registry, option: str, name: str, base: type[Layer]) -> type:
    """The class registered as ``name`` in ``layers``, for the model option ``option``; ``UserError`` (one line
    naming the option, the layer and ``base``) unless it is a subclass of ``base``."""
    obj = layers.get(name)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        what = f"{obj.__module__}.{obj.__qualname__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise UserError(f"model.{option}: layer {name!r} ({what}) does not extend seqkit.layers.{base.__name__}")
    return obj
