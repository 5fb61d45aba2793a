"""seqkit.testing.updaters: seqkit's own updaters pass the kit, and what it refuses in an updater's state."""

from typing import ClassVar

import numpy as np
import pytest

from seqkit.testing.updaters import UpdaterCase, UpdaterTests, state_problem


class SlowResumeTests(UpdaterTests):
    """The kit, its resume check marked slow (three training runs in subprocesses: several seconds)."""

    @pytest.mark.slow
    def test_resume_after_kill(self, case, tmp_path):
        super().test_resume_after_kill(case, tmp_path)


class TestStandard(SlowResumeTests):
    name = "standard"


class TestAccumulate(SlowResumeTests):
    name = "accumulate"
    options: ClassVar[dict] = {"accumulate": 3}  # an epoch's last update takes fewer batches


@pytest.mark.parametrize(
    "state",
    [
        {"iteration": 3, "iterator": {"epoch": 0, "seed": None, "bounds": [1, 2.5, "x", True]}},
        {"w": np.zeros(3), "nested": {"deeper": {"v": np.ones((2, 2), np.float32)}, "n": 1}, "empty": {}},
    ],
)
def test_states_a_checkpoint_holds(state):
    assert state_problem(state) is None


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ([1, 2], "state_dict() is a list, not a dict"),
        ({1: 2}, "state_dict() has the key 1, a int; JSON keys are str"),
        ({"a": {"b": {3}}}, "state_dict()['a']['b'] is a set, neither JSON-able nor a NumPy array"),
        ({"n": np.int64(3)}, "state_dict()['n'] is a NumPy int64; use int() or float(), or a 0-d array"),
        ({"s": [np.zeros(2)]}, "state_dict()['s'][0] is an array inside a list; keep arrays as values of dicts"),
        ({"s": [{"w": np.zeros(2)}]}, "state_dict()['s'][0]['w'] is an array inside a list; keep arrays as values"),
        ({"s": ({"k": 1.0}, {2: 0})}, "state_dict()['s'][1] has the key 2, a int; JSON keys are str"),
    ],
)
def test_states_a_checkpoint_cannot_hold(state, problem):
    assert state_problem(state).startswith(problem)


PLANTED = """\
from seqkit.plugins import hookimpl
from seqkit.training import StandardUpdater


class ForgetsTheIteration(StandardUpdater):
    def load_state_dict(self, state):
        self.iterator.load_state_dict(state["iterator"])


class SkipsTheOptimizer(StandardUpdater):
    def finish_step(self):
        self.iteration += 1


@hookimpl
def seqkit_register_updaters(registry):
    registry.add("forgets_the_iteration", ForgetsTheIteration)
    registry.add("skips_the_optimizer", SkipsTheOptimizer)
"""


@pytest.mark.parametrize(
    ("name", "check", "message"),
    [
        (
            "forgets_the_iteration",
            "state_round_trip",
            r"update 1 after the restore: state/updater/iteration \(8 vs 1\) differs",
        ),
        ("skips_the_optimizer", "update", "an epoch of updates left every parameter of the model unchanged"),
    ],
)
def test_the_kit_catches_a_planted_bug(tmp_path, name, check, message):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "planted_updaters.py").write_text(PLANTED)
    case = UpdaterCase(name, plugins_dir=tmp_path / "plugins")
    with pytest.raises(AssertionError, match=f"^updater {name!r}: .*{message}") as info:
        getattr(case, f"check_{check}")(tmp_path / "run")
    assert "\n" not in str(info.value)


def test_unknown_names_and_options_are_named(tmp_path):
    with pytest.raises(AssertionError, match=r"^updater 'standrd': not found in the updater registry"):
        UpdaterCase("standrd").check_registered()
    with pytest.raises(AssertionError, match=r"test case: \['acumulate'\] are not fields of AccumulateOptions"):
        UpdaterCase("accumulate", {"acumulate": 2}).check_options(tmp_path)
