"""Checkpoints: one ``.npz`` file per snapshot holding the arrays and a JSON record, written atomically.

A single file means a snapshot is either entirely there or not at all (temp file, fsync, rename). Loading
reads with ``allow_pickle=False``; a truncated, corrupted or non-finite file raises ``CheckpointError`` naming
it, and ``latest_good`` falls back to the newest snapshot that loads.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

from seqkit.errors import UserError
from seqkit.io import atomic_write

META_KEY = "__meta__"
FORMAT = 1


class CheckpointError(UserError):
    """A checkpoint file is missing, truncated, corrupted, or not a seqkit checkpoint."""


#: in a checkpoint's JSON record, ``{ARRAY_REF: key}`` stands for the array saved under ``key``
ARRAY_REF = "__array__"


def split_arrays(value: Any, key: str, arrays: dict[str, Any]) -> Any:
    """``value`` (nested dicts of JSON-able values and arrays) with each array moved into ``arrays`` under its
    path below ``key`` (``"updater/buffers/0"``) and replaced by a reference to it."""
    from seqkit.backend import is_cupy_array

    if isinstance(value, dict):
        return {k: split_arrays(v, f"{key}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, numpy.ndarray) or is_cupy_array(value):
        arrays[key] = value
        return {ARRAY_REF: key}
    return value


def join_arrays(value: Any, arrays: dict[str, Any]) -> Any:
    """The inverse of ``split_arrays``: every reference replaced by its array from ``arrays``."""
    if isinstance(value, dict):
        if set(value) == {ARRAY_REF}:
            return arrays[value[ARRAY_REF]]
        return {k: join_arrays(v, arrays) for k, v in value.items()}
    return value


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write ``arrays`` (host copies are made of GPU arrays) and ``meta`` (JSON-able) to ``path`` atomically."""
    from seqkit.backend import to_device

    record = json.dumps({"format": FORMAT, **meta}).encode()
    payload = {k: to_device(v, "cpu") for k, v in arrays.items()}
    payload[META_KEY] = numpy.frombuffer(record, dtype=numpy.uint8)
    with atomic_write(path, "wb") as f:
        numpy.savez(f, **payload)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, numpy.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` from ``path``. Raises ``CheckpointError`` naming the file when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # an .npz file is a zip archive
                raise CheckpointError(f"{path}: not a seqkit checkpoint (not an .npz archive)")
            f.seek(0)
            with numpy.load(f, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        if isinstance(e, ValueError) and "allow_pickle" in str(e):  # Python objects: never loaded, whoever wrote them
            raise CheckpointError(f"{path}: not a seqkit checkpoint (it holds pickled Python objects)") from None
        raise CheckpointError(f"{path}: not a readable seqkit checkpoint ({type(e).__name__}: {e})") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, expected {FORMAT}")
    for key, a in arrays.items():  # a state that diverged is never saved: such a file was damaged or edited
        if a.dtype.kind in "fc" and not numpy.isfinite(a).all():
            raise CheckpointError(f"{path}: {key} holds NaN or infinite values")
    return arrays, meta


def snapshot_paths(directory: str | os.PathLike) -> list[Path]:
    """Numbered snapshots ``snapshot_<iteration>.npz``, newest first."""
    found = Path(directory).glob("snapshot_*.npz")
    return sorted(
        found, key=lambda p: int(p.stem.split("_")[1]) if p.stem.split("_")[1].isdigit() else -1, reverse=True
    )


def latest_good(directory: str | os.PathLike, restore: Callable[[dict, dict], None] | None = None,
                ) -> tuple[Path, dict[str, numpy.ndarray], dict[str, Any]] | None:  # fmt: skip
    """The newest snapshot that loads (``last.npz`` first) and that ``restore(arrays, meta)`` accepts (it raises
    ``CheckpointError`` for a state that does not fit), warning about each one that does not. When ``restore``
    refused one and accepted none, ``CheckpointError``: what it refused may have been restored in part."""
    directory = Path(directory)
    refused = None
    for path in [directory / "last.npz", *snapshot_paths(directory)]:
        if not path.exists():
            continue
        try:
            arrays, meta = load_checkpoint(path)
        except CheckpointError as e:
            warnings.warn(f"{e}; trying an older snapshot", stacklevel=2)
            continue
        if restore is not None:
            try:
                restore(arrays, meta)
            except CheckpointError as e:
                refused = refused or f"{path}: {e}"
                warnings.warn(f"{path}: {e}; trying an older snapshot", stacklevel=2)
                continue
        return path, arrays, meta
    if refused is not None:
        raise CheckpointError(f"no checkpoint in {directory} fits this run (the newest: {refused})")
    return None
