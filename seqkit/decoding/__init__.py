"""Decoding: greedy and beam search (batched over sentences), n-best lists, length penalties, ensembles."""

from seqkit.decoding.search import (
    LENGTH_PENALTIES,
    Ensemble,
    Hypothesis,
    beam_search,
    greedy_search,
    length_penalty,
)

__all__ = ["LENGTH_PENALTIES", "Ensemble", "Hypothesis", "beam_search", "greedy_search", "length_penalty"]
