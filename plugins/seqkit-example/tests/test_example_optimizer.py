"""The Lion optimizer: seqkit's optimizer kit against a NumPy transcription of the paper's rule, the kit catching
planted bugs (so a pass means something), and Lion named by a recipe."""

import dataclasses
from pathlib import Path

import numpy
import pytest
from seqkit.recipes import load_recipe
from seqkit.registry import Registry
from seqkit.runs import build_optimizer
from seqkit.testing.optimizers import OptimizerCase, OptimizerTests

from seqkit_example.optimizer import Lion, LionOptions


def lion_step(p, g, state, t, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """One Lion step as the paper's Algorithm 2 writes it."""
    direction = numpy.sign(beta1 * state["exp_avg"] + (1 - beta1) * g)
    state["exp_avg"] = beta2 * state["exp_avg"] + (1 - beta2) * g
    return p * (1 - lr * weight_decay) - lr * direction


class TestLion(OptimizerTests):
    name = "lion"
    kwargs = {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.5}
    reference = lion_step


class TestLionDefaults(OptimizerTests):
    name = "lion"
    reference = lion_step


def test_every_step_moves_each_element_by_lr_without_decay():
    case = OptimizerCase("lion", lion_step, {"lr": 0.01})
    params = case.params()
    start = [p.data.copy() for p in params]
    case.run([Lion(lr=0.01).setup(params)], params, case.gradients(1))
    for p, p0 in zip(params, start):
        numpy.testing.assert_allclose(numpy.abs(p.data - p0), 0.01, rtol=1e-12)


def test_bad_hyperparameters_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^Lion: beta2 must be in \[0, 1\), got 1.0$"):
        Lion(beta2=1.0)
    with pytest.raises(ValueError, match=r"^Lion: weight_decay must be >= 0, got -0.1$"):
        Lion(weight_decay=-0.1)


def test_a_recipe_names_lion(seqkit_plugin_manager, tmp_path: Path):
    recipe_path = tmp_path / "lion.toml"
    recipe_path.write_text('schema = 2\n\n[optimizer]\nname = "lion"\nlr = 3e-4\nweight_decay = 0.1\n')
    recipe = load_recipe(recipe_path, registries=seqkit_plugin_manager.registry)
    assert recipe.optimizer == {"name": "lion", "lr": 3e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1}
    opt = build_optimizer(recipe, seqkit_plugin_manager)
    assert type(opt) is Lion and (opt.lr, opt.beta1, opt.beta2, opt.weight_decay) == (3e-4, 0.9, 0.99, 0.1)


# ---- planted bugs: each is a Lion with one mistake, and the kit must say so -------------------------------------
def planted(cls, options=LionOptions, **kwargs) -> OptimizerCase:
    """A case for ``cls`` registered as "lion" in a registry of its own."""
    registry = Registry("optimizer")
    registry.add("lion", cls, options=options)
    return OptimizerCase("lion", lion_step, {"lr": 0.01, "beta1": 0.8, "beta2": 0.95, **kwargs}, registry)


class SwappedBetas(Lion):
    """Interpolates with beta2 and decays the momentum with beta1: a wrong formula."""

    def coefficients(self) -> tuple:
        lr, decay, beta1, beta2 = super().coefficients()
        return (lr, decay, beta2, beta1)


class OwnStepCount(Lion):
    """Warms the learning rate up over three steps with a counter of its own, which state_dict() does not save."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps = 0

    def coefficients(self) -> tuple:
        self.steps += 1
        lr, decay, beta1, beta2 = super().coefficients()
        return (lr * min(1.0, self.steps / 3), decay, beta1, beta2)


class ChunkNormalised(Lion):
    """Scales the step by the largest gradient of the chunk: a reduction, so it depends on how the buffer is cut."""

    def update_chunk(self, xp, p, g, state, tmp, c) -> None:
        lr, decay, beta1, beta2 = c
        super().update_chunk(xp, p, g, state, tmp, (lr / max(1.0, float(xp.abs(g).max())), decay, beta1, beta2))


class FrozenLr(Lion):
    """Reads the learning rate given to the constructor, so a schedule's changes are ignored."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial_lr = self.lr

    def coefficients(self) -> tuple:
        return (self.initial_lr, *super().coefficients()[1:])


@dataclasses.dataclass
class MisspelledOptions(LionOptions):
    """A field the constructor does not take: a recipe setting it would make Lion(**options) fail."""

    weight_decay_rate: float = 0.0


def test_the_kit_passes_the_real_lion():
    planted(Lion).check_all()  # the planted cases below differ from this only by their bug


def test_the_kit_catches_a_wrong_formula():
    with pytest.raises(AssertionError, match=r"^optimizer 'lion': the optimizer vs the reference: parameter 0"):
        planted(SwappedBetas).check_reference()


def test_the_kit_catches_a_state_that_is_not_saved():
    with pytest.raises(AssertionError, match=r"^optimizer 'lion': resumed from state_dict\(\) vs uninterrupted: "):
        planted(OwnStepCount).check_state_round_trip()


def test_the_kit_catches_a_rule_that_is_not_element_wise():
    with pytest.raises(AssertionError, match=r"^optimizer 'lion': one optimizer per parameter vs one flat buffer: "):
        planted(ChunkNormalised).check_flat_parity()


def test_the_kit_catches_an_ignored_lr_change():
    with pytest.raises(AssertionError, match=r"^optimizer 'lion': with lr changed between steps, "):
        planted(FrozenLr).check_lr_changes()
    planted(FrozenLr).check_reference()  # with a constant lr the bug does not show


def test_the_kit_catches_options_that_do_not_match_the_constructor():
    with pytest.raises(AssertionError, match=r"^optimizer 'lion': options MisspelledOptions has fields .*_rate"):
        planted(Lion, MisspelledOptions).check_registered()
