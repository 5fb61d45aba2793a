"""Acme's optimizer (Adamax) and learning-rate schedule (linear warmup, then polynomial decay)."""

import dataclasses

from seqkit.optim import Optimizer, Schedule


@dataclasses.dataclass
class AdamaxOptions:
    """Adamax (Kingma and Ba, 2015, section 7.1): Adam with the infinity norm in place of the second moment."""

    lr: float = 0.002  # learning rate (the schedule scales it)
    beta1: float = 0.9  # decay of the first-moment (mean) estimate
    beta2: float = 0.999  # decay of the running maximum of the gradient's magnitude
    eps: float = 1e-8  # added to the denominator


class Adamax(Optimizer):
    """``m = b1 m + (1 - b1) g; u = max(b2 u, |g|); p -= lr / (1 - b1^t) * m / (u + eps)``."""

    state_names = ("m", "u")

    def __init__(self, lr: float = 0.002, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adamax: {name} must be in [0, 1), got {beta}")
        if eps <= 0:
            raise ValueError(f"Adamax: eps must be > 0, got {eps}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def coefficients(self) -> tuple:
        return (self.lr / (1.0 - self.beta1**self.t), self.beta1, self.beta2, self.eps)

    def update_chunk(self, xp, p, g, state, tmp, c) -> None:
        step, beta1, beta2, eps = c
        m, u = state
        m *= beta1
        xp.multiply(g, 1.0 - beta1, out=tmp)
        m += tmp
        u *= beta2
        xp.abs(g, out=tmp)
        xp.maximum(u, tmp, out=u)
        xp.add(u, eps, out=tmp)
        xp.divide(m, tmp, out=tmp)
        tmp *= step
        p -= tmp


@dataclasses.dataclass
class PolynomialOptions:
    warmup: int = 0  # updates of linear warmup to the optimizer's lr
    power: float = 1.0  # then (1 - progress) ** power down to min_lr at the run's last update (1: linear)
    min_lr: float = 0.0  # the rate the decay ends at

    def __post_init__(self) -> None:
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.power <= 0:
            raise ValueError(f"power must be > 0, got {self.power}")
        if self.min_lr < 0:
            raise ValueError(f"min_lr must be >= 0, got {self.min_lr}")


class PolynomialDecay(Schedule):
    """Linear warmup for ``warmup`` updates, then ``min_lr + (base_lr - min_lr) * (1 - progress) ** power``,
    where progress goes from 0 after the warmup to 1 at the run's last update."""

    def __init__(self, optimizer, total: int, warmup: int = 0, power: float = 1.0, min_lr: float = 0.0,
                 base_lr: float | None = None) -> None:
        self.total, self.warmup, self.power, self.min_lr = total, warmup, power, min_lr
        super().__init__(optimizer, base_lr)

    @classmethod
    def build(cls, optimizer, plan, *, warmup: int = 0, power: float = 1.0, min_lr: float = 0.0):
        if warmup >= plan.total_updates:
            raise ValueError(f"warmup ({warmup}) must be shorter than the run ({plan.total_updates} updates)")
        return cls(optimizer, total=plan.total_updates, warmup=warmup, power=power, min_lr=min_lr)

    def lr_at(self, t: int) -> float:
        if t < self.warmup:
            return self.base_lr * (t + 1) / self.warmup
        progress = min(1.0, (t - self.warmup) / max(1, self.total - self.warmup))
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 - progress) ** self.power
