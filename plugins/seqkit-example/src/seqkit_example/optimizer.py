"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an interpolated
momentum as the step, one state array per parameter where Adam keeps two. At step ``t``::

    p *= 1 - lr * weight_decay                  # decoupled decay, as AdamW's
    p -= lr * sign(beta1 * m + (1 - beta1) * g)
    m = beta2 * m + (1 - beta2) * g

Every element moves by exactly ``lr`` (or not at all), so Lion wants a learning rate 3-10x smaller than
Adam's and a weight decay 3-10x larger. A recipe names it as ``[optimizer] name = "lion"`` with the fields of
``LionOptions``; seqkit builds it as ``Lion(**options)``.
"""

from __future__ import annotations

import dataclasses

from seqkit.optim import Optimizer


@dataclasses.dataclass
class LionOptions:
    """Lion: the sign of an interpolated momentum (Chen et al., 2023)."""

    lr: float = 1e-4  # learning rate (the schedule scales it); every element moves by this much per step
    beta1: float = 0.9  # weight of the momentum in this step's direction
    beta2: float = 0.99  # decay of the momentum carried to the next step
    weight_decay: float = 0.0  # decoupled: p -= lr * weight_decay * p at every step


class Lion(Optimizer):
    """Lion, as in the module docstring. State: ``exp_avg``, the momentum ``m`` (zeros at first)."""

    state_names = ("exp_avg",)

    def __init__(self, lr: float = 1e-4, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0) -> None:
        super().__init__(lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Lion: {name} must be in [0, 1), got {beta}")
        if weight_decay < 0:
            raise ValueError(f"Lion: weight_decay must be >= 0, got {weight_decay}")
        self.beta1, self.beta2, self.weight_decay = beta1, beta2, weight_decay

    def coefficients(self) -> tuple:
        return (self.lr, 1 - self.lr * self.weight_decay, self.beta1, self.beta2)

    def update_chunk(self, xp, p, g, state, tmp, c) -> None:
        lr, decay, beta1, beta2 = c
        (m,) = state
        if decay != 1.0:
            p *= decay
        xp.subtract(m, g, out=tmp)  # the direction: beta1 * m + (1 - beta1) * g, as g + beta1 * (m - g)
        tmp *= beta1
        tmp += g
        xp.sign(tmp, out=tmp)
        tmp *= lr
        p -= tmp
        m -= g  # the momentum: beta2 * m + (1 - beta2) * g, as g + beta2 * (m - g), in place
        m *= beta2
        m += g
