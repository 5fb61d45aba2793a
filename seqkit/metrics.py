"""BLEU, chrF and TER through sacrebleu, plus a clearly labelled tokenised-lowercased BLEU for older papers.

Detokenised, cased sacreBLEU (``bleu``) is the headline metric. Every function takes the hypotheses (a list of
strings) and the references: one stream (a list of strings, one per hypothesis) or several streams (a list of
such lists), and returns a ``MetricResult``: sacrebleu's score object and its signature.

``tok_lc_bleu`` is the number older papers reported (``multi-bleu.perl`` on Moses-tokenised, lowercased text):
the hypotheses are tokenised with one of sacrebleu's tokenizers (``13a`` by default, close to but not the same
as Moses: it keeps ``woman's`` whole and does not escape ``'`` as ``&apos;``) and lowercased, the references are
taken as already tokenised and only lowercased, and BLEU runs with ``tokenize='none'``. Its score is named
``BLEU-tok-lc`` and its signature carries ``hyptok:<tokenizer>``, so it is never mistaken for sacreBLEU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric, Score
from sacrebleu.metrics.bleu import BLEUScore, BLEUSignature
from sacrebleu.significance import PairedTest, Result

#: metric name (as on the command line) -> sacrebleu class
METRIC_CLASSES: dict[str, type[Metric]] = {"bleu": BLEU, "chrf": CHRF, "ter": TER}

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
    """A corpus score: ``score`` is sacrebleu's object (``BLEUScore``: ``.score``, ``.precisions``, ``.bp``, ...;
    ``CHRFScore``; ``TERScore``), ``signature`` its full sacrebleu signature."""

    score: Score
    signature: str

    @property
    def value(self) -> float:
        """The score as a number (BLEU and chrF: higher is better; TER: lower is better)."""
        return self.score.score

    def __str__(self) -> str:
        return self.score.format(width=1, signature=self.signature)


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


def make_metric(name: str, references: Sequence[Sequence[str]] | None = None, **options: Any) -> Metric:
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
    return MetricResult(score, metric.get_signature().format())


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    tokenize: str | None = None,
    lowercase: bool = False,
    n_bootstrap: int = 1,
    **options: Any,
) -> MetricResult:
    """Detokenised sacreBLEU (the headline metric). ``tokenize``: one of sacrebleu's tokenizers (default
    ``13a``); ``lowercase``: case-insensitive; ``n_bootstrap > 1`` adds sacrebleu's bootstrap 95% confidence
    interval (``score._mean``, ``score._ci``). Raises ``ValueError`` when the line counts differ."""
    return _score("bleu", hypotheses, references, n_bootstrap, dict(tokenize=tokenize, lowercase=lowercase, **options))


def chrf(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    n_bootstrap: int = 1,
    **options: Any,
) -> MetricResult:
    """sacrebleu's chrF (``word_order=2`` for chrF++). Raises ``ValueError`` when the line counts differ."""
    return _score("chrf", hypotheses, references, n_bootstrap, options)


def ter(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    n_bootstrap: int = 1,
    **options: Any,
) -> MetricResult:
    """sacrebleu's TER (lower is better). Raises ``ValueError`` when the line counts differ."""
    return _score("ter", hypotheses, references, n_bootstrap, options)


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
    metrics: Mapping[str, Metric],
    *,
    test: Literal["bs", "ar"] = "bs",
    n_samples: int = 0,
) -> tuple[dict[str, str], dict[str, list[str | Result]]]:
    """sacrebleu's paired significance test of each system against the first (the baseline).

    ``systems``: ``(name, hypotheses)`` pairs; ``metrics``: sacrebleu metric objects with cached references
    (``make_metric(name, references)``); ``test``: ``"bs"`` paired bootstrap resampling or ``"ar"``
    approximate randomisation; ``n_samples``: resamples or trials (0: sacrebleu's default, 1000 or 10000).
    Returns (metric name -> signature, column -> values) as sacrebleu's ``PairedTest`` does: column
    ``"System"`` holds the names, each metric's column a ``Result`` per system (``score``, ``p_value``,
    ``mean``, ``ci``, as Python floats or None). The random seed is sacrebleu's (``SACREBLEU_SEED``, default
    12345).
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
    return {name: sig.format() for name, sig in signatures.items()}, scores


__all__ = [
    "METRIC_CLASSES",
    "MetricResult",
    "TokLcBLEU",
    "bleu",
    "check_lengths",
    "chrf",
    "make_metric",
    "paired_test",
    "reference_streams",
    "ter",
    "tok_lc_bleu",
]
