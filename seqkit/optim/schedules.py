"""Learning-rate schedules: each sets ``optimizer.lr`` from the number of updates done.

Call ``step()`` once after every ``optimizer.update()``. ``t`` counts those calls; ``lr_at(t)`` is the rate
that update ``t + 1`` uses (so ``lr_at(0)`` is set at construction, for the first update). ``base_lr``
defaults to the optimizer's ``lr`` when the schedule is made. ``report(metric)`` feeds metric-driven
schedules (``ReduceOnPlateau``) and is ignored by the others, so a trainer can treat all alike.

A recipe's ``[schedule]`` section names a registered schedule class and gives its options (a dataclass per
schedule, below); seqkit builds it with ``cls.build(optimizer, plan, **options)``, where ``plan`` (a
``TrainingPlan``) says how long the run is, so that options may count epochs rather than updates.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from seqkit.ranges import check_ranges, ranged


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """What a schedule built from a recipe may need to know about the run."""

    updates_per_epoch: int  # optimizer updates in one pass over the training data
    epochs: int  # passes the run makes at most (training.epochs)
    mode: str = "max"  # "max" when the monitored value should rise (BLEU), "min" when it should fall (loss)

    @property
    def total_updates(self) -> int:
        return self.epochs * self.updates_per_epoch


@dataclasses.dataclass
class InverseSqrtOptions:
    """Options of the ``inverse_sqrt`` schedule."""

    warmup: int = ranged(4000, "[1, inf)")  # updates of linear warmup to the optimizer's lr, then 1/sqrt(update)

    def __post_init__(self) -> None:
        check_ranges(self, "schedule")


@dataclasses.dataclass
class CosineOptions:
    """Options of the ``cosine`` schedule."""

    warmup: int = ranged(0, "[0, inf)")  # updates of linear warmup, then a half cosine to min_lr at the last epoch
    min_lr: float = ranged(0.0, "[0, inf)")  # the rate the cosine ends at

    def __post_init__(self) -> None:
        check_ranges(self, "schedule")


@dataclasses.dataclass
class DecayOptions:
    """Options of the ``step`` and ``exponential`` schedules."""

    gamma: float = ranged(0.5, "(0, inf)")  # factor the rate is multiplied by...
    epochs: int = ranged(1, "[1, inf)")  # ...every this many epochs (step: at once; exponential: smoothly)

    def __post_init__(self) -> None:
        check_ranges(self, "schedule")


@dataclasses.dataclass
class PlateauOptions:
    """Options of the ``plateau`` schedule (the monitored value is ``evaluation.monitor``)."""

    factor: float = ranged(0.5, "(0, 1)")  # multiply the rate by this when the monitored value stalls...
    patience: int = ranged(0, "[0, inf)")  # ...for more than this many validations in a row
    threshold: float = ranged(0.0, "[0, inf)")  # an improvement smaller than this (absolute) does not count
    cooldown: int = ranged(0, "[0, inf)")  # validations after a reduction that are not counted
    min_lr: float = ranged(0.0, "[0, inf)")  # the rate never goes below this

    def __post_init__(self) -> None:
        check_ranges(self, "schedule")


class Schedule:
    """Base class: subclasses implement ``lr_at(t)``; state is ``t`` and ``base_lr`` plus their own."""

    def __init__(self, optimizer: Any, base_lr: float | None = None) -> None:
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr if base_lr is None else base_lr)
        self.t = 0
        optimizer.lr = self.lr_at(0)

    @classmethod
    def build(cls, optimizer: Any, plan: TrainingPlan, **options: Any) -> Schedule:
        """The schedule a recipe asks for: ``options`` are the fields of the options dataclass it was registered
        with. The default passes them to the constructor; a schedule whose options count epochs, or that needs
        the run's length or direction, overrides this to convert them with ``plan``."""
        return cls(optimizer, **options)

    def lr_at(self, t: int) -> float:
        """The learning rate after ``t`` updates."""
        raise NotImplementedError

    def step(self) -> None:
        """Count one update and set the optimizer's rate for the next."""
        self.t += 1
        self.optimizer.lr = self.lr_at(self.t)

    def report(self, metric: float) -> None:
        """Take a validation metric (only ``ReduceOnPlateau`` uses it)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-able scalars: ``t``, ``base_lr`` and what the subclass adds."""
        return {"t": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` and set the optimizer's rate to match. Raises ``KeyError`` for a missing key."""
        self.t = int(state["t"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.t)

    def _require(self, ok: bool, problem: str) -> None:
        if not ok:
            raise ValueError(f"{type(self).__name__}: {problem}")


class Constant(Schedule):
    """``base_lr`` throughout."""

    def lr_at(self, t: int) -> float:
        return self.base_lr


class StepDecay(Schedule):
    """``base_lr * gamma ** (t // step_size)``: multiplied by ``gamma`` every ``step_size`` updates."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, base_lr: float | None = None) -> None:
        self.step_size, self.gamma = step_size, gamma
        self._require(step_size >= 1, f"step_size must be >= 1, got {step_size}")
        self._require(gamma > 0, f"gamma must be > 0, got {gamma}")
        super().__init__(optimizer, base_lr)

    @classmethod
    def build(cls, optimizer: Any, plan: TrainingPlan, *, gamma: float, epochs: int) -> StepDecay:
        return cls(optimizer, step_size=epochs * plan.updates_per_epoch, gamma=gamma)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialDecay(Schedule):
    """``base_lr * gamma ** (t / every)``: a smooth decay by ``gamma`` per ``every`` updates."""

    def __init__(self, optimizer: Any, gamma: float, every: int = 1, base_lr: float | None = None) -> None:
        self.gamma, self.every = gamma, every
        self._require(gamma > 0, f"gamma must be > 0, got {gamma}")
        self._require(every >= 1, f"every must be >= 1, got {every}")
        super().__init__(optimizer, base_lr)

    @classmethod
    def build(cls, optimizer: Any, plan: TrainingPlan, *, gamma: float, epochs: int) -> ExponentialDecay:
        return cls(optimizer, gamma=gamma, every=epochs * plan.updates_per_epoch)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t / self.every)


class InverseSqrt(Schedule):
    """Linear warmup, then decay with the inverse square root of the update number ``n = t + 1``
    (the Transformer's schedule, scaled so that the peak is ``base_lr`` at ``n = warmup``)::

        lr = base_lr * min(n / warmup, sqrt(warmup / n))
    """

    def __init__(self, optimizer: Any, warmup: int = 4000, base_lr: float | None = None) -> None:
        self.warmup = warmup
        self._require(warmup >= 1, f"warmup must be >= 1, got {warmup}")
        super().__init__(optimizer, base_lr)

    def lr_at(self, t: int) -> float:
        n = t + 1
        return self.base_lr * min(n / self.warmup, math.sqrt(self.warmup / n))


class Cosine(Schedule):
    """Optional linear warmup to ``base_lr`` over ``warmup`` updates (``base_lr * (t + 1) / warmup``), then a
    half cosine from ``base_lr`` down to ``min_lr`` at ``t = total``, and ``min_lr`` after that."""

    def __init__(
        self, optimizer: Any, total: int, warmup: int = 0, min_lr: float = 0.0, base_lr: float | None = None
    ) -> None:
        self.total, self.warmup, self.min_lr = total, warmup, min_lr
        self._require(warmup >= 0, f"warmup must be >= 0, got {warmup}")
        self._require(total > warmup, f"total ({total}) must be larger than warmup ({warmup})")
        self._require(min_lr >= 0, f"min_lr must be >= 0, got {min_lr}")
        super().__init__(optimizer, base_lr)

    @classmethod
    def build(cls, optimizer: Any, plan: TrainingPlan, *, warmup: int, min_lr: float) -> Cosine:
        if plan.total_updates <= warmup:
            raise ValueError(f"warmup ({warmup}) must be shorter than the run ({plan.total_updates} updates)")
        return cls(optimizer, total=plan.total_updates, warmup=warmup, min_lr=min_lr)

    def lr_at(self, t: int) -> float:
        if t < self.warmup:
            return self.base_lr * (t + 1) / self.warmup
        progress = min(1.0, (t - self.warmup) / (self.total - self.warmup))
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` (not below ``min_lr``) when the reported metric stopped improving.

    PyTorch's ``ReduceLROnPlateau`` logic: a report improves when it is better than the best so far by more
    than ``threshold`` (absolute; lower is better with ``mode="min"``, higher with ``"max"``). After more than
    ``patience`` reports in a row without improvement the rate is reduced, the count restarts, and the next
    ``cooldown`` reports are not counted. ``step()`` only counts updates.
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 0.0,
        cooldown: int = 0,
        min_lr: float = 0.0,
        base_lr: float | None = None,
    ) -> None:
        self._require(mode in ("min", "max"), f"mode must be 'min' or 'max', got {mode!r}")
        self._require(0 < factor < 1, f"factor must be in (0, 1), got {factor}")
        self._require(patience >= 0, f"patience must be >= 0, got {patience}")
        self._require(threshold >= 0, f"threshold must be >= 0, got {threshold}")
        self._require(cooldown >= 0, f"cooldown must be >= 0, got {cooldown}")
        self._require(min_lr >= 0, f"min_lr must be >= 0, got {min_lr}")
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.cooldown, self.min_lr = threshold, cooldown, min_lr
        self.lr = float(optimizer.lr if base_lr is None else base_lr)
        self.best: float | None = None
        self.num_bad = 0
        self.cooldown_left = 0
        super().__init__(optimizer, base_lr)

    @classmethod
    def build(cls, optimizer: Any, plan: TrainingPlan, **options: Any) -> ReduceOnPlateau:
        return cls(optimizer, mode=plan.mode, **options)

    def lr_at(self, t: int) -> float:
        """The current (possibly reduced) rate; it does not depend on ``t``."""
        return self.lr

    def report(self, metric: float) -> None:
        """Take one validation result (a loss with ``mode="min"``, BLEU with ``"max"``)."""
        metric = float(metric)
        if self.best is None or self._improves(metric):
            self.best = metric
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            self.lr = max(self.lr * self.factor, self.min_lr)
            self.optimizer.lr = self.lr
            self.cooldown_left = self.cooldown
            self.num_bad = 0

    def _improves(self, metric: float) -> bool:
        if self.mode == "min":
            return metric < self.best - self.threshold
        return metric > self.best + self.threshold

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(lr=self.lr, best=self.best, num_bad=self.num_bad, cooldown_left=self.cooldown_left)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr = float(state["lr"])
        self.best = None if state["best"] is None else float(state["best"])
        self.num_bad = int(state["num_bad"])
        self.cooldown_left = int(state["cooldown_left"])
        super().load_state_dict(state)
