"""A byte-level tokenizer: the UTF-8 bytes of the text are the tokens. Nothing to train, no unknown tokens.

seqkit has no tokenizer protocol module yet; this class is duck-typed to what the data pipeline expects:
``encode(text) -> list[int]``, ``decode(ids) -> str``, ``vocab_size``, the special ids, ``save(directory)``
and the class method ``load(directory)`` (plus ``train``, which here learns nothing).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path

from seqkit.io import atomic_write

FORMAT = "seqkit-example.utf8_bytes/1"
FILENAME = "tokenizer.json"


@dataclasses.dataclass
class ByteTokenizerOptions:
    """What a recipe may set under the tokenizer."""

    add_bos: bool = False  # start every encoding with <s>
    add_eos: bool = False  # end every encoding with </s>


class ByteTokenizer:
    """Ids 0, 1, 2 are ``<pad>``, ``<s>``, ``</s>``; byte ``b`` is id ``b + 3`` (vocabulary of 259)."""

    pad_id, bos_id, eos_id = 0, 1, 2
    offset = 3
    vocab_size = 256 + offset

    def __init__(self, *, add_bos: bool = False, add_eos: bool = False) -> None:
        self.add_bos, self.add_eos = bool(add_bos), bool(add_eos)

    @classmethod
    def train(cls, texts: Iterable[str], **options) -> ByteTokenizer:
        """A tokenizer with ``options`` (bytes need no training; ``texts`` is not read)."""
        return cls(**options)

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s UTF-8 bytes, with ``<s>``/``</s>`` around them when asked for."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        ids = [b + self.offset for b in text.encode("utf-8")]
        return [self.bos_id] * self.add_bos + ids + [self.eos_id] * self.add_eos

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; special ids are dropped, a broken UTF-8 sequence becomes U+FFFD. Raises
        ``ValueError`` naming the first id outside ``[0, vocab_size)``."""
        data = bytearray()
        for position, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"id {i} at position {position} is outside [0, {self.vocab_size})")
            if i >= self.offset:
                data.append(i - self.offset)
        return data.decode("utf-8", errors="replace")

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``directory/tokenizer.json`` atomically (the directory is created when missing)."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        info = {"format": FORMAT, "add_bos": self.add_bos, "add_eos": self.add_eos}
        with atomic_write(Path(directory) / FILENAME) as f:
            json.dump(info, f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ByteTokenizer:
        """The tokenizer saved in ``directory``. Raises ``FileNotFoundError`` or a one-line ``ValueError`` naming
        the file."""
        path = Path(directory) / FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not JSON ({e})") from None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            found = info.get("format") if isinstance(info, dict) else type(info).__name__
            raise ValueError(f"{path}: expected format {FORMAT!r}, got {found!r}")
        return cls(add_bos=info.get("add_bos", False), add_eos=info.get("add_eos", False))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByteTokenizer) and (self.add_bos, self.add_eos) == (other.add_bos, other.add_eos)

    def __hash__(self) -> int:
        return hash((self.add_bos, self.add_eos))

    def __repr__(self) -> str:
        return f"ByteTokenizer(add_bos={self.add_bos}, add_eos={self.add_eos})"
