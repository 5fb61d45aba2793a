"""The cosine_restarts schedule (SGDR): its rates against a plain transcription of the paper's formula, its
build from a training plan, an exact resume from its state, and a recipe naming it."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from seqkit.errors import UserError
from seqkit.optim import TrainingPlan
from seqkit.recipes import load_recipe
from seqkit.runs import build_schedule

from seqkit_example.schedule import CosineRestarts, CosineRestartsOptions


def reference(base_lr, min_lr, cycle, mult, warmup, n):
    """The first ``n`` rates, cycle after cycle: warmup, then cycle i of cycle * mult ** i updates, each a half
    cosine (eq. 5 of the paper: eta_min + (eta_max - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2)."""
    rates = [base_lr * (t + 1) / warmup for t in range(warmup)]
    i = 0
    while len(rates) < n:
        T_i = cycle * mult**i
        rates += [min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * T_cur / T_i)) / 2 for T_cur in range(T_i)]
        i += 1
    return rates[:n]


def schedule(lr=0.1, **kwargs):
    return CosineRestarts(SimpleNamespace(lr=lr), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cycle": 4, "mult": 2, "min_lr": 0.01, "warmup": 3},
        {"cycle": 5, "mult": 1},
        {"cycle": 2, "mult": 3, "min_lr": 0.05},
        {"cycle": 1, "mult": 2, "min_lr": 0.1},  # min_lr = lr: constant
        {"cycle": 7, "mult": 2, "warmup": 1},
    ],
)
def test_lr_at_follows_the_papers_formula(kwargs):
    s = schedule(**kwargs)
    expected = reference(0.1, kwargs.get("min_lr", 0.0), kwargs["cycle"], kwargs["mult"], kwargs.get("warmup", 0), 300)
    assert [s.lr_at(t) for t in range(300)] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_cycle_boundaries_and_midpoints():
    s = schedule(cycle=4, mult=2, min_lr=0.02, warmup=2)  # cycles start at updates 2, 6, 14, 30
    assert [s.lr_at(t) for t in (0, 1)] == [0.05, 0.1]  # warmup: base_lr * (t + 1) / warmup
    for start, length in ((2, 4), (6, 8), (14, 16), (30, 32)):
        assert s.lr_at(start) == 0.1  # a restart: the full rate
        assert s.lr_at(start + length // 2) == pytest.approx(0.06)  # halfway down: (lr + min_lr) / 2
        last = 0.02 + 0.08 * (1 + math.cos(math.pi * (length - 1) / length)) / 2
        assert s.lr_at(start + length - 1) == pytest.approx(last)  # the last update of the cycle, near min_lr
        assert s.position(start) == (int(math.log2(length // 4)), 0, length)


def test_equal_cycles_far_into_a_run():
    s = schedule(cycle=10, mult=1, min_lr=0.0)
    t = 10**9 + 5  # halfway through a cycle
    assert s.position(t) == (10**8, 5, 10) and s.lr_at(t) == pytest.approx(0.05)


def test_step_sets_the_optimizers_rate():
    optimizer = SimpleNamespace(lr=0.1)
    s = CosineRestarts(optimizer, cycle=3, mult=2, warmup=2)
    assert optimizer.lr == s.lr_at(0) == 0.05
    for t in range(1, 20):
        s.step()
        assert s.t == t and optimizer.lr == s.lr_at(t)


def test_build_counts_the_first_cycle_in_epochs():
    plan = TrainingPlan(updates_per_epoch=25, epochs=6)
    s = CosineRestarts.build(SimpleNamespace(lr=0.003), plan, epochs=2, mult=2, min_lr=1e-4, warmup=10)
    assert (s.cycle, s.mult, s.min_lr, s.warmup, s.base_lr) == (50, 2, 1e-4, 10, 0.003)
    assert s.lr_at(10) == s.lr_at(60) == 0.003  # restarts after the warmup and after the first 2 epochs
    with pytest.raises(ValueError, match=r"^warmup \(150\) must be shorter than the run \(150 updates\)$"):
        CosineRestarts.build(SimpleNamespace(lr=0.003), plan, epochs=1, mult=1, min_lr=0.0, warmup=150)


def test_bad_values_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^CosineRestarts: cycle must be at least 1 update, got 0$"):
        schedule(cycle=0)
    with pytest.raises(ValueError, match=r"^CosineRestarts: min_lr must be in \[0, lr\] = \[0, 0.1\], got 0.2$"):
        schedule(cycle=3, min_lr=0.2)
    with pytest.raises(ValueError, match=r"^epochs and mult must be at least 1, got 1 and 0$"):
        CosineRestartsOptions(mult=0)
    with pytest.raises(ValueError, match=r"^min_lr and warmup must be >= 0, got 0.0 and -1$"):
        CosineRestartsOptions(warmup=-1)


def test_a_fresh_schedule_continues_from_the_state():
    first = schedule(lr=0.02, cycle=6, mult=2, min_lr=0.001, warmup=4)
    for _ in range(17):
        first.step()
    state = json.loads(json.dumps(first.state_dict()))  # what a snapshot keeps: JSON
    assert state == {"t": 17, "base_lr": 0.02}
    # On resume the optimizer comes back with the rate it had, not the base rate: the state restores that.
    optimizer = SimpleNamespace(lr=first.optimizer.lr)
    second = CosineRestarts(optimizer, cycle=6, mult=2, min_lr=0.001, warmup=4)
    second.load_state_dict(state)
    assert optimizer.lr == first.optimizer.lr
    for _ in range(60):
        first.step()
        second.step()
        assert (second.t, optimizer.lr) == (first.t, first.optimizer.lr)


def test_a_recipe_names_it(seqkit_plugin_manager, tmp_path: Path):
    assert seqkit_plugin_manager.registry("schedule").get("cosine_restarts") is CosineRestarts
    path = tmp_path / "sgdr.toml"
    path.write_text('schema = 2\n\n[optimizer]\nlr = 0.004\n\n[schedule]\nname = "cosine_restarts"\nepochs = 2\n'
                    "warmup = 5\n")  # fmt: skip
    recipe = load_recipe(path, registries=seqkit_plugin_manager.registry)
    assert recipe.schedule == {"name": "cosine_restarts", "epochs": 2, "mult": 2, "min_lr": 0.0, "warmup": 5}
    optimizer = SimpleNamespace(lr=0.004)
    s = build_schedule(recipe, optimizer, TrainingPlan(updates_per_epoch=30, epochs=4), seqkit_plugin_manager)
    assert type(s) is CosineRestarts and (s.cycle, s.mult, s.warmup, s.base_lr) == (60, 2, 5, 0.004)

    too_long = load_recipe(path, ["schedule.warmup=200"], registries=seqkit_plugin_manager.registry)
    with pytest.raises(UserError, match=r"warmup \(200\) must be shorter than the run \(120 updates\)$") as e:
        build_schedule(too_long, optimizer, TrainingPlan(updates_per_epoch=30, epochs=4), seqkit_plugin_manager)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("mult", "0", "epochs and mult must be at least 1, got 1 and 0"),
    ("min_lr", "-0.5", "min_lr and warmup must be >= 0, got -0.5 and 0"),
    ("mult", "1.5", "mult: expected int, got float 1.5"),
])  # fmt: skip
def test_a_bad_option_is_a_one_line_recipe_error(seqkit_plugin_manager, tmp_path: Path, key, value, problem):
    path = tmp_path / "bad.toml"
    path.write_text(f'schema = 2\n\n[schedule]\nname = "cosine_restarts"\n{key} = {value}\n')
    with pytest.raises(UserError) as e:
        load_recipe(path, registries=seqkit_plugin_manager.registry)
    message = str(e.value)
    assert "\n" not in message and message.startswith(str(path)) and message.endswith(problem), message
