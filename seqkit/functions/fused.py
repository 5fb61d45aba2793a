"""Exact higher-order gradients for fused ops.

A fused op (an LSTM step, a whole-sequence recurrence) computes its forward and its first backward with
hand-written array code, which is fast but not itself differentiable. ``FusedGrad`` wraps that backward as a
graph node: its forward runs the fast code, and its backward differentiates a *reference* — the same op
built from plain differentiable ops — twice. So first-order training pays nothing extra, and gradients of
gradients of every order are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from seqkit.config import config, using_config
from seqkit.core.autograd import FunctionNode, Variable
from seqkit.core.backward import grad


class FusedGrad(FunctionNode):
    """Inputs: the fused op's inputs followed by its output gradients. Outputs: the gradients of the inputs
    listed in ``targets``.

    ``fast_backward(inputs, grad_outputs) -> all input gradients`` works on arrays (zeros stand for missing
    output gradients); ``reference(*inputs) -> outputs`` is the op written with differentiable functions.
    """

    def __init__(self, fast_backward: Callable, reference: Callable, n_inputs: int, targets: Sequence[int]):
        self.fast_backward, self.reference = fast_backward, reference
        self.n, self.targets = n_inputs, tuple(targets)

    def forward(self, inputs):
        self.retain_inputs(range(len(inputs)))
        grads = self.fast_backward(inputs[: self.n], inputs[self.n :])
        return tuple(grads[i] for i in self.targets)

    def backward(self, indexes, grad_outputs):
        values = self.get_retained_inputs()
        xs, gys = values[: self.n], values[self.n :]
        create_graph = config.enable_backprop
        with using_config("enable_backprop", True):
            ys = self.reference(*xs)
            first = grad(list(ys), [xs[i] for i in self.targets], list(gys), create_graph=True)
        pairs = [(f, gg) for f, gg in zip(first, grad_outputs) if f is not None and gg is not None]
        if not pairs:
            return (None,) * len(indexes)
        wanted = [values[i] for i in indexes]
        return tuple(grad([f for f, _ in pairs], wanted, [gg for _, gg in pairs], create_graph=create_graph))


def fused_backward(node: FunctionNode, indexes, grad_outputs, fast_backward, reference) -> tuple[Variable, ...]:
    """The usual ``backward`` of a fused op that retained all its inputs: fills missing output gradients with
    zeros and returns ``FusedGrad``'s gradients for ``indexes``."""
    xs = node.get_retained_inputs()
    outputs = node.output_shapes
    gys = []
    for g, (shape, dtype) in zip(grad_outputs, outputs):
        if g is None:
            g = Variable(xs[0].xp.zeros(shape, dtype=dtype), requires_grad=False)
        gys.append(g)
    return FusedGrad(fast_backward, reference, len(xs), indexes).apply((*xs, *gys))
