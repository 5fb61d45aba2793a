"""Define-by-run autograd: Variables, the op protocol, and iterative backprop.

The mental model fits on one screen. Running an op on Variables computes its result on raw arrays and,
when a gradient may be needed, records a ``FunctionNode`` as the result's ``creator``. The node holds
*edges* to where its inputs came from (the creator node and output index of a computed input, or a weak
reference to a leaf Variable), plus only the input/output arrays it declared it needs for backward. It never
holds the Variables themselves, so a Variable the user drops frees its array. ``backward()`` walks the
recorded nodes from the output, highest topological rank first (a heap, not recursion), calling each node's
``backward`` with the gradients of its outputs and routing the results along the edges. ``backward`` is
written with differentiable ops on Variables, so gradients of gradients come for free under
``create_graph=True``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy

from seqkit.backend import get_array_module, is_cupy_array
from seqkit.config import config

_MISSING = object()

_ndarray = numpy.ndarray
_ref = weakref.ref


class Variable:
    """An array with a place in the computation graph.

    ``data`` is a NumPy or CuPy array; ``grad`` the gradient accumulated by ``backward()`` (leaves only,
    or any Variable after ``retain_grad()``); ``creator`` the node that computed it (``None`` for leaves).
    ``requires_grad`` defaults to True for floating-point data and False otherwise.
    """

    __slots__ = ("data", "_grad", "creator", "index", "requires_grad", "name", "_hooks", "__weakref__")
    __array_priority__ = 200  # numpy_array + variable -> Variable.__radd__, not elementwise object arrays

    def __init__(self, data: Any, requires_grad: bool | None = None, name: str | None = None) -> None:
        if type(data) is not _ndarray and not is_cupy_array(data):
            if isinstance(data, Variable):
                raise TypeError("Variable(Variable) is not allowed; use v.data to wrap the array again")
            data = numpy.asarray(data)
        floating = data.dtype.kind == "f"
        if requires_grad is None:
            requires_grad = floating
        elif requires_grad and not floating:
            raise TypeError(
                f"only floating-point Variables can require grad, got dtype {data.dtype}; "
                "cast with .astype('float32') or pass requires_grad=False"
            )
        self.data = data
        self._grad = None
        self.creator = None
        self.index = 0
        self.requires_grad = requires_grad
        self.name = name
        self._hooks = None

    # ---- array-like surface -------------------------------------------------------------------------
    array = property(lambda self: self.data, doc="The underlying array (same as ``data``).")
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    xp = property(lambda self: get_array_module(self.data), doc="The array module of ``data``.")

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name else ""
        body = repr(self.data).replace("\n", "\n         ")
        return f"Variable({body}{name})"

    def item(self):
        """The value of a one-element Variable as a Python number (synchronises with the GPU)."""
        return self.data.item()

    # ---- gradients ----------------------------------------------------------------------------------
    @property
    def grad(self):
        """The accumulated gradient as an array (``None`` before any backward)."""
        g = _settled(self)
        return None if g is None else g.data

    @grad.setter
    def grad(self, value) -> None:
        self._grad = None if value is None else Variable(value, requires_grad=False)

    @property
    def grad_var(self) -> Variable | None:
        """The accumulated gradient as a Variable (part of a graph after ``create_graph=True``)."""
        return _settled(self)

    @grad_var.setter
    def grad_var(self, value: Variable | None) -> None:
        self._grad = value

    def zero_grad(self) -> None:
        self._grad = None

    def backward(self, grad: Any = None, *, create_graph: bool = False, retain_graph: bool | None = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``grad``. ``grad`` defaults to 1 for a scalar.

        The graph is freed as backward walks it, unless ``retain_graph`` (default: ``create_graph``)."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a Variable that does not require grad: none of its inputs required grad, or it "
                "was computed under no_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() on a non-scalar Variable of shape {self.shape} needs a gradient: "
                    "call y.backward(grad) with an array of that shape, or reduce first (y.sum().backward())"
                )
            grad = self.xp.ones_like(self.data)
        backprop([self], [grad], create_graph=create_graph, retain_graph=retain_graph)

    def register_hook(self, hook: Callable[[Variable], Variable | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this Variable's gradient is computed; a returned Variable replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if self.creator is not None:
            hooks = self.creator._output_hooks
            if hooks is None:
                hooks = self.creator._output_hooks = {}
            return RemovableHandle(hooks.setdefault(self.index, []), hook)
        if not self.requires_grad:
            raise RuntimeError("cannot register a gradient hook on a Variable that does not require grad")
        if self._hooks is None:
            self._hooks = []
        return RemovableHandle(self._hooks, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf Variable's gradient in ``grad`` after backward (leaves always keep theirs)."""
        if self.creator is None:
            return
        ref = _ref(self)

        def keep(g):
            v = ref()
            if v is not None:
                v._grad = g if v._grad is None else v._grad + g

        keep.retains_grad = True  # seqkit.grad() leaves grad attributes alone
        self.register_hook(keep)

    def unchain(self) -> None:
        """Make this Variable a leaf: later backward passes stop here (it keeps requires_grad)."""
        self.creator = None
        self.index = 0

    def unchain_backward(self) -> None:
        """Cut every edge of the graph behind this Variable so it can be freed (truncated BPTT)."""
        seen, stack = set(), [self.creator]
        while stack:
            fn = stack.pop()
            if fn is None or fn in seen:
                continue
            seen.add(fn)
            stack.extend(e[0] for e in fn.inputs if type(e) is tuple)
            fn.inputs = (None,) * len(fn.inputs)
            fn._retained_inputs = fn._retained_outputs = None
        self.unchain()

    def to_device(self, device) -> Variable:
        """Move data (and grad) to ``device`` in place; returns self."""
        from seqkit.backend import to_device

        self.data = to_device(self.data, device)
        if _settled(self) is not None:
            self._grad.data = to_device(self._grad.data, device)
        return self


class Parameter(Variable):
    """A leaf Variable that a layer owns and an optimizer updates."""

    __slots__ = ()

    def __init__(self, data: Any, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, name=name)


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook out again."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        hooks.append(hook)
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Unzeroed(Variable):
    """A gradient buffer declared zero but not yet cleared (``Optimizer.zero_grads``): the first gradient
    backward brings is copied in, which saves a pass over the buffer to fill it and one to add to it; reading
    it first clears it. ``zeroed`` is the Variable the gradient becomes."""

    __slots__ = ("zeroed",)

    def __init__(self, zeroed: Variable) -> None:
        super().__init__(zeroed.data, requires_grad=False)
        self.zeroed = zeroed


class Outer:
    """A weight gradient handed to backprop as factors, ``a.T @ b`` (from ``linear``, whose weight is a leaf).

    A weight that a Python loop uses once per step gets one such gradient per step; backprop keeps their
    factors and multiplies the stacked factors in one GEMM when the walk ends (or when they outgrow
    ``OUTER_BYTES``), instead of one thin product and one weight-sized addition per step. The factors are
    arrays backward would otherwise free at once, so a weight's gradient holds up to ``OUTER_BYTES`` more
    memory during backward. Only the leaf branch of backprop ever sees one: ops hand it out only where
    ``takes_factors`` allows."""

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


OUTER_BYTES = 64 << 20  # factors kept per weight before they are multiplied out
_walk = threading.local()  # ``factors``: True while a backprop that builds no graph calls backward methods


def takes_factors(node: FunctionNode, i: int) -> bool:
    """Whether ``node.backward`` may give input ``i``'s gradient as an ``Outer``: only when backprop calls it
    without building a graph, and only for an input whose edge is a leaf."""
    return getattr(_walk, "factors", False) and type(node.inputs[i]) is _ref


def _settled(v: Variable) -> Variable | None:
    """``v._grad``, with a declared-zero buffer cleared first."""
    g = v._grad
    if type(g) is Unzeroed:
        g.data.fill(0)
        v._grad = g = g.zeroed
    return g


def _new_variable(data, creator: FunctionNode | None, index: int) -> Variable:
    v = Variable.__new__(Variable)
    v.data = data
    v._grad = None
    v.creator = creator
    v.index = index
    v.requires_grad = creator is not None
    v.name = None
    v._hooks = None
    return v


def as_variable(x: Any) -> Variable:
    """``x`` if it is a Variable, else ``x`` wrapped in a Variable that does not require grad."""
    return x if isinstance(x, Variable) else _new_variable(x, None, 0)


class FunctionNode:
    """One differentiable op (the protocol every function in ``seqkit.functions`` implements).

    - ``forward(inputs)`` takes a tuple of raw arrays (all of one array module) and returns a tuple of arrays.
      It calls ``self.retain_inputs(indexes)`` / ``self.retain_outputs(indexes)`` for what backward needs.
    - ``backward(target_input_indexes, grad_outputs)`` takes the gradients of the outputs as Variables (``None``
      where an output received none) and returns one gradient Variable (or ``None``) per input, or one per
      target index. It uses differentiable ops, so it can itself be differentiated.
    - ``int_inputs`` lists the input positions that may hold integers (labels, ids); others must be floats.
    """

    int_inputs: tuple[int, ...] = ()
    inputs: tuple = ()
    rank = 0
    _retained_inputs = None
    _retained_outputs = None
    _output_hooks = None
    _released = False
    n_outputs = 1

    @property
    def label(self) -> str:
        return type(self).__name__

    def forward(self, inputs: tuple) -> tuple:
        raise NotImplementedError

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple) -> tuple:
        raise NotImplementedError(f"{self.label} is not differentiable")

    def release(self) -> None:
        """Free everything kept for backward (called after backward unless the graph is retained)."""
        rank, n_outputs = self.rank, self.n_outputs
        self.__dict__.clear()
        self.rank, self.n_outputs, self._released = rank, n_outputs, True

    def retain_inputs(self, indexes: Iterable[int]) -> None:
        self._retained_inputs = tuple(indexes)

    def retain_outputs(self, indexes: Iterable[int]) -> None:
        self._retained_outputs = tuple(indexes)

    def apply(self, inputs: Sequence[Any]) -> tuple[Variable, ...]:
        """Run the op on Variables or arrays; record it in the graph when a gradient may be needed."""
        # The hot path of every op: kept to a few Python operations per input.
        xs = []
        edges = []
        rank = -1  # stays -1 when no input requires grad or recording is off
        recording = config.enable_backprop
        float_dtype = None
        for x in inputs:
            if isinstance(x, Variable):
                if recording and x.requires_grad:
                    c = x.creator
                    if c is None:
                        edges.append(_ref(x))
                        if rank < 0:
                            rank = 0
                    else:
                        edges.append((c, x.index))
                        if c.rank >= rank:
                            rank = c.rank + 1
                else:
                    edges.append(None)
                x = x.data
            else:
                edges.append(None)
                if not hasattr(x, "dtype"):
                    raise TypeError(self._describe(inputs, f"expects arrays or Variables, got {type(x).__name__}"))
            dtype = x.dtype
            if dtype.kind != "f":
                if len(xs) not in self.int_inputs:
                    raise TypeError(self._describe(inputs, f"expects a floating-point array at input {len(xs)}"))
            elif float_dtype is None:
                float_dtype = dtype
            elif dtype is not float_dtype and dtype != float_dtype:
                raise TypeError(self._describe(inputs, "mixes floating-point dtypes; cast with .astype() first"))
            xs.append(x)
        try:
            ys = self.forward(tuple(xs))
        except (ValueError, TypeError, IndexError) as e:
            raise type(e)(self._describe(xs, str(e))) from e
        if config.debug:
            self._check_finite(xs, ys)
        if rank < 0:
            self._retained_inputs = self._retained_outputs = None
            return tuple([_new_variable(y, None, 0) for y in ys])
        self.inputs = tuple(edges)
        self.rank = rank
        self.n_outputs = len(ys)
        if self._retained_inputs is not None:
            self._retained_inputs = {i: xs[i] for i in self._retained_inputs}
        if self._retained_outputs is not None:
            self._retained_outputs = {i: ys[i] for i in self._retained_outputs}
        return tuple([_new_variable(y, self, i) for i, y in enumerate(ys)])

    def get_retained_inputs(self) -> tuple[Variable, ...]:
        """The retained inputs as Variables that stand for the same graph nodes as the original inputs."""
        out = []
        for i, a in self._retained_inputs.items():
            e = self.inputs[i]
            if type(e) is tuple:
                out.append(_new_variable(a, e[0], e[1]))
            else:
                v = e() if e is not None else None
                out.append(v if v is not None else _new_variable(a, None, 0))
        return tuple(out)

    def get_retained_outputs(self) -> tuple[Variable, ...]:
        """The retained outputs as Variables whose creator is this node."""
        return tuple([_new_variable(a, self, i) for i, a in self._retained_outputs.items()])

    def _describe(self, arrays: Sequence[Any], problem: str) -> str:
        arrays = [a.data if isinstance(a, Variable) else a for a in arrays]

        def show(a):
            where = "cuda" if is_cupy_array(a) else "cpu"
            return f"{getattr(a, 'shape', '?')} {getattr(a, 'dtype', type(a).__name__)} on {where}"

        parts = ", ".join(show(a) for a in arrays)
        modules = {get_array_module(a).__name__ for a in arrays}
        if len(modules) > 1:
            problem = "inputs are on different devices; move them with to_device() first"
        return f"{self.label}: {problem} (inputs: {parts})"

    def _check_finite(self, xs, ys) -> None:
        for y in ys:
            xp = get_array_module(y)
            if y.dtype.kind == "f" and not bool(xp.isfinite(y).all()):
                raise FloatingPointError(self._describe(xs, "produced NaN or inf (config.debug is on)"))


def backprop(
    outputs: Sequence[Variable],
    grad_outputs: Sequence[Any],
    *,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    wanted: Sequence[Variable] | None = None,
) -> list[Variable | None] | None:
    """Propagate ``grad_outputs`` from ``outputs`` back through the graph.

    With ``wanted=None`` gradients accumulate into the ``grad`` of leaves; otherwise the gradients with
    respect to the ``wanted`` Variables are returned (in order, ``None`` where unreachable) and no ``grad``
    attribute changes. Hooks see the total gradient of their Variable (``retain_grad`` hooks do not run
    for ``wanted``). Unless ``retain_graph`` (default: ``create_graph``), every node frees what it kept for
    backward once its backward has run, and a second backward through it raises.
    """
    if retain_graph is None:
        retain_graph = create_graph
    pending: dict[FunctionNode, list] = {}  # node -> gradients of its outputs, summed as they arrive
    leaves: dict[Variable, Variable] = {}
    heap: list = []
    tie = itertools.count()
    keys = None if wanted is None else [(w.creator, w.index) if w.creator is not None else w for w in wanted]
    captured: dict[Any, Variable] = {}
    owned: set[Variable] = set()  # sums this pass allocated: safe to add into in place
    factors: dict[Variable, Outer] = {}  # leaf -> weight gradients still as factors

    def accumulate(old: Variable, new: Variable) -> Variable:
        if create_graph:
            return old + new
        if old in owned:
            old.data += new.data
            return old
        total = old + new
        owned.add(total)
        return total

    seeds = []
    for y, gy in zip(outputs, grad_outputs):
        if not isinstance(gy, Variable):
            gy = _new_variable(gy, None, 0)
        if gy.shape != y.shape:
            raise ValueError(f"gradient of shape {gy.shape} given for an output of shape {y.shape}")
        if y.creator is not None:
            seeds.append(((y.creator, y.index), gy))
        elif y.requires_grad:
            seeds.append((_ref(y), gy))

    enter = expand = None
    if keys is not None:  # visit only the part of the graph that leads to what is wanted
        expand = _nodes_leading_to([e[0] for e, _ in seeds if type(e) is tuple], keys)
        enter = expand | {k[0] for k in keys if type(k) is tuple}

    local = config.__dict__
    saved = local.get("enable_backprop", _MISSING)
    local["enable_backprop"] = create_graph
    saved_factors = getattr(_walk, "factors", False)
    _walk.factors = not create_graph
    try:
        fn, edges, gxs = None, (), ()
        while True:
            for edge, g in zip(edges, gxs) if fn is not None else seeds:
                if g is None or edge is None:
                    continue
                if type(edge) is tuple:
                    node, i = edge
                    if enter is not None and node not in enter:
                        continue
                    grads = pending.get(node)
                    if grads is None:
                        grads = pending[node] = [None] * node.n_outputs
                        heapq.heappush(heap, (-node.rank, next(tie), node))
                    grads[i] = g if grads[i] is None else accumulate(grads[i], g)
                else:
                    v = edge()
                    if v is None:
                        continue
                    if type(g) is Outer:
                        kept = factors.get(v)
                        if kept is None:
                            factors[v] = g
                            continue
                        kept.add(g)
                        if kept.nbytes < OUTER_BYTES:
                            continue
                        g = factors.pop(v).product()
                        owned.add(g)
                    leaves[v] = g if v not in leaves else accumulate(leaves[v], g)
            if not heap:
                break
            fn = heapq.heappop(heap)[2]
            gys = pending.pop(fn)
            if fn._released:
                raise RuntimeError(
                    f"backward through {fn.label} a second time: its graph was freed by the first backward; "
                    "pass retain_graph=True to the first one"
                )
            if owned:
                owned.difference_update(gys)  # handed to a backward, which may pass them on as they are
            if fn._output_hooks:
                for i, hooks in fn._output_hooks.items():
                    if gys[i] is not None and hooks:
                        gys[i] = _run_hooks(hooks, gys[i], keys is not None)
            if keys is not None:
                for i, g in enumerate(gys):
                    if g is not None and (fn, i) in keys:
                        captured[fn, i] = g
            edges = fn.inputs
            targets = tuple([i for i, e in enumerate(edges) if e is not None])
            if not targets or (expand is not None and fn not in expand):
                edges = ()
                continue
            gxs = fn.backward(targets, tuple(gys))
            if not retain_graph:
                fn.release()
            if len(gxs) != len(edges):
                if len(gxs) != len(targets):
                    raise ValueError(
                        f"{fn.label}.backward returned {len(gxs)} gradients for {len(targets)} targets"
                    )
                full = [None] * len(edges)
                for i, g in zip(targets, gxs):
                    full[i] = g
                gxs = full
        asked = None if keys is None else {k for k in keys if type(k) is not tuple}
        for v, f in factors.items():
            if asked is not None and v not in asked and not v._hooks:
                continue  # a leaf seqkit.grad() was not asked for
            g = f.product()
            owned.add(g)
            leaves[v] = g if v not in leaves else accumulate(leaves[v], g)
        for v, g in leaves.items():
            if v._hooks:
                g = _run_hooks(v._hooks, g, keys is not None)
            if keys is not None:
                captured[v] = g
            elif v._grad is None:  # a gradient an op handed out may be shared: keep a copy of one we did not make
                v._grad = g if create_graph or g in owned else _new_variable(g.data.copy(), None, 0)
            elif type(v._grad) is Unzeroed and not create_graph:  # the first gradient into a cleared buffer
                v._grad.data[...] = g.data
                v._grad = v._grad.zeroed
            elif create_graph or _settled(v).creator is not None:
                v._grad = v._grad + g
            else:
                v._grad.data += g.data
    finally:
        _walk.factors = saved_factors
        if saved is _MISSING:
            del local["enable_backprop"]
        else:
            local["enable_backprop"] = saved
    if keys is None:
        return None
    return [captured.get(k) for k in keys]


def _nodes_leading_to(roots: list[FunctionNode], keys: list) -> set[FunctionNode]:
    """The nodes from which some wanted Variable (``keys``: ``(node, index)`` or a leaf) can be reached."""
    node_keys = {k for k in keys if type(k) is tuple}
    leaf_keys = {k for k in keys if type(k) is not tuple}
    found: set[FunctionNode] = set()
    visited: set[FunctionNode] = set()
    stack = [(n, False) for n in roots]
    while stack:  # iterative post-order DFS: a node is decided after all of its inputs' creators
        node, inputs_done = stack.pop()
        if inputs_done:
            for e in node.inputs:
                if type(e) is tuple:
                    if e in node_keys or e[0] in found:
                        found.add(node)
                        break
                elif e is not None and e() in leaf_keys:
                    found.add(node)
                    break
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        stack.extend((e[0], False) for e in node.inputs if type(e) is tuple and e[0] not in visited)
    return found


def _run_hooks(hooks: list, g: Variable, for_grad: bool = False) -> Variable:
    for hook in list(hooks):
        if for_grad and getattr(hook, "retains_grad", False):
            continue
        r = hook(g)
        if r is not None:
            g = r if isinstance(r, Variable) else _new_variable(r, None, 0)
    return g


def grad(
    outputs: Variable | Sequence[Variable],
    inputs: Variable | Sequence[Variable],
    grad_outputs: Any = None,
    *,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> list[Variable | None]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated into ``grad``.

    ``grad_outputs`` defaults to ones for scalar outputs. With ``create_graph=True`` the returned gradients
    are part of the graph and can be differentiated again (higher-order gradients). ``retain_graph``
    (default: ``create_graph``) keeps the graph for another backward.
    """
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Variable) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    seeds = []
    for y, gy in zip(outputs, grad_outputs, strict=True):
        if gy is None:
            if y.size != 1:
                raise ValueError(f"grad() of a non-scalar output of shape {y.shape} needs grad_outputs")
            gy = y.xp.ones_like(y.data)
        seeds.append(gy)
    for x in inputs:
        if not x.requires_grad:
            raise ValueError(f"grad() with respect to {x!r}, which does not require grad")
    return backprop(outputs, seeds, create_graph=create_graph, retain_graph=retain_graph, wanted=inputs)
