"""Layers (``import seqkit.layers as L``): parameters by assignment, ``state_dict``, ``save``/``load``."""

from seqkit.layers.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiHeadAttention,
    ScaledDotProductAttention,
    lengths_to_mask,
)
from seqkit.layers.basic import Dropout, Embedding, LayerNorm, Linear, Sequential
from seqkit.layers.layer import Layer, LayerList, load, save, sidecar_path
from seqkit.layers.rnn import GRU, LSTM, GRUCell, LSTMCell

__all__ = [
    "AdditiveAttention", "DotAttention", "GeneralAttention", "MultiHeadAttention", "ScaledDotProductAttention",
    "lengths_to_mask",
    "GRU", "LSTM", "Dropout", "Embedding", "GRUCell", "LSTMCell", "Layer", "LayerList", "LayerNorm", "Linear",
    "Sequential", "load", "save", "sidecar_path",
]  # fmt: skip
