"""Whitespace and character tokenizers: a ``Vocabulary`` built from the training text is the whole model."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from seqkit.errors import UserError
from seqkit.ranges import ranged
from seqkit.tokenizers.base import Tokenizer
from seqkit.tokenizers.vocab import Vocabulary

VOCAB_FILE = "vocab.json"


@dataclass
class VocabularyOptions:
    """``max_size``: most tokens kept besides the four specials (None: all); ``min_freq``: fewest occurrences a
    token needs to be kept. Tokens left out become ``<unk>``."""

    max_size: int | None = ranged(None, "[1, inf)")  # most tokens kept besides the four specials (none: all)
    min_freq: int = ranged(1, "[1, inf)")  # fewest occurrences a token needs to be kept (the others become <unk>)


class _VocabularyTokenizer(Tokenizer):
    Options = VocabularyOptions

    def check_options(self) -> None:
        o = self.options
        if o.max_size is not None and o.max_size < 1:
            raise UserError(f"{self.name} tokenizer: max_size must be a positive integer or None, got {o.max_size!r}")
        if o.min_freq < 1:
            raise UserError(f"{self.name} tokenizer: min_freq must be a positive integer, got {o.min_freq!r}")

    @abc.abstractmethod
    def split(self, text: str) -> list[str]:
        """A normalised sentence -> token strings."""

    @abc.abstractmethod
    def join(self, tokens: list[str]) -> str:
        """Token strings -> text (the inverse of ``split`` on normalised text)."""

    def train(self, texts: Iterable[str]) -> None:
        self.vocab = Vocabulary.build(map(self.split, texts), max_size=self.options.max_size,
                                       min_freq=self.options.min_freq)  # fmt: skip

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.split(text))

    def decode(self, ids: Iterable[int]) -> str:
        return self.join(self.vocab.decode(ids))

    def save_model(self, directory: Path) -> None:
        self.vocab.save(directory / VOCAB_FILE)

    def load_model(self, directory: Path) -> None:
        self.vocab = Vocabulary.load(directory / VOCAB_FILE)

    def model_bytes(self) -> bytes:
        return "\n".join(self.vocab.tokens).encode()


class WhitespaceTokenizer(_VocabularyTokenizer):
    """Tokens are the whitespace-separated words (so punctuation stays attached); decoding joins them with
    single spaces."""

    name = "whitespace"

    def split(self, text: str) -> list[str]:
        return text.split()

    def join(self, tokens: list[str]) -> str:
        return " ".join(tokens)


class CharTokenizer(_VocabularyTokenizer):
    """Tokens are the characters (Unicode code points), spaces included; decoding concatenates them."""

    name = "char"

    def split(self, text: str) -> list[str]:
        return list(text)

    def join(self, tokens: list[str]) -> str:
        return "".join(tokens)


__all__ = ["CharTokenizer", "VocabularyOptions", "WhitespaceTokenizer"]
