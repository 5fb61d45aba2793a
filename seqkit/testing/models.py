"""Test a plugin's model or attention layer against the real seqkit: ``ModelTests`` and ``AttentionLayerTests``.

Both look the component up by its registered name through the plugin manager, as a recipe does, so the tests
also prove that the plugin is installed and registered. Every check raises ``AssertionError`` with one line.

- ``ModelCase``: a registered ``seqkit.models.Translator`` built by ``cls.build`` as a run builds it; its checks
  train one batch (a finite scalar loss, a positive token count, a gradient for every parameter) and decode it
  with greedy and beam search (a hypothesis per sentence, ids inside the target vocabulary).
- ``AttentionCase``: a registered ``seqkit.layers.AttentionLayer`` built by ``cls.from_sizes`` as a model builds
  it; ``check_attention_contract`` holds it to what the models use, and ``LayerCase``'s checks (gradients,
  save/load, determinism, device parity) run on it as masked self-attention, ``layer(x, x, mask)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy
import pytest

import seqkit.random
from seqkit.backend import get_array_module
from seqkit.config import no_grad, using_config
from seqkit.decoding import beam_search, greedy_search
from seqkit.layers.attention import AttentionLayer, lengths_to_mask
from seqkit.layers.layer import Layer
from seqkit.models.base import Translator
from seqkit.testing import LayerCase, LayerTests, _close, _host
from seqkit.tokenizers.vocab import BOS, EOS, PAD


@dataclasses.dataclass
class ModelCase:
    """The registered model ``name`` with recipe options ``options`` (the ``[model]`` keys besides ``name``),
    looked up in ``pm`` (a plugin manager; a strict one with every installed plugin when None)."""

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    pm: Any = None
    source_vocab: int = 12
    target_vocab: int = 13
    seed: int = 0

    def model_class(self) -> type[Translator]:
        """The registered class (``UnknownNameError`` with the closest names when missing)."""
        if self.pm is None:
            from seqkit.plugins import get_plugin_manager

            self.pm = get_plugin_manager(strict=True)
        cls = self.pm.registry("model").get(self.name)
        if not (isinstance(cls, type) and issubclass(cls, Translator)):
            raise AssertionError(f"model {self.name!r}: registered {cls!r}, not a seqkit.models.Translator subclass")
        return cls

    def build(self) -> Translator:
        """The model as a run builds it: ``cls.build`` with the options dataclass, after ``seqkit.random.seed``."""
        cls = self.model_class()
        entry = self.pm.registry("model").entry(self.name)
        options = entry.options(**self.options) if entry.options else None
        seqkit.random.seed(self.seed)
        model = cls.build(options, source_vocab=self.source_vocab, target_vocab=self.target_vocab, pad_id=PAD,
                          bos_id=BOS, eos_id=EOS, layers=self.pm.registry("layer"))  # fmt: skip
        if not isinstance(model, cls):
            raise AssertionError(f"model {self.name!r}: {cls.__name__}.build returned a {type(model).__name__}")
        ids = (model.pad_id, model.bos_id, model.eos_id)
        if ids != (PAD, BOS, EOS):
            raise AssertionError(f"model {self.name!r}: PAD/BOS/EOS ids {ids}, built with {(PAD, BOS, EOS)}")
        return model

    def batch(self, n: int = 3) -> tuple[list, list]:
        """``n`` random source and target sentences of 1 to 5 ids, none of them special."""
        rng = numpy.random.default_rng(self.seed + 1)
        src = [rng.integers(4, self.source_vocab, size=int(k)) for k in rng.integers(1, 6, size=n)]
        tgt = [rng.integers(4, self.target_vocab, size=int(k)) for k in rng.integers(1, 6, size=n)]
        return src, tgt

    def check_training(self) -> None:
        """``loss(src, tgt)`` is a finite scalar with a positive token count, and backward gives every parameter a
        gradient."""
        who = f"model {self.name!r}"
        model = self.build()
        loss, n = model.loss(*self.batch())
        if loss.shape != () or not numpy.isfinite(float(_host(loss))):
            raise AssertionError(f"{who}: loss is {loss!r}, expected a finite scalar")
        if not isinstance(n, int) or n < 1:
            raise AssertionError(f"{who}: loss counts {n!r} target tokens, expected a positive int")
        loss.backward()
        missing = [name for name, p in model.named_params() if p.grad is None]
        if missing:
            raise AssertionError(f"{who}: parameters {missing} got no gradient from the loss")

    def check_decoding(self) -> None:
        """Greedy search and beam search (2 beams) give a hypothesis for every sentence, its ids inside the target
        vocabulary."""
        who = f"model {self.name!r}"
        model = self.build()
        src, _ = self.batch()
        for search, kwargs in ((greedy_search, {}), (beam_search, {"beam": 2})):
            hyps = search(model, src, max_len_offset=4, **kwargs)
            if len(hyps) != len(src):
                raise AssertionError(f"{who}: {search.__name__} gave {len(hyps)} results for {len(src)} sentences")
            for hyp in hyps:
                hyp = hyp[0] if isinstance(hyp, list) else hyp  # beam search: an n-best list per sentence
                if not all(0 <= t < self.target_vocab for t in hyp.tokens):
                    raise AssertionError(f"{who}: {search.__name__} produced ids {hyp.tokens} outside the vocabulary")


class ModelTests:
    """Subclass as ``TestSomething`` and set ``name`` and ``options``: one pytest test per check of
    ``ModelCase``, the model looked up in the registry of the ``seqkit_plugin_manager`` fixture."""

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def model_case(self, seqkit_plugin_manager) -> ModelCase:
        return ModelCase(self.name, dict(self.options), seqkit_plugin_manager)

    def test_registered(self, model_case: ModelCase) -> None:
        model_case.model_class()

    def test_training(self, model_case: ModelCase) -> None:
        model_case.check_training()

    def test_decoding(self, model_case: ModelCase) -> None:
        model_case.check_decoding()


class _SelfAttention(Layer):
    """``attention(x, x, mask)`` with ``mask`` from fixed lengths: an attention layer as a one-input layer."""

    def __init__(self, attention: AttentionLayer, lengths: list[int]) -> None:
        super().__init__()
        self.attention, self.lengths = attention, lengths

    def __call__(self, x):
        mask = lengths_to_mask(self.lengths, x.shape[1], xp=get_array_module(x))
        return self.attention(x, x, mask)


@dataclasses.dataclass
class AttentionCase(LayerCase):
    """The registered attention layer ``name`` built as ``cls.from_sizes(D, D, heads)`` for ``shapes``
    ``(B, T, D)``; ``LayerCase``'s checks call it as masked self-attention (the mask from random lengths)."""

    heads: int = 2

    def attention_class(self) -> type[AttentionLayer]:
        cls = super().factory()
        if not (isinstance(cls, type) and issubclass(cls, AttentionLayer)):
            raise AssertionError(f"layer {self.name!r}: registered {cls!r}, not a seqkit.layers.AttentionLayer")
        return cls

    def lengths(self) -> list[int]:
        B, T, _ = self.shapes
        return [T, *numpy.random.default_rng(self.seed + 4).integers(1, T + 1, size=B - 1).tolist()]

    def factory(self):
        cls, D = self.attention_class(), self.shapes[2]
        return lambda: _SelfAttention(cls.from_sizes(D, D, self.heads), self.lengths())

    def check_attention_contract(self) -> None:
        """What seqkit's models use: ``context_size`` is the context's size; padded memory positions get exactly
        zero weight; a ``(B, Tq, D)`` query gives row by row what ``(B, D)`` queries give; ``precomputed=`` from
        ``precompute(memory)`` gives what the call derives itself."""
        who = f"layer {self.name!r}"
        attention = self.build(dtype="float64").attention
        B, T, D = self.shapes
        rng = numpy.random.default_rng(self.seed + 5)
        query, memory = rng.standard_normal((B, 3, D)), rng.standard_normal((B, T, D))
        lengths = self.lengths()
        mask = lengths_to_mask(lengths, T)
        with using_config("train", False), no_grad():
            context, weights = attention(query, memory, mask)
            size = attention.context_size(D)
            if tuple(context.shape) != (B, 3, size):
                raise AssertionError(f"{who}: context of shape {context.shape} but context_size({D}) = {size}")
            w = _host(weights)
            padded = ~mask.reshape((B,) + (1,) * (w.ndim - 2) + (T,))
            if w.shape[0] != B or w.shape[-1] != T or numpy.any(numpy.where(padded, w, 0.0)):
                raise AssertionError(f"{who}: weights {w.shape} give padded memory positions a weight")
            for t in range(3):
                one, _ = attention(query[:, t], memory, mask)
                _close(f"{who}: context of query step {t} alone vs all steps at once", one, context[:, t], 1e-6, 1e-8)
            keys = attention.precompute(memory)
            again, _ = attention(query, memory, mask, precomputed=keys)
            _close(f"{who}: context with precomputed= vs without", again, context, 1e-6, 1e-8)


class AttentionLayerTests(LayerTests):
    """``LayerTests`` for an attention layer, plus ``test_attention_contract``: set ``name``, ``shapes``
    ``(B, T, D)`` and optionally ``heads``."""

    heads: ClassVar[int] = 2

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> AttentionCase:
        return AttentionCase(self.name, self.shapes, {}, seqkit_plugin_manager.registry("layer"), heads=self.heads)

    def test_attention_contract(self, case: AttentionCase) -> None:
        case.check_attention_contract()


__all__ = ["AttentionCase", "AttentionLayerTests", "ModelCase", "ModelTests"]
