"""Test a plugin's optimizer against the real seqkit: the optimizer part of the author kit.

Give it a *registered* optimizer name, constructor keyword arguments and a NumPy reference of one step; it
looks the optimizer up through the plugin manager (so the test also proves the plugin is installed and
registered), then checks, in float64 on a few parameters of different shapes:

- ``check_reference``: several steps agree with the reference, run on each parameter (tight tolerance);
- ``check_lr_changes``: a new ``lr`` set between steps (as a schedule does) is the one the step uses;
- ``check_missing_gradient``: a parameter whose ``grad`` is ``None`` is updated as with a zero gradient;
- ``check_state_round_trip``: ``state_dict()`` holds host arrays and JSON scalars, and a fresh optimizer that
  loads it takes the next steps bit for bit as the uninterrupted one does;
- ``check_flat_parity``: one flat buffer for the whole model, one optimizer per parameter and many small
  chunks on several threads give the same parameters (bitwise, or to 1e-15);
- ``check_registered``: the name gives an ``Optimizer`` subclass whose options dataclass has exactly the
  constructor's keyword arguments, with the same defaults (a recipe builds it as ``cls(**options)``).

The reference is a plain function of one parameter's values ``p``, its gradient ``g`` (zeros where the
optimizer saw none), its ``state`` (a dict: each of the optimizer's ``state_names`` -> an array shaped like
``p``, zeros at first), the step number ``t`` (1 at the first step) and the keyword arguments ``kwargs`` with
the step's ``lr``; it returns the new values of ``p`` and updates ``state`` (in place or by assignment)::

    def adagrad_step(p, g, state, t, lr, eps):
        state["sum_sq"] = state["sum_sq"] + g * g
        return p - lr * g / (np.sqrt(state["sum_sq"]) + eps)

With pytest, subclass ``OptimizerTests``::

    from seqkit.testing.optimizers import OptimizerTests

    class TestAdagrad(OptimizerTests):
        name = "adagrad"
        kwargs = {"lr": 0.1, "eps": 1e-10}
        reference = adagrad_step

or build an ``OptimizerCase`` and call its checks. Every check raises ``AssertionError`` with one line saying
what differs.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from typing import Any, ClassVar

import numpy
import pytest

from seqkit.core.autograd import Parameter
from seqkit.optim.optimizers import Optimizer
from seqkit.registry import Registry

#: the parameter shapes of a case unless it gives its own
SHAPES: tuple[tuple[int, ...], ...] = ((3, 4), (5,), (2, 3, 2), (1,))


def optimizer_registry() -> Registry:
    """The optimizer registry of a fresh strict plugin manager (a broken plugin is an error, not a warning)."""
    from seqkit.plugins import get_plugin_manager

    return get_plugin_manager(strict=True).registry("optimizer")


@dataclasses.dataclass
class OptimizerCase:
    """A registered optimizer, its constructor arguments and its reference step (see the module docstring).

    ``rtol``/``atol``: how close the optimizer must stay to the reference (float64); ``steps``: steps per check.
    """

    name: str
    reference: Callable[..., Any]
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    registry: Registry | None = None
    shapes: tuple[tuple[int, ...], ...] = SHAPES
    steps: int = 5
    rtol: float = 1e-12
    atol: float = 1e-14
    seed: int = 0

    @property
    def who(self) -> str:
        return f"optimizer {self.name!r}"

    def factory(self) -> type[Optimizer]:
        """The registered class (``UnknownNameError`` with the closest names when missing)."""
        if self.registry is None:
            self.registry = optimizer_registry()
        return self.registry.get(self.name)

    def build(self, **changes: Any) -> Optimizer:
        """A new optimizer from ``kwargs`` (with ``changes``), not yet set up."""
        opt = self.factory()(**{**self.kwargs, **changes})
        if not isinstance(opt, Optimizer):
            raise AssertionError(f"{self.who}: the class built a {type(opt).__name__}, not a seqkit.optim.Optimizer")
        return opt

    def params(self, seed: int | None = None) -> list[Parameter]:
        """Float64 parameters of ``shapes``, random values."""
        rng = numpy.random.default_rng(self.seed if seed is None else seed)
        return [Parameter(rng.standard_normal(s), name=f"p{i}") for i, s in enumerate(self.shapes)]

    def gradients(self, steps: int | None = None) -> list[list[numpy.ndarray]]:
        """Random float64 gradients: one list (a gradient per parameter) per step."""
        rng = numpy.random.default_rng(self.seed + 1)
        return [[rng.standard_normal(s) for s in self.shapes] for _ in range(steps or self.steps)]

    # ---- running ---------------------------------------------------------------------------------------
    def run(
        self, opts: list[Optimizer], params: list[Parameter], grads: list[list[Any]], lrs: list[float] | None = None
    ) -> list[list[numpy.ndarray]]:
        """Step ``opts`` (set up on ``params``) through ``grads`` (``None``: no gradient); each step sets
        ``lr`` from ``lrs``, clears the gradients, assigns the new ones and calls ``update()``. Returns copies
        of the parameters after each step."""
        after = []
        for k, step in enumerate(grads):
            for opt in opts:
                if lrs is not None:
                    opt.lr = lrs[k]
                opt.zero_grads()
            for p, g in zip(params, step):
                if g is not None:
                    p.grad = g.copy()
            for opt in opts:
                opt.update()
            after.append([p.data.copy() for p in params])
        return after

    def expected(
        self, start: list[numpy.ndarray], grads: list[list[Any]], lrs: list[float], state_names: tuple[str, ...]
    ) -> list[list[numpy.ndarray]]:
        """The reference's parameters after each step, from the values ``start``."""
        values = [numpy.array(p, dtype=numpy.float64) for p in start]
        states = [{n: numpy.zeros_like(p) for n in state_names} for p in values]
        after = []
        for t, (step, lr) in enumerate(zip(grads, lrs), start=1):
            for i, g in enumerate(step):
                g = numpy.zeros_like(values[i]) if g is None else numpy.array(g, dtype=numpy.float64)
                new = numpy.asarray(self.reference(values[i].copy(), g, states[i], t, **{**self.kwargs, "lr": lr}))
                if new.shape != values[i].shape:
                    raise AssertionError(
                        f"{self.who}: the reference returned shape {new.shape} for a parameter of {values[i].shape}"
                    )
                values[i] = new.astype(numpy.float64)
            after.append([v.copy() for v in values])
        return after

    def _compare(self, what: str, got: list[list[Any]], expected: list[list[Any]], rtol: float, atol: float) -> None:
        for t, (a_step, b_step) in enumerate(zip(got, expected), start=1):
            for i, (a, b) in enumerate(zip(a_step, b_step)):
                if not numpy.allclose(a, b, rtol=rtol, atol=atol):
                    worst = float(numpy.max(numpy.abs(a - b)))
                    raise AssertionError(
                        f"{self.who}: {what}: parameter {i} {a.shape} after step {t} differs by up to {worst:.3g} "
                        f"(rtol={rtol}, atol={atol})"
                    )

    def _lr(self) -> float:
        return float(self.kwargs.get("lr", self.build().lr))

    # ---- the checks ------------------------------------------------------------------------------------
    def check_reference(self) -> None:
        """``steps`` steps on one flat buffer agree with the reference run on each parameter."""
        params = self.params()
        start = [p.data.copy() for p in params]
        opt = self.build().setup(params)
        grads = self.gradients()
        lrs = [self._lr()] * len(grads)
        got = self.run([opt], params, grads)
        self._compare("the optimizer vs the reference", got, self.expected(start, grads, lrs, opt.state_names),
                      self.rtol, self.atol)  # fmt: skip

    def check_lr_changes(self) -> None:
        """``opt.lr`` set before each step (as a schedule does) is what that step uses."""
        params = self.params()
        start = [p.data.copy() for p in params]
        opt = self.build().setup(params)
        grads = self.gradients()
        lrs = [self._lr() * f for f in (1.0, 0.5, 2.0, 0.0, 1.5, 0.25, 3.0)[: len(grads)]]
        lrs += [lrs[-1]] * (len(grads) - len(lrs))
        got = self.run([opt], params, grads, lrs)
        self._compare("with lr changed between steps, the optimizer vs the reference", got,
                      self.expected(start, grads, lrs, opt.state_names), self.rtol, self.atol)  # fmt: skip

    def check_missing_gradient(self) -> None:
        """A parameter whose ``grad`` is ``None`` at ``update()`` is updated as with a zero gradient: one
        parameter never gets a gradient, another loses it at every other step."""
        params = self.params()
        start = [p.data.copy() for p in params]
        opt = self.build().setup(params)
        grads: list[list[Any]] = self.gradients()
        last = len(params) - 1
        for k, step in enumerate(grads):
            step[last] = None
            if k % 2 and last > 0:
                step[0] = None
        lrs = [self._lr()] * len(grads)
        got = self.run([opt], params, grads)
        self._compare("with grad None (a zero gradient), the optimizer vs the reference", got,
                      self.expected(start, grads, lrs, opt.state_names), self.rtol, self.atol)  # fmt: skip

    def check_state_round_trip(self) -> None:
        """After ``steps`` steps, ``state_dict()`` (host arrays, JSON scalars) loaded into a fresh optimizer set
        up on a copy of the parameters: the next ``steps`` steps are bitwise those of the uninterrupted one."""
        grads = self.gradients(2 * self.steps)
        params = self.params()
        straight = self.build().setup(params)
        self.run([straight], params, grads[: self.steps])
        saved = straight.state_dict()
        values = [p.data.copy() for p in params]
        for key, value in saved.items():
            if isinstance(value, numpy.ndarray):
                continue
            if hasattr(value, "shape"):
                raise AssertionError(f"{self.who}: state_dict()[{key!r}] is a {type(value).__name__}, not a host array")
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise AssertionError(
                    f"{self.who}: state_dict()[{key!r}] is a {type(value).__name__}, neither an array nor JSON-able"
                ) from None
        expected = self.run([straight], params, grads[self.steps :])

        fresh_params = self.params(seed=self.seed + 100)
        resumed = self.build().setup(fresh_params)
        for p, v in zip(fresh_params, values):
            p.data[...] = v
        try:
            resumed.load_state_dict(saved)
        except Exception as e:
            raise AssertionError(f"{self.who}: load_state_dict(state_dict()) raised {type(e).__name__}: {e}") from e
        got = self.run([resumed], fresh_params, grads[self.steps :])
        self._compare("resumed from state_dict() vs uninterrupted", got, expected, 0.0, 0.0)
        if (resumed.t, resumed.lr) != (straight.t, straight.lr):
            raise AssertionError(
                f"{self.who}: resumed t, lr = {resumed.t}, {resumed.lr}; uninterrupted {straight.t}, {straight.lr}"
            )

    def check_flat_parity(self) -> None:
        """The optimizer set up on all parameters (one flat buffer), one optimizer per parameter, and one with
        chunks of 3 elements on 3 threads take the same steps (bitwise, or to 1e-15): the rule is element-wise."""
        grads = self.gradients()
        params = self.params()
        whole = self.run([self.build().setup(params)], params, grads)
        params = self.params()
        separate = self.run([self.build().setup([p]) for p in params], params, grads)
        self._compare("one optimizer per parameter vs one flat buffer", separate, whole, 1e-15, 1e-15)
        params = self.params()
        chunked = self.run([self.build().setup(params, chunk=3, threads=3)], params, grads)
        self._compare("chunks of 3 on 3 threads vs one chunk", chunked, whole, 1e-15, 1e-15)

    def check_registered(self) -> None:
        """The name gives an ``Optimizer`` subclass, registered with an options dataclass whose fields are the
        constructor's keyword arguments with their defaults; ``cls(**options)`` builds it, and ``kwargs`` are
        options a recipe can set."""
        if self.registry is None:
            self.registry = optimizer_registry()
        entry = self.registry.entry(self.name)
        cls = entry.obj
        if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
            raise AssertionError(f"{self.who}: registered {cls!r}, not a subclass of seqkit.optim.Optimizer")
        names = cls.state_names
        if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names) or len(set(names)) < len(names):
            raise AssertionError(f"{self.who}: state_names must be a tuple of distinct strings, got {names!r}")
        if entry.options is None:
            raise AssertionError(f"{self.who}: registered without options=, so a recipe cannot set its arguments")
        fields = {f.name: f.default for f in dataclasses.fields(entry.options)}
        arguments = {
            k: p.default
            for k, p in inspect.signature(cls).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        if fields != arguments:
            raise AssertionError(
                f"{self.who}: options {entry.options.__name__} has fields {fields}, the constructor takes {arguments}"
            )
        unknown = sorted(set(self.kwargs) - set(fields))
        if unknown:
            raise AssertionError(f"{self.who}: kwargs {unknown} are not fields of {entry.options.__name__}")
        built = cls(**dataclasses.asdict(entry.options(**self.kwargs)))
        if not isinstance(built, Optimizer):
            raise AssertionError(f"{self.who}: cls(**options) built a {type(built).__name__}")

    def check_all(self) -> None:
        """Every check."""
        self.check_registered()
        self.check_reference()
        self.check_lr_changes()
        self.check_missing_gradient()
        self.check_state_round_trip()
        self.check_flat_parity()


def check_optimizer(
    name: str, reference: Callable[..., Any], *, kwargs: dict[str, Any] | None = None, registry: Registry | None = None
) -> None:
    """Run every check on the registered optimizer ``name`` built with ``kwargs`` (see the module docstring)."""
    OptimizerCase(name, reference, dict(kwargs or {}), registry).check_all()


class OptimizerTests:
    """Subclass as ``TestSomething`` and set ``name``, ``kwargs`` and ``reference``: one pytest test per check.

    ``shapes`` and ``steps`` may be set too. The optimizer is looked up in the registry of the
    ``seqkit_plugin_manager`` fixture.
    """

    name: ClassVar[str]
    kwargs: ClassVar[dict[str, Any]] = {}
    reference: ClassVar[Callable[..., Any]]
    shapes: ClassVar[tuple[tuple[int, ...], ...]] = SHAPES
    steps: ClassVar[int] = 5

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> OptimizerCase:
        cls = type(self)  # a plain function read from the class stays unbound
        return OptimizerCase(
            cls.name, cls.reference, dict(cls.kwargs), seqkit_plugin_manager.registry("optimizer"),
            tuple(cls.shapes), cls.steps,
        )  # fmt: skip

    def test_registered(self, case: OptimizerCase) -> None:
        case.check_registered()

    def test_reference(self, case: OptimizerCase) -> None:
        case.check_reference()

    def test_lr_changes(self, case: OptimizerCase) -> None:
        case.check_lr_changes()

    def test_missing_gradient(self, case: OptimizerCase) -> None:
        case.check_missing_gradient()

    def test_state_round_trip(self, case: OptimizerCase) -> None:
        case.check_state_round_trip()

    def test_flat_parity(self, case: OptimizerCase) -> None:
        case.check_flat_parity()


__all__ = ["SHAPES", "OptimizerCase", "OptimizerTests", "check_optimizer", "optimizer_registry"]
