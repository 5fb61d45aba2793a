"""seqkit-example: the template of a seqkit plugin (a layer, a tokenizer and an updater, each with tests)."""

from seqkit_example.layers import MGU, MGUOptions
from seqkit_example.tokenizer import ByteTokenizer, ByteTokenizerOptions
from seqkit_example.updater import AccumulatingSGD, AccumulatingSGDOptions

__version__ = "0.1.0"

__all__ = [
    "MGU", "AccumulatingSGD", "AccumulatingSGDOptions", "ByteTokenizer", "ByteTokenizerOptions", "MGUOptions",
    "__version__",
]  # fmt: skip
