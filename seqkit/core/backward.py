"""The backward pass: the chain rule over the recorded graph (``backprop``), and ``grad`` / ``backward`` on it.

``backprop`` walks the nodes from the outputs, highest rank first (a heap: every consumer of a value runs
before its producer, and nothing recurses), calls each node's ``backward`` with the gradients of its
outputs, and routes what it returns along the node's edges: to the next node, or to a leaf. Adding up the
gradients that meet at one value is the ``Accumulator``'s work (``accumulate.py``).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

from seqkit.core.accumulate import Accumulator
from seqkit.core.autograd import FunctionNode, Variable, _new_variable


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
    respect to the ``wanted`` Variables are returned (in order, ``None`` where unreachable), only the part of
    the graph that leads to them is visited, and no ``grad`` attribute changes. Hooks see the total gradient
    of their Variable (``retain_grad`` hooks do not run for ``wanted``). Unless ``retain_graph`` (default:
    ``create_graph``), every node frees what it kept for backward once its backward has run, and a second
    backward through it raises.
    """
    retain = create_graph if retain_graph is None else retain_graph
    keys = None if wanted is None else [(w.creator, w.index) if w.creator is not None else w for w in wanted]
    edges, gxs = _seeds(outputs, grad_outputs)
    enter, expand = (None, None) if keys is None else _restriction(edges, keys)
    pending: dict[FunctionNode, list] = {}  # node -> the gradients of its outputs so far
    heap: list = []
    tie = itertools.count()
    with Accumulator(create_graph, keys) as sums:
        while True:
            for edge, g in zip(edges, gxs):  # route each gradient along its edge: to a leaf, or to a node
                if g is None or edge is None:
                    continue
                if type(edge) is not tuple:
                    sums.to_leaf(edge, g)
                    continue
                node, i = edge
                if enter is not None and node not in enter:
                    continue
                grads = pending.get(node)
                if grads is None:
                    grads = pending[node] = [None] * node.n_outputs
                    heappush(heap, (-node.rank, next(tie), node))
                grads[i] = g if grads[i] is None else sums.add(grads[i], g)
            if not heap:
                return sums.finish()
            fn = heappop(heap)[2]
            if fn._released:
                raise _freed(fn)
            gys = pending.pop(fn)
            if sums.owned or fn._output_hooks or keys is not None:  # else hand_over has nothing to do
                sums.hand_over(fn, gys)
            edges = fn.inputs
            targets = _ALL[len(edges)] if None not in edges else _needed(edges)
            if not targets or (expand is not None and fn not in expand):
                edges = ()
                continue
            gxs = fn.backward(targets, tuple(gys))
            if not retain:
                fn.release()
            if len(gxs) != len(edges):
                gxs = _per_input(fn, gxs, targets, len(edges))


class _Ranges(dict):
    """``n -> (0, ..., n - 1)``, made on first use."""

    def __missing__(self, n: int) -> tuple[int, ...]:
        r = self[n] = tuple(range(n))
        return r


_ALL = _Ranges()  # n -> (0, ..., n - 1): the targets of a node all of whose n inputs need a gradient


def _needed(edges: tuple) -> tuple[int, ...]:
    """The inputs whose gradient is needed: those with an edge."""
    return tuple([i for i, e in enumerate(edges) if e is not None])


def _seeds(outputs: Sequence[Variable], grad_outputs: Sequence[Any]) -> tuple[list, list]:
    """The edges the walk starts from (the outputs' creators, or the outputs themselves when they are
    leaves) and the gradients sent along them."""
    edges, gys = [], []
    for y, gy in zip(outputs, grad_outputs):
        if not isinstance(gy, Variable):
            gy = _new_variable(gy, None, 0)
        if gy.shape != y.shape:
            raise ValueError(f"gradient of shape {gy.shape} given for an output of shape {y.shape}")
        if y.creator is not None:
            edges.append((y.creator, y.index))
        elif y.requires_grad:
            edges.append(weakref.ref(y))
        else:
            continue
        gys.append(gy)
    return edges, gys


def _freed(fn: FunctionNode) -> RuntimeError:
    return RuntimeError(
        f"backward through {fn.label} a second time: its graph was freed by the first backward; "
        "pass retain_graph=True to the first one"
    )


def _per_input(fn: FunctionNode, gxs: tuple, targets: tuple[int, ...], n_inputs: int) -> list:
    """A backward's gradients for ``targets`` spread out to one per input (``None`` elsewhere)."""
    if len(gxs) != len(targets):
        raise ValueError(f"{fn.label}.backward returned {len(gxs)} gradients for {len(targets)} targets")
    full = [None] * n_inputs
    for i, g in zip(targets, gxs):
        full[i] = g
    return full


def _restriction(edges: list, keys: list) -> tuple[set[FunctionNode], set[FunctionNode]]:
    """For ``seqkit.grad``: the nodes whose outputs' gradients are needed (``enter``), and among them those
    whose backward is needed (``expand``: a wanted Variable can be reached from them)."""
    expand = _nodes_leading_to([e[0] for e in edges if type(e) is tuple], keys)
    return expand | {k[0] for k in keys if type(k) is tuple}, expand


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


def backward(self: Variable, grad: Any = None, *, create_graph: bool = False, retain_graph: bool | None = None) -> None:
    """Accumulate d(self)/d(leaf) into every leaf's ``grad``. ``grad`` defaults to 1 for a scalar.

    The graph is freed as backward walks it, unless ``retain_graph`` (default: ``create_graph``).
    (``Variable.backward``: ``seqkit.core`` attaches it to the class.)"""
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
