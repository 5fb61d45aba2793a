"""The lookahead updater: seqkit's updater kit, a NumPy reference, a recipe naming it, and bugs planted in
copies of it that the kit must catch."""

import inspect
import textwrap
from pathlib import Path

import numpy as np
import pytest
import seqkit.functions as F
from seqkit.core.autograd import Parameter
from seqkit.layers import Layer
from seqkit.optim import SGD
from seqkit.testing.updaters import UpdaterCase, UpdaterTests, write_task
from seqkit.training import StandardUpdater

from seqkit_example.updater import Lookahead, LookaheadOptions


class TestLookahead(UpdaterTests):
    name = "lookahead"
    options = {"k": 3}  # the slow weights move every 3 updates: each check's run crosses several such moves


def test_found_by_name(seqkit_plugin_manager):
    entry = seqkit_plugin_manager.registry("updater").entry("lookahead")
    assert entry.obj is Lookahead and entry.options is LookaheadOptions and entry.plugin == "example"


@pytest.mark.parametrize(("options", "message"), [({"k": 0}, "k must be a positive"), ({"alpha": 0.0}, "alpha must"),
                                                  ({"alpha": 1.5}, r"alpha must be in \(0, 1\], got 1.5")])  # fmt: skip
def test_options_out_of_range_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        LookaheadOptions(**options)


# ---- against a NumPy reference on least squares --------------------------------------------------------------


class LeastSquares(Layer):
    """``loss(x, y)``: the mean of ``(x @ w - y) ** 2``, with its count of rows."""

    def __init__(self, w: np.ndarray) -> None:
        super().__init__()
        self.w = Parameter(w.copy())

    def loss(self, x, y):
        r = F.matmul(x, self.w) - y
        return F.mean(r * r), len(x)


class Batch:
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.src, self.tgt = x, y

    def __len__(self) -> int:
        return len(self.src)


class Batches:
    """An endless iterator over fixed batches (one epoch is all of them)."""

    def __init__(self, batches: list[Batch]) -> None:
        self.batches, self.position, self.epoch, self.is_new_epoch = batches, 0, 0, False

    def __next__(self) -> Batch:
        batch = self.batches[self.position]
        self.position = (self.position + 1) % len(self.batches)
        self.is_new_epoch = self.position == 0
        self.epoch += self.is_new_epoch
        return batch

    def state_dict(self) -> dict:
        return {"position": self.position, "epoch": self.epoch}


def test_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 2))
    batches = [Batch(rng.standard_normal((6, 4)), rng.standard_normal((6, 2))) for _ in range(5)]
    lr, k, alpha, steps = 0.05, 3, 0.4, 11
    model = LeastSquares(w0)
    updater = Lookahead(Batches(batches), model, SGD(lr).setup(model), k=k, alpha=alpha)
    fast, slow = w0.copy(), w0.copy()
    for t in range(1, steps + 1):
        batch = batches[(t - 1) % len(batches)]
        residual = batch.src @ fast - batch.tgt
        fast -= lr * 2 * batch.src.T @ residual / residual.size  # the gradient of the mean of squares
        if t % k == 0:
            slow += alpha * (fast - slow)
            fast = slow.copy()
        updater.update()
        np.testing.assert_allclose(model.w.data, fast, rtol=1e-12, atol=1e-12, err_msg=f"step {t}")
    np.testing.assert_allclose(updater.state_dict()["slow"]["0"], slow.ravel(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(slow, w0) and not np.allclose(fast, slow)  # steps % k != 0: the two differ


def test_a_recipe_trains_with_it(tmp_path):
    from seqkit.cli import main
    from seqkit.training import load_checkpoint

    recipe = write_task(tmp_path / "task", "lookahead", {"k": 3})
    assert 'name = "lookahead"\nk = 3' in recipe.read_text()
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    assert (tmp_path / "run" / "results.json").exists()
    arrays, meta = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.npz")
    assert "k = 3\nalpha = 0.5" in (tmp_path / "run" / "recipe.toml").read_text()
    assert meta["updater"]["slow"] == {"0": {"__array__": "updater/slow/0"}}
    assert arrays["updater/slow/0"].shape == (sum(v.size for k, v in arrays.items() if k.startswith("model/")),)


# ---- planted bugs: each copy of lookahead breaks one rule, and the kit's check for it fails ------------------


class Faithful(Lookahead):
    pass


class ForgetsTheSlowWeights(Lookahead):
    def state_dict(self):
        state = super().state_dict()
        del state["slow"]
        return state

    def load_state_dict(self, state):
        StandardUpdater.load_state_dict(self, state)


class KeepsItsOptionsInTheState(Lookahead):
    def state_dict(self):
        return {**super().state_dict(), "options": self.options}

    def load_state_dict(self, state):
        super().load_state_dict({k: v for k, v in state.items() if k != "options"})


class KeepsTheSlowWeightsInAList(Lookahead):
    def state_dict(self):
        return {**super().state_dict(), "slow": [s.copy() for s in self.slow]}

    def load_state_dict(self, state):
        super().load_state_dict({**state, "slow": {str(i): a for i, a in enumerate(state["slow"])}})


class CountsNoIterations(Lookahead):
    def finish_step(self):
        self.optimizer.update()
        if self.schedule is not None:
            self.schedule.step()


class ReturnsNoTokens(Lookahead):
    def update(self):
        result = super().update()
        del result["tokens"]
        return result


class TakesNoAlpha(Lookahead):
    def __init__(self, iterator, model, optimizer, schedule=None, *, k=5):
        super().__init__(iterator, model, optimizer, schedule, k=k)


PLUGIN = """\
from seqkit.plugins import hookimpl
from seqkit.training import StandardUpdater
from seqkit_example.updater import Lookahead, LookaheadOptions

{source}

@hookimpl
def seqkit_register_updaters(registry):
    registry.add("planted", {name}, options=LookaheadOptions)
"""


def planted(cls: type, tmp_path: Path) -> UpdaterCase:
    """A case for ``cls`` (a class of this file) registered as ``planted`` by a plugin file in ``tmp_path``: the
    resume check's subprocess finds it there too."""
    folder = tmp_path / "plugins"
    folder.mkdir(parents=True)
    source = textwrap.dedent(inspect.getsource(cls))
    (folder / "planted_updater.py").write_text(PLUGIN.format(source=source, name=cls.__name__))
    return UpdaterCase("planted", {"k": 3}, plugins_dir=folder)


PLANTED = {  # the buggy copy, the check, what the failure says
    "slow weights not saved, round trip": (
        ForgetsTheSlowWeights, "state_round_trip", r"load_state_dict: update \d+ after the restore: array 'model/",
    ),
    "a dataclass in the state": (
        KeepsItsOptionsInTheState, "state_round_trip",
        r"state_dict\(\)\['options'\] is a LookaheadOptions, neither JSON-able nor a NumPy array",
    ),
    "arrays in a list": (
        KeepsTheSlowWeightsInAList, "state_round_trip", r"state_dict\(\)\['slow'\]\[0\] is an array inside a list",
    ),
    "iterations not counted": (
        CountsNoIterations, "update", r"after 1 update\(\) calls iteration is 0; each update\(\) counts one",
    ),
    "no tokens": (
        ReturnsNoTokens, "update", r"update\(\) must return loss, tokens and sentences; got \['loss', 'sentences'\]",
    ),
    "an option not taken": (TakesNoAlpha, "options", r"the constructor does not take the options \['alpha', 'k'\]"),
}  # fmt: skip


@pytest.mark.parametrize("bug", PLANTED)
def test_the_kit_catches_a_planted_bug(bug, tmp_path):
    cls, check, message = PLANTED[bug]
    getattr(planted(Faithful, tmp_path / "good"), f"check_{check}")(tmp_path / "good")  # lookahead passes it
    with pytest.raises(AssertionError, match=f"^updater 'planted': .*{message}") as info:
        getattr(planted(cls, tmp_path / "bad"), f"check_{check}")(tmp_path / "bad")
    assert "\n" not in str(info.value)


def test_the_kit_catches_forgotten_slow_weights_on_resume(tmp_path):
    """Killed mid-epoch and resumed, the copy that does not save its slow weights restarts them from the initial
    weights: the run ends elsewhere than an uninterrupted one."""
    with pytest.raises(AssertionError, match=r"^updater 'planted': killed after snapshot_\d+\.npz and resumed at "
                       r"iteration \d+ .*: the final checkpoint's array 'model/.*' differs") as info:  # fmt: skip
        planted(ForgetsTheSlowWeights, tmp_path).check_resume_after_kill(tmp_path / "run")
    assert "\n" not in str(info.value)
