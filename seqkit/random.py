"""seqkit's random generators (one per array module), seedable and with state for exact resume.

On the CPU, NumPy's ``Generator`` (PCG64). On a GPU, a counter-based generator: the ``n``-th number drawn is a
hash (splitmix64) of the key and ``n``, made by one fused kernel, so its whole state is two integers that a
snapshot records, and a resumed run draws exactly the numbers the uninterrupted one would have.
"""

from __future__ import annotations

import math

import numpy

from seqkit.backend import cupy_module

_generators: dict[str, object] = {}
_seed: int | None = None


class CounterGenerator:
    """Uniform and normal draws as a hash of ``(key, position)``: the GPU's generator (works on any ``xp``)."""

    def __init__(self, xp, seed: int | None = None, state: dict | None = None) -> None:
        self.xp = xp
        if state is None:
            state = {"key": int(numpy.random.SeedSequence(seed).generate_state(1, numpy.uint64)[0]), "offset": 0}
        self.key, self.offset = int(state["key"]), int(state["offset"])

    @property
    def state(self) -> dict:
        return {"key": self.key, "offset": self.offset}

    def random(self, shape, dtype=numpy.float64):
        """Uniform in [0, 1) with 24 (float32) or 53 (float64) random bits."""
        from seqkit.functions import cuda_kernels

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        out = cuda_kernels.counter_uniform(self.xp, self.key, self.offset, shape, numpy.dtype(dtype))
        self.offset += math.prod(shape)
        return out

    def standard_normal(self, shape, dtype=numpy.float64):
        """Box-Muller from two uniform draws."""
        u1, u2 = self.random(shape, dtype), self.random(shape, dtype)
        return self.xp.sqrt(-2 * self.xp.log1p(-u1)) * self.xp.cos((2 * math.pi) * u2)


def generator(xp=numpy):
    """The generator used for ``xp`` arrays (dropout masks, initialisers): NumPy's ``Generator`` on the CPU, a
    ``CounterGenerator`` on a GPU."""
    name = xp.__name__
    if name not in _generators:
        _generators[name] = numpy.random.default_rng(_seed) if name == "numpy" else CounterGenerator(xp, _seed)
    return _generators[name]


def seed(value: int) -> None:
    """Seed every generator, including those created later, from ``value``."""
    global _seed
    _seed = value
    _generators.clear()


def get_state() -> dict:
    """Every generator's state, JSON-serialisable (for snapshots)."""
    state = {"numpy": generator(numpy).bit_generator.state}
    state.update({name: g.state for name, g in _generators.items() if name != "numpy"})
    return state


def set_state(state: dict) -> None:
    """Restore a state from ``get_state()`` (or, from older snapshots, the NumPy generator's state alone)."""
    if "bit_generator" in state:
        state = {"numpy": state}
    generator(numpy).bit_generator.state = state["numpy"]
    for name, s in state.items():
        if name != "numpy":  # the GPU's: CuPy is the only other array module
            _generators[name] = CounterGenerator(cupy_module(), state=s)
