"""The gradient sums of one backprop pass, kept apart from the walk (``backward.py``) that routes them.

Several gradients reach a value that several ops used; ``Accumulator`` adds them up. Three things make that
cheaper than ``old + new`` each time, and all three live here:

- **In-place sums.** A sum this pass allocated belongs to the pass until it is handed to a backward (which
  may pass it on as it is), so the next gradient is added into it in place. A gradient an op handed out may
  be shared (``Add`` gives the same array to both inputs) and is never written to.
- **A weight's uses in one product.** ``linear``'s backward may hand a leaf weight's gradient as its two
  factors (``Outer``: ``gy``, ``x``; only while ``takes_factors`` says so). The accumulator keeps the factors
  per leaf and multiplies the stacked factors in one GEMM at the end of the pass, or once they outgrow
  ``OUTER_BYTES``, instead of one thin product and one weight-sized addition per use.
- **The write into ``grad``.** A leaf's total is stored once: copied into its ``grad_buffer`` (a Parameter
  whose optimizer provides one), kept as it is when this pass allocated it, copied when an op handed it out,
  or added in place to the gradient already there.

Under ``create_graph=True`` every sum is a differentiable ``add`` and nothing is written in place.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from seqkit.backend import get_array_module
from seqkit.config import config
from seqkit.core.autograd import FunctionNode, Variable, _new_variable
from seqkit.core.ops import add

OUTER_BYTES = 64 << 20  # factors kept per weight before they are multiplied out
_factors = threading.local()  # ``on``: True while an accumulator that takes factors is open in this thread
_MISSING = object()


def takes_factors(node: FunctionNode, i: int) -> bool:
    """Whether ``node.backward`` may give input ``i``'s gradient as an ``Outer``: only inside a backprop that
    builds no graph, and only for an input whose edge is a leaf."""
    return getattr(_factors, "on", False) and type(node.inputs[i]) is weakref.ref


class Outer:
    """A weight gradient given as factors, ``a.T @ b`` (from ``linear``, whose weight is a leaf).

    The factors are arrays backward would otherwise free at once, so a weight's gradient holds up to
    ``OUTER_BYTES`` more memory during backward."""

    __slots__ = ("a", "b", "nbytes")

    def __init__(self, a, b) -> None:
        self.a, self.b = [a], [b]
        self.nbytes = a.nbytes + b.nbytes

    def add(self, other: Outer) -> None:
        self.a += other.a
        self.b += other.b
        self.nbytes += other.nbytes

    def product(self) -> Variable:
        a, b = self.a, self.b
        if len(a) > 1:
            xp = get_array_module(a[0])
            a, b = xp.concatenate(a), xp.concatenate(b)
        else:
            a, b = a[0], b[0]
        return _new_variable(a.T @ b, None, 0)


class Accumulator:
    """Sums the gradients of one backprop pass.

    ``wanted`` (``seqkit.grad``): the keys of the Variables whose totals ``finish()`` returns, ``(node, index)``
    for a computed Variable or the leaf itself; no ``grad`` attribute changes then. Used as a context manager
    around the walk: while it is open, ops record a graph of the gradients only under ``create_graph`` and may
    hand this accumulator leaf-weight gradients as factors only without one.
    """

    __slots__ = ("create_graph", "keys", "owned", "factors", "leaves", "captured", "_saved", "_saved_factors")

    def __init__(self, create_graph: bool, keys: list | None) -> None:
        self.create_graph = create_graph
        self.keys = keys
        self.owned: set[Variable] = set()  # sums this pass allocated and still holds: safe to add into
        self.leaves: dict[Variable, Variable] = {}  # leaf -> its total so far
        self.factors: dict[Variable, Outer] | None = None  # leaf -> its gradients still as factors
        self.captured: dict[Any, Variable] | None = None if keys is None else {}  # wanted key -> its total

    def __enter__(self) -> Accumulator:
        local = config.__dict__
        self._saved = local.get("enable_backprop", _MISSING)
        self._saved_factors = getattr(_factors, "on", False)
        local["enable_backprop"] = self.create_graph
        _factors.on = not self.create_graph
        return self

    def __exit__(self, *exc) -> None:
        _factors.on = self._saved_factors
        if self._saved is _MISSING:
            del config.__dict__["enable_backprop"]
        else:
            config.__dict__["enable_backprop"] = self._saved

    def add(self, old: Variable, new: Variable) -> Variable:
        """``old + new``, added into ``old`` in place when this pass allocated it."""
        if self.create_graph:
            return add(old, new)
        if old in self.owned:
            old.data += new.data
            return old
        total = _new_variable(old.data + new.data, None, 0)
        self.owned.add(total)
        return total

    def hand_over(self, node: FunctionNode, gys: list) -> None:
        """Make ``gys``, the totals of ``node``'s outputs, what its backward gets (in place): no longer this
        pass's to add into (the backward may pass them on as they are), through the outputs' hooks, and kept
        where wanted. The walk calls it only when one of the three applies."""
        if self.owned:
            self.owned.difference_update(gys)
        if node._output_hooks:
            for i, hooks in node._output_hooks.items():
                if gys[i] is not None and hooks:
                    gys[i] = run_hooks(hooks, gys[i], self.keys is not None)
        if self.keys is not None:
            for i, g in enumerate(gys):
                if g is not None and (node, i) in self.keys:
                    self.captured[node, i] = g

    def to_leaf(self, ref: weakref.ref, g: Variable | Outer) -> None:
        """Add ``g`` to the total of the leaf ``ref`` refers to (nothing when the leaf is gone)."""
        v = ref()
        if v is None:
            return
        if type(g) is Outer:
            if self.factors is None:
                self.factors = {}
            kept = self.factors.get(v)
            if kept is None:
                self.factors[v] = g
                return
            kept.add(g)
            if kept.nbytes < OUTER_BYTES:
                return
            g = self.factors.pop(v).product()
            self.owned.add(g)
        leaves = self.leaves
        leaves[v] = g if v not in leaves else self.add(leaves[v], g)

    def finish(self) -> list[Variable | None] | None:
        """Multiply out the factors, run the leaves' hooks on their totals, and store the totals in ``grad``;
        or, for ``wanted``, return them in order (``None`` where no gradient arrived)."""
        keys = self.keys
        if self.factors:
            asked = None if keys is None else {k for k in keys if type(k) is not tuple}
            for v, f in self.factors.items():
                if asked is not None and v not in asked and not v._hooks:
                    continue  # a leaf seqkit.grad() was not asked for
                g = f.product()
                self.owned.add(g)
                self.leaves[v] = g if v not in self.leaves else self.add(self.leaves[v], g)
        create_graph = self.create_graph
        for v, g in self.leaves.items():
            if v._hooks:
                g = run_hooks(v._hooks, g, keys is not None)
            old = v._grad
            if keys is not None:
                self.captured[v] = g
            elif old is None:
                buffer = None if create_graph else getattr(v, "grad_buffer", None)
                if buffer is not None and buffer.shape == g.shape:
                    buffer[...] = g.data
                    v._grad = _new_variable(buffer, None, 0)
                elif create_graph or g in self.owned:
                    v._grad = g
                else:  # an op handed it out and may share it: keep a copy
                    v._grad = _new_variable(g.data.copy(), None, 0)
            elif create_graph or old.creator is not None:
                v._grad = add(old, g)
            else:
                old.data += g.data
        return None if keys is None else [self.captured.get(k) for k in keys]


def run_hooks(hooks: list, g: Variable, for_grad: bool = False) -> Variable:
    """``g`` through ``hooks`` in order (a hook returning a value replaces it); ``retain_grad``'s hooks are
    skipped ``for_grad`` (``seqkit.grad`` changes no ``grad`` attribute)."""
    for hook in list(hooks):
        if for_grad and getattr(hook, "retains_grad", False):
            continue
        r = hook(g)
        if r is not None:
            g = r if isinstance(r, Variable) else _new_variable(r, None, 0)
    return g
