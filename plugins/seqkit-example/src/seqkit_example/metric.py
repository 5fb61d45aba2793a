"""Token F1: the overlap of each hypothesis with its reference as bags of words, as SQuAD scores answers.

For each segment, precision is the share of the hypothesis' words found in the reference (each reference word
matched once), recall the share of the reference's words found in the hypothesis, and F1 their harmonic mean;
with several reference streams a segment takes its best reference. The score is the mean over segments, in
percent: 100 when every hypothesis has its reference's words (in any order), 0 when none shares a word. Two
empty strings agree (100); an empty string against a non-empty one scores 0. Words are split on whitespace.

A recipe monitors it as ``evaluation.monitor = "val/token_f1"``; ``seqkit bleu -m token_f1`` prints it.
"""

from __future__ import annotations

from collections import Counter


def f1(hypothesis: str, reference: str) -> float:
    """The bag-of-words F1 of one segment, in [0, 1]."""
    hyp, ref = hypothesis.split(), reference.split()
    if not hyp or not ref:
        return float(hyp == ref)
    common = sum((Counter(hyp) & Counter(ref)).values())
    return 0.0 if common == 0 else 2 * common / (len(hyp) + len(ref))


class TokenF1:
    """The registered metric (``seqkit.metrics.Metric``): ``metric(hypotheses, references) -> MetricResult``;
    ``lowercase`` compares words case-insensitively."""

    higher_is_better = True  # best.npz keeps the highest value

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def __call__(self, hypotheses: list[str], references: list[list[str]]):
        from seqkit.metrics import MetricResult  # imported when scoring: loading the plugin stays cheap

        if self.lowercase:
            hypotheses = [h.lower() for h in hypotheses]
            references = [[r.lower() for r in stream] for stream in references]
        total = sum(max(f1(h, stream[i]) for stream in references) for i, h in enumerate(hypotheses))
        case = "lc" if self.lowercase else "mixed"
        return MetricResult(100 * total / len(hypotheses), "TokenF1", f"nrefs:{len(references)}|case:{case}")
