"""Test a decoding strategy against the real seqkit: the decoding part of the author kit.

Give it a *registered* strategy name and its options. It looks the strategy up through the plugin manager (so
the test also proves the plugin is installed and registered), builds it as seqkit does (``cls(**options)``)
and runs it on ``ToyTranslator``, a small model whose rows are independent by construction, so every
difference between a batch and its sentences alone is the strategy's:

- ``check_registered``: the name resolves to a ``seqkit.decoding.DecodingStrategy`` subclass that builds from
  its options and declares ``max_nbest`` (``None`` or at least 1);
- ``check_nbest``: ``min(nbest, max_nbest)`` hypotheses per sentence, best first (scores non-increasing),
  different token sequences when the strategy declares ``distinct``, tokens in the vocabulary without BOS or
  EOS, ``log_prob`` the model's log-probability of the tokens (and of EOS when it ended before the limit);
- ``check_batch_invariance``: each sentence decoded alone, and in a shuffled batch, gives what it gives in
  the whole batch;
- ``check_lengths``: no hypothesis is longer than ``seqkit.decoding.max_lengths``; where EOS is impossible,
  every hypothesis is exactly that long;
- ``check_short_inputs``: no sentences give no hypotheses; one-token sentences and a maximum length of one
  token work;
- ``check_reproducible``: the same call gives the same hypotheses; for a ``stochastic`` strategy, another
  ``seed`` gives others, and a sentence's samples are not all one;
- ``check_attention``: with ``keep_attention``, each hypothesis' weights are ``None`` or one row per step
  over the sentence's tokens, each row summing to 1.

With pytest, subclass ``StrategyTests``::

    from seqkit.testing.decoding import StrategyTests

    class TestEpsilon(StrategyTests):
        name = "epsilon_sampling"
        options = {"epsilon": 0.02}

or build a ``StrategyCase`` and call its checks. Every check raises ``AssertionError`` with one line saying
what is wrong.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, ClassVar

import numpy
import pytest

from seqkit.core.autograd import Variable
from seqkit.decoding import DecoderState, DecodingStrategy, Hypothesis, max_lengths
from seqkit.registry import Registry

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class ToyTranslator:
    """A decoding model (``encode``, ``initial_state``, ``step``, ``for_decoding``, ``bos_id``, ``eos_id``,
    ``xp``) over ``V`` tokens whose next-token log-probabilities depend on the previous token, the source
    sentence and the step: EOS grows likelier as the output passes the source's length (``eos_bias`` added to its
    logit; ``-numpy.inf`` rules EOS out). Attention weights peak at the source position of the step. Each row is
    computed on its own, so a row's numbers do not depend on the batch."""

    bos_id, eos_id = BOS, EOS
    xp = numpy

    def __init__(self, vocab_size: int = 12, *, seed: int = 0, eos_bias: float = 0.0) -> None:
        rng = numpy.random.default_rng(seed)
        self.vocab_size, self.eos_bias = vocab_size, eos_bias
        self.table = rng.standard_normal((vocab_size, vocab_size)) * 1.5
        self.embed = rng.standard_normal((vocab_size, vocab_size))
        self.table[:, [PAD, UNK, BOS]] = -numpy.inf  # never output

    def for_decoding(self) -> ToyTranslator:
        """The model itself: it has no weight layouts to derive."""
        return self

    def encode(self, src):
        bias = numpy.stack([self.embed[numpy.asarray(s, dtype=int)].mean(axis=0) for s in src]) if src else None
        length = numpy.array([len(s) for s in src], dtype=float)
        mask = numpy.arange(int(length.max(initial=0)))[None, :] < length[:, None]  # the batch's padded width
        return {"bias": bias, "length": length, "mask": mask}

    def initial_state(self, encoded) -> DecoderState:
        rows = {**encoded, "t": numpy.zeros(len(encoded["length"]))}
        return DecoderState(rows)

    def step(self, state: DecoderState, prev):
        r = state.rows
        logits = self.table[numpy.asarray(prev)] + r["bias"]
        logits[:, EOS] += 2.0 * (r["t"] - r["length"]) + self.eos_bias
        top = logits.max(axis=1, keepdims=True)
        logp = logits - top - numpy.log(numpy.exp(logits - top).sum(axis=1, keepdims=True))
        score = -((numpy.arange(r["mask"].shape[1])[None, :] - r["t"][:, None]) ** 2)
        score = numpy.where(r["mask"], score, -numpy.inf)
        weights = numpy.exp(score - score.max(axis=1, keepdims=True))
        return Variable(logp), state.after_step(attention=weights / weights.sum(axis=1, keepdims=True), t=r["t"] + 1)

    def log_prob(self, source, tokens: list[int], with_eos: bool) -> float:
        """The log-probability of ``tokens`` (and then EOS) given ``source``, one step at a time."""
        state = self.initial_state(self.encode([numpy.asarray(source)]))
        prev, total = BOS, 0.0
        for token in [*tokens, EOS] if with_eos else tokens:
            logp, state = self.step(state, [prev])
            total += float(logp.data[0, token])
            prev = token
        return total


def strategy_registry() -> Registry:
    """The decoding strategy registry of a fresh strict plugin manager (a broken plugin is an error)."""
    from seqkit.plugins import get_plugin_manager

    return get_plugin_manager(strict=True).registry("decoding_strategy")


def _sources(rng: numpy.random.Generator, n: int, vocab_size: int, longest: int = 7) -> list[numpy.ndarray]:
    return [rng.integers(4, vocab_size, size=int(rng.integers(1, longest + 1))) for _ in range(n)]


def _same(a: list[Hypothesis], b: list[Hypothesis]) -> bool:
    return [h.tokens for h in a] == [h.tokens for h in b] and all(
        math.isclose(x.score, y.score, rel_tol=1e-9, abs_tol=1e-9) for x, y in zip(a, b)
    )


@dataclasses.dataclass
class StrategyCase:
    """A registered strategy ``name`` built from ``options``, asked for ``nbest`` hypotheses per sentence."""

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    nbest: int = 3
    registry: Registry | None = None
    seed: int = 0
    max_len_ratio: float = 1.5
    max_len_offset: int = 3

    @property
    def who(self) -> str:
        return f"decoding strategy {self.name!r}"

    def cls(self) -> type:
        if self.registry is None:
            self.registry = strategy_registry()
        try:
            return self.registry.get(self.name)
        except KeyError as e:
            raise AssertionError(f"{self.who}: {e}") from None

    def build(self, **changes: Any) -> DecodingStrategy:
        """``cls(**options)``, with ``changes`` to the options, as seqkit builds it."""
        return self.cls()(**{**self.options, **changes})

    def want(self, strategy: DecodingStrategy) -> int:
        """How many hypotheses per sentence to ask for: ``nbest``, or fewer when the strategy gives fewer."""
        return self.nbest if strategy.max_nbest is None else min(self.nbest, strategy.max_nbest)

    def search(self, strategy: DecodingStrategy, model, sources, **kwargs: Any) -> list[list[Hypothesis]]:
        kwargs = {"nbest": self.want(strategy), "max_len_ratio": self.max_len_ratio,
                  "max_len_offset": self.max_len_offset, "keep_attention": False, **kwargs}  # fmt: skip
        found = strategy.search(model, list(sources), **kwargs)
        if not isinstance(found, list) or len(found) != len(sources):
            size = len(found) if isinstance(found, list) else type(found).__name__
            raise AssertionError(f"{self.who}: search returned {size} results for {len(sources)} sentences")
        for hyps in found:
            if not isinstance(hyps, list) or not all(isinstance(h, Hypothesis) for h in hyps):
                raise AssertionError(f"{self.who}: a sentence's result is not a list of seqkit.decoding.Hypothesis")
        return found

    def sources(self, n: int = 8, offset: int = 0) -> list[numpy.ndarray]:
        return _sources(numpy.random.default_rng(self.seed + offset), n, ToyTranslator().vocab_size)

    # ---- the checks ------------------------------------------------------------------------------------
    def check_registered(self) -> None:
        """A ``DecodingStrategy`` subclass that builds from the options, with ``max_nbest`` None or >= 1."""
        cls = self.cls()
        if not (isinstance(cls, type) and issubclass(cls, DecodingStrategy)):
            raise AssertionError(f"{self.who}: registered {cls!r}, not a seqkit.decoding.DecodingStrategy subclass")
        entry = self.registry.entry(self.name)
        if entry.options is not None:
            defaults = dataclasses.asdict(entry.options())
            unknown = sorted(set(self.options) - set(defaults))
            if unknown:
                raise AssertionError(f"{self.who}: options {unknown} are not fields of {entry.options.__name__}")
            self.cls()(**defaults)
        strategy = self.build()
        most = strategy.max_nbest
        if most is not None and (not isinstance(most, int) or most < 1):
            raise AssertionError(f"{self.who}: max_nbest is {most!r}, not None or an int of at least 1")

    def check_nbest(self) -> None:
        """The promised count per sentence, scores non-increasing, distinct sequences if ``distinct``, real
        tokens, ``log_prob`` the model's."""
        model, strategy = ToyTranslator(seed=self.seed), self.build()
        sources = self.sources()
        want = self.want(strategy)
        for source, hyps in zip(sources, self.search(strategy, model, sources)):
            if len(hyps) != want:
                raise AssertionError(f"{self.who}: {len(hyps)} hypotheses for a sentence, asked for {want}")
            scores = [h.score for h in hyps]
            if any(not math.isfinite(s) for s in scores) or any(a < b for a, b in itertools.pairwise(scores)):
                raise AssertionError(f"{self.who}: n-best scores {scores} are not finite and best first")
            if strategy.distinct and len({tuple(h.tokens) for h in hyps}) != len(hyps):
                raise AssertionError(f"{self.who}: declares distinct, but a sentence's n-best repeat a hypothesis")
            limit = int(max_lengths([source], self.max_len_ratio, self.max_len_offset)[0])
            for h in hyps:
                if any(not isinstance(t, int) or not 4 <= t < model.vocab_size for t in h.tokens):
                    raise AssertionError(f"{self.who}: hypothesis {h.tokens} holds BOS, EOS, PAD or non-int tokens")
                expected = model.log_prob(source, h.tokens, with_eos=len(h.tokens) < limit)
                if not math.isclose(h.log_prob, expected, rel_tol=1e-6, abs_tol=1e-6):
                    raise AssertionError(
                        f"{self.who}: log_prob {h.log_prob!r} of {h.tokens} is not the model's {expected!r}"
                    )

    def check_batch_invariance(self) -> None:
        """Each sentence alone, and the batch shuffled, give what the whole batch gives."""
        model, strategy = ToyTranslator(seed=self.seed), self.build()
        sources = self.sources(10, offset=1)
        batched = self.search(strategy, model, sources)
        for i, source in enumerate(sources):
            (alone,) = self.search(strategy, model, [source])
            if not _same(alone, batched[i]):
                raise AssertionError(
                    f"{self.who}: sentence {i} decoded alone gives {[h.tokens for h in alone]}, in a batch of "
                    f"{len(sources)} {[h.tokens for h in batched[i]]}"
                )
        order = numpy.random.default_rng(self.seed).permutation(len(sources))
        for i, hyps in zip(order, self.search(strategy, model, [sources[i] for i in order])):
            if not _same(hyps, batched[i]):
                raise AssertionError(f"{self.who}: sentence {i} gives other hypotheses when the batch is shuffled")

    def check_lengths(self) -> None:
        """At most ``max_lengths`` tokens; exactly that many when EOS is impossible."""
        strategy = self.build()
        sources = self.sources(offset=2)
        for eos_bias in (0.0, -numpy.inf):
            model = ToyTranslator(seed=self.seed, eos_bias=eos_bias)
            for ratio, offset in ((1.5, 3), (0.5, 1), (0.0, 2)):
                limits = max_lengths(sources, ratio, offset)
                found = self.search(strategy, model, sources, max_len_ratio=ratio, max_len_offset=offset)
                for limit, hyps in zip(limits, found):
                    for h in hyps:
                        if len(h.tokens) > limit or (eos_bias == -numpy.inf and len(h.tokens) != limit):
                            raise AssertionError(
                                f"{self.who}: a hypothesis of {len(h.tokens)} tokens where the maximum length is "
                                f"{limit} (max_len_ratio {ratio}, max_len_offset {offset}"
                                f"{', EOS impossible' if eos_bias else ''})"
                            )

    def check_short_inputs(self) -> None:
        """No sentences give ``[]``; one-token sentences and a maximum length of one token work."""
        model, strategy = ToyTranslator(seed=self.seed), self.build()
        if self.search(strategy, model, []) != []:
            raise AssertionError(f"{self.who}: no sentences must give no results")
        sources = [numpy.array([t]) for t in range(4, 9)]
        for hyps in self.search(strategy, model, sources, max_len_ratio=0.0, max_len_offset=1):
            if len(hyps) != self.want(strategy) or any(len(h.tokens) > 1 for h in hyps):
                raise AssertionError(f"{self.who}: with a maximum length of 1, got {[h.tokens for h in hyps]}")
        self.search(strategy, model, sources)

    def check_reproducible(self) -> None:
        """The same call twice gives the same; a stochastic strategy's seed changes its samples, and a
        sentence's samples differ from each other."""
        model, strategy = ToyTranslator(seed=self.seed, eos_bias=-2.0), self.build()
        sources = self.sources(offset=3)
        first = self.search(strategy, model, sources)
        if not all(_same(a, b) for a, b in zip(first, self.search(self.build(), model, sources))):
            raise AssertionError(f"{self.who}: the same call twice gives different hypotheses")
        if not strategy.stochastic:
            return
        seed = self.options.get("seed", 0)
        other = self.search(self.build(seed=seed + 1), model, sources)
        if all(_same(a, b) for a, b in zip(first, other)):
            raise AssertionError(f"{self.who}: seed {seed + 1} gives the same samples as seed {seed}")
        if self.want(strategy) > 1 and all(len({tuple(h.tokens) for h in hyps}) == 1 for hyps in first):
            raise AssertionError(f"{self.who}: every sentence's {self.want(strategy)} samples are one and the same")

    def check_attention(self) -> None:
        """With ``keep_attention``: ``None``, or one row per step (tokens, plus EOS when it ended there) over the
        sentence's tokens, each row summing to 1."""
        model, strategy = ToyTranslator(seed=self.seed), self.build()
        sources = self.sources(offset=4)
        limits = max_lengths(sources, self.max_len_ratio, self.max_len_offset)
        for source, limit, hyps in zip(sources, limits, self.search(strategy, model, sources, keep_attention=True)):
            for h in hyps:
                if h.attention is None:
                    continue
                rows = len(h.tokens) + (len(h.tokens) < limit)
                if numpy.shape(h.attention) != (rows, len(source)):
                    raise AssertionError(
                        f"{self.who}: attention of shape {numpy.shape(h.attention)} for {len(h.tokens)} tokens of a "
                        f"{len(source)}-token sentence; expected {(rows, len(source))}"
                    )
                if not numpy.allclose(numpy.sum(h.attention, axis=1), 1.0, atol=1e-6):
                    raise AssertionError(f"{self.who}: attention rows do not sum to 1")

    def check_all(self) -> None:
        """Every check."""
        self.check_registered()
        self.check_nbest()
        self.check_batch_invariance()
        self.check_lengths()
        self.check_short_inputs()
        self.check_reproducible()
        self.check_attention()


def check_strategy(name: str, options: dict[str, Any] | None = None, *, nbest: int = 3,
                   registry: Registry | None = None) -> None:  # fmt: skip
    """Run every check on the registered strategy ``name`` (see the module docstring)."""
    StrategyCase(name, dict(options or {}), nbest, registry).check_all()


class StrategyTests:
    """Subclass as ``TestSomething`` and set ``name`` (and ``options``, ``nbest``): one pytest test per check.
    The strategy is looked up in the registry of the ``seqkit_plugin_manager`` fixture."""

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    nbest: ClassVar[int] = 3

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> StrategyCase:
        registry = seqkit_plugin_manager.registry("decoding_strategy")
        return StrategyCase(self.name, dict(self.options), self.nbest, registry)

    def test_registered(self, case: StrategyCase) -> None:
        case.check_registered()

    def test_nbest(self, case: StrategyCase) -> None:
        case.check_nbest()

    def test_batch_invariance(self, case: StrategyCase) -> None:
        case.check_batch_invariance()

    def test_lengths(self, case: StrategyCase) -> None:
        case.check_lengths()

    def test_short_inputs(self, case: StrategyCase) -> None:
        case.check_short_inputs()

    def test_reproducible(self, case: StrategyCase) -> None:
        case.check_reproducible()

    def test_attention(self, case: StrategyCase) -> None:
        case.check_attention()


__all__ = ["StrategyCase", "StrategyTests", "ToyTranslator", "check_strategy", "strategy_registry"]
