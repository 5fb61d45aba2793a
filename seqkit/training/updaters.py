"""Updaters: one training step each. Plugin updaters (e.g. data parallel over MPI) implement the same shape.

An updater owns the iterator, the model and the optimizer. ``update()`` runs one step and returns its
observations: ``loss`` (the mean loss per target token, kept as an array so a GPU step never waits for the
host), ``tokens`` and ``sentences``. ``state_dict()`` holds what resuming needs besides the model and the
optimizer (the iteration count and the iterator's position).
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class StandardOptions:
    """The ``standard`` updater has no options of its own."""


@dataclasses.dataclass
class AccumulateOptions:
    """Options of the ``accumulate`` updater."""

    accumulate: int = 2  # batches per update


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


class StandardUpdater:
    """One batch per step: forward (``model.loss(src, tgt)``), backward, ``optimizer.update()``. With a
    ``scaler`` (``LossScaler``, for mixed precision) the loss is scaled before backward and a step whose
    gradients overflowed is skipped."""

    def __init__(self, iterator, model, optimizer, schedule=None) -> None:
        self.iterator, self.model, self.optimizer, self.schedule = iterator, model, optimizer, schedule
        self.iteration = 0
        self.scaler: LossScaler | None = None

    @property
    def epoch(self) -> int:
        return self.iterator.epoch

    @property
    def epoch_detail(self) -> float:
        return self.iterator.epoch_detail

    @property
    def is_new_epoch(self) -> bool:
        return self.iterator.is_new_epoch

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
        self._apply()
        return {"loss": loss_sum / tokens, "tokens": tokens, "sentences": sentences}

    def _apply(self) -> None:
        """Update the parameters from the gradients (unless the loss scaler found an overflow), advance the
        schedule, count the step: the end of every updater's step."""
        if self.scaler is None or self.scaler.unscale(self.optimizer):
            self.optimizer.update()
        if self.schedule is not None:
            self.schedule.step()
        self.iteration += 1

    def _next_batches(self) -> list:
        return [next(self.iterator)]

    def state_dict(self) -> dict[str, Any]:
        state = {"iteration": self.iteration, "iterator": self.iterator.state_dict()}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.iterator.load_state_dict(state["iterator"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])


class AccumulateUpdater(StandardUpdater):
    """``accumulate`` batches per update, each batch's gradient weighted by its share of the target tokens,
    so the update equals one step on the union of the batches."""

    def __init__(self, iterator, model, optimizer, schedule=None, *, accumulate: int = 2) -> None:
        if accumulate < 1:
            raise ValueError(f"accumulate must be a positive number of batches, got {accumulate}")
        super().__init__(iterator, model, optimizer, schedule)
        self.accumulate = accumulate

    def _next_batches(self) -> list:
        batches = [next(self.iterator)]
        while len(batches) < self.accumulate and not self.iterator.is_new_epoch:  # an epoch ends an update
            batches.append(next(self.iterator))
        return batches
