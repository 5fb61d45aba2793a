"""The metric contract, and BLEU, chrF and TER through sacrebleu, plus a clearly labelled tokenised-lowercased
BLEU for older papers.

A metric is what the metric registry holds (``seqkit_register_metrics``): an object that keeps ``Metric``, the
contract below: ``higher_is_better`` (which way checkpoint selection and early stopping go) and
``metric(hypotheses, references) -> MetricResult``. ``seqkit bleu -m NAME`` and ``evaluation.monitor =
"val/NAME"`` take any registered metric; ``get_metric`` finds one and checks the contract, ``compute`` calls it
and checks what it returns.

Detokenised, cased sacreBLEU (``bleu``) is the headline metric. ``bleu``, ``chrf`` and ``ter`` are
``SacrebleuMetric`` objects, the built-in registrations: each takes the hypotheses (a list of strings) and the
references: one stream (a list of strings, one per hypothesis) or several streams (a list of such lists), and
returns a ``MetricResult`` that also carries sacrebleu's score object.

``tok_lc_bleu`` is the number older papers reported (``multi-bleu.perl`` on Moses-tokenised, lowercased text):
the hypotheses are tokenised with one of sacrebleu's tokenizers (``13a`` by default, close to but not the same
as Moses: it keeps ``woman's`` whole and does not escape ``'`` as ``&apos;``) and lowercased, the references are
taken as already tokenised and only lowercased, and BLEU runs with ``tokenize='none'``. Its score is named
``BLEU-tok-lc`` and its signature carries ``hyptok:<tokenizer>``, so it is never mistaken for sacreBLEU.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric as SacrebleuObject
from sacrebleu.metrics.base import Score
from sacrebleu.metrics.bleu import BLEUScore, BLEUSignature
from sacrebleu.significance import PairedTest, Result

#: metric name (as on the command line) -> sacrebleu class
METRIC_CLASSES: dict[str, type[SacrebleuObject]] = {"bleu": BLEU, "chrf": CHRF, "ter": TER}

TOK_LC_NAME = "BLEU-tok-lc"
TOK_LC_NOTE = (
    "BLEU-tok-lc is tokenised, lowercased BLEU for comparison with older papers, not sacreBLEU: hypotheses "
    "tokenised with sacreBLEU's {tok} tokenizer and lowercased, references used as given (pre-tokenised) and "
    "lowercased, scored with tokenize=none"
)


class _TokLcSignature(BLEUSignature):
    """BLEU's signature plus ``hyptok``, the tokenizer applied to the hypotheses before scoring."""

    def __init__(self, args: dict) -> None:
        super().__init__(args)
        self._abbr["hyptok"] = "htok"
        self.info["hyptok"] = args["hyp_tokenizer_signature"]


class TokLcBLEU(BLEU):
    """sacrebleu's BLEU in the tokenised-lowercased mode: hypotheses go through ``hyp_tokenize`` (a sacrebleu
    tokenizer name), then both sides are lowercased and split on whitespace (``tokenize='none'``).

    Works wherever a sacrebleu ``BLEU`` does (``corpus_score``, bootstrap, ``PairedTest``); scores are named
    ``BLEU-tok-lc``. Other keyword arguments go to ``BLEU``.
    """

    _SIGNATURE_TYPE = _TokLcSignature

    def __init__(self, hyp_tokenize: str = "13a", **options: Any) -> None:
        # force: tokenised hypotheses end in " ." on purpose; sacrebleu would warn about it.
        super().__init__(lowercase=True, tokenize="none", force=True, **options)
        self.hyp_tokenizer = BLEU(tokenize=hyp_tokenize).tokenizer
        self.hyp_tokenizer_signature = self.hyp_tokenizer.signature()

    def tokenize_hypothesis(self, line: str) -> str:
        """One hypothesis as scored: tokenised and lowercased."""
        return " ".join(self.hyp_tokenizer(line.rstrip()).split()).lower()

    def _extract_corpus_statistics(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]] | None):
        # Every path to the statistics (corpus_score, bootstrap, paired tests) passes here; references do not.
        return super()._extract_corpus_statistics([self.tokenize_hypothesis(h) for h in hypotheses], references)

    def _compute_score_from_stats(self, stats: Sequence[float]) -> BLEUScore:
        score = super()._compute_score_from_stats(stats)
        score.name = TOK_LC_NAME
        return score


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """A corpus score, what every metric returns.

    ``value``: the score as a number; ``name``: the score's name as printed (``BLEU``, ``chrF2``, ``TER``);
    ``signature``: how it was computed, ``key:value`` pairs joined by ``|`` as sacrebleu writes them (may be
    empty); ``score``: sacrebleu's score object for the sacrebleu metrics (``BLEUScore``: ``.precisions``,
    ``.bp``, ...; ``CHRFScore``; ``TERScore``), else None.
    """

    value: float
    name: str
    signature: str = ""
    score: Score | None = None

    def format(self, width: int = 1, score_only: bool = False, is_json: bool = False) -> str:
        """The score as sacrebleu prints one: ``NAME|SIGNATURE = VALUE`` (just ``VALUE`` with ``score_only``), or
        sacrebleu's JSON record; a sacrebleu score object prints itself, with everything it adds."""
        if self.score is not None:
            return self.score.format(width, score_only, self.signature, is_json)
        text = f"{self.value:.{width}f}"
        if score_only and not is_json:
            return text
        if is_json:
            record: dict[str, Any] = {"name": self.name, "score": float(text), "signature": self.signature}
            for part in filter(None, self.signature.split("|")):
                key, _, value = part.partition(":")
                record.setdefault(key, value)
            return json.dumps(record, indent=1, ensure_ascii=False)
        return f"{self.name}|{self.signature} = {text}" if self.signature else f"{self.name} = {text}"

    def __str__(self) -> str:
        return self.format()


@runtime_checkable
class Metric(Protocol):
    """The contract of a registered metric (``registry.add(name, metric)`` in ``seqkit_register_metrics``).

    Register an object, not a class: seqkit calls it as it is.
    """

    #: True when a larger value is better (BLEU, chrF), False when a smaller one is (TER). Checkpoint
    #: selection (``best.npz``), early stopping and the plateau schedule follow it when the metric is
    #: ``evaluation.monitor``.
    higher_is_better: bool

    def __call__(self, hypotheses: list[str], references: list[list[str]]) -> MetricResult:
        """Score a corpus. ``hypotheses``: one detokenised string per segment; ``references``: one or more
        reference streams, each a list with one string per hypothesis. seqkit checks the line counts before
        calling. Returns a ``MetricResult`` with a finite ``value``."""
        ...


def check_metric(obj: Any) -> str | None:
    """Why ``obj`` does not keep the ``Metric`` contract (``"a class ..."``, ``"missing ..."``), or None."""
    if isinstance(obj, type):
        return f"the class {obj.__name__}; register an instance (seqkit calls the registered object as it is)"
    if not callable(obj):
        return f"a {type(obj).__name__} object, which is not callable"
    if not isinstance(getattr(obj, "higher_is_better", None), bool):
        return "missing higher_is_better = True or False (which way a better score goes)"
    return None


def get_metric(registry: Any, name: str) -> Metric:
    """The metric registered as ``name`` in ``registry`` (the plugin manager's ``registry("metric")``).

    Raises ``UnknownNameError`` (bad input, with the closest name) when none is, and ``PluginError`` naming the
    plugin when the registered object does not keep the ``Metric`` contract.
    """
    from seqkit.registry import PluginError

    entry = registry.entry(name)
    problem = check_metric(entry.obj)
    if problem:
        raise PluginError(f"metric {name!r} of plugin {entry.plugin!r} is {problem}", problem)
    return entry.obj


def compute(name: str, metric: Metric, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MetricResult:
    """``metric(hypotheses, references)`` after checking the line counts; raises ``PluginError`` naming the
    metric when it does not return a ``MetricResult`` with a finite value."""
    from seqkit.registry import PluginError

    streams = reference_streams(references)
    check_lengths(hypotheses, streams)
    result = metric(list(hypotheses), streams)
    if not isinstance(result, MetricResult):
        raise PluginError(f"metric {name!r} returned a {type(result).__name__}, not a seqkit.metrics.MetricResult")
    if not isinstance(result.value, (int, float)) or isinstance(result.value, bool) or not math.isfinite(result.value):
        raise PluginError(f"metric {name!r} returned the value {result.value!r}, not a finite number")
    return result


def reference_streams(references: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    """``references`` as a list of streams: one stream (a list of strings) becomes ``[stream]``.

    Raises ``TypeError`` for a bare string or anything that is not strings or lists of strings.
    """
    if isinstance(references, str) or not isinstance(references, Sequence) or not references:
        raise TypeError("references must be a list of strings (one stream) or a list of such lists")
    if all(isinstance(r, str) for r in references):
        return [list(references)]
    if all(not isinstance(s, str) and isinstance(s, Sequence) and all(isinstance(r, str) for r in s)
           for s in references):
        return [list(s) for s in references]
    raise TypeError("references must be a list of strings (one stream) or a list of such lists")


def check_lengths(hypotheses: Sequence[str], streams: Sequence[Sequence[str]]) -> None:
    """Raise ``ValueError`` unless there are hypotheses and every reference stream has one line per hypothesis."""
    if isinstance(hypotheses, str) or not all(isinstance(h, str) for h in hypotheses):
        raise TypeError("hypotheses must be a list of strings")
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    for i, stream in enumerate(streams):
        if len(stream) != len(hypotheses):
            raise ValueError(
                f"{len(hypotheses)} hypotheses but reference stream {i + 1} has {len(stream)} lines; nothing scored"
            )


def make_metric(name: str, references: Sequence[Sequence[str]] | None = None, **options: Any) -> SacrebleuObject:
    """A sacrebleu metric object: ``name`` is ``bleu``, ``chrf``, ``ter`` or ``tok-lc`` (``TokLcBLEU``, whose
    ``hyp_tokenize`` option picks the hypothesis tokenizer). ``options`` go to the sacrebleu class (BLEU:
    ``tokenize``, ``lowercase``, ``smooth_method``...; chrF: ``word_order``...; TER: ``case_sensitive``...).
    ``references`` (a list of streams) are cached in the object, so that several systems can be scored
    against them. Raises ``KeyError`` for an unknown name, ``ImportError`` when a tokenizer needs a package."""
    cls = TokLcBLEU if name == "tok-lc" else METRIC_CLASSES[name]
    return cls(references=references, **options)


def _score(name: str, hypotheses: Sequence[str], references, n_bootstrap: int, options: dict) -> MetricResult:
    streams = reference_streams(references)
    check_lengths(hypotheses, streams)
    metric = make_metric(name, **options)
    score = metric.corpus_score(list(hypotheses), streams, n_bootstrap=n_bootstrap)
    return MetricResult(score.score, score.name, metric.get_signature().format(), score)


class SacrebleuMetric:
    """A ``Metric`` computed by sacrebleu: ``kind`` names the sacrebleu class (``bleu``, ``chrf``, ``ter``, as
    ``METRIC_CLASSES`` does), ``options`` are fixed options of it (``word_order=2`` for chrF++).

    ``metric(hypotheses, references, *, n_bootstrap=1, **options)``: ``references`` is one stream or a list of
    streams; ``n_bootstrap > 1`` adds sacrebleu's bootstrap 95% confidence interval (``score._mean``,
    ``score._ci``); ``options`` add to the fixed ones. Raises ``ValueError`` when the line counts differ.
    ``seqkit bleu`` scores these with sacrebleu's own paths (``make``), so their output, confidence intervals
    and paired tests are sacrebleu's.
    """

    def __init__(self, kind: str, *, higher_is_better: bool, **options: Any) -> None:
        if kind not in METRIC_CLASSES:
            raise ValueError(f"unknown sacrebleu metric {kind!r}; known: {', '.join(METRIC_CLASSES)}")
        self.kind, self.higher_is_better, self.options = kind, higher_is_better, options

    def make(self, references: Sequence[Sequence[str]] | None = None, **options: Any) -> SacrebleuObject:
        """The sacrebleu object, with ``references`` cached and ``options`` added to the fixed ones."""
        return make_metric(self.kind, references, **{**self.options, **options})

    def __call__(
        self,
        hypotheses: Sequence[str],
        references: Sequence[str] | Sequence[Sequence[str]],
        *,
        n_bootstrap: int = 1,
        **options: Any,
    ) -> MetricResult:
        return _score(self.kind, hypotheses, references, n_bootstrap, {**self.options, **options})

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"SacrebleuMetric({self.kind!r}, higher_is_better={self.higher_is_better}{options})"


#: Detokenised sacreBLEU, the headline metric (higher is better). ``tokenize``: one of sacrebleu's tokenizers
#: (default ``13a``); ``lowercase=True``: case-insensitive.
bleu = SacrebleuMetric("bleu", higher_is_better=True)
#: sacrebleu's chrF (higher is better; ``word_order=2`` for chrF++).
chrf = SacrebleuMetric("chrf", higher_is_better=True)
#: sacrebleu's TER (lower is better).
ter = SacrebleuMetric("ter", higher_is_better=False)


def tok_lc_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    tokenize: str = "13a",
    n_bootstrap: int = 1,
    **options: Any,
) -> MetricResult:
    """Tokenised, lowercased BLEU for comparison with older papers (see the module docstring): ``hypotheses``
    detokenised (tokenised here with ``tokenize``), ``references`` pre-tokenised. Not sacreBLEU."""
    return _score("tok-lc", hypotheses, references, n_bootstrap, dict(hyp_tokenize=tokenize, **options))


def paired_test(
    systems: Sequence[tuple[str, Sequence[str]]],
    metrics: Mapping[str, SacrebleuObject],
    *,
    test: Literal["bs", "ar"] = "bs",
    n_samples: int = 0,
    short: bool = False,
) -> tuple[dict[str, str], dict[str, list[str | Result]]]:
    """sacrebleu's paired significance test of each system against the first (the baseline).

    ``systems``: ``(name, hypotheses)`` pairs; ``metrics``: sacrebleu metric objects with cached references
    (``make_metric(name, references)``); ``test``: ``"bs"`` paired bootstrap resampling or ``"ar"``
    approximate randomisation; ``n_samples``: resamples or trials (0: sacrebleu's default, 1000 or 10000).
    Returns (metric name -> signature, column -> values) as sacrebleu's ``PairedTest`` does: column
    ``"System"`` holds the names, each metric's column a ``Result`` per system (``score``, ``p_value``,
    ``mean``, ``ci``, as Python floats or None); ``short``: the signatures with sacrebleu's abbreviated keys
    (``#:1|c:mixed|...``). The random seed is sacrebleu's (``SACREBLEU_SEED``, default 12345).
    """
    if len(systems) < 2:
        raise ValueError("a paired test needs a baseline and at least one more system")
    signatures, scores = PairedTest(
        [(name, list(hyps)) for name, hyps in systems], metrics, references=None, test_type=test, n_samples=n_samples
    )()
    for column, values in scores.items():
        if column != "System":
            for result in values:
                # sacrebleu leaves some as NumPy float32, which json cannot write (its own --format json fails)
                vars(result).update({k: float(v) for k, v in vars(result).items() if v is not None})
    return {name: sig.format(short) for name, sig in signatures.items()}, scores


__all__ = [
    "METRIC_CLASSES",
    "Metric",
    "MetricResult",
    "SacrebleuMetric",
    "TokLcBLEU",
    "bleu",
    "check_lengths",
    "check_metric",
    "chrf",
    "compute",
    "get_metric",
    "make_metric",
    "paired_test",
    "reference_streams",
    "ter",
    "tok_lc_bleu",
]
