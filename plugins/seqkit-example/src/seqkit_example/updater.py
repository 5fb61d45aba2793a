"""Lookahead (Zhang et al., 2019, "Lookahead Optimizer: k steps forward, 1 step back") as a seqkit updater.

The recipe's optimizer makes the fast steps, one per update, as seqkit's standard updater does. Lookahead
keeps a second copy of the weights, the slow weights; after every ``k`` fast steps they move ``alpha`` of the
way toward the fast weights, and the fast weights start again from them:

    slow <- slow + alpha * (fast - slow);  fast <- slow

The optimizer's own state (Adam's moments) carries on across these resets, as in the paper's experiments. A
recipe names it with ``[updater] name = "lookahead"`` and may set ``k`` and ``alpha`` there.

The slow weights are the updater's own arrays: one per flat parameter buffer of the optimizer (one per dtype
and device), saved in ``state_dict()`` under ``"slow"``, so a resumed run continues exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from seqkit.backend import to_device
from seqkit.training import StandardUpdater


@dataclasses.dataclass
class LookaheadOptions:
    """What a recipe may set under ``[updater]`` for ``lookahead``."""

    k: int = 5  # fast steps of the inner optimizer between two moves of the slow weights
    alpha: float = 0.5  # how far the slow weights move toward the fast ones (1: plain optimizer, 0: never move)

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"lookahead k must be a positive number of steps, got {self.k!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"lookahead alpha must be in (0, 1], got {self.alpha!r}")


class Lookahead(StandardUpdater):
    """One batch per update through the recipe's optimizer (the fast weights); every ``k`` updates the slow
    weights take a step of ``alpha`` toward the fast ones and the fast weights are set to them."""

    def __init__(self, iterator, model, optimizer, schedule=None, *, k: int = 5, alpha: float = 0.5) -> None:
        self.options = LookaheadOptions(k, alpha)  # checks them
        super().__init__(iterator, model, optimizer, schedule)
        # the weights as they are when training starts (a resume then restores the saved slow weights)
        self.slow = [group.data.copy() for group in optimizer.flat.groups]

    def finish_step(self) -> None:
        super().finish_step()
        if self.iteration % self.options.k == 0:
            for slow, group in zip(self.slow, self.optimizer.flat.groups):
                slow += self.options.alpha * (group.data - slow)
                group.data[...] = slow  # in place: the parameters are views of this buffer

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["slow"] = {str(i): to_device(slow, "cpu").copy() for i, slow in enumerate(self.slow)}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state["slow"]
        if sorted(saved, key=int) != [str(i) for i in range(len(self.slow))]:
            raise ValueError(f"lookahead state: slow weights for buffers {sorted(saved)}, expected {len(self.slow)}")
        for i, slow in enumerate(self.slow):
            value = saved[str(i)]
            if tuple(value.shape) != slow.shape or value.dtype != slow.dtype:
                raise ValueError(
                    f"lookahead state: slow weights {i} are {tuple(value.shape)} {value.dtype}, expected "
                    f"{slow.shape} {slow.dtype}"
                )
        super().load_state_dict(state)
        for i, slow in enumerate(self.slow):
            slow[...] = to_device(saved[str(i)], self.optimizer.flat.groups[i].device)
