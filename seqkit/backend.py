"""Array backends: NumPy on the CPU, CuPy on NVIDIA GPUs.

CuPy is imported only when a GPU is asked for (a ``"cuda:N"`` device, or a CuPy array handed in), so
``import seqkit`` works and stays fast on machines without it. Every op is written once against ``xp``,
the module that ``get_array_module`` returns.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, ClassVar

import numpy

_cupy = None


def cupy_module():
    """Import and return CuPy; raise a ``RuntimeError`` saying how to install it when it is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as e:
            raise RuntimeError(
                "a CUDA device was requested but CuPy is not installed; install it with "
                "pip install 'seqkit[gpu]' (see the README for the CUDA 12/13 wheels)"
            ) from e
        _cupy = cupy
    return _cupy


def is_cupy_array(a: Any) -> bool:
    """True for a ``cupy.ndarray``; never imports CuPy (an array of it can only exist once it is imported)."""
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(a, cupy.ndarray)


def get_array_module(*arrays: Any):
    """Return ``cupy`` if any argument (an array or a Variable) lives on a GPU, else ``numpy``."""
    for a in arrays:
        if type(a) is numpy.ndarray:
            continue
        a = getattr(a, "data", a)
        if is_cupy_array(a):
            return sys.modules["cupy"]
    return numpy


class Device:
    """A place where arrays live: ``Device("cpu")`` or ``Device("cuda:0")``.

    ``xp`` is the array module of the device; ``using_device(device)`` makes it current.
    """

    __slots__ = ("kind", "index")

    def __init__(self, spec: str | Device = "cpu") -> None:
        if isinstance(spec, Device):
            self.kind, self.index = spec.kind, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device must be 'cpu' or 'cuda:N', got {spec!r}")
        kind, _, index = spec.strip().lower().partition(":")
        if kind == "cpu" and not index:
            self.kind, self.index = "cpu", None
        elif kind in ("cuda", "gpu") and (index.isdigit() or not index):
            self.kind, self.index = "cuda", int(index or 0)
        else:
            raise ValueError(f"unknown device {spec!r}; expected 'cpu' or 'cuda:N' (for example 'cuda:0')")

    @property
    def xp(self):
        return numpy if self.kind == "cpu" else cupy_module()

    def __repr__(self) -> str:
        return f"Device({str(self)!r})"

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.kind, self.index) == (other.kind, other.index)

    def __hash__(self) -> int:
        return hash((self.kind, self.index))


def resolve_device(spec: str) -> Device:
    """A device a user asked for (``--device``, ``training.device``), checked: ``UserError`` for a malformed
    name, a missing CuPy, or a GPU that is not there."""
    from seqkit.errors import UserError

    try:
        device = Device(spec)
        count = cupy_module().cuda.runtime.getDeviceCount() if device.kind == "cuda" else 1
    except (TypeError, ValueError, RuntimeError) as e:
        raise UserError(f"device {spec!r}: {e}") from None
    except Exception as e:  # CUDA's own errors (no driver, no device)
        raise UserError(f"device {spec!r}: CUDA is not usable here ({type(e).__name__}: {e})") from None
    if device.kind == "cuda" and device.index >= count:
        raise UserError(f"device {spec!r}: this machine has {count} CUDA device(s)")
    return device


def keep_freed_host_memory() -> bool:
    """Have glibc's ``malloc`` keep freed memory for reuse instead of handing it back to the system.

    A training step allocates and frees the same large arrays every iteration (gate activations, their
    gradients, logits: megabytes each). By default glibc returns such blocks to the system (``munmap``, or
    trimming the heap), so the next step takes a page fault per 4 KiB to get them back, zero-filled
    (docs/performance.md has what that costs). Raising the mmap and trim thresholds keeps
    them (the process's memory stays at its peak, as with PyTorch's GPU caching allocator). This changes the
    whole process, so ``import seqkit`` leaves it alone: a long-running job asks for it where it starts
    (``seqkit.cli.main`` and ``Trainer.run`` call it; a script of its own may too). ``SEQKIT_MALLOC=system``
    opts out; a no-op where the C library is not glibc. Returns whether the thresholds were set.
    """
    import ctypes
    import os

    if os.environ.get("SEQKIT_MALLOC", "") == "system" or not sys.platform.startswith("linux"):
        return False
    try:  # the process's own symbols: no library search (ctypes.util.find_library runs ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, 256 << 20) and mallopt(M_TRIM_THRESHOLD, 1 << 30))


def get_device(array: Any) -> Device:
    """The device an array (or Variable) lives on."""
    a = getattr(array, "data", array) if not isinstance(array, numpy.ndarray) else array
    if isinstance(a, numpy.ndarray) or numpy.isscalar(a):
        return Device("cpu")
    if is_cupy_array(a):
        return Device(f"cuda:{a.device.id}")
    raise TypeError(f"not an array: {type(a).__name__}")


def to_device(array: Any, device: str | Device):
    """Copy an array to ``device`` (no copy when it is already there). Variables are not accepted here:
    use ``Variable.to_device`` or ``Layer.to_device``, which move data and gradients together."""
    if hasattr(array, "creator"):
        raise TypeError("to_device() takes arrays; move a Variable with v.to_device() or a layer with .to_device()")
    device = Device(device)
    if device.kind == "cpu":
        if isinstance(array, numpy.ndarray):
            return array
        if is_cupy_array(array):
            return array.get()
        return numpy.asarray(array)
    cupy = cupy_module()
    with cupy.cuda.Device(device.index):
        if isinstance(array, cupy.ndarray) and array.device.id == device.index:
            return array
        return cupy.asarray(array)


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` where repeated indices accumulate (``numpy.add.at``; on the GPU
    ``cupyx.scatter_add``, which behaves the same)."""
    if isinstance(target, numpy.ndarray):
        numpy.add.at(target, indices, values)
    else:
        import cupyx

        cupyx.scatter_add(target, indices, values)


def check_index_range(what: str, ids, size: int, ignore=None) -> None:
    """Raise ``ValueError`` naming the first id outside ``[0, size)`` (other than ``ignore``). Checked for
    NumPy arrays only: on a GPU the check would synchronise, so there it runs under ``config.debug``."""
    from seqkit.config import config

    if not isinstance(ids, numpy.ndarray) and not config.debug:
        return
    bad = (ids < 0) | (ids >= size)
    if ignore is not None:
        bad &= ids != ignore
    if bool(bad.any()):
        where = tuple(int(i) for i in numpy.argwhere(to_device(bad, "cpu"))[0])
        raise ValueError(f"{what} {int(ids[where])} at index {where} is outside [0, {size})")


@contextlib.contextmanager
def using_device(device: str | Device):
    """Make ``device`` current for the ``with`` block (CuPy allocations go there); a no-op for the CPU."""
    device = Device(device)
    if device.kind == "cpu":
        yield device
        return
    with cupy_module().cuda.Device(device.index):
        yield device


# ---- fused CUDA kernels: each is defined beside its NumPy twin, which runs wherever the kernel does not ----
#: A stand-in for ``cupy.ElementwiseKernel`` that runs kernel bodies on NumPy arrays, or None (normal use).
#: ``seqkit.testing.kernel_emulator.activate`` sets it; while it is set, ``use_kernels`` is true for NumPy too.
emulated_kernel_type: Any = None


def use_kernels(xp) -> bool:
    """Whether the fused kernels run for arrays of ``xp``: CuPy's, and NumPy's while a kernel emulator is set.
    Elsewhere the NumPy code beside each kernel, its reference, runs instead."""
    return xp is not numpy or emulated_kernel_type is not None


class ElementwiseKernel:
    """A ``cupy.ElementwiseKernel`` (the same arguments) built on its first call, so that defining one never
    imports CuPy; CuPy compiles it then and caches the binary on disk. It is rebuilt when the emulator is
    switched on or off. ``ElementwiseKernel.defined`` maps every kernel's name to it, for the tests."""

    defined: ClassVar[dict[str, ElementwiseKernel]] = {}

    def __init__(self, in_params: str, out_params: str, operation: str, name: str, preamble: str = "") -> None:
        self.arguments = (in_params, out_params, operation, name)
        self.preamble = preamble
        self._built, self._builder = None, None
        ElementwiseKernel.defined[name] = self

    def __call__(self, *args):
        builder = emulated_kernel_type or cupy_module().ElementwiseKernel
        if builder is not self._builder:
            self._built, self._builder = builder(*self.arguments, preamble=self.preamble), builder
        return self._built(*args)


__all__ = ["Device", "cupy_module", "get_array_module", "get_device", "scatter_add", "to_device", "using_device"]
