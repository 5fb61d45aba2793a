"""The acme_adamax optimizer against seqkit's optimizer kit; the acme_poly schedule against its formula."""

import math
from typing import ClassVar

import numpy as np
import pytest

from seqkit.optim import TrainingPlan
from seqkit.testing.optimizers import OptimizerTests


def adamax_step(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    state["m"] = beta1 * state["m"] + (1 - beta1) * g
    state["u"] = np.maximum(beta2 * state["u"], np.abs(g))
    return p - lr / (1 - beta1**t) * state["m"] / (state["u"] + eps)


class TestAdamax(OptimizerTests):
    name = "acme_adamax"
    kwargs: ClassVar = {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}
    reference = adamax_step


def test_adamax_refuses_bad_options(seqkit_plugin_manager):
    cls = seqkit_plugin_manager.registry("optimizer").get("acme_adamax")
    with pytest.raises(ValueError, match="beta2"):
        cls(beta2=1.0)


def polynomial(t, base, total, warmup, power, min_lr):
    if t < warmup:
        return base * (t + 1) / warmup
    return min_lr + (base - min_lr) * (1 - min(1.0, (t - warmup) / (total - warmup))) ** power


@pytest.mark.parametrize(("warmup", "power", "min_lr"), [(0, 1.0, 0.0), (5, 2.0, 0.001), (3, 0.5, 0.0)])
def test_poly_schedule_follows_formula(seqkit_plugin_manager, warmup, power, min_lr):
    pm = seqkit_plugin_manager
    optimizer = pm.registry("optimizer").get("acme_adamax")(lr=0.1)
    plan = TrainingPlan(updates_per_epoch=10, epochs=3, mode="max")
    schedule = pm.registry("schedule").get("acme_poly").build(optimizer, plan, warmup=warmup, power=power,
                                                              min_lr=min_lr)
    for t in range(plan.total_updates + 3):
        assert math.isclose(schedule.lr_at(t), polynomial(t, 0.1, 30, warmup, power, min_lr), rel_tol=1e-12)
    assert math.isclose(schedule.lr_at(plan.total_updates), min_lr, abs_tol=1e-15)


def test_poly_schedule_refuses_a_warmup_longer_than_the_run(seqkit_plugin_manager):
    pm = seqkit_plugin_manager
    optimizer = pm.registry("optimizer").get("acme_adamax")()
    with pytest.raises(ValueError, match="shorter than the run"):
        pm.registry("schedule").get("acme_poly").build(optimizer, TrainingPlan(2, 2), warmup=4)
