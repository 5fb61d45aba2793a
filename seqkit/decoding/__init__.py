"""Decoding: greedy search, beam search and sampling (batched over sentences), the strategies a recipe or
``seqkit translate`` names, n-best lists, length penalties, ensembles, and the decoder state the models hand
to them."""

from seqkit.decoding.search import (
    LENGTH_PENALTIES,
    Ensemble,
    Hypothesis,
    Prefixed,
    beam_search,
    for_search,
    force_decode,
    greedy_search,
    length_penalty,
    max_lengths,
    sample_search,
    source_generator,
)
from seqkit.decoding.state import DecoderState, EnsembleState
from seqkit.decoding.strategies import Beam, BeamOptions, DecodingStrategy, Greedy, Sampling, SamplingOptions

__all__ = [
    "LENGTH_PENALTIES", "Beam", "BeamOptions", "DecoderState", "DecodingStrategy", "Ensemble", "EnsembleState",
    "Greedy", "Hypothesis", "Prefixed", "Sampling", "SamplingOptions", "beam_search", "for_search", "force_decode",
    "greedy_search", "length_penalty", "max_lengths", "sample_search", "source_generator",
]  # fmt: skip
