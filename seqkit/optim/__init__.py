"""Optimizers, optimizer hooks and learning-rate schedules (``import seqkit.optim as O``), all with state for
exact resume. Parameters are packed into flat buffers (``FlatParams``) so that every step touches a few
large arrays."""

from seqkit.optim.flat import FlatGroup, FlatParams
from seqkit.optim.hooks import GradientClipping, WeightDecay, global_norm
from seqkit.optim.optimizers import (
    SGD,
    Adam,
    AdamOptions,
    AdamW,
    AdamWOptions,
    MomentumSGD,
    MomentumSGDOptions,
    Optimizer,
    SGDOptions,
)
from seqkit.optim.schedules import (
    Constant,
    Cosine,
    CosineOptions,
    DecayOptions,
    ExponentialDecay,
    InverseSqrt,
    InverseSqrtOptions,
    PlateauOptions,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
    TrainingPlan,
)

__all__ = [
    "FlatGroup", "FlatParams",
    "GradientClipping", "WeightDecay", "global_norm",
    "SGD", "Adam", "AdamOptions", "AdamW", "AdamWOptions", "MomentumSGD", "MomentumSGDOptions", "Optimizer",
    "SGDOptions",
    "Constant", "Cosine", "CosineOptions", "DecayOptions", "ExponentialDecay", "InverseSqrt", "InverseSqrtOptions",
    "PlateauOptions", "ReduceOnPlateau", "Schedule", "StepDecay", "TrainingPlan",
]  # fmt: skip
