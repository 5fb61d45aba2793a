"""Updaters: one training step each. Plugin updaters (e.g. data parallel over MPI) subclass ``Updater``.

An updater owns the iterator, the model and the optimizer. ``update()`` runs one step and returns its
observations: ``loss`` (the mean loss per target token, kept as an array so a GPU step never waits for the
host), ``tokens`` and ``sentences``. ``state_dict()`` holds what resuming needs besides the model, the
optimizer and the schedule (the iteration count and the iterator's position, and any arrays of its own).

A recipe's ``[updater]`` section names a registered updater class and gives its options; seqkit builds it
with ``cls(iterator, model, optimizer, **options)`` and then sets ``updater.schedule``.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

from seqkit.faults import fault_point
from seqkit.ranges import check_ranges, ranged


@dataclasses.dataclass
class AccumulateOptions:
    """Options of the ``accumulate`` updater."""

    accumulate: int = ranged(2, "[1, inf)")  # batches per update (each batch at most training.max_tokens)

    def __post_init__(self) -> None:
        check_ranges(self, "updater")


class LossScaler:
    """Dynamic loss scaling for float16 training (PyTorch's ``GradScaler``): the loss is multiplied by ``scale``
    before backward, so that small gradients survive float16; ``unscale`` divides the gathered gradients by it
    and says whether they are finite. A step whose gradients overflowed is skipped and the scale halved; after
    ``growth_interval`` good steps in a row the scale doubles. (Reading the overflow flag synchronises with a
    GPU once per step, as in PyTorch.)"""

    def __init__(self, scale: float = 2.0**15, growth_interval: int = 1000) -> None:
        self.scale, self.growth_interval, self.good_steps = float(scale), growth_interval, 0

    def unscale(self, optimizer) -> bool:
        optimizer.flat.gather_grads()
        groups = optimizer.flat.groups
        if not all(bool(g.xp.isfinite(g.grad).all()) for g in groups):
            self.scale, self.good_steps = self.scale / 2, 0
            return False
        for g in groups:
            g.grad *= 1.0 / self.scale
        self.good_steps += 1
        if self.good_steps % self.growth_interval == 0:
            self.scale *= 2
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "good_steps": self.good_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.good_steps = float(state["scale"]), int(state["good_steps"])


class Updater(abc.ABC):
    """Base class of updaters: what the trainer drives and saves. A subclass implements ``update()``; the
    base keeps the iterator, model, optimizer, schedule and loss scaler, counts iterations, reports the
    iterator's progress and saves the iteration and the iterator's position."""

    #: True for an updater that trains across several processes (seqkit refuses the others under MPI)
    data_parallel: ClassVar[bool] = False
    #: batches of the iterator one update takes (at most; an epoch's last update may take fewer)
    batches_per_update: int = 1

    def __init__(self, iterator, model, optimizer, schedule=None) -> None:
        self.iterator, self.model, self.optimizer, self.schedule = iterator, model, optimizer, schedule
        self.iteration = 0
        #: a ``LossScaler`` when the run trains in mixed precision (seqkit sets it), else None
        self.scaler: LossScaler | None = None

    @abc.abstractmethod
    def update(self) -> dict[str, Any]:
        """One step: forward, backward, ``self.finish_step()``; returns ``loss``, ``tokens``, ``sentences``."""

    @property
    def epoch(self) -> int:
        return self.iterator.epoch

    @property
    def epoch_detail(self) -> float:
        return self.iterator.epoch_detail

    @property
    def is_new_epoch(self) -> bool:
        return self.iterator.is_new_epoch

    def finish_step(self) -> None:
        """Update the parameters from the gradients (unless the loss scaler found an overflow), advance the
        schedule, count the step: the end of every updater's step."""
        if self.scaler is None or self.scaler.unscale(self.optimizer):
            self.optimizer.update()
        if self.schedule is not None:
            self.schedule.step()
        fault_point("update", self.iteration + 1)
        self.iteration += 1

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs besides the model, optimizer and schedule. Values are JSON-able or NumPy arrays
        (at any depth of nested dicts): the arrays are saved among the checkpoint's arrays. A subclass adds
        its own keys to the base's."""
        state = {"iteration": self.iteration, "iterator": self.iterator.state_dict()}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.iterator.load_state_dict(state["iterator"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])


class StandardUpdater(Updater):
    """One batch per step: forward (``model.loss(src, tgt)``), backward, ``optimizer.update()``. With a
    ``scaler`` (``LossScaler``, for mixed precision) the loss is scaled before backward and a step whose
    gradients overflowed is skipped."""

    def update(self) -> dict[str, Any]:
        batches = self._next_batches()
        self.optimizer.zero_grads()
        loss_sum, tokens, sentences = 0.0, 0, 0
        scale = self.scaler.scale if self.scaler is not None else 1.0
        for batch in batches:
            loss, n = self.model.loss(batch.src, batch.tgt)
            # one batch: its mean loss; several: token-weighted sums, divided by all their tokens below
            weight = (1.0 if len(batches) == 1 else float(n)) * scale
            (loss if weight == 1.0 else loss * weight).backward()
            loss_sum = loss_sum + loss.data * n
            tokens, sentences = tokens + n, sentences + len(batch)
        if len(batches) > 1:
            for p in self.model.params():
                if p.grad is not None:
                    p.grad *= 1.0 / tokens
        self.finish_step()
        return {"loss": loss_sum / tokens, "tokens": tokens, "sentences": sentences}

    def _next_batches(self) -> list:
        return [next(self.iterator)]


class AccumulateUpdater(StandardUpdater):
    """``accumulate`` batches per update, each batch's gradient weighted by its share of the target tokens,
    so the update equals one step on the union of the batches."""

    def __init__(self, iterator, model, optimizer, schedule=None, *, accumulate: int = 2) -> None:
        AccumulateOptions(accumulate)  # checks it
        super().__init__(iterator, model, optimizer, schedule)
        self.batches_per_update = accumulate

    def _next_batches(self) -> list:
        batches = [next(self.iterator)]
        while len(batches) < self.batches_per_update and not self.iterator.is_new_epoch:  # an epoch ends an update
            batches.append(next(self.iterator))
        return batches
