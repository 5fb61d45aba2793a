"""Tokenizers: the ``Tokenizer`` base class, SentencePiece (unigram/BPE), whitespace and character tokenizers.

Classes are found by name through the tokenizer registry (``registry.get(name)``); a saved tokenizer names
its own type (``load_tokenizer(directory, registry)``). ``Vocabulary`` maps tokens to ids, with the special
tokens ``PAD``, ``UNK``, ``BOS``, ``EOS`` at fixed ids (``seqkit.data`` re-exports them).
"""

from seqkit.tokenizers.base import Tokenizer, TokenizerPair, load_tokenizer, read_config
from seqkit.tokenizers.simple import CharTokenizer, VocabularyOptions, WhitespaceTokenizer
from seqkit.tokenizers.spm import SentencePieceOptions, SentencePieceTokenizer
from seqkit.tokenizers.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

__all__ = [
    "BOS", "EOS", "PAD", "SPECIALS", "UNK",
    "CharTokenizer", "SentencePieceOptions", "SentencePieceTokenizer", "Tokenizer", "TokenizerPair", "Vocabulary",
    "VocabularyOptions", "WhitespaceTokenizer", "load_tokenizer", "read_config",
]  # fmt: skip
