"""Corpora: manifests that say what a parallel corpus holds and where its files come from, and the lookup of
verified local copies.

A manifest is a TOML file (``corpora/*.toml``, format 1): the corpus ``name``, its two ``languages`` (the
default direction, source first), ``license``, ``attribution``, ``sources`` (provenance URLs), whether it is
``bundled`` (files in a folder named after the corpus beside the manifest) and ``redistributable``, and one
table per split: ``pairs`` and one file entry per language (``path``, ``sha256``, ``bytes``, download
``urls``).

A file is looked for, in order, in the bundle folder, in ``DATA_DIR/NAME/`` (``--data-dir`` or
``$SEQKIT_DATA``) and in the download cache ``CACHE/corpora/NAME/`` (``$SEQKIT_CACHE``, else
``$XDG_CACHE_HOME/seqkit``, else ``~/.cache/seqkit``). The first copy found is checked against its sha256
and never used when it does not match. A file found nowhere is downloaded into the cache (unless
``$SEQKIT_OFFLINE`` is set); when that fails the error says where to put it.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import tomllib
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqkit.errors import UserError
from seqkit.io import atomic_write

if TYPE_CHECKING:
    from seqkit.registry import Registry

MANIFEST_FORMAT = 1
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "corpora"
_CHUNK = 1 << 20

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus: its path inside the corpus folder, sha256, size in bytes and download URLs."""

    path: str
    sha256: str
    bytes: int | None
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    """A split of a corpus: its number of sentence pairs and one file per language."""

    name: str
    pairs: int
    files: Mapping[str, CorpusFile]


@dataclass(frozen=True)
class Manifest:
    """A corpus manifest, read by ``load_manifest``; ``path`` is the TOML file it came from."""

    name: str
    description: str
    languages: tuple[str, str]
    splits: Mapping[str, Split]
    license: str
    attribution: str
    homepage: str
    sources: tuple[str, ...]
    redistributable: bool
    bundled: bool
    path: Path

    def __post_init__(self) -> None:
        # the name is a folder's in the bundle, the data directory and the cache: it must stay inside them
        if not is_path_component(self.name):
            raise UserError(f"{self.path}: name {self.name!r}: expected one path component (the folder NAME of "
                            "DATA_DIR/NAME/): not empty, '.' or '..', without '/' or '\\'")  # fmt: skip

    def split(self, name: str) -> Split:
        """The split called ``name``; raises ``UserError`` listing the splits there are."""
        if name not in self.splits:
            raise UserError(f"corpus {self.name} has no split {name!r}{_suggest(name, self.splits)}")
        return self.splits[name]

    def files(self) -> list[CorpusFile]:
        """Every file of every split, in manifest order."""
        return [f for split in self.splits.values() for f in split.files.values()]

    def direction(self, src_lang: str | None = None, tgt_lang: str | None = None) -> tuple[str, str]:
        """``(source, target)`` languages: the manifest's order unless given; raises ``UserError`` for others."""
        a, b = self.languages
        src = src_lang or (b if tgt_lang == a else a)
        tgt = tgt_lang or (a if src == b else b)
        if {src, tgt} != {a, b}:
            raise UserError(f"corpus {self.name} is {a}-{b} (either direction), not {src}-{tgt}")
        return src, tgt


# ---- reading manifests ------------------------------------------------------------------------------------


def _field(table: Mapping, key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is not ...:
            return default
        raise UserError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise UserError(f"{where}: {key} must be {names}, got {value!r}")
    return value


def _strings(table: Mapping, key: str, where: str) -> tuple[str, ...]:
    values = _field(table, key, list, where, [])
    if not all(isinstance(v, str) for v in values):
        raise UserError(f"{where}: {key} must be a list of strings, got {values!r}")
    return tuple(values)


def _corpus_file(entry: Any, where: str) -> CorpusFile:
    if not isinstance(entry, dict):
        raise UserError(f"{where}: expected a table with path, sha256, bytes and urls, got {entry!r}")
    path = _field(entry, "path", str, where)
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise UserError(f"{where}: path must be relative to the corpus folder, got {path!r}")
    sha = _field(entry, "sha256", str, where).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise UserError(f"{where}: sha256 must be 64 hex digits, got {sha!r}")
    return CorpusFile(path, sha, _field(entry, "bytes", int, where, None), _strings(entry, "urls", where))


def is_path_component(name: str) -> bool:
    """Whether ``name`` names one entry of a folder, so that ``folder / name`` stays inside ``folder``: not empty,
    ``.`` or ``..``, and without a path separator (``/``, or ``\\`` on Windows; an absolute path has one) or NUL."""
    return name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate a manifest. Raises ``UserError`` naming the file and key for anything malformed."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise UserError(f"{path}: cannot read the manifest ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    fmt = _field(data, "format", int, str(path))
    if fmt != MANIFEST_FORMAT:
        raise UserError(f"{path}: manifest format {fmt} is not supported (this seqkit reads {MANIFEST_FORMAT})")
    name = _field(data, "name", str, str(path))
    languages = _strings(data, "languages", str(path))
    if len(languages) != 2 or languages[0] == languages[1]:
        raise UserError(f"{path}: languages must name two different languages, got {list(languages)}")
    splits = {}
    for split_name, table in _field(data, "splits", dict, str(path)).items():
        where = f"{path}: splits.{split_name}"
        if not isinstance(table, dict):
            raise UserError(f"{where}: expected a table, got {table!r}")
        files = {lang: _corpus_file(table.get(lang), f"{where}.{lang}") for lang in languages}
        splits[split_name] = Split(split_name, _field(table, "pairs", int, where), files)
    if not splits:
        raise UserError(f"{path}: the manifest lists no splits")
    return Manifest(
        name=name,
        description=_field(data, "description", str, str(path), ""),
        languages=(languages[0], languages[1]),
        splits=splits,
        license=_field(data, "license", str, str(path)),
        attribution=_field(data, "attribution", str, str(path)),
        homepage=_field(data, "homepage", str, str(path), ""),
        sources=_strings(data, "sources", str(path)),
        redistributable=_field(data, "redistributable", bool, str(path)),
        bundled=_field(data, "bundled", bool, str(path)),
        path=path,
    )


@functools.cache
def builtin_manifests() -> tuple[Manifest, ...]:
    """The manifests that ship with seqkit (``corpora/*.toml``), sorted by name; the same objects every call,
    so registering them twice is harmless."""
    return tuple(sorted((load_manifest(p) for p in BUILTIN_DIR.glob("*.toml")), key=lambda m: m.name))


def get_corpus(name: str, registry: Registry) -> Manifest:
    """The corpus registered as ``name`` (``registry`` is the corpus registry), or the manifest at ``name`` when
    it is a ``.toml`` path. Raises ``UserError`` for an unknown name (with the known ones and the closest)."""
    if name.endswith(".toml"):
        return load_manifest(name)
    return registry.get(name)


def _suggest(name: str, names: Mapping) -> str:
    names = sorted(names)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(names) or 'none'}){hint}"


# ---- where local copies live ------------------------------------------------------------------------------


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The data directory: ``explicit`` (``--data-dir``), else ``$SEQKIT_DATA``, else None."""
    value = explicit if explicit is not None else os.environ.get("SEQKIT_DATA") or None
    return Path(value).expanduser() if value is not None else None


def cache_root() -> Path:
    """seqkit's cache: ``$SEQKIT_CACHE``, else ``$XDG_CACHE_HOME/seqkit``, else ``~/.cache/seqkit``."""
    if os.environ.get("SEQKIT_CACHE"):
        return Path(os.environ["SEQKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqkit"


def candidate_paths(manifest: Manifest, file: CorpusFile, data: Path | None) -> list[Path]:
    """Where ``file`` may be, in the order looked at: bundle folder, data directory, download cache."""
    places = []
    if manifest.bundled:
        places.append(manifest.path.parent / manifest.name)
    if data is not None:
        places.append(data / manifest.name)
    places.append(cache_root() / "corpora" / manifest.name)
    return [p / file.path for p in places]


def sha256_of(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_file(path: Path, file: CorpusFile) -> None:
    """Raise ``UserError`` naming ``path`` and both checksums when its sha256 is not the manifest's."""
    actual = sha256_of(path)
    if actual != file.sha256:
        raise UserError(
            f"{path}: sha256 mismatch: expected {file.sha256}, got {actual}; the file is not used "
            f"(replace it with the right copy or delete it)"
        )


def offline() -> bool:
    """True when ``$SEQKIT_OFFLINE`` is set to anything but ``""``/``0``: no download is attempted."""
    return os.environ.get("SEQKIT_OFFLINE", "") not in ("", "0")


def locate(
    manifest: Manifest,
    file: CorpusFile,
    *,
    data: Path | None = None,
    download: bool = True,
    progress: Progress | None = None,
) -> Path:
    """The verified local path of ``file``, downloading it into the cache when it is nowhere and ``download``.

    Raises ``UserError`` for a checksum mismatch (naming the file, the expected and actual sha256) and for a
    missing file (naming where to put it, and why the download failed or was not attempted).
    """
    paths = candidate_paths(manifest, file, data)
    for path in paths:
        if path.is_file():
            verify_file(path, file)
            return path
    cached = paths[-1]
    reason = "no download URL in the manifest" if not file.urls else "offline ($SEQKIT_OFFLINE is set)"
    if download and file.urls and not offline():
        errors = []
        for url in file.urls:
            try:
                fetch(url, cached, file.sha256, progress=progress)
                return cached
            except OSError as e:
                errors.append(f"{url}: {e}")
        reason = "download failed: " + "; ".join(errors)
    elif not download:
        reason = "download not requested"
    where = paths[-2] if data is not None else f"DATA_DIR/{manifest.name}/{file.path} (set $SEQKIT_DATA or --data-dir)"
    raise UserError(
        f"corpus {manifest.name}: {file.path} (sha256 {file.sha256}) is missing; put it at {where} "
        f"or {cached} ({reason})"
    )


def split_paths(
    manifest: Manifest,
    split: str,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    *,
    data: Path | None = None,
    download: bool = True,
    progress: Progress | None = None,
) -> tuple[Path, Path]:
    """The verified ``(source, target)`` file paths of a split (see ``locate``)."""
    src, tgt = manifest.direction(src_lang, tgt_lang)
    files = manifest.split(split).files
    return (
        locate(manifest, files[src], data=data, download=download, progress=progress),
        locate(manifest, files[tgt], data=data, download=download, progress=progress),
    )


# ---- downloading ------------------------------------------------------------------------------------------


def fetch(url: str, dest: Path, sha256: str, *, timeout: float = 60.0, progress: Progress | None = None) -> None:
    """Download ``url`` to ``dest``: streamed into a temporary file beside it, checked against ``sha256``, then
    renamed into place, so ``dest`` is either absent or a verified copy.

    Raises ``OSError`` (``urllib.error.URLError`` included) when the download fails, and ``UserError`` naming
    the URL and both checksums when the bytes are not the expected ones.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total, done = (int(length) if length and length.isdigit() else None), 0
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        if digest.hexdigest() != sha256:
            raise UserError(f"{url}: sha256 mismatch: expected {sha256}, got {digest.hexdigest()}; not saved")


__all__ = [
    "CorpusFile", "Manifest", "Split", "builtin_manifests", "cache_root", "candidate_paths", "data_dir", "fetch",
    "get_corpus", "is_path_component", "load_manifest", "locate", "offline", "sha256_of", "split_paths",
    "verify_file",
]  # fmt: skip
