"""seqkit's random generators (one per array module), seedable and with state for exact resume.

On the CPU, NumPy's ``Generator`` (PCG64). On a GPU, a counter-based generator: the ``n``-th number drawn is a
hash (splitmix64) of the key and ``n``, made by one fused kernel, so its whole state is two integers that a
snapshot records, and a resumed run draws exactly the numbers the uninterrupted one would have.

``counter_uniform`` makes those numbers: with the fused CUDA kernel defined beside it where ``use_kernels(xp)``
says so (CuPy arrays), else with NumPy code that computes the same hash and is bitwise equal to the kernel.
"""

from __future__ import annotations

import math

import numpy

from seqkit.backend import ElementwiseKernel, cupy_module, use_kernels

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
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        out = counter_uniform(self.xp, self.key, self.offset, shape, numpy.dtype(dtype))
        self.offset += math.prod(shape)
        return out

    def standard_normal(self, shape, dtype=numpy.float64):
        """Box-Muller from two uniform draws."""
        u1, u2 = self.random(shape, dtype), self.random(shape, dtype)
        return self.xp.sqrt(-2 * self.xp.log1p(-u1)) * self.xp.cos((2 * math.pi) * u2)


# splitmix64 of key + (offset + i) * golden gamma; the top 24 (float) or 53 (double) bits scaled to [0, 1)
_COUNTER_UNIFORM = ElementwiseKernel(
    "uint64 key, uint64 offset",
    "T u",
    """
    unsigned long long z = key + (offset + (unsigned long long)i) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    u = sizeof(T) == 4 ? T(z >> 40) * T(5.9604644775390625e-08) : T(z >> 11) * T(1.1102230246251565e-16);
    """,
    "seqkit_counter_uniform",
)


def counter_uniform(xp, key: int, offset: int, shape: tuple, dtype):
    """Uniform numbers in [0, 1): element ``n`` (C order) is a hash of ``key`` and ``offset + n``. The kernel
    above where ``use_kernels(xp)``, else the NumPy lines below, which compute the same bits."""
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"uniform draws are float32 or float64, got {dtype}")
    if use_kernels(xp):
        return _COUNTER_UNIFORM(numpy.uint64(key), numpy.uint64(offset), xp.empty(shape, dtype))
    n = numpy.uint64(offset) + numpy.arange(math.prod(shape), dtype=numpy.uint64)
    z = numpy.uint64(key) + n * numpy.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> numpy.uint64(30))) * numpy.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> numpy.uint64(27))) * numpy.uint64(0x94D049BB133111EB)
    z ^= z >> numpy.uint64(31)
    bits = 24 if dtype == numpy.float32 else 53
    return ((z >> numpy.uint64(64 - bits)).astype(dtype) * dtype.type(2.0**-bits)).reshape(shape)


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
