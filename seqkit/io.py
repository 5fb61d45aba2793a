"""File helpers shared by saving, checkpoints and outputs: atomic writes."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import weakref
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write ``path`` all at once or not at all.

    Yields a file open for writing (``mode`` ``"w"``/``"wt"`` for text, ``"wb"`` for bytes) on a temporary
    file in the same directory. When the block ends normally the data is flushed, fsynced and moved over
    ``path`` with ``os.replace`` (atomic on POSIX and Windows); when it raises, the temporary file is removed
    and ``path`` is left as it was. The new file gets the usual permissions (0o666 less the umask).

    Raises ``ValueError`` for a mode other than the three above; ``OSError`` (naming the temporary file) when
    the directory does not exist or is not writable.
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w', 'wt' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


class DirectoryLock:
    """An exclusive OS-level lock on ``directory`` (``flock`` on ``directory/.lock``), held until ``release``, the
    object's collection or the end of the process, however it ends. The file records the holder's pid and
    command line for the message another process gets: ``BlockingIOError`` naming the holder when it is locked
    already. Where the platform or the file system has no ``flock`` (Windows; some network file systems)
    nothing is locked and ``locked`` is False."""

    FILE = ".lock"

    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = os.path.join(os.fspath(directory), self.FILE)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        self._closer = weakref.finalize(self, os.close, self._fd)
        self.locked = False
        try:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 4096, 0).decode(errors="replace").strip() or "another process"
            self.release()
            raise BlockingIOError(f"{os.fspath(directory)} is in use by {holder}") from None
        except (ImportError, OSError):  # no flock here: one writer is the user's to ensure
            return
        self.locked = True
        with contextlib.suppress(OSError):  # the record is for messages only (a full disk may refuse it)
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"pid {os.getpid()}: {' '.join(sys.argv)}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            self._closer()  # closing the descriptor releases the lock
            self._fd = None


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable where the platform allows it (a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["DirectoryLock", "atomic_write"]
