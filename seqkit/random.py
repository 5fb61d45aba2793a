"""seqkit's random generators (one per array module), seedable and with state for exact resume."""

from __future__ import annotations

import numpy

from seqkit.backend import cupy_module

_generators: dict[str, object] = {}


def generator(xp=numpy):
    """The generator used for ``xp`` arrays (dropout masks, initialisers): NumPy's ``Generator`` or CuPy's."""
    name = xp.__name__
    if name not in _generators:
        _generators[name] = numpy.random.default_rng() if name == "numpy" else cupy_module().random.default_rng()
    return _generators[name]


def seed(value: int) -> None:
    """Seed every generator (those created later too) from ``value``."""
    _generators.clear()
    _generators["numpy"] = numpy.random.default_rng(value)
    import sys

    if "cupy" in sys.modules:
        _generators["cupy"] = cupy_module().random.default_rng(value)


def get_state() -> dict:
    """The CPU generator's state, JSON-serialisable (for snapshots)."""
    return generator(numpy).bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state from ``get_state()``."""
    generator(numpy).bit_generator.state = state
