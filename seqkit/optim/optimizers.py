"""Optimizers: SGD, momentum SGD (with Nesterov), Adam and AdamW, each updating flat parameter buffers.

Usage::

    opt = Adam(lr=1e-3).setup(model)
    opt.add_hook(GradientClipping(5.0))
    opt.zero_grads()    # every grad None; backward writes, then accumulates, into the flat buffers in place
    loss.backward()
    opt.update()        # gather gradients, run the hooks in order, apply the rule; opt.t += 1

A parameter whose ``grad`` is ``None`` at ``update()`` counts as a zero gradient everywhere: it adds nothing
to a gradient norm, and the rule runs on it as on a zero gradient (momentum and Adam's moments decay and may
still move it; AdamW's decay shrinks it), which is PyTorch's behaviour for a zero gradient. (PyTorch skips a
parameter whose gradient is ``None``; with one flat buffer and one step count that cannot be done cheaply.)
After ``update()`` its ``grad`` is a zero array.

Adam's update is NumPy code with one fused CUDA kernel beside it (``adam_update_kernel``, the same operations
in one pass); ``Adam.update_chunk`` takes the kernel where ``use_kernels(xp)`` says so (CuPy arrays), and
the NumPy lines are its reference.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy

from seqkit.backend import ElementwiseKernel, to_device, use_kernels, using_device
from seqkit.optim.flat import FlatGroup, FlatParams
from seqkit.ranges import ranged


class Optimizer(abc.ABC):
    """Base class of every optimizer: ``setup``, hooks, the update loop over flat buffers, ``state_dict``.

    A subclass declares an element-wise rule in three members, and this class does the rest:

    - ``state_names``: the names of its per-element state arrays (zeros at ``setup``, one per parameter
      element, saved by ``state_dict``);
    - ``coefficients()``: the Python scalars of this step, computed once per ``update()`` after ``t`` is
      incremented (so ``t`` is 1 at the first step) and read from ``lr`` then (a schedule changes ``lr``
      between steps);
    - ``update_chunk(xp, p, g, state, tmp, c)``: the rule, in place on one chunk of the flat buffers.

    Its constructor takes ``lr`` and its hyperparameters as keyword arguments with defaults (a recipe builds
    it as ``cls(**options)`` from the fields of its registered options dataclass) and calls
    ``super().__init__(lr)``. Anything else that changes from step to step must live in ``t``, ``lr`` or the
    state arrays, or ``state_dict`` cannot resume it.
    """

    #: Names of the per-element state arrays, in the order ``update_chunk`` receives them (``("exp_avg",
    #: "exp_avg_sq")`` for Adam; empty for plain SGD). ``state_dict`` saves each as ``"<name>.<group>"``.
    state_names: ClassVar[tuple[str, ...]] = ()
    #: The learning rate of the next step: a schedule sets it between steps; ``coefficients()`` reads it.
    lr: float
    #: Steps taken: ``update()`` adds 1 before calling ``coefficients()``, so the first step sees ``t == 1``.
    t: int

    def __init__(self, lr: float) -> None:
        self._require(lr >= 0, f"lr must be >= 0, got {lr}")
        self.lr = lr
        self.t = 0
        self.hooks: list[Callable[[Optimizer], None]] = []
        self.flat: FlatParams | None = None
        self._state: list[list[Any]] = []

    def setup(self, target: Any, chunk: int | None = None, threads: int | None = None) -> Optimizer:
        """Pack the parameters of ``target`` (a Layer or Parameters) into flat buffers; returns self.

        Call it after the model is on its device and has all its parameters. Resets ``t`` and the state.
        ``chunk`` and ``threads``: how the update is cut up and run on the CPU (``FlatParams``).
        """
        self.flat = FlatParams(target, chunk, threads)
        self.t = 0
        self._state = []
        for group in self.flat.groups:
            with using_device(group.device):
                self._state.append([group.xp.zeros(group.size, group.dtype) for _ in self.state_names])
        return self

    def add_hook(self, hook: Callable[[Optimizer], None]) -> None:
        """Run ``hook(self)`` at every ``update()``, after the gradients are gathered and before the rule;
        hooks run in the order they were added (``GradientClipping`` before ``WeightDecay`` is PyTorch's order)."""
        self.hooks.append(hook)

    def update(self) -> None:
        """One step: gather the gradients into the flat buffers, run the hooks, ``t += 1``, apply the rule.

        Raises ``RuntimeError`` before ``setup()``.
        """
        flat = self._flat()
        flat.gather_grads()
        for hook in self.hooks:
            hook(self)
        self.t += 1
        coefficients = self.coefficients()
        for group, state in zip(flat.groups, self._state):
            group.foreach_chunk(functools.partial(self._apply, group, state, coefficients))

    def zero_grads(self, set_to_none: bool = False) -> None:
        """Clear the gradients: every ``grad`` reads ``None`` until a backward brings one, and the flat gradient
        buffer is declared zero without being filled. Backward copies the first gradient of each parameter
        into its view of the buffer (``Parameter.grad_buffer``) and adds later ones in place, so no pass fills
        the buffer only to add to it and ``update()`` copies nothing; ``update()`` counts a parameter no
        gradient reached as a zero gradient (and fills its view then). With ``set_to_none`` the ``grad``
        reads ``None`` as well, but the views are also taken from the parameters until the next
        ``zero_grads()``: backward then keeps arrays of its own, which ``update()`` copies into the buffer
        (slower; for code that keeps a step's gradients past the next ``zero_grads()``)."""
        for group in self._flat().groups:
            group.zero_grads(set_to_none)

    def _apply(self, group: FlatGroup, state: list[Any], coefficients: tuple, s: slice, tmp: Any) -> None:
        self.update_chunk(group.xp, group.data[s], group.grad[s], [a[s] for a in state], tmp, coefficients)

    @abc.abstractmethod
    def coefficients(self) -> tuple:
        """The scalars of this step (Python floats), from ``self.lr``, ``self.t`` and the hyperparameters;
        ``update()`` calls it once per step, after ``t += 1``, and hands the tuple to every ``update_chunk``."""

    @abc.abstractmethod
    def update_chunk(self, xp: Any, p: Any, g: Any, state: list[Any], tmp: Any, c: tuple) -> None:
        """Apply the rule in place to one chunk: ``p``, ``g`` and each array of ``state`` (in ``state_names``
        order) are same-length 1-d slices of the flat parameters, gradients and state; ``tmp`` is scratch of
        that length; ``c`` is what ``coefficients()`` returned; ``xp`` is ``numpy`` or ``cupy``.

        Element-wise only: the chunks' boundaries (``setup(chunk=...)``) and the threads that run them must not
        change the result, so nothing here may reduce over the chunk. Write into ``p`` and ``state`` in place
        (``p -= tmp``, ``xp.multiply(g, c[0], out=tmp)``), never rebind them. The gradient of a parameter no
        gradient reached is zeros here."""

    # ---- state --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"t": int, "lr": float, "<state>.<group>": numpy array, ...}``: host copies, JSON-able scalars."""
        self._flat()  # the state arrays exist from setup() on
        state: dict[str, Any] = {"t": int(self.t), "lr": float(self.lr)}
        for i, arrays in enumerate(self._state):
            for name, a in zip(self.state_names, arrays):
                host = to_device(a, "cpu")
                state[f"{name}.{i}"] = host.copy() if host is a else host
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` into an optimizer set up on the same model (any device), in place.

        Raises ``RuntimeError`` before ``setup()``; a one-line ``ValueError`` naming the key for a missing or
        unexpected key or a shape or dtype mismatch, in which case nothing has changed.
        """
        flat = self._flat()
        expected = {"t", "lr"} | {f"{n}.{i}" for i in range(len(flat.groups)) for n in self.state_names}
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            what = f"missing key {missing[0]!r}" if missing else f"unexpected key {unexpected[0]!r}"
            raise ValueError(f"{type(self).__name__} state: {what}")
        ready = []
        for i, (group, arrays) in enumerate(zip(flat.groups, self._state)):
            for name, a in zip(self.state_names, arrays):
                key = f"{name}.{i}"
                value = state[key] if hasattr(state[key], "dtype") else numpy.asarray(state[key])
                if tuple(value.shape) != a.shape or value.dtype != a.dtype:
                    raise ValueError(
                        f"{type(self).__name__} state: {key!r} is {tuple(value.shape)} {value.dtype}, "
                        f"expected {a.shape} {a.dtype}"
                    )
                ready.append((a, to_device(value, group.device)))
        for a, value in ready:
            a[...] = value
        self.t = int(state["t"])
        self.lr = float(state["lr"])

    def _flat(self) -> FlatParams:
        if self.flat is None:
            raise RuntimeError(f"{type(self).__name__}: call setup(model) first")
        return self.flat

    def _require(self, ok: bool, problem: str) -> None:
        if not ok:
            raise ValueError(f"{type(self).__name__}: {problem}")


# ---- the rules ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SGDOptions:
    """Plain SGD: ``p -= lr * g``."""

    lr: float = ranged(0.01, "[0, inf)")  # learning rate (the schedule scales it)


class SGD(Optimizer):
    """Plain SGD: ``p -= lr * g``. L2 weight decay is the ``WeightDecay`` hook."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def coefficients(self) -> tuple:
        return (self.lr,)

    def update_chunk(self, xp, p, g, state, tmp, c) -> None:
        xp.multiply(g, c[0], out=tmp)
        p -= tmp


@dataclasses.dataclass
class MomentumSGDOptions:
    """SGD with momentum (PyTorch's form, no dampening), optionally Nesterov's."""

    lr: float = ranged(0.01, "[0, inf)")  # learning rate (the schedule scales it)
    momentum: float = ranged(0.9, "[0, 1)")  # velocity kept from step to step
    nesterov: bool = False  # Nesterov's look-ahead form


class MomentumSGD(Optimizer):
    """PyTorch's momentum SGD: ``b = momentum * b + g``; ``p -= lr * b``, or with ``nesterov``
    ``p -= lr * (g + momentum * b)``. State: ``b`` (zeros at first, so the first step is ``p -= lr * g``)."""

    state_names = ("momentum_buffer",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(lr)
        self._require(0 <= momentum < 1, f"momentum must be in [0, 1), got {momentum}")
        self._require(not nesterov or momentum > 0, "nesterov needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov

    def coefficients(self) -> tuple:
        return (self.lr, self.momentum)

    def update_chunk(self, xp, p, g, state, tmp, c) -> None:
        lr, mu = c
        (b,) = state
        b *= mu
        b += g
        if self.nesterov:
            xp.multiply(b, mu, out=tmp)
            tmp += g
            tmp *= lr
        else:
            xp.multiply(b, lr, out=tmp)
        p -= tmp


@dataclasses.dataclass
class AdamOptions:
    """Adam (Kingma & Ba), PyTorch's formulation with bias correction."""

    lr: float = ranged(1e-3, "[0, inf)")  # learning rate (the schedule scales it)
    beta1: float = ranged(0.9, "[0, 1)")  # decay of the first-moment (mean) estimate
    beta2: float = ranged(0.999, "[0, 1)")  # decay of the second-moment (uncentred variance) estimate
    eps: float = ranged(1e-8, "(0, inf)")  # added to the denominator's square root


class Adam(Optimizer):
    """Adam as PyTorch computes it, at step ``t``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    (evaluated as ``lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps * sqrt(1 - beta2**t))``,
    the same value in fewer passes). L2 weight decay is the ``WeightDecay`` hook; decoupled decay is ``AdamW``.
    """

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self._require(0 <= beta1 < 1, f"beta1 must be in [0, 1), got {beta1}")
        self._require(0 <= beta2 < 1, f"beta2 must be in [0, 1), got {beta2}")
        self._require(eps > 0, f"eps must be > 0, got {eps}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def coefficients(self) -> tuple:
        root_bc2 = math.sqrt(1 - self.beta2**self.t)
        return (self.lr * root_bc2 / (1 - self.beta1**self.t), self.eps * root_bc2, 1.0)

    def update_chunk(self, xp, p, g, state, tmp, c) -> None:
        step, eps, decay = c
        m, v = state
        if use_kernels(xp):  # one fused kernel on a GPU; the lines below are its reference
            adam_update_kernel(p, g, m, v, self.beta1, self.beta2, step, eps, decay)
            return
        if decay != 1.0:
            p *= decay
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - self.beta1
        m += tmp
        v *= self.beta2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp += eps
        xp.divide(m, tmp, out=tmp)
        tmp *= step
        p -= tmp


# The operations of Adam.update_chunk in its order: decay is AdamW's factor (1 for Adam), step and eps the
# bias-corrected step size and epsilon.
_ADAM_UPDATE = ElementwiseKernel(
    "T g, T beta1, T beta2, T step, T eps, T decay",
    "T p, T m, T v",
    """
    p *= decay;
    m += (g - m) * (T(1) - beta1);
    v = v * beta2 + g * g * (T(1) - beta2);
    p -= m / (sqrt(v) + eps) * step;
    """,
    "seqkit_adam_update",
)


def adam_update_kernel(p, g, m, v, beta1, beta2, step, eps, decay) -> None:
    """One Adam (or AdamW) step on a flat chunk, in place on ``p`` and the moments ``m``, ``v``."""
    t = p.dtype.type
    _ADAM_UPDATE(g, t(beta1), t(beta2), t(step), t(eps), t(decay), p, m, v)


@dataclasses.dataclass
class AdamWOptions(AdamOptions):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay."""

    weight_decay: float = ranged(0.01, "[0, inf)")  # decoupled: p -= lr * weight_decay * p at every step


class AdamW(Adam):
    """Adam with decoupled weight decay, as PyTorch's AdamW: ``p *= 1 - lr * weight_decay`` before the Adam
    step of ``Adam``'s docstring."""

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.01
    ) -> None:
        super().__init__(lr, beta1, beta2, eps)
        self._require(weight_decay >= 0, f"weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = weight_decay

    def coefficients(self) -> tuple:
        step, eps, _ = super().coefficients()
        return (step, eps, 1 - self.lr * self.weight_decay)
