"""Decoding: greedy and beam search (batched over sentences), n-best lists, length penalties, ensembles, and
the decoder state the models hand to them."""

from seqkit.decoding.search import (
    LENGTH_PENALTIES,
    Ensemble,
    Hypothesis,
    beam_search,
    for_search,
    greedy_search,
    length_penalty,
)
from seqkit.decoding.state import DecoderState, EnsembleState

__all__ = [
    "LENGTH_PENALTIES", "DecoderState", "Ensemble", "EnsembleState", "Hypothesis", "beam_search", "for_search",
    "greedy_search", "length_penalty",
]  # fmt: skip
