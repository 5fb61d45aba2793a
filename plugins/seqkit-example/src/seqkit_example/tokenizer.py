"""A byte-level tokenizer: the UTF-8 bytes of the text are the tokens. Nothing to learn, no unknown tokens.

It subclasses seqkit's tokenizer base class (``seqkit.tokenizers.Tokenizer``), so a recipe can name it
(``[tokenizer] name = "utf8_bytes"``): ids 0-3 are seqkit's ``<pad>``, ``<unk>``, ``<s>``, ``</s>``, and byte
``b`` is id ``b + 4`` (a vocabulary of 260). The model is fixed, so saving writes only seqkit's
``tokenizer.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from seqkit.tokenizers import SPECIALS, Tokenizer, Vocabulary

OFFSET = len(SPECIALS)


@dataclasses.dataclass
class ByteTokenizerOptions:
    """What a recipe may set under the tokenizer."""

    lowercase: bool = False  # lowercase the text before taking its bytes


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes as tokens; ``decode`` turns a broken UTF-8 sequence into U+FFFD."""

    name = "utf8_bytes"
    Options = ByteTokenizerOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.vocab = Vocabulary(f"<0x{b:02X}>" for b in range(256))  # fixed: "training" learns nothing

    def train(self, texts: Iterable[str]) -> None:
        """Nothing to learn: the vocabulary is the 256 bytes."""

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        return [b + OFFSET for b in (text.lower() if self.options.lowercase else text).encode("utf-8")]

    def decode(self, ids: Iterable[int]) -> str:
        """Special ids are left out (``<unk>`` never comes from ``encode``). Raises ``ValueError`` naming the
        first id outside ``[0, vocab_size)``."""
        data = bytearray()
        for position, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"id {i} at position {position} is outside [0, {len(self.vocab)})")
            if i >= OFFSET:
                data.append(i - OFFSET)
        return data.decode("utf-8", errors="replace")

    def save_model(self, directory: Path) -> None:
        pass  # the model is fixed: tokenizer.json (written by seqkit) is all there is

    def load_model(self, directory: Path) -> None:
        pass

    def model_bytes(self) -> bytes:
        return b"utf8_bytes/1"
