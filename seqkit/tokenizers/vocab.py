"""``Vocabulary``: tokens <-> ids, with the four special tokens at fixed ids."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from seqkit.errors import UserError
from seqkit.io import atomic_write

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
VOCAB_FORMAT = 1


class Vocabulary:
    """Tokens <-> ids. Ids 0-3 are always ``<pad>``, ``<unk>``, ``<s>``, ``</s>`` (``PAD``, ``UNK``, ``BOS``,
    ``EOS``); the other tokens follow in the order given, so ids are stable across save and load.

    Text never maps to a special id: a token spelled like a special one (``"<s>"`` in a sentence) is unknown.
    Raises ``ValueError`` for a repeated token or one of the special tokens among ``tokens``.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = [*SPECIALS, *tokens]
        self._ids = {t: i for i, t in enumerate(self._tokens)}
        if len(self._ids) != len(self._tokens):
            repeated = [t for t, n in Counter(self._tokens).items() if n > 1]
            raise ValueError(f"Vocabulary: tokens must be distinct and not special; repeated: {repeated[:5]}")
        for special in SPECIALS:
            del self._ids[special]

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], *, max_size: int | None = None, min_freq: int = 1) -> Vocabulary:
        """The tokens of ``sequences`` seen at least ``min_freq`` times, most frequent first (ties in code point
        order, so the result does not depend on the order of the input), at most ``max_size`` besides the
        specials."""
        counts = Counter(t for seq in sequences for t in seq)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return cls(ranked[:max_size])

    def __len__(self) -> int:
        return len(self._tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._tokens == other._tokens

    __hash__ = None  # type: ignore[assignment]

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token in id order, the specials first."""
        return tuple(self._tokens)

    def id(self, token: str) -> int:
        """The id of ``token``; ``UNK`` for a token not in the vocabulary."""
        return self._ids.get(token, UNK)

    def token(self, index: int) -> str:
        """The token with id ``index``; raises ``IndexError`` outside ``[0, len)``."""
        if not 0 <= index < len(self._tokens):
            raise IndexError(f"Vocabulary: id {index} out of range [0, {len(self._tokens)})")
        return self._tokens[index]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token strings -> ids (``UNK`` for unknown ones)."""
        get = self._ids.get
        return [get(t, UNK) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> token strings, leaving out ``PAD``, ``BOS`` and ``EOS`` (``UNK`` stays as ``"<unk>"``)."""
        return [self.token(int(i)) for i in ids if i not in (PAD, BOS, EOS)]

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (atomically)."""
        with atomic_write(path) as f:
            json.dump({"format": VOCAB_FORMAT, "specials": SPECIALS, "tokens": self._tokens[4:]}, f, ensure_ascii=False)
            f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by ``save``. Raises ``UserError`` naming the file when it is missing,
        malformed, of another format, or has other special tokens."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise UserError(f"{path}: cannot read the vocabulary ({e.strerror or e})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: not a vocabulary file ({e})") from None
        if not isinstance(data, dict) or data.get("format") != VOCAB_FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise UserError(f"{path}: vocabulary format {found!r} is not supported (this seqkit reads {VOCAB_FORMAT})")
        if tuple(data.get("specials", ())) != SPECIALS:
            raise UserError(f"{path}: special tokens {data.get('specials')!r}, expected {list(SPECIALS)}")
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise UserError(f"{path}: 'tokens' must be a list of strings")
        try:
            return cls(tokens)
        except ValueError as e:
            raise UserError(f"{path}: {e}") from None


__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "UNK", "Vocabulary"]
