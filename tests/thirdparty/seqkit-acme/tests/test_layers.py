"""The acme layers against seqkit's layer kits."""

from typing import ClassVar

from seqkit.testing import RNNLayerTests
from seqkit.testing.models import AttentionLayerTests


class TestIndRNN(RNNLayerTests):
    name = "acme_indrnn"
    kwargs: ClassVar = {"in_size": 3, "hidden_size": 4}
    shapes: ClassVar = [(3, 3), (1, 3), (5, 3)]


class TestStackedBidirectionalIndRNN(RNNLayerTests):
    name = "acme_indrnn"
    kwargs: ClassVar = {"in_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True, "dropout": 0.1}
    shapes: ClassVar = [(3, 3), (1, 3), (5, 3)]


class TestCosineAttention(AttentionLayerTests):
    name = "acme_cosine_attention"
    shapes = (3, 4, 6)  # (B, T, D)
    heads = 1
