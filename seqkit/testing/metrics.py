"""Test a plugin's metric against the real seqkit: the metric part of the author kit.

Give it a *registered* metric name and what the metric promises: which way is better, the value of a perfect
output, and the range of its values. It looks the metric up through the plugin manager (so the test also
proves the plugin is installed and registered), then checks, on random corpora of plain words:

- ``check_registered``: the name resolves to an object that keeps ``seqkit.metrics.Metric``
  (``seqkit.metrics.get_metric``), with the promised ``higher_is_better``;
- ``check_signature``: a call returns a ``MetricResult`` with a finite float ``value``, a non-empty string
  ``name`` and a string ``signature``, and ``seqkit.metrics.compute`` accepts it;
- ``check_range``: values stay in ``[low, high]`` and never beat ``best`` (20 random corpora, one to three
  reference streams, some hypotheses empty, unrelated or far too long);
- ``check_identical``: hypotheses equal to the references score ``best``; a call gives the same value every
  time, whatever was scored before it;
- ``check_line_counts``: one line, or many with one to three streams, each stream one line per hypothesis:
  line ``i`` of the hypotheses goes with line ``i`` of every stream (permuting the lines of both together
  keeps the value; shifting the hypotheses by a line loses ``best``).

With pytest, subclass ``MetricTests``::

    from seqkit.testing.metrics import MetricTests

    class TestExact(MetricTests):
        name = "exact"
        higher_is_better = True
        best = 100.0
        low, high = 0.0, 100.0

or build a ``MetricCase`` and call its checks. Every check raises ``AssertionError`` with one line saying
what is wrong.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy
import pytest

from seqkit.metrics import Metric, MetricResult, check_metric, compute, get_metric
from seqkit.registry import PluginError, Registry

#: the words random sentences are made of
WORDS = (
    "the", "a", "cat", "dog", "sat", "on", "mat", "house", "river", "blue", "green", "small", "big", "ran", "walks",
    "sees", "under", "over", "near", "far", "quickly", "slowly", "and", "or", "but", "with", "without", "seven",
    "three", "old", "new", "tree", "stone", "bird", "sings",
)  # fmt: skip


def metric_registry() -> Registry:
    """The metric registry of a fresh strict plugin manager (a broken plugin is an error, not a warning)."""
    from seqkit.plugins import get_plugin_manager

    return get_plugin_manager(strict=True).registry("metric")


@dataclasses.dataclass
class MetricCase:
    """A registered metric and what it promises: ``higher_is_better``, the value ``best`` of hypotheses equal to
    the references, and values in ``[low, high]``; ``tolerance`` (absolute) allows for rounding in both
    (sacrebleu's BLEU of a perfect output is 100.00000000000004)."""

    name: str
    higher_is_better: bool
    best: float
    low: float = -math.inf
    high: float = math.inf
    registry: Registry | None = None
    seed: int = 0
    tolerance: float = 1e-9

    @property
    def who(self) -> str:
        return f"metric {self.name!r}"

    def metric(self) -> Metric:
        """The registered object, checked against the contract (``seqkit.metrics.get_metric``)."""
        if self.registry is None:
            self.registry = metric_registry()
        try:
            return get_metric(self.registry, self.name)
        except PluginError as e:
            raise AssertionError(f"{self.who}: {e}") from None

    def sentences(self, rng: numpy.random.Generator, n: int, shortest: int = 4) -> list[str]:
        """``n`` distinct random sentences of ``shortest`` to 14 words."""
        out: list[str] = []
        while len(out) < n:
            line = " ".join(rng.choice(WORDS, size=int(rng.integers(shortest, 15))))
            if line not in out:
                out.append(line)
        return out

    def perturbed(self, rng: numpy.random.Generator, line: str) -> str:
        """``line`` with some words replaced, dropped or added; sometimes empty, unrelated, or far too long."""
        kind = rng.integers(7)
        if kind == 0:
            return ""
        if kind == 1:
            return self.sentences(rng, 1, 1)[0]
        if kind == 2:
            return " ".join([*self.sentences(rng, 2, 8), line])
        words = []
        for w in line.split():
            r = rng.random()
            if r < 0.15:
                continue
            words.append(str(rng.choice(WORDS)) if r < 0.35 else w)
            if rng.random() < 0.1:
                words.append(str(rng.choice(WORDS)))
        return " ".join(words)

    def call(self, metric: Metric, hypotheses: list[str], references: list[list[str]]) -> MetricResult:
        """``metric(hypotheses, references)``, checked: a ``MetricResult`` with a finite value in ``[low, high]``
        that does not beat ``best``."""
        result = metric(list(hypotheses), [list(s) for s in references])
        if not isinstance(result, MetricResult):
            raise AssertionError(f"{self.who}: returned a {type(result).__name__}, not a seqkit.metrics.MetricResult")
        value = result.value
        if not isinstance(value, (int, float, numpy.floating)) or isinstance(value, bool) or not math.isfinite(value):
            raise AssertionError(f"{self.who}: returned the value {value!r}, not a finite number")
        if not self.low - self.tolerance <= value <= self.high + self.tolerance:
            raise AssertionError(
                f"{self.who}: value {value!r} is outside [{self.low}, {self.high}] "
                f"({len(hypotheses)} lines, {len(references)} reference streams)"
            )
        beats = value > self.best if self.higher_is_better else value < self.best
        if beats and abs(value - self.best) > self.tolerance:
            direction = f"higher_is_better={self.higher_is_better}"
            raise AssertionError(f"{self.who}: value {value!r} is better than best={self.best} ({direction})")
        return result

    def _is_best(self, value: float) -> bool:
        return abs(value - self.best) <= self.tolerance

    # ---- the checks ------------------------------------------------------------------------------------
    def check_registered(self) -> None:
        """The name resolves to an object keeping ``Metric``, with the promised ``higher_is_better``."""
        metric = self.metric()
        if not isinstance(metric, Metric):
            raise AssertionError(f"{self.who}: the registered object does not keep seqkit.metrics.Metric")
        if metric.higher_is_better is not self.higher_is_better:
            raise AssertionError(
                f"{self.who}: higher_is_better is {metric.higher_is_better}, the case says {self.higher_is_better}"
            )

    def check_signature(self) -> None:
        """``check_metric`` passes; a call returns a ``MetricResult`` with a finite float value and string name
        and signature; ``seqkit.metrics.compute`` gives the same value."""
        metric = self.metric()
        problem = check_metric(metric)
        if problem:
            raise AssertionError(f"{self.who}: {problem}")
        rng = numpy.random.default_rng(self.seed)
        refs = self.sentences(rng, 5)
        hyps = [self.perturbed(rng, r) for r in refs]
        result = self.call(metric, hyps, [refs])
        if not isinstance(result.name, str) or not result.name:
            raise AssertionError(f"{self.who}: MetricResult.name must be a non-empty string, got {result.name!r}")
        if not isinstance(result.signature, str):
            raise AssertionError(f"{self.who}: MetricResult.signature must be a string, got {result.signature!r}")
        try:
            again = compute(self.name, metric, hyps, refs)
        except PluginError as e:
            raise AssertionError(f"{self.who}: seqkit.metrics.compute refuses it: {e}") from None
        if again.value != result.value:
            raise AssertionError(f"{self.who}: compute() gives {again.value!r}, a direct call {result.value!r}")

    def check_range(self, trials: int = 20) -> None:
        """On ``trials`` random corpora (1-8 lines, 1-3 streams, some hypotheses empty, unrelated or far too
        long) values stay in ``[low, high]`` and never beat ``best``."""
        metric = self.metric()
        rng = numpy.random.default_rng(self.seed + 1)
        for _ in range(trials):
            n, k = int(rng.integers(1, 9)), int(rng.integers(1, 4))
            streams = [self.sentences(rng, n) for _ in range(k)]
            hyps = [self.perturbed(rng, streams[int(rng.integers(k))][i]) for i in range(n)]
            self.call(metric, hyps, streams)

    def check_identical(self) -> None:
        """Hypotheses equal to the references (one stream, and two equal streams) score ``best``; every call
        gives the same value, before and after scoring something else."""
        metric = self.metric()
        rng = numpy.random.default_rng(self.seed + 2)
        refs = self.sentences(rng, 6)
        for streams in ([refs], [refs, list(refs)]):
            value = self.call(metric, refs, streams).value
            if not self._is_best(value):
                raise AssertionError(
                    f"{self.who}: hypotheses equal to the references score {value!r}, not best={self.best} "
                    f"({len(streams)} stream(s))"
                )
        other_refs = self.sentences(rng, 4)
        other_hyps = [self.perturbed(rng, r) for r in other_refs]
        first = self.call(metric, other_hyps, [other_refs]).value
        if self.call(metric, other_hyps, [other_refs]).value != first:
            raise AssertionError(f"{self.who}: two calls on the same input give different values")
        self.call(metric, refs, [refs])
        self.call(metric, [self.perturbed(rng, r) for r in refs], [refs])
        after = self.call(metric, other_hyps, [other_refs]).value
        if after != first:
            raise AssertionError(
                f"{self.who}: the same input scores {first!r}, then {after!r} after other calls (state kept between "
                "calls?)"
            )

    def check_line_counts(self) -> None:
        """Line ``i`` of the hypotheses goes with line ``i`` of every stream: one line scores; 1-3 streams of
        ``n`` lines score; permuting the lines of hypotheses and streams together keeps the value; hypotheses
        equal to the references but shifted by one line do not score ``best``."""
        metric = self.metric()
        rng = numpy.random.default_rng(self.seed + 3)
        (line,) = self.sentences(rng, 1)
        if not self._is_best(value := self.call(metric, [line], [[line]]).value):
            raise AssertionError(f"{self.who}: one line equal to its reference scores {value!r}, not best={self.best}")
        n = 7
        streams = [self.sentences(rng, n) for _ in range(3)]
        hyps = [self.perturbed(rng, line) for line in streams[0]]
        for k in (1, 2, 3):
            value = self.call(metric, hyps, streams[:k]).value
            order = rng.permutation(n)
            permuted = self.call(metric, [hyps[i] for i in order], [[s[i] for i in order] for s in streams[:k]])
            if not math.isclose(permuted.value, value, rel_tol=1e-9, abs_tol=self.tolerance):
                raise AssertionError(
                    f"{self.who}: permuting the lines of hypotheses and {k} reference stream(s) together changes the "
                    f"value from {value!r} to {permuted.value!r}"
                )
        shifted = streams[0][1:] + streams[0][:1]
        if self._is_best(value := self.call(metric, shifted, [streams[0]]).value):
            raise AssertionError(
                f"{self.who}: hypotheses shifted by one line against their references still score best ({value!r}); "
                "line i of the hypotheses must be scored against line i of each stream"
            )

    def check_all(self) -> None:
        """Every check."""
        self.check_registered()
        self.check_signature()
        self.check_range()
        self.check_identical()
        self.check_line_counts()


def check_metric_plugin(name: str, *, higher_is_better: bool, best: float, low: float = -math.inf,
                        high: float = math.inf, registry: Registry | None = None) -> None:  # fmt: skip
    """Run every check on the registered metric ``name`` (see the module docstring)."""
    MetricCase(name, higher_is_better, best, low, high, registry).check_all()


class MetricTests:
    """Subclass as ``TestSomething`` and set ``name``, ``higher_is_better``, ``best``, and ``low``/``high`` when
    the values have bounds: one pytest test per check. The metric is looked up in the registry of the
    ``seqkit_plugin_manager`` fixture."""

    name: ClassVar[str]
    higher_is_better: ClassVar[bool]
    best: ClassVar[float]
    low: ClassVar[float] = -math.inf
    high: ClassVar[float] = math.inf

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> MetricCase:
        registry = seqkit_plugin_manager.registry("metric")
        return MetricCase(self.name, self.higher_is_better, self.best, self.low, self.high, registry)

    def test_registered(self, case: MetricCase) -> None:
        case.check_registered()

    def test_signature(self, case: MetricCase) -> None:
        case.check_signature()

    def test_range(self, case: MetricCase) -> None:
        case.check_range()

    def test_identical(self, case: MetricCase) -> None:
        case.check_identical()

    def test_line_counts(self, case: MetricCase) -> None:
        case.check_line_counts()


__all__ = ["WORDS", "MetricCase", "MetricTests", "check_metric_plugin", "metric_registry"]
