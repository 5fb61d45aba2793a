"""Test a plugin's tokenizer against the contract of ``seqkit.tokenizers.Tokenizer``.

Give it a *registered* tokenizer name, options and training text; it looks the class up through the plugin
manager (so the test also proves the plugin is installed and registered), trains it, then checks:

- ``check_registered``: the name gives a ``Tokenizer`` subclass whose own ``name`` resolves to it again (the
  name saved in ``tokenizer.json`` is what ``load_tokenizer`` looks up), with its ``Options``;
- ``check_round_trip``: ``decode(encode(text)) == text`` for every training text (and the empty text);
- ``check_special_ids``: the vocabulary starts with seqkit's specials (``PAD``, ``UNK``, ``BOS``, ``EOS`` at
  ids 0-3); ``encode`` gives ints in ``[0, vocab_size)``, never ``PAD``, ``BOS`` or ``EOS`` (not even for text
  spelled like them); ``decode`` leaves ``PAD``, ``BOS`` and ``EOS`` out;
- ``check_unknown``: texts with characters the training text lacks encode without an error, to ``UNK`` where
  the tokenizer cannot represent them, or back to themselves when it declares itself ``lossless``; ``decode``
  takes every id of the vocabulary;
- ``check_encode_batch``: ``encode_batch`` gives ``encode``'s ids for every text;
- ``check_save_load``: ``save`` then ``seqkit.tokenizers.load_tokenizer`` gives the same class, options,
  vocabulary, fingerprint, ids and decoded text;
- ``check_fingerprint``: the fingerprint is stable (the same training text gives the same one) and changes
  with the model (other training text that changes the vocabulary or the ids) and with ``changed_options``.

With pytest, subclass ``TokenizerTests``::

    from seqkit.testing.tokenizers import TokenizerTests

    class TestBytes(TokenizerTests):
        name = "utf8_bytes"
        lossless = True                         # every normalised text round-trips, nothing is unknown
        changed_options = {"lowercase": True}   # options that give other ids

or call ``check_tokenizer(name, options=..., ...)``. Texts are normalised (``seqkit.data.normalize``) before
use. Every check raises ``AssertionError`` with one line naming the tokenizer and what broke.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy
import pytest

from seqkit.data import normalize
from seqkit.registry import Registry
from seqkit.tokenizers import BOS, EOS, PAD, SPECIALS, UNK, Tokenizer, Vocabulary, load_tokenizer, read_config

#: default training text: a few scripts, accents, punctuation, an emoji
TEXTS = (
    "Ein Mann fährt Fahrrad.", "A man rides a bicycle.", "Zwei Hunde spielen im Schnee.",
    "Two dogs play in the snow.", "Der Hund spielt, der Mann fährt.", "naïve café, déjà vu", "日本語の文 🙂",
    "a man and two dogs", "Ein Mann und zwei Hunde.",
)  # fmt: skip
#: default texts each with a character that ``TEXTS`` lacks, one spelled like the special tokens
UNSEEN = ("Ein Pferd ∞ galoppiert.", "Quokka ⊕ 🦘", "<pad> <unk> <s> </s> ⌘")


def tokenizer_registry() -> Registry:
    """The tokenizer registry of a fresh strict plugin manager (a broken plugin is an error, not a warning)."""
    from seqkit.plugins import get_plugin_manager

    return get_plugin_manager(strict=True).registry("tokenizer")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclasses.dataclass
class TokenizerCase:
    """A registered tokenizer with its options and texts.

    ``texts`` is the training text, which must round-trip; ``unseen`` are texts each with a character that
    ``texts`` lacks; ``lossless`` declares that every normalised text round-trips (byte fallback, bytes), so
    ``unseen`` must too, without ``UNK``; ``changed_options`` are options (over ``options``) that give other
    ids, so another fingerprint (``None``: that part of ``check_fingerprint`` is skipped).
    """

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    texts: Sequence[str] = TEXTS
    unseen: Sequence[str] = UNSEEN
    lossless: bool = False
    changed_options: dict[str, Any] | None = None
    registry: Registry | None = None

    def __post_init__(self) -> None:
        self.texts = [normalize(t) for t in self.texts]
        self.unseen = [normalize(t) for t in self.unseen]
        self.who = f"tokenizer {self.name!r}"

    def cls(self) -> type[Tokenizer]:
        """The registered class (``UnknownNameError`` with the closest names when missing)."""
        if self.registry is None:
            self.registry = tokenizer_registry()
        return self.registry.get(self.name)

    def build(self, *, options: dict[str, Any] | None = None, texts: Sequence[str] | None = None) -> Tokenizer:
        """A new tokenizer from ``options`` (default: the case's), trained on ``texts`` (default: the case's)."""
        tokenizer = self.cls()(**(self.options if options is None else options))
        self._call("train(texts)", tokenizer.train, list(self.texts if texts is None else texts))
        return tokenizer

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, an error in it an ``AssertionError`` naming the tokenizer and the call."""
        try:
            return fn(*args)
        except Exception as e:
            raise AssertionError(f"{self.who}: {what} raised {type(e).__name__}: {e}".splitlines()[0]) from e

    def _encode(self, tokenizer: Tokenizer, text: str) -> list[int]:
        """``encode(text)``, checked: ints in ``[0, vocab_size)``, none of them ``PAD``, ``BOS`` or ``EOS``."""
        ids = self._call(f"encode({_short(text)})", tokenizer.encode, text)
        ids = list(ids) if isinstance(ids, (list, tuple, numpy.ndarray)) else ids
        if not isinstance(ids, list) or not all(isinstance(i, (int, numpy.integer)) for i in ids):
            raise AssertionError(f"{self.who}: encode({_short(text)}) must return a list of ints, got {_short(ids)}")
        size = tokenizer.vocab_size
        for i in ids:
            if not 0 <= i < size:
                raise AssertionError(f"{self.who}: encode({_short(text)}) gives id {i}, outside [0, {size})")
            if i in (PAD, BOS, EOS):
                raise AssertionError(
                    f"{self.who}: encode({_short(text)}) gives the special id {i} ({SPECIALS[i]}); text never "
                    "encodes to pad, bos or eos (seqkit adds them)"
                )
        return [int(i) for i in ids]

    def _decode(self, tokenizer: Tokenizer, ids: list[int]) -> str:
        text = self._call(f"decode({_short(ids)})", tokenizer.decode, ids)
        if not isinstance(text, str):
            raise AssertionError(f"{self.who}: decode({_short(ids)}) must return a str, got {_short(text)}")
        return text

    # ---- the checks --------------------------------------------------------------------------------------
    def check_registered(self) -> None:
        """The name gives a ``Tokenizer`` subclass that its own ``name`` finds again, registered with its
        ``Options``."""
        try:
            cls = self.cls()
        except Exception as e:
            raise AssertionError(f"{self.who}: not found in the tokenizer registry ({e})") from None
        if not (isinstance(cls, type) and issubclass(cls, Tokenizer)):
            raise AssertionError(f"{self.who}: registered {_short(cls)}, not a seqkit.tokenizers.Tokenizer subclass")
        own = getattr(cls, "name", None)
        if not isinstance(own, str) or own not in self.registry or self.registry.get(own) is not cls:
            raise AssertionError(
                f"{self.who}: its class attribute name is {own!r}, which the registry does not resolve to "
                f"{cls.__name__}; load_tokenizer looks a saved tokenizer up by that name"
            )
        options = self.registry.entry(self.name).options
        if options not in (None, cls.Options):
            raise AssertionError(
                f"{self.who}: registered with options {options.__name__}, but the class takes {cls.Options.__name__}"
            )

    def check_round_trip(self) -> None:
        """``decode(encode(text)) == text`` for every training text and the empty text."""
        tokenizer = self.build()
        for text in ["", *self.texts]:
            got = self._decode(tokenizer, self._encode(tokenizer, text))
            if got != text:
                raise AssertionError(f"{self.who}: decode(encode({_short(text)})) gives {_short(got)}")

    def check_special_ids(self) -> None:
        """Specials at seqkit's ids; ``encode`` never gives ``PAD``/``BOS``/``EOS``; ``decode`` leaves them out."""
        tokenizer = self.build()
        vocab = self._call("vocab", lambda: tokenizer.vocab)
        if not isinstance(vocab, Vocabulary):
            raise AssertionError(f"{self.who}: vocab is a {type(vocab).__name__}, not a seqkit.tokenizers.Vocabulary")
        if vocab.tokens[: len(SPECIALS)] != SPECIALS:
            raise AssertionError(f"{self.who}: vocabulary starts {list(vocab.tokens[:4])}, expected {list(SPECIALS)}")
        if tokenizer.vocab_size != len(vocab):
            raise AssertionError(f"{self.who}: vocab_size {tokenizer.vocab_size} but the vocabulary has {len(vocab)}")
        for text in [*self.texts, *self.unseen, " ".join(SPECIALS)]:
            ids = self._encode(tokenizer, text)  # checks the ids
            plain, framed = self._decode(tokenizer, ids), self._decode(tokenizer, [BOS, *ids, EOS, PAD, PAD])
            if framed != plain:
                raise AssertionError(
                    f"{self.who}: decode keeps pad, bos or eos: {_short(framed)} with them, {_short(plain)} without"
                )

    def check_unknown(self) -> None:
        """Unseen characters encode to ``UNK`` (or, ``lossless``, round-trip) without an error; ``decode`` takes
        every id of the vocabulary."""
        seen = set("".join(self.texts))
        for text in self.unseen:
            if not set(text) - seen:
                raise AssertionError(f"{self.who}: test case: unseen text {_short(text)} has no unseen character")
        tokenizer = self.build()
        for text in self.unseen:
            ids = self._encode(tokenizer, text)
            if self.lossless:
                got = self._decode(tokenizer, ids)
                if got != text or UNK in ids:
                    raise AssertionError(
                        f"{self.who}: declared lossless, but {_short(text)} encodes to {_short(ids)} and decodes to "
                        f"{_short(got)}"
                    )
            elif UNK not in ids:
                raise AssertionError(
                    f"{self.who}: encode({_short(text)}) gives no UNK, though the text has characters never seen in "
                    "training (or set lossless = True)"
                )
        self._decode(tokenizer, [UNK, *self._encode(tokenizer, self.texts[0]), UNK])
        self._decode(tokenizer, list(range(tokenizer.vocab_size)))

    def check_encode_batch(self) -> None:
        """``encode_batch(texts)`` is ``[encode(t) for t in texts]``, the empty batch included."""
        tokenizer = self.build()
        texts = [*self.texts, "", *self.unseen]
        batch = self._call("encode_batch(texts)", tokenizer.encode_batch, texts)
        if len(batch) != len(texts):
            raise AssertionError(f"{self.who}: encode_batch of {len(texts)} texts gives {len(batch)} sequences")
        for text, got in zip(texts, batch):
            want = self._encode(tokenizer, text)
            if [int(i) for i in got] != want:
                raise AssertionError(
                    f"{self.who}: encode_batch gives {_short(got)} for {_short(text)}, encode {_short(want)}"
                )
        if list(self._call("encode_batch([])", tokenizer.encode_batch, [])) != []:
            raise AssertionError(f"{self.who}: encode_batch([]) must be []")

    def check_save_load(self, directory: str | os.PathLike) -> None:
        """``save``, then ``load_tokenizer`` through the registry: same class, options, vocabulary, fingerprint,
        ids and decoded text."""
        tokenizer = self.build()
        path = Path(directory) / self.name
        self._call(f"save({path})", tokenizer.save, path)
        saved = read_config(path)["type"]
        if saved != tokenizer.name:
            raise AssertionError(f"{self.who}: tokenizer.json names the type {saved!r}, not {tokenizer.name!r}")
        loaded = self._call(f"load_tokenizer({path})", load_tokenizer, path, self.registry)
        if type(loaded) is not type(tokenizer):
            raise AssertionError(f"{self.who}: load gives a {type(loaded).__name__}, not a {type(tokenizer).__name__}")
        if loaded.options != tokenizer.options:
            raise AssertionError(f"{self.who}: options after load are {loaded.options}, saved {tokenizer.options}")
        if self._call("vocab after load", lambda: loaded.vocab) != tokenizer.vocab:
            raise AssertionError(f"{self.who}: the vocabulary differs after a save/load round trip")
        if self._call("fingerprint()", loaded.fingerprint) != tokenizer.fingerprint():
            raise AssertionError(f"{self.who}: the fingerprint differs after a save/load round trip")
        for text in [*self.texts, *self.unseen]:
            ids, again = self._encode(tokenizer, text), self._encode(loaded, text)
            if again != ids:
                raise AssertionError(f"{self.who}: after load, {_short(text)} encodes to {_short(again)}, not {ids}")
            if self._decode(loaded, ids) != self._decode(tokenizer, ids):
                raise AssertionError(f"{self.who}: after load, {_short(ids)} decodes to other text")

    def check_fingerprint(self) -> None:
        """Stable (same options and training text, same fingerprint); another when the vocabulary or the ids
        change (other training text) or with ``changed_options``."""
        tokenizer = self.build()
        first = self._call("fingerprint()", tokenizer.fingerprint)
        if not isinstance(first, str) or not first:
            raise AssertionError(f"{self.who}: fingerprint() must be a non-empty str, got {_short(first)}")
        if tokenizer.fingerprint() != first or self.build().fingerprint() != first:
            raise AssertionError(
                f"{self.who}: the same options and training text give another fingerprint (the token cache would "
                "never hit): training and model_bytes must be deterministic"
            )
        texts = [*self.texts, *self.unseen]
        other = self.build(texts=texts)
        ids = [self._encode(tokenizer, t) for t in texts]
        if (other.vocab != tokenizer.vocab or [self._encode(other, t) for t in texts] != ids) and (
            other.fingerprint() == first
        ):
            raise AssertionError(
                f"{self.who}: other training text changes the model but not the fingerprint: model_bytes must "
                "cover everything besides the options that decides the ids"
            )
        if self.changed_options is not None:
            changed = self.build(options={**self.options, **self.changed_options})
            if changed.fingerprint() == first:
                raise AssertionError(f"{self.who}: options {self.changed_options} do not change the fingerprint")

    def check_all(self, directory: str | os.PathLike | None = None) -> None:
        """Every check."""
        self.check_registered()
        self.check_round_trip()
        self.check_special_ids()
        self.check_unknown()
        self.check_encode_batch()
        if directory is None:
            with tempfile.TemporaryDirectory() as tmp:
                self.check_save_load(tmp)
        else:
            self.check_save_load(directory)
        self.check_fingerprint()


def check_tokenizer(
    name: str,
    *,
    options: dict[str, Any] | None = None,
    texts: Sequence[str] = TEXTS,
    unseen: Sequence[str] = UNSEEN,
    lossless: bool = False,
    changed_options: dict[str, Any] | None = None,
    registry: Registry | None = None,
    directory: str | os.PathLike | None = None,
) -> None:
    """Run every check on the registered tokenizer ``name`` (see the module docstring and ``TokenizerCase``)."""
    TokenizerCase(name, dict(options or {}), texts, unseen, lossless, changed_options, registry).check_all(directory)


class TokenizerTests:
    """Subclass as ``TestSomething`` and set ``name`` (and as needed ``options``, ``texts``, ``unseen``,
    ``lossless``, ``changed_options``: see ``TokenizerCase``): one pytest test per check. The tokenizer is
    looked up in the registry of the ``seqkit_plugin_manager`` fixture."""

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    texts: ClassVar[Sequence[str]] = TEXTS
    unseen: ClassVar[Sequence[str]] = UNSEEN
    lossless: ClassVar[bool] = False
    changed_options: ClassVar[dict[str, Any] | None] = None

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> TokenizerCase:
        return TokenizerCase(
            self.name, dict(self.options), self.texts, self.unseen, self.lossless, self.changed_options,
            seqkit_plugin_manager.registry("tokenizer"),
        )  # fmt: skip

    def test_registered(self, case: TokenizerCase) -> None:
        case.check_registered()

    def test_round_trip(self, case: TokenizerCase) -> None:
        case.check_round_trip()

    def test_special_ids(self, case: TokenizerCase) -> None:
        case.check_special_ids()

    def test_unknown(self, case: TokenizerCase) -> None:
        case.check_unknown()

    def test_encode_batch(self, case: TokenizerCase) -> None:
        case.check_encode_batch()

    def test_save_load(self, case: TokenizerCase, tmp_path: Path) -> None:
        case.check_save_load(tmp_path)

    def test_fingerprint(self, case: TokenizerCase) -> None:
        case.check_fingerprint()


__all__ = ["TEXTS", "UNSEEN", "TokenizerCase", "TokenizerTests", "check_tokenizer", "tokenizer_registry"]
