"""Training stopped at named points (``seqkit.faults``: a kill, one or two signals, a torn write) and run again:
what is saved is always a consistent state, what a checkpoint says about other files holds, and the resumed
run ends bit for bit where an uninterrupted one ends, with the same log and the same kept snapshots."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqkit.cli import main
from seqkit.io import DirectoryLock
from seqkit.training import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "recipes" / "toy-reverse.toml"
PER_EPOCH = 31  # updates in an epoch of the toy task at these settings
#: two epochs with dropout (the random state must resume too), a validation at the end of each, a snapshot every
#: 4 updates of which the 3 newest are kept, a log line every 5
SETTINGS = ["--set", "training.epochs=2", "--set", "model.dropout=0.2", "--set", "evaluation.dev_sentences=20",
            "--set", "training.snapshot_every=4", "--set", "training.keep=3",
            "--set", "training.log_every=5"]  # fmt: skip


def interruptible() -> None:
    """In a child before it runs: Ctrl-C as a terminal gives it, even where this process ignores SIGINT (a
    background job of a shell, nohup)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train(run: Path, *extra: str, faults: str = "") -> subprocess.CompletedProcess:
    """``seqkit train`` of the toy recipe with SETTINGS in a process of its own, with ``SEQKIT_FAULTS=faults``."""
    env = {**os.environ, "SEQKIT_FAULTS": faults}
    command = [sys.executable, "-m", "seqkit", "train", str(TOY), "--run-dir", str(run), "--no-progress", *SETTINGS]
    return subprocess.run([*command, *extra], env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=interruptible)  # fmt: skip


def checkpoint(run: Path, name: str) -> tuple[dict, dict]:
    return load_checkpoint(run / "checkpoints" / name)


def log_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The uninterrupted run every stopped one is compared with."""
    run = tmp_path_factory.mktemp("straight") / "run"
    done = train(run)
    assert done.returncode == 0, done.stderr
    return run


def assert_same_end(run: Path, straight: Path) -> None:
    """``run`` ended where ``straight`` ended: final state, best checkpoint, log and kept snapshots, bit for bit."""
    for name in ("last.npz", "best.npz"):
        (a, meta_a), (b, meta_b) = checkpoint(straight, name), checkpoint(run, name)
        assert a.keys() == b.keys(), name
        for k in a:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), (name, k)
        keep = ("iteration", "updater", "optimizer", "schedule", "random", "extensions")
        assert {k: meta_a[k] for k in keep} == {k: meta_b[k] for k in keep}, name
    mine, theirs = log_of(run), log_of(straight)
    assert [e["iteration"] for e in mine] == [e["iteration"] for e in theirs]  # nothing lost, nothing twice
    assert [e["loss"] for e in mine] == [e["loss"] for e in theirs]
    kept = sorted(p.name for p in (run / "checkpoints").glob("snapshot_*.npz"))
    assert kept == sorted(p.name for p in (straight / "checkpoints").glob("snapshot_*.npz"))


def resume(run: Path, straight: Path) -> str:
    done = train(run, "--resume")
    assert done.returncode == 0, done.stderr
    assert_same_end(run, straight)
    return done.stdout


def test_a_second_ctrl_c_inside_an_update_saves_nothing_of_it(straight, tmp_path):
    """Two SIGINTs inside the update to iteration 15 (parameters changed, iteration not yet counted): nothing of
    that state is saved, the message says so and names the newest checkpoint, and the resumed run is exact."""
    run = tmp_path / "run"
    done = train(run, faults="update@15:sigint,update@15:sigint")
    assert done.returncode == 130, done.stderr
    assert "stopped at once: nothing after iteration 12 is saved" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    _, meta = checkpoint(run, "last.npz")
    assert meta["iteration"] == 12 and meta["updater"]["iteration"] == 12
    assert "resumed from" in resume(run, straight)


def test_a_second_ctrl_c_while_a_checkpoint_is_written_waits_for_it(straight, tmp_path):
    run = tmp_path / "run"
    done = train(run, faults="checkpoint@8:sigint,checkpoint@8:sigint")
    assert done.returncode == 130, done.stderr
    assert "once the checkpoint being written is complete" in done.stderr
    assert "the state at iteration 8 is saved" in done.stderr, done.stderr
    assert os.path.samefile(run / "checkpoints" / "last.npz", run / "checkpoints" / "snapshot_8.npz")
    resume(run, straight)


def test_one_ctrl_c_or_sigterm_saves_the_iteration_and_keeps_the_same_snapshots(straight, tmp_path):
    """SIGINT in update 13 or SIGTERM in update 7: the iteration completes and is saved as last.npz alone (not
    as a numbered snapshot, so the kept set is the schedule's); exit 130 or 143; the resumed run is exact."""
    for faults, status, name in [("update@13:sigint", 130, "SIGINT"), ("update@7:sigterm", 143, "SIGTERM")]:
        run = tmp_path / name
        done = train(run, faults=faults)
        at = int(faults.split("@")[1].split(":")[0])
        assert done.returncode == status, done.stderr
        assert f"interrupted ({name}): the state at iteration {at} is saved" in done.stderr, done.stderr
        assert checkpoint(run, "last.npz")[1]["iteration"] == at
        assert not (run / "checkpoints" / f"snapshot_{at}.npz").exists()
        resume(run, straight)


def test_a_kill_between_a_snapshot_and_its_best_link_leaves_a_true_checkpoint(straight, tmp_path):
    """Killed when snapshot_31.npz (the first validation: a new best) is written, before best.npz and last.npz
    link to it: last.npz is still the previous snapshot, whose idea of the best is what best.npz holds."""
    run = tmp_path / "run"
    assert train(run, faults="checkpoint@31:kill").returncode == -signal.SIGKILL
    _, last = checkpoint(run, "last.npz")
    assert last["iteration"] == 28 and last["extensions"]["snapshot"]["best"] is None
    assert not (run / "checkpoints" / "best.npz").exists()
    resume(run, straight)
    _, best = checkpoint(run, "best.npz")
    assert best["extensions"]["snapshot"]["best"] is not None


def test_a_kill_during_the_tokenizer_save_leaves_a_run_that_starts_again(straight, tmp_path):
    run = tmp_path / "run"
    assert train(run, faults="tokenizer:kill").returncode == -signal.SIGKILL
    assert not (run / "tokenizer").exists()  # its parts are in a temporary folder beside it
    done = train(run)
    assert done.returncode == 0, done.stderr
    assert "holds no checkpoint yet: training starts afresh" in done.stdout
    assert not list(run.glob(".*.tmp"))
    assert_same_end(run, straight)


def test_a_torn_log_line_is_dropped_on_resume(straight, tmp_path):
    run = tmp_path / "run"
    assert train(run, faults="log@20:kill").returncode == -signal.SIGKILL
    assert not (run / "log.jsonl").read_bytes().endswith(b"\n")
    resume(run, straight)


def test_a_full_disk_stops_the_run_and_leaves_what_was_saved(straight, tmp_path):
    """ENOSPC in the middle of a log line (iteration 20): the command fails with the system's message in one
    line, nothing of the unfinished iteration is saved, and --resume continues exactly once there is room."""
    run = tmp_path / "run"
    done = train(run, faults="log@20:enospc")
    assert done.returncode == 1 and "No space left on device" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    assert checkpoint(run, "last.npz")[1]["iteration"] == 16
    resume(run, straight)


def test_stale_temporary_files_are_cleaned_when_training_starts_again(straight, tmp_path):
    run = tmp_path / "run"
    assert train(run, faults="update@10:kill").returncode == -signal.SIGKILL
    stale = run / "checkpoints" / ".last.npz.0123456789ab.tmp"
    stale.write_bytes(b"half a checkpoint")
    resume(run, straight)
    assert not stale.exists()


def test_a_second_process_on_a_run_directory_is_refused_naming_the_first(straight, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run, faults="update@10:kill").returncode == -signal.SIGKILL
    lock = DirectoryLock(run)  # this process plays the run still training
    try:
        done = train(run, "--resume")
        assert done.returncode == 2
        assert f"{run} is in use by pid {os.getpid()}" in done.stderr and done.stderr.count("\n") == 1
    finally:
        lock.release()
    resume(run, straight)


def test_a_directory_without_checkpoints_starts_afresh_even_for_another_recipe(straight, tmp_path):
    """A run that failed before its first checkpoint (here: killed in update 2, under another recipe) is no
    obstacle: training starts afresh, with a tokenizer of the new recipe."""
    run = tmp_path / "run"
    other = ["--set", "tokenizer.min_freq=2"]
    assert train(run, *other, faults="update@2:kill").returncode == -signal.SIGKILL
    done = train(run)
    assert done.returncode == 0, done.stderr
    assert "holds no checkpoint yet: training starts afresh" in done.stdout
    assert_same_end(run, straight)


def test_resume_with_every_checkpoint_unreadable_is_refused(straight, tmp_path):
    """Nothing is overwritten: the user decides (move them aside to start afresh)."""
    run = tmp_path / "run"
    assert train(run, faults="update@10:kill").returncode == -signal.SIGKILL
    for path in (run / "checkpoints").glob("*.npz"):
        path.write_bytes(b"not a checkpoint")
    done = train(run, "--resume")
    assert done.returncode == 2, done.stderr
    assert "can be read (see the warnings above): nothing to resume from" in done.stderr
    assert all(p.read_bytes() == b"not a checkpoint" for p in (run / "checkpoints").glob("*.npz"))


def test_a_bad_fault_plan_is_refused():
    from seqkit.faults import _parse

    assert _parse("update@3:sigint, log") == {"update": [(3, "sigint")], "log": [(1, "kill")]}
    with pytest.raises(ValueError, match="POINT"):
        _parse("update@x")
    with pytest.raises(ValueError, match="POINT"):
        _parse("update:explode")


def test_in_process_training_holds_the_lock_only_while_it_runs(tmp_path, monkeypatch):
    """While ``seqkit train`` trains (here: when its trainer starts), the run directory is locked; once the
    command is done, it is free again."""
    from seqkit.training import Trainer

    run, seen = tmp_path / "run", []
    start = Trainer.run

    def run_and_probe(trainer):
        try:
            DirectoryLock(run).release()
            seen.append("free")
        except BlockingIOError as e:
            seen.append(str(e))
        return start(trainer)

    monkeypatch.setattr(Trainer, "run", run_and_probe)
    quick = ["--set", "training.epochs=1", "--set", "evaluation.dev_bleu=false",
             "--set", "evaluation.monitor='val/loss'"]  # fmt: skip
    assert main(["train", str(TOY), "--run-dir", str(run), "--no-progress", *quick]) == 0
    assert seen == [f"{run} is in use by pid {os.getpid()}: {' '.join(sys.argv)}"]
    DirectoryLock(run).release()


def test_ctrl_c_while_the_command_line_loads_ends_it_quietly():
    """SIGINT at any moment of the start (NumPy, the plugins, the parser): no traceback, the status of an
    interrupted program."""
    import time

    interrupted = 0
    for delay in (0.1, 0.2, 0.3, 0.45):
        proc = subprocess.Popen([str(Path(sys.executable).parent / "seqkit"), "plugins"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            continue  # it was done before the signal came
        interrupted += 1
        assert proc.returncode in (130, -signal.SIGINT), (delay, proc.returncode, err)
        assert "Traceback" not in err, (delay, err)
    assert interrupted, "every start was over before its signal: nothing was tested"
