"""Tokenizers: the ``Tokenizer`` protocol, SentencePiece (unigram/BPE), whitespace and character tokenizers.

Classes are found by name through the tokenizer registry (``registry.get(name)``); a saved tokenizer names
its own type (``load_tokenizer(directory, registry)``).
"""

from seqkit.tokenizers.base import Tokenizer, TokenizerPair, load_tokenizer, read_config
from seqkit.tokenizers.simple import CharTokenizer, VocabularyOptions, WhitespaceTokenizer
from seqkit.tokenizers.spm import SentencePieceOptions, SentencePieceTokenizer

__all__ = [
    "CharTokenizer", "SentencePieceOptions", "SentencePieceTokenizer", "Tokenizer", "TokenizerPair",
    "VocabularyOptions", "WhitespaceTokenizer", "load_tokenizer", "read_config",
]  # fmt: skip
