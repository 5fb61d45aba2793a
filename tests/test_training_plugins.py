"""The updater and schedule plugins of docs/plugins.md, loaded from the very blocks the guide shows: they train
from a recipe by name, take their options from it, and resume exactly."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from seqkit.cli import main
from seqkit.training import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "recipes" / "toy-reverse.toml"


def _guide_file(name: str) -> str:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    return text.split(f"<!-- file: plugins/{name} -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"


@pytest.fixture
def plugins(tmp_path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name in ("gradient_noise.py", "linear_schedule.py"):
        (folder / name).write_text(_guide_file(name), encoding="utf-8")
    return folder


SETTINGS = ["--set", "training.epochs=1", "--set", "training.snapshot_every=4", "--set", "training.keep=100",
            "--set", "updater.name=gradient_noise", "--set", "updater.eta=0.001", "--set", "schedule.name=linear",
            "--set", "schedule.warmup=5", "--set", "evaluation.dev_sentences=20"]  # fmt: skip


def _train(plugins: Path, run: Path, *extra: str) -> int:
    return main(["--plugins-dir", str(plugins), "train", str(TOY), "--run-dir", str(run), "--no-progress", *extra])


def test_the_guides_updater_and_schedule_train_and_resume_exactly(plugins, tmp_path, capsys):
    straight = tmp_path / "straight"
    assert _train(plugins, straight, *SETTINGS) == 0
    saved = (straight / "recipe.toml").read_text()
    assert '[updater]\nname = "gradient_noise"\neta = 0.001\ngamma = 0.55\nseed = 0\n' in saved
    assert '[schedule]\nname = "linear"\nwarmup = 5\n' in saved
    _, meta = load_checkpoint(straight / "checkpoints" / "last.npz")
    total = meta["updater"]["iteration"]
    assert meta["schedule"]["t"] == total and meta["updater"]["random"]["bit_generator"] == "PCG64"
    lr = {e["iteration"]: e["lr"] for e in map(json.loads, (straight / "log.jsonl").read_text().splitlines())
          if "lr" in e}  # fmt: skip
    base = meta["schedule"]["base_lr"]  # the optimizer's lr in the recipe
    for t, value in lr.items():  # the rate of update t + 1: linear decay to zero at the run's end
        assert value == pytest.approx(base * (total - t) / (total - 5)), t
    # cut the run back to its snapshot at iteration 8 and resume: the noise's generator, the schedule and the
    # iterator continue where they were, so the weights end bitwise as the uninterrupted run's
    cut = tmp_path / "cut"
    shutil.copytree(straight, cut)
    for path in (cut / "checkpoints").iterdir():
        if path.name != "snapshot_8.npz":
            path.unlink()
    (cut / "results.json").unlink()
    assert _train(plugins, cut, *SETTINGS, "--resume") == 0
    assert "resumed from" in capsys.readouterr().out
    expected, _ = load_checkpoint(straight / "checkpoints" / "last.npz")
    resumed, _ = load_checkpoint(cut / "checkpoints" / "last.npz")
    assert sorted(expected) == sorted(resumed)
    for key in expected:
        assert np.array_equal(expected[key], resumed[key]), key


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("updater.eta=-1.0", "updater: eta and gamma must be >= 0, got -1.0 and 0.55"),
        ("updater.sigma=1.0", r"updater: unknown key 'sigma'; did you mean 'gamma'\? known keys: eta, gamma, seed"),
        ("schedule.warmup=100000", r"schedule 'linear': warmup \(100000\) must be shorter than the run"),
    ],
)
def test_the_guides_plugins_options_are_checked(plugins, tmp_path, capsys, override, message):
    settings = [*SETTINGS, "--set", override]
    assert _train(plugins, tmp_path / "run", *settings) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err


def test_an_updaters_arrays_are_saved_among_the_checkpoints_arrays(tmp_path):
    from seqkit.training import save_checkpoint
    from seqkit.training.checkpoints import join_arrays, split_arrays

    state = {"iteration": 3, "slow": {"0": np.arange(4.0), "1": np.ones((2, 2), np.float32)}, "note": [1, "a"]}
    arrays: dict = {}
    meta = split_arrays(state, "updater", arrays)
    assert sorted(arrays) == ["updater/slow/0", "updater/slow/1"]
    assert meta["slow"]["0"] == {"__array__": "updater/slow/0"}
    save_checkpoint(tmp_path / "c.npz", arrays, {"updater": meta})
    loaded_arrays, loaded_meta = load_checkpoint(tmp_path / "c.npz")
    back = join_arrays(loaded_meta["updater"], loaded_arrays)
    assert back["iteration"] == 3 and back["note"] == [1, "a"]
    assert all(np.array_equal(back["slow"][k], state["slow"][k]) and back["slow"][k].dtype == state["slow"][k].dtype
               for k in ("0", "1"))  # fmt: skip
