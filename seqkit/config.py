"""One configuration object: global defaults plus thread-local overrides.

``config.NAME`` reads the value in force for the current thread; ``using_config(NAME, value)`` overrides it
inside a ``with`` block; ``global_config.NAME = value`` changes the default for every thread. Every key is
declared once, in ``KEYS`` below, and ``show()`` prints them all.

Reads are a plain attribute lookup on a ``threading.local`` (the defaults are class attributes), so the core
can consult the config on every op without measurable cost.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any

#: name -> (default, meaning). The one place that lists every key.
KEYS: dict[str, tuple[Any, str]] = {
    "train": (True, "training mode: dropout is active; set False for evaluation and decoding"),
    "enable_backprop": (True, "record the graph for backprop; False inside no_grad()"),
    "debug": (
        os.environ.get("SEQKIT_DEBUG", "") not in ("", "0"),
        "check every op's outputs for NaN/inf and raise naming the op (env SEQKIT_DEBUG=1)",
    ),
    "dtype": ("float32", "default floating dtype for parameters and initialisers"),
    "autocast": (
        None,
        "'float16': matrix products (F.linear, F.matmul) of float32 inputs run in float16 and give float32 "
        "(mixed precision, see training.mixed_precision); None: off",
    ),
}


class _Config(threading.local):
    """Thread-local overrides; the global defaults are class attributes, found when no override exists."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in KEYS:
            raise AttributeError(_unknown(name))
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:  # only called when the key is neither overridden nor a default
        raise AttributeError(_unknown(name))


for _name, (_default, _doc) in KEYS.items():
    setattr(_Config, _name, _default)


class _GlobalConfig:
    """Writes go to the defaults shared by every thread."""

    def __getattr__(self, name: str) -> Any:
        if name not in KEYS:
            raise AttributeError(_unknown(name))
        return getattr(_Config, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in KEYS:
            raise AttributeError(_unknown(name))
        setattr(_Config, name, value)


def _unknown(name: str) -> str:
    return f"unknown config key {name!r}; known keys: {', '.join(sorted(KEYS))}"


config = _Config()
global_config = _GlobalConfig()

_MISSING = object()


@contextlib.contextmanager
def using_config(name: str, value: Any):
    """Override config key ``name`` with ``value`` in this thread for the duration of a ``with`` block."""
    old = config.__dict__.get(name, _MISSING)
    setattr(config, name, value)
    try:
        yield
    finally:
        if old is _MISSING:
            del config.__dict__[name]
        else:
            config.__dict__[name] = old


class no_grad(contextlib.ContextDecorator):
    """Do not record the graph: as a context manager (``with no_grad():``) or a decorator (``@no_grad()``)."""

    def _recreate_cm(self):  # a fresh instance per decorated call, so nesting and threads are safe
        return type(self)()

    def __enter__(self):
        self.__dict__.setdefault("_contexts", []).append(using_config("enable_backprop", False))
        self._contexts[-1].__enter__()
        return self

    def __exit__(self, *exc):
        return self._contexts.pop().__exit__(*exc)


def show(file=None) -> None:
    """Print every config key, its value in this thread, and what it means."""
    file = sys.stdout if file is None else file
    width = max(map(len, KEYS))
    for name, (_, doc) in KEYS.items():
        print(f"{name:<{width}}  {getattr(config, name)!r:<10}  {doc}", file=file)


__all__ = ["KEYS", "config", "global_config", "using_config", "no_grad", "show"]
