"""Smoke runs of the side-by-side benchmarks at their smallest settings: they run and print their tables.
Nothing here checks a timing (benchmarks are run by hand, see ../shared/BENCHMARK.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "header"),
    [("lstm.py", "x floor"), ("train.py", "ms/step"), ("decode.py", "sentences/s"),
     ("transformer.py", "x floor"), ("mpi.py", "all-reduce share"),
     ("gpu.py --device cpu", "GPU timings on cpu"),  # on the CPU: every path of the script but the kernels
     ("serve.py", "sentences/s")],
)  # fmt: skip
def test_benchmark_quick_run_prints_its_table(script, header):
    name, *args = script.split()
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # about 10 s each on 2 idle cores; generous for a loaded machine
    )
    assert done.returncode == 0, done.stderr
    assert header in done.stdout
