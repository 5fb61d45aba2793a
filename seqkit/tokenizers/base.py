"""The tokenizer base class, saving and loading, lookup by name, and source/target pairs.

A saved tokenizer is a folder: ``tokenizer.json`` (format, type, options, seqkit version) plus what the
tokenizer itself writes (a SentencePiece model, a vocabulary). ``load_tokenizer`` reads the type from
``tokenizer.json`` and finds the class in the tokenizer registry the caller passes (a
``seqkit.registry.Registry``).
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import hashlib
import json
import os
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from seqkit.errors import UserError
from seqkit.faults import fault_point
from seqkit.io import atomic_write
from seqkit.tokenizers.vocab import Vocabulary

if TYPE_CHECKING:
    from seqkit.registry import Registry

TOKENIZER_FORMAT = 1
CONFIG_FILE = "tokenizer.json"


def _is_instance(value: Any, kind: Any) -> bool:
    """Whether ``value`` fits an option's type (``int | None`` and the like); an int fits a float, a bool
    fits only a bool."""
    allowed = typing.get_args(kind) or (kind,)
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, allowed) or (isinstance(value, int) and float in allowed)


class Tokenizer(abc.ABC):
    """Text <-> token ids, with a ``Vocabulary`` whose ids 0-3 are ``PAD``, ``UNK``, ``BOS``, ``EOS``.

    A subclass sets the class attributes ``name`` and ``Options`` and implements ``train``, ``encode``,
    ``decode``, ``save_model``, ``load_model`` and ``model_bytes``; it may override ``check_options`` and
    ``encode_batch``. It sets its vocabulary by assigning ``self.vocab`` (in ``train``, ``load_model``, or the
    constructor when the vocabulary is fixed). The constructor takes the ``Options`` fields as keywords and
    checks their names and types. The base class gives ``vocab``, ``vocab_size``, ``fingerprint``, ``save`` and
    ``load``.

    What seqkit calls, and when: ``train`` once at the start of a run, on the run's normalised training text;
    ``save`` into the run directory; ``load`` when a run is resumed or used to translate; ``encode_batch`` and
    ``encode`` on normalised text (``seqkit.data.normalize``), ``decode`` on a model's output ids (pad, bos and
    eos left out); ``fingerprint`` as part of the key of the token cache. Text never encodes to ``PAD``,
    ``BOS`` or ``EOS``; what the tokenizer cannot represent encodes to ``UNK``.
    """

    name: ClassVar[str]
    """The registry name, written into ``tokenizer.json``; ``load_tokenizer`` looks the saved type up by it."""

    Options: ClassVar[type]
    """A dataclass of the options (defaults for all of them); ``self.options`` is an instance of it."""

    def __init__(self, **options: Any) -> None:
        if not isinstance(getattr(self, "name", None), str) or not dataclasses.is_dataclass(
            getattr(self, "Options", None)
        ):
            raise TypeError(
                f"{type(self).__name__} must set the class attributes name (a str) and Options (a dataclass)"
            )
        fields = [f.name for f in dataclasses.fields(self.Options)]
        for key in options:
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise UserError(
                    f"{self.name} tokenizer: unknown option {key!r} ({hint}its options: {', '.join(fields)})"
                )
        self.options = self.Options(**options)
        hints = typing.get_type_hints(self.Options)
        for field in dataclasses.fields(self.options):
            value = getattr(self.options, field.name)
            if not _is_instance(value, hints[field.name]):
                kind = getattr(hints[field.name], "__name__", hints[field.name])
                raise UserError(f"{self.name} tokenizer: {field.name} must be {kind}, got {value!r}")
        self.check_options()
        self._vocab: Vocabulary | None = None

    def check_options(self) -> None:  # noqa: B027 (optional: most tokenizers check something)
        """Raise ``UserError`` for an option value out of range (nothing to check by default)."""

    @property
    def vocab(self) -> Vocabulary:
        """The vocabulary; raises ``RuntimeError`` before ``train`` or ``load``. Assign a ``Vocabulary`` to set
        it."""
        self._check_trained()
        return self._vocab

    @vocab.setter
    def vocab(self, vocab: Vocabulary) -> None:
        if not isinstance(vocab, Vocabulary):
            raise TypeError(f"{type(self).__name__}.vocab must be a seqkit.tokenizers.Vocabulary, got {vocab!r}")
        self._vocab = vocab

    def _check_trained(self) -> None:
        if self._vocab is None:
            raise RuntimeError(f"{type(self).__name__} is not trained: call train() or load() first")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @abc.abstractmethod
    def train(self, texts: Iterable[str]) -> None:
        """Learn the model and set ``self.vocab`` from normalised sentences (an iterable: read it once)."""

    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """A normalised sentence -> token ids in ``[0, vocab_size)``: no pad, bos or eos; ``UNK`` for what the
        tokenizer cannot represent."""

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """``encode`` over many sentences (override it where a batch is faster; the ids must be the same)."""
        return [self.encode(t) for t in texts]

    @abc.abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> detokenised text; pad, bos and eos are left out."""

    @abc.abstractmethod
    def save_model(self, directory: Path) -> None:
        """Write the trained model into ``directory`` (which exists); ``save`` writes ``tokenizer.json`` with the
        type and options besides. A model that never changes writes nothing."""

    @abc.abstractmethod
    def load_model(self, directory: Path) -> None:
        """Read what ``save_model`` wrote and set ``self.vocab`` (``self.options`` is already the saved options);
        raise ``UserError`` naming the file when it is unusable."""

    @abc.abstractmethod
    def model_bytes(self) -> bytes:
        """The trained model as bytes, for ``fingerprint``: whatever besides the options decides the ids."""

    def fingerprint(self) -> str:
        """A sha256 that changes whenever the ids this tokenizer produces could change (type, options, model)."""
        digest = hashlib.sha256(json.dumps([self.name, dataclasses.asdict(self.options)], sort_keys=True).encode())
        digest.update(self.model_bytes())
        return digest.hexdigest()

    def save(self, directory: str | os.PathLike) -> None:
        """Write the tokenizer into ``directory`` (created if needed): ``tokenizer.json`` and the model."""
        from seqkit._version import __version__

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.save_model(directory)
        fault_point("tokenizer")
        config = {
            "format": TOKENIZER_FORMAT,
            "type": self.name,
            "options": dataclasses.asdict(self.options),
            "seqkit": __version__,
        }
        with atomic_write(directory / CONFIG_FILE) as f:
            json.dump(config, f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer of this class saved by ``save``. Raises ``UserError`` naming the file when it is
        missing, of an incompatible format, of another type, or unreadable, and ``TypeError`` on a class without
        a ``name`` (``Tokenizer`` itself: ``load_tokenizer(directory, registry)`` loads a saved tokenizer of any
        type)."""
        if not isinstance(getattr(cls, "name", None), str):
            raise TypeError(
                f"{cls.__name__}.load needs a concrete tokenizer class; load a saved tokenizer of any type with "
                "seqkit.tokenizers.load_tokenizer(directory, registry)"
            )
        directory = Path(directory)
        config = read_config(directory)
        if config["type"] != cls.name:
            raise UserError(f"{directory / CONFIG_FILE}: a {config['type']} tokenizer, not {cls.name}")
        options = config.get("options", {})
        if not isinstance(options, dict):
            raise UserError(f"{directory / CONFIG_FILE}: 'options' must be a table, got {options!r}")
        try:
            tokenizer = cls(**options)
        except UserError as e:
            raise UserError(f"{directory / CONFIG_FILE}: incompatible options: {e}") from None
        tokenizer.load_model(directory)
        return tokenizer

    def __repr__(self) -> str:
        size = len(self._vocab) if self._vocab is not None else "untrained"
        return f"{type(self).__name__}({self.options}, vocab={size})"


def read_config(directory: Path) -> dict:
    """The checked contents of ``directory/tokenizer.json``; raises ``UserError`` naming the file."""
    path = directory / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{directory}: not a saved tokenizer (no {CONFIG_FILE})") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise UserError(f"{path}: expected an object with 'format' and 'type'")
    if config.get("format") != TOKENIZER_FORMAT:
        raise UserError(
            f"{path}: tokenizer format {config.get('format')!r} (written by seqkit {config.get('seqkit', '?')}) "
            f"is not supported by this seqkit, which reads format {TOKENIZER_FORMAT}; retrain the tokenizer"
        )
    return config


def load_tokenizer(directory: str | os.PathLike, registry: Registry) -> Tokenizer:
    """Load a saved tokenizer of any registered type: the type named in its ``tokenizer.json`` is looked up in
    ``registry`` (the tokenizer registry; ``UserError`` for a type nobody registered)."""
    directory = Path(directory)
    return registry.get(read_config(directory)["type"]).load(directory)


@dataclass(frozen=True)
class TokenizerPair:
    """The source and the target tokenizer; ``joint`` when they are one object (one shared vocabulary).

    Saved as ``DIR/joint/`` or as ``DIR/source/`` and ``DIR/target/``.
    """

    source: Tokenizer
    target: Tokenizer

    @property
    def joint(self) -> bool:
        return self.source is self.target

    @classmethod
    def train(
        cls, tokenizer: type[Tokenizer], options: Mapping[str, Any], src: Sequence[str], tgt: Sequence[str], *,
        joint: bool = True,
    ) -> TokenizerPair:  # fmt: skip
        """Train one tokenizer on both sides (``joint``) or one per side, from normalised sentences."""
        if joint:
            shared = tokenizer(**options)
            shared.train([*src, *tgt])
            return cls(shared, shared)
        source, target = tokenizer(**options), tokenizer(**options)
        source.train(src)
        target.train(tgt)
        return cls(source, target)

    def save(self, directory: str | os.PathLike) -> None:
        """Write both tokenizers under ``directory``."""
        directory = Path(directory)
        if self.joint:
            self.source.save(directory / "joint")
        else:
            self.source.save(directory / "source")
            self.target.save(directory / "target")

    @classmethod
    def load(cls, directory: str | os.PathLike, registry: Registry) -> TokenizerPair:
        """Read a pair saved by ``save``; raises ``UserError`` when ``directory`` holds neither layout or both."""
        directory = Path(directory)
        joint, separate = (directory / "joint").is_dir(), (directory / "source").is_dir()
        if joint == separate:
            state = "both joint/ and source/" if joint else "neither joint/ nor source/ + target/"
            raise UserError(f"{directory}: not a saved tokenizer pair ({state})")
        if joint:
            shared = load_tokenizer(directory / "joint", registry)
            return cls(shared, shared)
        return cls(load_tokenizer(directory / "source", registry), load_tokenizer(directory / "target", registry))


__all__ = ["Tokenizer", "TokenizerPair", "load_tokenizer", "read_config"]
