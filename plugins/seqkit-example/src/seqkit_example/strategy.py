"""Locally typical sampling (Meister et al., 2023, "Locally Typical Sampling"), a decoding strategy.

At every step the tokens are ranked by how far their surprisal ``-log p`` lies from the distribution's
entropy (the surprisal to expect), and a token is drawn from the closest ones that together make up ``mass``
of the probability. Each sentence's samples come from its own random stream
(``seqkit.decoding.source_generator``), so the same seed gives the same samples in any batch.
"""

from __future__ import annotations

import dataclasses

import numpy
from seqkit.decoding import DecodingStrategy, sample_search


@dataclasses.dataclass
class TypicalOptions:
    """Typical sampling: draw among the tokens whose surprisal is closest to the entropy."""

    mass: float = 0.9  # the probability the kept tokens make up (1.0: plain sampling)
    temperature: float = 1.0  # divides the log-probabilities before anything else
    seed: int = 0  # the same seed gives the same samples

    def __post_init__(self) -> None:
        if not 0 < self.mass <= 1 or self.temperature <= 0 or self.seed < 0:
            raise ValueError(f"need 0 < mass <= 1, temperature > 0 and seed >= 0, got mass={self.mass}, "
                             f"temperature={self.temperature}, seed={self.seed}")  # fmt: skip


def typical(logp: numpy.ndarray, mass: float) -> numpy.ndarray:
    """``logp`` (rows, V) with every token outside each row's typical set at ``-inf``."""
    logp = logp - numpy.logaddexp.reduce(logp, axis=1, keepdims=True)  # normalised: temperature changed it
    p = numpy.exp(logp)
    entropy = -numpy.sum(p * numpy.where(p > 0, logp, 0.0), axis=1, keepdims=True)
    order = numpy.argsort(numpy.abs(-logp - entropy), axis=1, kind="stable")
    before = numpy.cumsum(numpy.take_along_axis(p, order, axis=1), axis=1) - numpy.take_along_axis(p, order, axis=1)
    drop = numpy.zeros(logp.shape, dtype=bool)
    numpy.put_along_axis(drop, order, before >= mass, axis=1)  # the closest token is always kept
    return numpy.where(drop, -numpy.inf, logp)


class TypicalSampling(DecodingStrategy):
    """``--nbest`` typical samples per sentence, most probable first (they may repeat)."""

    distinct = False  # two samples of a sentence may be the same
    stochastic = True  # takes a seed

    def __init__(self, **options) -> None:
        self.options = TypicalOptions(**options)

    @property
    def max_nbest(self) -> None:  # any number of samples
        return None

    def search(self, model, sources, *, nbest=1, max_len_ratio=1.5, max_len_offset=10, keep_attention=False):
        o = self.options
        return sample_search(model, sources, nbest=nbest, seed=o.seed, temperature=o.temperature,
                             truncate=lambda logp: typical(logp, o.mass), max_len_ratio=max_len_ratio,
                             max_len_offset=max_len_offset, keep_attention=keep_attention)  # fmt: skip
