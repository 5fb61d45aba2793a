"""seqkit-example: the template of a seqkit plugin (a layer and a tokenizer, each with tests)."""

from seqkit_example.layers import MGU, MGUOptions
from seqkit_example.tokenizer import ByteTokenizer, ByteTokenizerOptions

__version__ = "0.1.0"

__all__ = ["MGU", "ByteTokenizer", "ByteTokenizerOptions", "MGUOptions", "__version__"]
