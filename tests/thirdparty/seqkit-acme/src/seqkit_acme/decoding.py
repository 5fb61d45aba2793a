"""Acme's decoding strategy: best of n top-k samples, reranked by their log-probability per token."""

import dataclasses

import numpy

from seqkit.decoding import DecodingStrategy, sample_search


@dataclasses.dataclass
class BestOfNOptions:
    n: int = 8  # samples drawn per sentence; the nbest best of them are kept
    top_k: int = 4  # draw among the k most probable tokens only (0: all)
    temperature: float = 0.7  # divides the log-probabilities: below 1 sharper, above 1 flatter
    seed: int = 0  # the same seed gives the same samples

    def __post_init__(self) -> None:
        if self.n < 1 or self.top_k < 0 or self.temperature <= 0 or self.seed < 0:
            raise ValueError(
                f"need n >= 1, top_k >= 0, temperature > 0 and seed >= 0, got n={self.n}, top_k={self.top_k}, "
                f"temperature={self.temperature}, seed={self.seed}"
            )


class BestOfN(DecodingStrategy):
    """Draws ``n`` samples per sentence among the ``top_k`` most probable tokens at ``temperature``, and returns
    the best by ``log_prob / (tokens + 1)`` (the ``+ 1``: the end of the sentence), best first: the different ones,
    and repeats only when fewer than ``nbest`` are different.
    With a low temperature and a few samples it is a cheap, length-fair alternative to beam search."""

    distinct = False  # fewer different samples than asked for: the best ones come again
    stochastic = True

    def __init__(self, **options):
        self.options = BestOfNOptions(**options)

    @property
    def max_nbest(self) -> int:
        return self.options.n

    def truncate(self, logp):
        k = self.options.top_k
        if not k or k >= logp.shape[1]:
            return logp
        kth = numpy.partition(logp, -k, axis=1)[:, -k][:, None]
        return numpy.where(logp >= kth, logp, -numpy.inf)

    def search(self, model, sources, *, nbest=1, max_len_ratio=1.5, max_len_offset=10, keep_attention=False):
        samples = sample_search(model, sources, nbest=self.options.n, seed=self.options.seed,
                                truncate=self.truncate, temperature=self.options.temperature,
                                max_len_ratio=max_len_ratio, max_len_offset=max_len_offset,
                                keep_attention=keep_attention)
        return [self._best(hyps, nbest) for hyps in samples]

    @staticmethod
    def _best(hyps, nbest):
        """The nbest best by score, as many different ones as there are; a repeat only to make up the count."""
        scored = [dataclasses.replace(h, score=float(h.log_prob) / (len(h.tokens) + 1)) for h in hyps]
        scored.sort(key=lambda h: -h.score)  # stable: equal scores keep the order they were drawn in
        seen, first, again = set(), [], []
        for h in scored:
            key = tuple(int(t) for t in h.tokens)
            (again if key in seen else first).append(h)
            seen.add(key)
        kept = first[:nbest] + again[: max(0, nbest - len(first))]
        return sorted(kept, key=lambda h: -h.score)
