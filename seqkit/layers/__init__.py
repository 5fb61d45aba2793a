"""Layers (``import seqkit.layers as L``): parameters by assignment, ``state_dict``, ``save``/``load``."""

from seqkit.layers.attention import (
    AdditiveAttention,
    AttentionLayer,
    DotAttention,
    GeneralAttention,
    MultiHeadAttention,
    ScaledDotProductAttention,
    lengths_to_mask,
)
from seqkit.layers.basic import Dropout, Embedding, LayerNorm, Linear, Sequential
from seqkit.layers.layer import Layer, LayerList, load, save, sidecar_path
from seqkit.layers.positions import LearnedPositions, PositionEncoding, SinusoidalPositions, sinusoidal_positions
from seqkit.layers.rnn import GRU, LSTM, GRUCell, LSTMCell, RecurrentLayer, RecurrentWeight, RNNLayer
from seqkit.layers.transformer import (
    CrossAttention,
    SelfAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    attention_keep_mask,
)

#: seqkit's own layers by name, each with its aliases: the built-in entries of the ``layer`` registry
#: (``seqkit.plugins.builtin`` registers them) and all a model finds when it is built without a registry.
BUILTIN_LAYERS: dict[str, tuple[type[Layer], tuple[str, ...]]] = {
    "linear": (Linear, ()),
    "embedding": (Embedding, ()),
    "dropout": (Dropout, ()),
    "layer_norm": (LayerNorm, ()),
    "sequential": (Sequential, ()),
    "lstm": (LSTM, ()),
    "gru": (GRU, ()),
    "lstm_cell": (LSTMCell, ()),
    "gru_cell": (GRUCell, ()),
    "additive_attention": (AdditiveAttention, ("bahdanau",)),
    "dot_attention": (DotAttention, ("luong_dot",)),
    "general_attention": (GeneralAttention, ("luong_general",)),
    "scaled_dot_attention": (ScaledDotProductAttention, ()),
    "multi_head_attention": (MultiHeadAttention, ()),
    "sinusoidal": (SinusoidalPositions, ()),
    "learned": (LearnedPositions, ()),
}

__all__ = [
    "AdditiveAttention", "AttentionLayer", "DotAttention", "GeneralAttention", "MultiHeadAttention",
    "ScaledDotProductAttention", "lengths_to_mask",
    "GRU", "LSTM", "RecurrentLayer", "RecurrentWeight", "RNNLayer", "Dropout", "Embedding", "GRUCell", "LSTMCell",
    "Layer", "LayerList", "LayerNorm", "Linear", "Sequential", "load", "save", "sidecar_path", "BUILTIN_LAYERS",
    "CrossAttention", "SelfAttention", "TransformerDecoderLayer", "TransformerEncoderLayer", "attention_keep_mask",
    "sinusoidal_positions", "LearnedPositions", "PositionEncoding", "SinusoidalPositions",
]  # fmt: skip
