"""Reading parallel text: plain or gzip'd files, streamed line by line, validated and normalised."""

from __future__ import annotations

import gzip
import os
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from seqkit.errors import UserError

NORMALIZATION = "nfc+whitespace/1"  # names what normalize() does; part of the token cache's key
EMPTY_POLICIES = ("skip", "error")


def normalize(text: str) -> str:
    """Unicode NFC, every run of whitespace (as ``str.split`` sees it) made one space, none at either end."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing it when it is gzip'd (by its first two bytes, whatever
    its name). Raises ``UserError`` when it cannot be opened."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (returned open; the caller closes it)
        if f.peek(2)[:2] != b"\x1f\x8b":
            return f
        f.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    except OSError as e:
        raise UserError(f"{path}: cannot open it ({e.strerror or e})") from None


def read_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of a UTF-8 text file (plain or gzip'd), without their line ends and a leading BOM.

    Raises ``UserError`` naming the file and line for invalid UTF-8 or a broken gzip stream.
    """
    with open_binary(path) as f:
        yield from decode_lines(f, path)


def decode_lines(f: IO[bytes], name: str | os.PathLike) -> Iterator[str]:
    """The lines of the binary stream ``f`` (named ``name`` in errors) as ``read_lines`` gives a file's, each as
    soon as its line end (or the stream's end) arrives: a pipe's lines are yielded while it is still open."""
    number = 0
    try:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserError(
                    f"{name}:{number}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line)"
                ) from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield line.rstrip("\r\n")
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{name}: unreadable after line {number} ({e})") from None


@dataclass
class ReadStats:
    """Counts from ``read_parallel``: pairs of lines read, and pairs skipped because a side was empty."""

    pairs: int = 0
    empty: int = 0


def read_parallel(
    src: str | os.PathLike, tgt: str | os.PathLike, *, empty: str = "skip", stats: ReadStats | None = None
) -> Iterator[tuple[str, str]]:
    """Stream the normalised ``(source, target)`` sentence pairs of two line-aligned files.

    ``empty``: ``"skip"`` drops a pair with an empty side (counted in ``stats.empty``), ``"error"`` raises.
    Raises ``UserError`` for files of different line counts (naming both files and both counts, after the
    shorter one ends), invalid UTF-8 (file and line) and, with ``empty="error"``, an empty line (file and line).
    """
    if empty not in EMPTY_POLICIES:
        raise UserError(f"empty must be one of {', '.join(EMPTY_POLICIES)}, got {empty!r}")
    stats = stats if stats is not None else ReadStats()
    src_lines, tgt_lines = read_lines(src), read_lines(tgt)
    number = 0
    for number, s in enumerate(src_lines, 1):
        t = next(tgt_lines, None)
        if t is None:
            tgt_count = number - 1
            src_count = number + sum(1 for _ in src_lines)
            break
        stats.pairs += 1
        s, t = normalize(s), normalize(t)
        if s and t:
            yield s, t
        elif empty == "skip":
            stats.empty += 1
        else:
            where = src if not s else tgt
            raise UserError(f"{where}:{number}: empty line (empty='error'; use 'skip' to drop such pairs)")
    else:
        src_count = number
        tgt_count = number + sum(1 for _ in tgt_lines)
    if src_count != tgt_count:
        raise UserError(
            f"source and target differ in length: {Path(src)} has {src_count} lines, {Path(tgt)} has {tgt_count}"
        )


__all__ = [
    "EMPTY_POLICIES", "NORMALIZATION", "ReadStats", "decode_lines", "normalize", "open_binary", "read_lines",
    "read_parallel",
]  # fmt: skip
