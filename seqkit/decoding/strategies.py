"""Decoding strategies: the registry kind ``decoding_strategy``, and seqkit's own greedy, beam and sampling.

A strategy is a ``DecodingStrategy`` subclass, built as ``cls(**options)`` from the fields of the options
dataclass it is registered with (the recipe's ``[decoding]`` keys besides ``strategy``), and called as
``strategy.search(model, sources, nbest=..., max_len_ratio=..., max_len_offset=..., keep_attention=...)``.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy

from seqkit.decoding.search import LENGTH_PENALTIES, Hypothesis, beam_search, greedy_search, sample_search
from seqkit.ranges import MAX_BEAM, check_ranges, ranged


class DecodingStrategy(abc.ABC):
    """How hypotheses are searched for. A subclass implements ``search`` and declares what it gives:

    - ``max_nbest``: the most hypotheses per sentence it gives (``None``: any number); seqkit refuses a larger
      ``nbest`` before decoding;
    - ``distinct``: the n-best hypotheses of a sentence are different token sequences;
    - ``stochastic``: it draws random numbers; then it takes an option ``seed``, and the same seed gives the
      same hypotheses, each sentence's independent of the others in its batch.
    """

    distinct: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False

    @property
    def max_nbest(self) -> int | None:
        return 1

    @abc.abstractmethod
    def search(self, model, sources: Sequence, *, nbest: int = 1, max_len_ratio: float = 1.5, max_len_offset: int = 10,
               keep_attention: bool = False) -> list[list[Hypothesis]]:  # fmt: skip
        """``min(nbest, max_nbest)`` hypotheses per sentence of ``sources`` (arrays of token ids, none empty),
        best first by ``score``; each at most ``max_lengths(sources, max_len_ratio, max_len_offset)`` tokens
        long, without BOS or EOS; ``log_prob`` the model's log-probability of its tokens (and of EOS when it
        ended there, before the maximum length); ``attention`` kept when ``keep_attention`` and the model gives
        it, else ``None``. A sentence's hypotheses do not depend on the others in ``sources``."""


class Greedy(DecodingStrategy):
    """The most probable token at every step (one hypothesis per sentence)."""

    def search(self, model, sources, *, nbest=1, max_len_ratio=1.5, max_len_offset=10, keep_attention=False):
        found = greedy_search(model, sources, max_len_ratio=max_len_ratio, max_len_offset=max_len_offset,
                              keep_attention=keep_attention)  # fmt: skip
        return [[h] for h in found]


@dataclasses.dataclass
class BeamOptions:
    """Beam search: the best hypotheses under a length penalty; a beam of 1 is exactly greedy search."""

    beam: int = ranged(5, f"[1, {MAX_BEAM}]")  # hypotheses kept per sentence (1: greedy); also --nbest's most
    length_penalty: str = "gnmt"  # gnmt: ((5 + length) / 6) ** alpha | normalize: length | none
    alpha: float = ranged(0.6, "[0, inf)")  # strength of the gnmt length penalty

    def __post_init__(self) -> None:
        check_ranges(self, "decoding")
        if self.length_penalty not in LENGTH_PENALTIES:
            raise ValueError(f"length_penalty {self.length_penalty!r}: expected one of {', '.join(LENGTH_PENALTIES)}")


class Beam(DecodingStrategy):
    """Beam search (``seqkit.decoding.beam_search``): scores are log-probabilities divided by the length
    penalty, and the search stops when no open hypothesis can beat the n-best finished ones."""

    def __init__(self, **options) -> None:
        self.options = BeamOptions(**options)

    @property
    def max_nbest(self) -> int:
        return self.options.beam

    def search(self, model, sources, *, nbest=1, max_len_ratio=1.5, max_len_offset=10, keep_attention=False):
        o = self.options
        return beam_search(model, sources, beam=o.beam, nbest=nbest, length_penalty_kind=o.length_penalty,
                           alpha=o.alpha, max_len_ratio=max_len_ratio, max_len_offset=max_len_offset,
                           keep_attention=keep_attention)  # fmt: skip


@dataclasses.dataclass
class SamplingOptions:
    """Sampling: every token drawn from the model's distribution, truncated to the top_k most probable tokens
    and to the nucleus of top_p probability; --nbest samples per sentence (back-translation)."""

    top_k: int = ranged(0, "[0, inf)")  # draw among the k most probable tokens only (0: all)
    top_p: float = ranged(1.0, "(0, 1]")  # nucleus: the most probable tokens making up this probability (1: all)
    temperature: float = ranged(1.0, "(0, inf)")  # divides the log-probabilities: below 1 sharper, above 1 flatter
    seed: int = ranged(0, "[0, inf)")  # the same seed gives the same samples; each sentence's are its own

    def __post_init__(self) -> None:
        check_ranges(self, "decoding")


class Sampling(DecodingStrategy):
    """Ancestral sampling with top-k and nucleus (top-p) truncation (``seqkit.decoding.sample_search``); the
    n-best are the samples, most probable first, and may repeat."""

    distinct = False
    stochastic = True

    def __init__(self, **options) -> None:
        self.options = SamplingOptions(**options)

    @property
    def max_nbest(self) -> None:
        return None

    def truncate(self, logp: numpy.ndarray) -> numpy.ndarray:
        """``logp`` (rows, V) with every token outside the top k and the nucleus at ``-inf``."""
        k, p = self.options.top_k, self.options.top_p
        if 0 < k < logp.shape[1]:
            kth = numpy.partition(logp, -k, axis=1)[:, -k, None]
            logp = numpy.where(logp >= kth, logp, -numpy.inf)
        if p < 1:
            order = numpy.argsort(-logp, axis=1, kind="stable")
            sorted_lp = numpy.take_along_axis(logp, order, axis=1)
            prob = numpy.exp(sorted_lp - sorted_lp[:, :1])
            before = numpy.cumsum(prob, axis=1) - prob  # the mass of the more probable tokens
            drop = numpy.zeros_like(logp, dtype=bool)
            numpy.put_along_axis(drop, order, before >= p * prob.sum(axis=1, keepdims=True), axis=1)
            logp = numpy.where(drop, -numpy.inf, logp)
        return logp

    def search(self, model, sources, *, nbest=1, max_len_ratio=1.5, max_len_offset=10, keep_attention=False):
        o = self.options
        return sample_search(model, sources, nbest=nbest, seed=o.seed, truncate=self.truncate,
                             temperature=o.temperature, max_len_ratio=max_len_ratio, max_len_offset=max_len_offset,
                             keep_attention=keep_attention)  # fmt: skip


__all__ = ["Beam", "BeamOptions", "DecodingStrategy", "Greedy", "Sampling", "SamplingOptions"]
