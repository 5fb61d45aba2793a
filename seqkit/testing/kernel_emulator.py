"""CuPy ``ElementwiseKernel`` bodies compiled as C++ and run on NumPy arrays: the fused CUDA kernels tested
without a GPU.

A kernel's operation is C-like code over its parameters; here it becomes the body of a plain C++ loop over
``i`` (compiled once with the system's ``g++`` and cached), with CuPy's calling conventions: non-raw arrays
are broadcast together and read (inputs) or written (outputs) at element ``i``; raw arrays are indexed by
their flat C-order position; type placeholders (``T``, ``I``) take the dtypes of the arrays bound to them;
omitted outputs are allocated. What this proves is the arithmetic and the indexing of each kernel body, on
the call sites' real arguments; CuPy's code generation and the launch itself run only on a GPU.
``EmulatedKernel.cuda`` writes the same bodies as CUDA ``__global__`` functions, for ``nvcc`` to compile.

The kernels are ``seqkit.backend.ElementwiseKernel`` objects, each defined beside the NumPy code it replaces
(the recurrences' steps in ``seqkit.functions.rnn``, dropout's mask, the softmax cross-entropy gradient, the
Adam update, the GPU's random numbers); each builds its CuPy kernel on its first call, or an
``EmulatedKernel`` while ``seqkit.backend.emulated_kernel_type`` names one. ``activate(monkeypatch)`` (or the
``--emulate-cuda-kernels`` option of the test suite) sets it, which also makes every ``use_kernels(xp)``
branch take the kernel for NumPy arrays: the kernels run, emulated, wherever seqkit would run them on a GPU.
``ElementwiseKernel.defined`` lists every kernel by name.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy

_C_TYPES = {
    "float32": "float", "float64": "double", "int32": "int32_t", "int64": "int64_t",
    "uint32": "uint32_t", "uint64": "uint64_t", "bool": "bool",
}  # fmt: skip
_HEADER = "#include <cmath>\n#include <cstdint>\n#include <cstddef>\nusing namespace std;\n"


def _params(spec: str) -> list[tuple[bool, str, str]]:
    """``"raw T a, int32 H"`` → ``[(True, "T", "a"), (False, "int32", "H")]``."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        words = part.split()
        out.append((words[0] == "raw", words[-2], words[-1]))
    return out


def available() -> bool:
    return shutil.which("g++") is not None


class EmulatedKernel:
    """Callable like ``cupy.ElementwiseKernel(in_params, out_params, operation, name, preamble=...)``."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str, preamble: str = ""):
        self.ins, self.outs = _params(in_params), _params(out_params)
        self.operation, self.name, self.preamble = operation, name, preamble

    def __call__(self, *args):
        n_in = len(self.ins)
        if len(args) not in (n_in, n_in + len(self.outs)):
            raise TypeError(f"{self.name}: {len(args)} arguments, expected {n_in} or {n_in + len(self.outs)}")
        params = self.ins + self.outs
        types = self._bind_types(args)
        elementwise = [a for (raw, _, _), a in zip(params, args) if not raw and isinstance(a, numpy.ndarray)]
        shape = numpy.broadcast_shapes(*(a.shape for a in elementwise))
        args = list(args)
        if len(args) == n_in:  # outputs omitted: allocated with the elementwise shape
            args += [numpy.empty(shape, dtype=types[t]) for _, t, _ in self.outs]
        kinds, buffers = [], []
        for (raw, t, _), a in zip(params, args):
            dtype = types[t] if t in types else numpy.dtype(t)
            if isinstance(a, numpy.ndarray):
                kinds.append("raw" if raw else "element")
                buffers.append(numpy.ascontiguousarray(a if raw else numpy.broadcast_to(a, shape), dtype=dtype))
            else:
                kinds.append("scalar")
                buffers.append(numpy.array([a], dtype=dtype))
        run = _compile(self.cpp(types, kinds))
        pointers = (ctypes.c_void_p * len(buffers))(*(b.ctypes.data for b in buffers))
        run(ctypes.c_ssize_t(int(numpy.prod(shape))), pointers)
        for a, b in zip(args[n_in:], buffers[n_in:]):
            if b is not a:  # a copy (strided or broadcast): write the results back through the view
                a[...] = b.reshape(a.shape)
        results = args[n_in:]
        return results[0] if len(results) == 1 else tuple(results)

    def _bind_types(self, args) -> dict:
        """Placeholder name → dtype, from arrays first (as CuPy does), then from NumPy scalars."""
        types: dict = {}
        for arrays_only in (True, False):
            for (_, t, _), a in zip(self.ins + self.outs, args):
                if t in _C_TYPES or t in types:
                    continue
                if isinstance(a, numpy.ndarray) or (not arrays_only and isinstance(a, numpy.generic)):
                    types[t] = a.dtype
        return types

    def declarations(self, types: dict, kinds: list[str]) -> tuple[str, str]:
        """C declarations of the parameters from ``_args[k]``: those before the loop over elements (raw arrays,
        scalars), and those inside it, at element ``i``."""
        outer, inner = [], []
        for k, ((_, t, name), kind) in enumerate(zip(self.ins + self.outs, kinds)):
            ctype = _C_TYPES[types[t].name] if t in types else _C_TYPES[t]
            if kind == "raw":
                outer.append(f"{ctype}* {name} = ({ctype}*)_args[{k}];")
            elif kind == "scalar":
                outer.append(f"const {ctype} {name} = *(const {ctype}*)_args[{k}];")
            elif k < len(self.ins):
                inner.append(f"const {ctype} {name} = ((const {ctype}*)_args[{k}])[i];")
            else:
                inner.append(f"{ctype}& {name} = (({ctype}*)_args[{k}])[i];")
        return "\n".join(outer), "\n".join(inner)

    def typedefs(self, types: dict) -> str:
        return "".join(f"typedef {_C_TYPES[dt.name]} {t};\n" for t, dt in types.items())

    def cpp(self, types: dict, kinds: list[str]) -> str:
        """A C++ translation unit with ``extern "C" void run(ptrdiff_t n, void** args)``."""
        outer, inner = self.declarations(types, kinds)
        return (
            f"{_HEADER}#define __device__\n{self.typedefs(types)}{self.preamble}\n"
            f'extern "C" void run(ptrdiff_t _n, void** _args) {{\n{outer}\n'
            f"for (ptrdiff_t i = 0; i < _n; ++i) {{\n{inner}\n{{{self.operation}}}\n}}\n}}\n"
        )

    def cuda(self, types: dict, kinds: list[str], name: str) -> str:
        """The same body as a CUDA ``__global__`` function (in its own namespace), for ``nvcc``."""
        outer, inner = self.declarations(types, kinds)
        return (
            f"namespace {name} {{\n{self.typedefs(types)}{self.preamble}\n"
            f"__global__ void run(ptrdiff_t _n, void** _args) {{\n{outer}\n"
            f"ptrdiff_t i = blockIdx.x * (ptrdiff_t)blockDim.x + threadIdx.x;\nif (i >= _n) return;\n"
            f"{inner}\n{{{self.operation}}}\n}}\n}}\n"
        )


_CACHE = Path(tempfile.gettempdir()) / "seqkit-kernel-emulator"


@functools.cache
def _compile(source: str):
    """Compile ``source`` with g++ into a shared library (cached by its hash) and return its ``run``."""
    _CACHE.mkdir(exist_ok=True)
    stem = _CACHE / hashlib.sha256(source.encode()).hexdigest()[:24]
    library = stem.with_suffix(".so")
    if not library.exists():
        code, partial = stem.with_suffix(f".{os.getpid()}.cpp"), stem.with_suffix(f".{os.getpid()}.so")
        code.write_text(source)
        done = subprocess.run(["g++", "-O2", "-shared", "-fPIC", "-o", str(partial), str(code)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"an emulated kernel did not compile ({code}):\n{done.stderr[-3000:]}")
        partial.replace(library)  # atomic: parallel test processes never load a half-written library
    function = ctypes.CDLL(str(library)).run
    function.argtypes = (ctypes.c_ssize_t, ctypes.POINTER(ctypes.c_void_p))
    function.restype = None
    return function


def activate(monkeypatch, kernel_type: type = EmulatedKernel) -> None:
    """Route seqkit's GPU branches through emulated kernels, on NumPy arrays (for one test or session; the
    monkeypatch's undo switches them off). ``kernel_type``: ``EmulatedKernel`` or a subclass of it."""
    from seqkit import backend

    monkeypatch.setattr(backend, "emulated_kernel_type", kernel_type)
