"""Acme's updater: standard steps on centralized gradients (Yong et al., 2020)."""

import dataclasses

from seqkit.training import StandardUpdater


@dataclasses.dataclass
class CentralizedOptions:
    """Each gradient of a parameter with at least min_ndim axes loses its mean over every axis but the first."""

    min_ndim: int = 2  # centralize the gradients of parameters with at least this many axes (matrices)

    def __post_init__(self) -> None:
        if self.min_ndim < 1:
            raise ValueError(f"min_ndim must be >= 1, got {self.min_ndim}")


class CentralizedUpdater(StandardUpdater):
    """Gradient centralization: ``g[i] -= mean(g[i])`` for each output row ``i`` of a weight matrix, before the
    optimizer (and its clipping) sees the gradient. Stateless besides what the standard updater keeps."""

    def __init__(self, iterator, model, optimizer, schedule=None, *, min_ndim: int = 2) -> None:
        super().__init__(iterator, model, optimizer, schedule)
        self.min_ndim = min_ndim

    def finish_step(self) -> None:
        for p in self.model.params():  # a parameter no gradient reached stays without one
            g = p.grad
            if g is not None and g.ndim >= self.min_ndim:
                g -= g.mean(axis=tuple(range(1, g.ndim)), keepdims=True)
        super().finish_step()
