"""The mpi updater and communicator, run for real: ``mpirun -n 2`` on this machine, through seqkit's CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from seqkit.training import load_checkpoint

ROOT = Path(__file__).resolve().parents[3]
TOY = ROOT / "recipes" / "toy-reverse.toml"
MPIRUN = shutil.which("mpirun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
SMALL = ["--set", "training.epochs=1", "--set", "evaluation.dev_sentences=40", "--set", "training.log_every=4"]


def mpirun(n: int, *args: str, timeout: float = 240, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert MPIRUN, "mpirun not found: install this plugin (it brings MPICH and mpi4py)"
    cmd = [MPIRUN, "-n", str(n), sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def train(n: int, run_dir: Path, *settings: str, timeout: float = 240) -> subprocess.CompletedProcess:
    args = ["-m", "seqkit", "train", str(TOY), "--run-dir", str(run_dir), "--no-progress", *settings]
    return mpirun(n, *args, timeout=timeout)


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    arrays, _ = load_checkpoint(run_dir / "checkpoints" / "last.npz")
    return {k: v for k, v in arrays.items() if k.startswith("model/")}


def log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_collectives_on_two_processes(tmp_path):
    script = tmp_path / "collectives.py"
    script.write_text(
        textwrap.dedent("""
        import json, sys
        import numpy as np
        from seqkit_mpi import MPICommunicator

        c = MPICommunicator()
        a = np.arange(4, dtype=np.float32) * (c.rank + 1)
        c.allreduce(a)
        b = np.full(3, c.rank, np.int64)
        c.bcast_array(b)
        out = [a.tolist(), b.tolist(), c.allgather(c.rank * 10), c.bcast(f"from {c.rank}"), c.any(c.rank == 1),
               c.any(False), c.size, c.local_rank == c.rank]
        c.barrier()
        with open(f"{sys.argv[1]}.{c.rank}", "w") as f:
            json.dump(out, f)
    """)
    )
    done = mpirun(2, str(script), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    expected = [[0.0, 3.0, 6.0, 9.0], [0, 0, 0], [0, 10], "from 0", True, False, 2, True]  # one machine
    assert [json.loads((tmp_path / f"out.{r}").read_text()) for r in (0, 1)] == [expected, expected]


@pytest.mark.slow
def test_two_processes_with_half_batches_equal_one_process_with_whole_batches(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    done = train(1, one, *SMALL, "--set", "training.max_tokens=512")
    assert done.returncode == 0, done.stderr
    done = train(2, two, *SMALL, "--set", "training.max_tokens=256", "--set", "updater.name=mpi")
    assert done.returncode == 0, done.stderr
    assert "(2 processes)" in done.stdout and done.stdout.count("test BLEU") == 1  # rank 0 alone reports
    a, b = weights(one), weights(two)
    assert a.keys() == b.keys()
    for k in a:  # float32 sums in another order, through 16 Adam steps
        np.testing.assert_allclose(b[k], a[k], rtol=1e-3, atol=2e-5, err_msg=k)
    log_one, log_two = log(one), log(two)
    assert [e["iteration"] for e in log_two] == [e["iteration"] for e in log_one] != []
    for e1, e2 in zip(log_one, log_two):  # the global loss and token counts: the whole batch's, every step
        assert e2["loss"] == pytest.approx(e1["loss"], rel=1e-4)
    assert log_two[-1]["val/loss"] == pytest.approx(log_one[-1]["val/loss"], rel=1e-4)  # all-reduced validation
    assert log_two[-1]["val/bleu"] == pytest.approx(log_one[-1]["val/bleu"], abs=2.0)


@pytest.mark.slow
def test_a_killed_two_process_run_resumes_exactly(tmp_path):
    settings = [*SMALL, "--set", "training.epochs=2", "--set", "training.snapshot_every=6", "--set",
                "updater.name=mpi", "--set", "training.max_tokens=256"]  # fmt: skip
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert train(2, straight, *settings).returncode == 0
    cmd = [MPIRUN, "-n", "2", sys.executable, "-m", "seqkit", "train", str(TOY), "--run-dir", str(killed),
           "--no-progress", *settings]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = killed / "checkpoints" / "snapshot_18.npz"  # in the middle of the second epoch
    deadline = time.time() + 200
    while not target.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # mpirun and both ranks at once
    proc.wait()
    assert not (killed / "results.json").exists(), "the run ended before it could be killed"
    done = train(2, killed, *settings, "--resume")
    assert done.returncode == 0, done.stderr
    assert "resumed from" in done.stdout
    a, b = weights(straight), weights(killed)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert [e["loss"] for e in log(killed)] == [e["loss"] for e in log(straight)]

    other = train(3, killed, *settings, "--resume")
    assert other.returncode == 2
    assert "written by a run of 2 process(es); resume it with mpirun -n 2" in other.stderr


def test_the_same_error_on_every_rank_is_shown_once(tmp_path):
    done = train(2, tmp_path / "run", "--set", "updater.name=mpi", "--set", "training.epoch=3")
    assert done.returncode == 2
    assert done.stderr.count("unknown key 'epoch'; did you mean 'epochs'?") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_one_failing_rank_ends_every_rank_with_its_error(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "failing_updater.py").write_text(
        textwrap.dedent("""
        from seqkit.errors import UserError
        from seqkit.plugins import hookimpl
        from seqkit_mpi import MPIUpdater

        class Failing(MPIUpdater):
            def update(self):
                if self.comm.rank == 1 and self.iteration == 3:
                    raise UserError("rank 1 cannot go on")
                return super().update()

        @hookimpl
        def seqkit_register_updaters(registry):
            registry.add("failing", Failing)
    """)
    )
    args = ["-m", "seqkit", "--plugins-dir", str(plugins), "train", str(TOY), "--run-dir", str(tmp_path / "run"),
            "--no-progress", *SMALL, "--set", "updater.name=failing"]  # fmt: skip
    start = time.time()
    done = mpirun(2, *args, timeout=120)
    assert done.returncode == 2 and time.time() - start < 60  # rank 0 was waiting in the all-reduce: no hang
    assert done.stderr.count("cannot go on") == 1 and "[rank 1] seqkit train: error: rank 1 cannot go on" in done.stderr


def test_ranks_running_different_recipes_are_stopped_at_start(tmp_path):
    run = str(tmp_path / "run")
    common = [sys.executable, "-m", "seqkit", "train", str(TOY), "--run-dir", run, "--no-progress", "--set",
              "updater.name=mpi"]  # fmt: skip
    cmd = [MPIRUN, "-n", "1", *common, "--set", "training.epochs=1", ":", "-n", "1", *common]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("the resolved recipe differs between rank 0 and rank(s) 1") == 1, done.stderr
    assert not (tmp_path / "run").exists()  # nothing written


def test_a_one_process_updater_under_mpirun_is_refused(tmp_path):
    done = train(2, tmp_path / "run", *SMALL)
    assert done.returncode == 2
    assert done.stderr.count("updater 'standard' trains in one process, but 2 were started") == 1


def test_the_mpi_updater_in_one_process_is_the_standard_one(tmp_path):
    one, mpi = tmp_path / "one", tmp_path / "mpi"
    assert train(1, one, *SMALL, "--set", "training.epochs=1").returncode == 0
    assert train(1, mpi, *SMALL, "--set", "training.epochs=1", "--set", "updater.name=mpi").returncode == 0
    a, b = weights(one), weights(mpi)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
