"""``FlatParams``: a model's parameters (and their gradients) as views into one flat buffer per dtype and device.

With the parameters packed, an optimizer step, a global gradient norm, gradient clipping or an all-reduce
each touch one array instead of looping over hundreds in Python. Packing rebinds every ``Parameter.data`` to
a view of the flat buffer; code that writes parameters in place (``Layer.load_state_dict``, ``p.data[...] =``)
keeps the views valid.

Gradients: every packed parameter's ``grad_buffer`` is its view of the flat gradient buffer, so a backward
that finds ``p.grad`` ``None`` (after ``zero_grads()``) copies the first gradient into the view, and one that
finds the view there adds into it in place: backward writes straight into the buffer, and ``gather_grads()``
finds nothing to do. A gradient that is some other array (after ``p.grad = ...``, or while
``zero_grads(set_to_none=True)`` has taken the views away) is copied into the buffer once, and ``p.grad``
becomes the view. A parameter no gradient reached since ``zero_grads()`` reads ``None`` until ``update()``
gathers it as zeros: the buffer is declared zero without a pass to fill it, and reading ``grad`` never
changes it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from seqkit.backend import Device, get_device, using_device
from seqkit.core.autograd import Parameter, Variable

#: Elements per piece of an elementwise update on the CPU. NumPy runs one pass over memory per operation;
#: pieces that fit the caches turn the many passes of an Adam step into about one trip to main memory, and
#: pieces can run on several threads (NumPy releases the GIL inside them); see ``benchmarks/optim.py``.
#: On a GPU the whole buffer is one piece.
CPU_CHUNK = 1 << 18


def default_threads() -> int:
    """Threads for updates on the CPU: ``OMP_NUM_THREADS`` when set (the budget the user gave numeric code),
    else the CPUs this process may use, at most 8 (memory bandwidth is saturated well before that)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seqkit-optim")


class FlatGroup:
    """The parameters of one dtype on one device, packed.

    ``data`` and ``grad`` are 1-d arrays of ``size`` elements; ``views[i]`` / ``grad_views[i]`` are the
    ``params[i]``-shaped views of them; ``chunks`` are the slices that updates walk through, on ``threads``
    threads.
    """

    def __init__(self, named: list[tuple[str, Parameter]], device: Device, chunk: int | None, threads: int) -> None:
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.dtype = self.params[0].dtype
        self.device = device
        self.xp = device.xp
        self.size = sum(p.size for p in self.params)
        with using_device(device):
            self.data = self.xp.empty(self.size, self.dtype)
            self.grad = self.xp.zeros(self.size, self.dtype)
        self.views: list[Any] = []
        self.grad_views: list[Any] = []
        self._grad_vars: list[Variable] = []
        offset = 0
        for p in self.params:
            end = offset + p.size
            view = self.data[offset:end].reshape(p.shape)
            view[...] = p.data
            p.data = view
            grad_view = self.grad[offset:end].reshape(p.shape)
            self.views.append(view)
            self.grad_views.append(grad_view)
            self._grad_vars.append(Variable(grad_view, requires_grad=False))
            p.grad_buffer = grad_view
            offset = end
        if chunk is None:
            chunk = CPU_CHUNK if device.kind == "cpu" else self.size
        self.chunk = max(1, min(chunk, self.size))
        self.chunks = [slice(s, min(s + self.chunk, self.size)) for s in range(0, self.size, self.chunk)]
        self.threads = max(1, min(threads if device.kind == "cpu" else 1, len(self.chunks)))

    def foreach_chunk(self, fn: Callable[[slice, Any], None]) -> None:
        """Call ``fn(chunk, scratch)`` for every chunk, with a work array ``scratch`` as long as the chunk.

        Elementwise work only: chunks run in parallel on ``threads`` threads, each with its own scratch.
        """

        def work(part: list[slice]) -> None:
            with using_device(self.device):
                scratch = self.xp.empty(self.chunk, self.dtype)
            for s in part:
                fn(s, scratch[: s.stop - s.start])

        if self.threads == 1:
            work(self.chunks)
            return
        n, k = len(self.chunks), self.threads
        list(_pool(k).map(work, [self.chunks[i * n // k : (i + 1) * n // k] for i in range(k)]))

    def gather_grads(self) -> None:
        """Copy every parameter's gradient into ``grad`` (zeros where it is ``None``: declared zero, or never
        computed) and make ``p.grad`` the view.

        Raises ``RuntimeError`` naming the parameter when its ``data`` was replaced by an array of another
        shape, dtype or device (``to_device`` after packing); a replacement that fits is copied in and rebound.
        """
        for name, p, view, grad_view, grad_var in zip(
            self.names, self.params, self.views, self.grad_views, self._grad_vars
        ):
            if p.data is not view:
                self._readopt(name, p, view)
            g = p._grad
            if g is None:  # no gradient reached it since zero_grads
                grad_view.fill(0)
            elif g.data is not grad_view:
                grad_view[...] = g.data
            elif g is grad_var:
                continue
            p._grad = grad_var

    def zero_grads(self, set_to_none: bool) -> None:
        """Declare every gradient zero: ``p.grad`` becomes ``None`` and the views are left as they are; the
        first gradient backward brings is copied into its view (``p.grad_buffer``), and ``gather_grads()``
        fills the views no gradient reached. ``set_to_none`` also takes the views away from the parameters
        (backward then makes arrays of its own, copied in by ``gather_grads()``) until the next
        ``zero_grads()``."""
        for p, grad_view in zip(self.params, self.grad_views):
            p._grad = None
            p.grad_buffer = None if set_to_none else grad_view

    def _readopt(self, name: str, p: Parameter, view: Any) -> None:
        data = p.data
        if data.shape != view.shape or data.dtype != view.dtype or get_device(data) != self.device:
            raise RuntimeError(
                f"parameter {name!r} is now {data.shape} {data.dtype} on {get_device(data)}, but the optimizer "
                f"packed it as {view.shape} {view.dtype} on {self.device}; move the model before setup(), or call "
                "setup() again (which resets the optimizer state)"
            )
        view[...] = data
        p.data = view


class FlatParams:
    """Packs parameters into one ``FlatGroup`` per (dtype, device), in order of first appearance.

    ``target`` is a ``Layer`` (parameters named by their dotted names) or an iterable of Parameters (named
    by ``name`` or position); shared parameters are packed once; parameters with ``requires_grad=False`` are
    left alone. ``chunk`` overrides ``CPU_CHUNK`` (elements per piece of an update), ``threads`` overrides
    ``default_threads()`` (CPU only). Raises ``TypeError`` for something that is not a Parameter,
    ``ValueError`` when there is none.
    """

    def __init__(self, target: Any, chunk: int | None = None, threads: int | None = None) -> None:
        named = _named_params(target)
        if not named:
            raise ValueError("the optimizer got no parameters that require grad")
        by_key: dict[tuple[str, Device], list[tuple[str, Parameter]]] = {}
        for name, p in named:
            by_key.setdefault((p.dtype.str, get_device(p.data)), []).append((name, p))
        threads = default_threads() if threads is None else threads
        self.groups = [FlatGroup(group, device, chunk, threads) for (_, device), group in by_key.items()]

    def gather_grads(self) -> None:
        """``FlatGroup.gather_grads`` for every group."""
        for group in self.groups:
            group.gather_grads()

    @property
    def size(self) -> int:
        """The number of packed scalars."""
        return sum(g.size for g in self.groups)


def _named_params(target: Any) -> list[tuple[str, Parameter]]:
    items: Iterable[tuple[str, Any]]
    if hasattr(target, "named_params"):  # a Layer (duck-typed: optim sits beside layers, not above them)
        items = target.named_params()
    elif isinstance(target, Parameter):
        items = [(target.name or "0", target)]
    else:
        items = ((getattr(p, "name", None) or str(i), p) for i, p in enumerate(target))
    seen: set[int] = set()
    named = []
    for name, p in items:
        if not isinstance(p, Parameter):
            raise TypeError(f"the optimizer updates Parameters, got {type(p).__name__} at {name!r}")
        if id(p) not in seen and p.requires_grad:
            seen.add(id(p))
            named.append((name, p))
    return named
