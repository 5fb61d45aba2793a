"""SGDR (Loshchilov & Hutter, 2017, "SGDR: Stochastic Gradient Descent with Warm Restarts"): the rate follows a
half cosine from the optimizer's ``lr`` down to ``min_lr`` over a cycle, then restarts at ``lr``; each cycle
is ``mult`` times longer than the one before. After ``warmup`` updates of linear warmup, at update ``t``::

    s = t - warmup                                   # updates since the cycles began
    i, t_cur = the cycle s falls in, s - its start   # cycle i lasts cycle * mult ** i updates
    lr = min_lr + (lr - min_lr) * (1 + cos(pi * t_cur / (cycle * mult ** i))) / 2

A recipe names it as ``[schedule] name = "cosine_restarts"`` with the fields of ``CosineRestartsOptions``; the
first cycle is given in epochs, which ``build`` turns into updates. The rate is a function of ``t`` alone, so
the base class's state (``t`` and ``base_lr``) is all a resumed run needs.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from seqkit.optim import Schedule, TrainingPlan


@dataclasses.dataclass
class CosineRestartsOptions:
    """SGDR: cosine annealing to min_lr, restarted at the optimizer's lr, each cycle mult times longer."""

    epochs: int = 1  # epochs of the first cycle...
    mult: int = 2  # ...and each next cycle is this many times longer (1: all cycles equal)
    min_lr: float = 0.0  # the rate at the end of every cycle
    warmup: int = 0  # updates of linear warmup to the optimizer's lr before the first cycle

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.mult < 1:
            raise ValueError(f"epochs and mult must be at least 1, got {self.epochs} and {self.mult}")
        if self.min_lr < 0 or self.warmup < 0:
            raise ValueError(f"min_lr and warmup must be >= 0, got {self.min_lr} and {self.warmup}")


class CosineRestarts(Schedule):
    """SGDR, as in the module docstring, with the first cycle ``cycle`` updates long."""

    def __init__(
        self,
        optimizer: Any,
        cycle: int,
        mult: int = 2,
        min_lr: float = 0.0,
        warmup: int = 0,
        base_lr: float | None = None,
    ) -> None:
        self._require(cycle >= 1, f"cycle must be at least 1 update, got {cycle}")
        self._require(mult >= 1, f"mult must be at least 1, got {mult}")
        self._require(warmup >= 0, f"warmup must be >= 0, got {warmup}")
        lr = float(optimizer.lr if base_lr is None else base_lr)
        self._require(0 <= min_lr <= lr, f"min_lr must be in [0, lr] = [0, {lr}], got {min_lr}")
        self.cycle, self.mult, self.min_lr, self.warmup = cycle, mult, min_lr, warmup
        super().__init__(optimizer, base_lr)

    @classmethod
    def build(
        cls, optimizer: Any, plan: TrainingPlan, *, epochs: int, mult: int, min_lr: float, warmup: int
    ) -> CosineRestarts:
        if warmup >= plan.total_updates:
            raise ValueError(f"warmup ({warmup}) must be shorter than the run ({plan.total_updates} updates)")
        return cls(optimizer, cycle=epochs * plan.updates_per_epoch, mult=mult, min_lr=min_lr, warmup=warmup)

    def position(self, t: int) -> tuple[int, int, int]:
        """``(i, t_cur, length)`` at update ``t >= warmup``: the cycle, the updates into it, and its length."""
        s, length, i = t - self.warmup, self.cycle, 0
        if self.mult == 1:
            i, s = divmod(s, length)
        while s >= length:  # at most log(s / cycle) / log(mult) rounds
            s, length, i = s - length, length * self.mult, i + 1
        return i, s, length

    def lr_at(self, t: int) -> float:
        if t < self.warmup:
            return self.base_lr * (t + 1) / self.warmup
        _, t_cur, length = self.position(t)
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t_cur / length)) / 2
