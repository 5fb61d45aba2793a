"""Tokenised parallel data: read and normalise once, tokenise once (cached on disk), filter by length."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqkit.corpora import sha256_of
from seqkit.data.text import NORMALIZATION, ReadStats, read_parallel
from seqkit.errors import UserError
from seqkit.io import atomic_write

if TYPE_CHECKING:
    from seqkit.tokenizers import Tokenizer

CACHE_FORMAT = 1
_CHUNK = 8192  # sentences tokenised per call (SentencePiece encodes a list on several threads)


@dataclass(frozen=True)
class DataReport:
    """What loading did: pairs read, pairs skipped for an empty side, pairs dropped for a side over ``max_len``
    tokens, pairs kept, and whether the token ids came from the cache."""

    pairs: int
    empty: int
    too_long: int
    kept: int
    max_len: int | None
    cache_hit: bool

    def __str__(self) -> str:
        limit = f", {self.too_long} over {self.max_len} tokens dropped" if self.max_len is not None else ""
        cache = "token cache hit" if self.cache_hit else "tokenised"
        return f"{self.pairs} pairs read, {self.empty} with an empty side skipped{limit}, {self.kept} kept ({cache})"


def _flatten(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
    offsets = np.zeros(len(seqs) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return np.fromiter(itertools.chain.from_iterable(seqs), np.int32, int(offsets[-1])), offsets


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int32), np.zeros(1, np.int64)
    ids = np.concatenate([p[0] for p in parts])
    lengths = np.concatenate([np.diff(p[1]) for p in parts])
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return ids, offsets


def _select(ids: np.ndarray, offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.diff(offsets)
    kept = lengths[keep]
    new = np.zeros(len(kept) + 1, np.int64)
    np.cumsum(kept, out=new[1:])
    return ids[np.repeat(keep, lengths)], new


class ParallelData:
    """Sentence pairs as token ids: per side one flat read-only ``int32`` array and ``offsets`` (``(N + 1,)``),
    so pair ``i``'s source is ``src_ids[src_offsets[i]:src_offsets[i + 1]]``.

    The ids carry no ``BOS``/``EOS``: the models add what they need. ``report`` says how the
    data was loaded (None when built from arrays). Raises ``ValueError`` for inconsistent arrays.
    """

    def __init__(
        self, src_ids: np.ndarray, src_offsets: np.ndarray, tgt_ids: np.ndarray, tgt_offsets: np.ndarray,
        report: DataReport | None = None,
    ) -> None:  # fmt: skip
        for name, ids, offsets in (("src", src_ids, src_offsets), ("tgt", tgt_ids, tgt_offsets)):
            if ids.ndim != 1 or offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != len(ids):
                raise ValueError(f"ParallelData: {name} offsets must run from 0 to len({name}_ids) = {len(ids)}")
            if np.any(np.diff(offsets) < 0):
                raise ValueError(f"ParallelData: {name} offsets must not decrease")
        if len(src_offsets) != len(tgt_offsets):
            raise ValueError(f"ParallelData: {len(src_offsets) - 1} sources but {len(tgt_offsets) - 1} targets")
        arrays = [np.ascontiguousarray(a, dt) for a, dt in zip(
            (src_ids, src_offsets, tgt_ids, tgt_offsets), (np.int32, np.int64, np.int32, np.int64))]  # fmt: skip
        for a in arrays:
            a.flags.writeable = False
        self.src_ids, self.src_offsets, self.tgt_ids, self.tgt_offsets = arrays
        self.src_lengths = np.diff(self.src_offsets)
        self.tgt_lengths = np.diff(self.tgt_offsets)
        self.report = report
        self._fingerprint: str | None = None

    @classmethod
    def from_sequences(cls, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> ParallelData:
        """Pairs from two lists of id sequences, taken as they are (no specials added)."""
        return cls(*_flatten(src), *_flatten(tgt))

    def __len__(self) -> int:
        return len(self.src_lengths)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``i`` as two read-only id arrays (views)."""
        so, to = self.src_offsets, self.tgt_offsets
        return self.src_ids[so[i] : so[i + 1]], self.tgt_ids[to[i] : to[i + 1]]

    def fingerprint(self) -> str:
        """A sha256 of the ids and offsets: equal data, equal fingerprint."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for a in (self.src_ids, self.src_offsets, self.tgt_ids, self.tgt_offsets):
                digest.update(a.tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint


def _chunks(pairs: Iterable[tuple[str, str]], size: int) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    it = iter(pairs)
    while chunk := list(itertools.islice(it, size)):
        src, tgt = zip(*chunk)
        yield src, tgt


def _tokenize(pairs: Iterable[tuple[str, str]], source: Tokenizer, target: Tokenizer) -> dict[str, np.ndarray]:
    src_parts, tgt_parts = [], []
    for src, tgt in _chunks(pairs, _CHUNK):
        src_parts.append(_flatten(source.encode_batch(src)))
        tgt_parts.append(_flatten(target.encode_batch(tgt)))
    (src_ids, src_offsets), (tgt_ids, tgt_offsets) = _concat(src_parts), _concat(tgt_parts)
    return {"src_ids": src_ids, "src_offsets": src_offsets, "tgt_ids": tgt_ids, "tgt_offsets": tgt_offsets}


def _cache_key(src: Path, tgt: Path, source: Tokenizer, target: Tokenizer, empty: str) -> str:
    key = {
        "format": CACHE_FORMAT, "normalization": NORMALIZATION, "empty": empty, "src": sha256_of(src),
        "tgt": sha256_of(tgt), "source": source.fingerprint(), "target": target.fingerprint(),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path) -> tuple[dict[str, np.ndarray], ReadStats] | None:
    """The arrays and counts in a cache file; None when it is absent or unreadable (then it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("src_ids", "src_offsets", "tgt_ids", "tgt_offsets")}
            stats = ReadStats(**json.loads(str(f["stats"])))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None
    return arrays, stats


def load_parallel(
    src: str | os.PathLike,
    tgt: str | os.PathLike,
    source: Tokenizer,
    target: Tokenizer,
    *,
    max_len: int | None = None,
    empty: str = "skip",
    cache_dir: str | os.PathLike | None = None,
) -> ParallelData:
    """Read two line-aligned files (plain or gzip'd), normalise and tokenise them, and keep the pairs whose
    sides have at most ``max_len`` tokens. No ``BOS``/``EOS`` are added (the models add what they need).

    With ``cache_dir``, the token ids are stored there under a key made of both files' sha256, both
    tokenizers' fingerprints and the reading options, so a second load skips reading and tokenising, and a
    changed corpus or tokenizer is never served stale ids. The result's ``report`` counts what was dropped.
    Raises ``UserError`` for bad input (see ``read_parallel``) and a ``max_len`` below 1.
    """
    if max_len is not None and max_len < 1:
        raise UserError(f"max_len must be a positive number of tokens or None, got {max_len}")
    src, tgt = Path(src), Path(tgt)
    cached = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"ids-{_cache_key(src, tgt, source, target, empty)[:40]}.npz"
        cached = _read_cache(cache_file)
    if cached is None:
        stats = ReadStats()
        arrays = _tokenize(read_parallel(src, tgt, empty=empty, stats=stats), source, target)
        if cache_dir is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(cache_file, "wb") as f:
                np.savez(f, stats=np.array(json.dumps(asdict(stats))), **arrays)
    else:
        arrays, stats = cached
    src_ids, src_offsets = arrays["src_ids"], arrays["src_offsets"]
    tgt_ids, tgt_offsets = arrays["tgt_ids"], arrays["tgt_offsets"]
    too_long = 0
    if max_len is not None:
        keep = (np.diff(src_offsets) <= max_len) & (np.diff(tgt_offsets) <= max_len)
        too_long = int(len(keep) - keep.sum())
        if too_long:
            (src_ids, src_offsets), (tgt_ids, tgt_offsets) = (
                _select(src_ids, src_offsets, keep), _select(tgt_ids, tgt_offsets, keep))  # fmt: skip
    kept = len(src_offsets) - 1
    report = DataReport(stats.pairs, stats.empty, too_long, kept, max_len, cached is not None)
    return ParallelData(src_ids, src_offsets, tgt_ids, tgt_offsets, report=report)


__all__ = ["CACHE_FORMAT", "DataReport", "ParallelData", "load_parallel"]
