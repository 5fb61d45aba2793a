"""The command line: the demo trains; bad input is one line and exit code 2; what starting it does to the
process."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seqkit.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_demo_trains_and_perplexity_falls(capsys):
    assert main(["demo", "--steps", "60"]) == 0
    out = capsys.readouterr().out
    found = [float(m) for m in re.findall(r"perplexity\s+([\d.]+)", out)]
    first, last = found[0], found[-1]
    assert first > 15 and last < first / 3, out


def test_bad_flag_value_is_one_line_and_exit_code_2(capsys):
    assert main(["demo", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--steps must be a positive integer" in err


def test_debug_shows_the_traceback():
    from seqkit.errors import UserError

    with pytest.raises(UserError):
        main(["--debug", "demo", "--steps", "0"])


def test_console_script_runs():
    exe = shutil.which("seqkit") or str(Path(sys.executable).with_name("seqkit"))
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("seqkit ")


MALLOPT_CALLS = """
import contextlib, ctypes, io, sys  # noqa: E401

calls = []


class Recording(ctypes.CDLL):  # counts the process's mallopt calls, whoever makes them
    def __getattr__(self, name):
        func = super().__getattr__(name)
        return (lambda *args: calls.append(args) or func(*args)) if name == "mallopt" else func


ctypes.CDLL = Recording
import seqkit, seqkit.data, seqkit.models, seqkit.plugins, seqkit.runs, seqkit.training  # noqa: E401

print(len(calls))


class Updater:
    iteration = 0

    def update(self):
        self.iteration += 1
        return {"loss": 0.0}


seqkit.training.Trainer(Updater(), (1, "iteration"), sys.argv[1]).run()
print(len(calls))
calls.clear()
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    from seqkit.cli import main

    main(["--version"])
print(len(calls))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("malloc", ["", "system"])
def test_import_leaves_malloc_alone_and_long_jobs_keep_freed_memory(tmp_path, monkeypatch, malloc):
    """``import seqkit`` changes nothing process-wide; ``Trainer.run`` and the command line set glibc's malloc
    thresholds (two ``mallopt`` calls), unless ``SEQKIT_MALLOC=system``."""
    monkeypatch.setenv("SEQKIT_MALLOC", malloc)
    script = tmp_path / "count.py"
    script.write_text(MALLOPT_CALLS)
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == (["0", "0", "0"] if malloc else ["0", "2", "2"]), out.stderr


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)
        assert all(p.grad is not None and p.grad.any() for p in namespace["cell"].params())


def _readme_block(marker: str) -> str:
    """The fenced block after ``<!-- marker -->`` in README.md."""
    match = re.search(rf"<!-- {marker} -->\n```\n(.*?)\n```", (ROOT / "README.md").read_text())
    assert match, f"README.md has no block after <!-- {marker} -->"
    return match[1]


def test_ci_runs_the_readme_test_command():
    cmd = _readme_block("test-command")
    assert cmd.endswith("pytest") and "pip install ./plugins/seqkit-example ./plugins/seqkit-mpi &&" in cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "README.md" in "\n".join(ci)
    assert cmd + " || exit" in ci  # verbatim
    main_job = _readme_block("main-command")
    assert main_job + " | tee .ci-main.out || exit" in ci


def test_code_is_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is part of the test extras; install with pip install -e '.[test]'")
    paths = ["seqkit", "tests", "benchmarks", "plugins"]
    result = subprocess.run([ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
