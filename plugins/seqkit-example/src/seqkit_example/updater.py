"""An updater: one optimizer step from several batches (gradient accumulation), with plain SGD.

seqkit has no updater interface yet; this is the shape updaters are meant to take:

- built from the model, a loss function and keyword options (which are also the fields of an options
  dataclass a recipe fills in): ``Updater(model, loss_fn, **options)``;
- ``update(batches) -> dict`` runs one step and returns what to report (``{"loss": ..., ...}``);
- ``iteration`` counts steps; ``state_dict()`` / ``load_state_dict(state)`` carry everything a resumed run
  needs (JSON-serialisable).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from typing import Any

from seqkit import Variable
from seqkit.layers import Layer

LossFn = Callable[[Layer, Any], Variable]


@dataclasses.dataclass
class AccumulatingSGDOptions:
    """What a recipe may set under the updater."""

    lr: float = 0.1
    accumulate: int = 4


class AccumulatingSGD:
    """``update(batches)`` takes up to ``accumulate`` batches, backpropagates each batch's loss divided by their
    number (so the step follows the gradient of the mean loss, as one big batch would), then moves every
    parameter by ``-lr * grad``. Memory holds one batch's graph at a time."""

    def __init__(self, model: Layer, loss_fn: LossFn, *, lr: float = 0.1, accumulate: int = 4) -> None:
        if not isinstance(accumulate, int) or accumulate < 1:
            raise ValueError(f"accumulate must be a positive integer, got {accumulate!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        self.model, self.loss_fn = model, loss_fn
        self.lr, self.accumulate = float(lr), accumulate
        self.iteration = 0

    def update(self, batches: Iterable[Any]) -> dict[str, float]:
        """One step from the next ``accumulate`` batches of ``batches`` (fewer at the end of an iterator).
        Returns ``{"loss": mean loss, "batches": how many}``. Raises ``ValueError`` when there is none."""
        taken = list(itertools.islice(iter(batches), self.accumulate))
        if not taken:
            raise ValueError("update: no batches")
        self.model.zero_grads()
        total = 0.0
        for batch in taken:
            loss = self.loss_fn(self.model, batch)
            (loss * (1.0 / len(taken))).backward()  # graph freed batch by batch; gradients add up
            total += float(loss.item())
        for p in self.model.params():
            if p.grad is not None:
                p.data -= self.lr * p.grad  # in place: views of a parameter stay valid
        self.iteration += 1
        return {"loss": total / len(taken), "batches": float(len(taken))}

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs (the model's parameters are saved with the model)."""
        return {"iteration": self.iteration, "lr": self.lr, "accumulate": self.accumulate}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration, self.lr, self.accumulate = int(state["iteration"]), float(state["lr"]), int(state["accumulate"])
