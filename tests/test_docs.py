"""The documentation is tested so that it cannot rot.

- ``docs/recipes.md`` and ``docs/cli.md`` are generated (``python -m seqkit.docgen``) and must match the code.
- Every fenced ``python`` block in README.md and docs/*.md runs, except those that a ``<!-- file: PATH -->``
  comment just before the fence names as a file: those are written to PATH for the runnable commands.
- Every ``console`` block marked ``<!-- runnable -->`` runs, its ``$ `` lines as one bash script, in a scratch
  directory holding the document's files, with ``SEQKIT`` set to this checkout. ``pip install`` there installs
  into a throwaway virtual environment layered over this one, so the test environment is left as it was.
"""

from __future__ import annotations
import __future__

import dataclasses
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from seqkit import docgen

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?:<!-- (?P<marker>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M)


@dataclasses.dataclass
class Block:
    path: Path
    line: int
    lang: str
    body: str
    marker: str

    @property
    def file(self) -> str | None:
        return self.marker[len("file: ") :] if self.marker.startswith("file: ") else None

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return [Block(path, text.count("\n", 0, m.start("lang")) + 1, m["lang"], m["body"], m["marker"] or "")
            for m in FENCE.finditer(text)]  # fmt: skip


PYTHON = [b for path in DOCS for b in blocks(path) if b.lang == "python" and b.file is None]
RUNNABLE = [path for path in DOCS if any(b.marker == "runnable" for b in blocks(path))]


def test_generated_references_match_the_code():
    for path, text in docgen.references(ROOT).items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is out of date: run python -m seqkit.docgen"


def test_every_recipe_key_has_a_meaning():
    text = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    empty = [line for line in text.splitlines() if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not empty, f"recipe keys without a comment in their options dataclass: {empty}"


def test_every_command_line_argument_has_a_meaning():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    empty = [line for line in text.splitlines() if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not empty, f"arguments without help: {empty}"


def test_there_are_examples_to_run():
    assert len(PYTHON) >= 5 and RUNNABLE


@pytest.mark.parametrize("block", PYTHON, ids=str)
def test_python_block_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flags = __future__.annotations.compiler_flag  # signatures in docs name types they do not import
    exec(compile(block.body, str(block), "exec", flags=flags, dont_inherit=True), {"__name__": "docs_example"})


def _layered_venv(where: Path) -> Path:
    """A virtual environment that also sees every package of this one (a .pth file adds its site-packages)."""
    venv.create(where, with_pip=True)
    inner = Path(sysconfig.get_path("purelib", vars={"base": str(where), "platbase": str(where)}))
    (inner / "_outer_environment.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    return inner


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_runnable_console_blocks_run(path, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for block in blocks(path):
        if block.file:
            target = work / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
    inner = _layered_venv(tmp_path / "venv")
    path_dirs = [str(tmp_path / "venv" / "bin"), str(Path(sys.executable).parent), os.environ["PATH"]]
    env = {**os.environ, "SEQKIT": str(ROOT), "PYTHONPATH": str(inner), "PATH": os.pathsep.join(path_dirs)}
    for block in blocks(path):
        if block.marker != "runnable":
            continue
        commands = [line[2:] for line in block.body.splitlines() if line.startswith("$ ")]
        assert commands, f"{block}: a runnable block without $ lines"
        script = "set -euo pipefail\n" + "\n".join(f"echo '+ '{_quote(c)}\n{c}" for c in commands)
        done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{block} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
