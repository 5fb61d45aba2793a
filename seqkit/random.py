"""seqkit's random generators (one per array module), seedable and with state for exact resume."""

from __future__ import annotations

import numpy

from seqkit.backend import cupy_module

_generators: dict[str, object] = {}
_seed: int | None = None


def generator(xp=numpy):
    """The generator used for ``xp`` arrays (dropout masks, initialisers): NumPy's ``Generator`` or CuPy's."""
    name = xp.__name__
    if name not in _generators:
        rng = numpy.random.default_rng if name == "numpy" else cupy_module().random.default_rng
        _generators[name] = rng(_seed)
    return _generators[name]


def seed(value: int) -> None:
    """Seed every generator, including those created later, from ``value``."""
    global _seed
    _seed = value
    _generators.clear()


def get_state() -> dict:
    """The CPU generator's state, JSON-serialisable (for snapshots)."""
    return generator(numpy).bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state from ``get_state()``."""
    generator(numpy).bit_generator.state = state
