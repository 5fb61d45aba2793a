"""Define-by-run autograd: Variables and the op protocol that records the graph.

The mental model fits on one screen. Running an op on Variables computes its result on raw arrays and,
when a gradient may be needed, records a ``FunctionNode`` as the result's ``creator``. The node holds
*edges* to where its inputs came from (the creator node and output index of a computed input, or a weak
reference to a leaf Variable), plus only the input/output arrays it declared it needs for backward. It never
holds the Variables themselves, so a Variable the user drops frees its array. ``backward()``
(``seqkit/core/backward.py``) walks the recorded nodes from the output, calling each node's ``backward`` with
the gradients of its outputs and routing the results along the edges. ``backward`` is written with
differentiable ops on Variables, so gradients of gradients come for free under ``create_graph=True``.

A Variable's Python operators (``seqkit/core/ops.py``) and its ``backward()`` are functions of modules built
on this one; ``seqkit/core/__init__.py`` attaches them to the class.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy

from seqkit.backend import get_array_module, is_cupy_array, to_device
from seqkit.config import config

_ndarray = numpy.ndarray
_ref = weakref.ref


class Variable:
    """An array with a place in the computation graph.

    ``data`` is a NumPy or CuPy array; ``grad`` the gradient accumulated by ``backward()`` (leaves only,
    or any Variable after ``retain_grad()``); ``creator`` the node that computed it (``None`` for leaves).
    ``requires_grad`` defaults to True for floating-point data and False otherwise. Its operators
    (``+ - * / @ ** -x``, indexing, ``.T``, ``reshape``, ``transpose``, ``sum``, ``mean``, ``max``) and
    ``backward()`` are attached by ``seqkit.core`` (``ops.py``, ``backward.py``).
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
        """The accumulated gradient as an array (``None`` before any backward, and after ``zero_grad()``)."""
        g = self._grad
        return None if g is None else g.data

    @grad.setter
    def grad(self, value) -> None:
        self._grad = None if value is None else Variable(value, requires_grad=False)

    @property
    def grad_var(self) -> Variable | None:
        """The accumulated gradient as a Variable (part of a graph after ``create_graph=True``)."""
        return self._grad

    @grad_var.setter
    def grad_var(self, value: Variable | None) -> None:
        self._grad = value

    def zero_grad(self) -> None:
        """Make ``grad`` ``None`` (a ``Parameter`` keeps its ``grad_buffer``)."""
        self._grad = None

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
        self.data = to_device(self.data, device)
        if self._grad is not None:
            self._grad.data = to_device(self._grad.data, device)
        return self


class Parameter(Variable):
    """A leaf Variable that a layer owns and an optimizer updates.

    ``grad_buffer``: ``None``, or an array of the parameter's shape and dtype that its owner (the optimizer's
    flat gradient buffer, ``seqkit.optim.FlatGroup``) provides. When backward brings a gradient while ``grad``
    is ``None``, it copies the gradient into the buffer and makes the buffer ``grad``; later gradients add into
    it in place, as into any gradient. A gradient built as a graph (``create_graph=True``) is kept as it is.
    Reading ``grad`` never touches the buffer.
    """

    __slots__ = ("grad_buffer",)

    def __init__(self, data: Any, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, name=name)
        self.grad_buffer = None

    def to_device(self, device) -> Parameter:
        """Move data (and grad) to ``device`` in place; returns self. ``grad_buffer``, which stays where it
        was, is dropped."""
        self.grad_buffer = None
        return super().to_device(device)


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook out again."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        hooks.append(hook)
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


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
