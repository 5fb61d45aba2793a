"""The corpus and command plugins of docs/plugins.md, loaded from the very blocks the guide shows, and the
registry's checks of those kinds."""

import re
import textwrap
from pathlib import Path

import pytest

from seqkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "recipes" / "toy-reverse.toml"
FENCE = re.compile(r"^<!-- file: (?P<path>[^>]*?) -->\n```\w*\n(?P<body>.*?)^```$", re.S | re.M)


@pytest.fixture
def guide(tmp_path) -> Path:
    """A folder holding every file the guide shows (its ``<!-- file: PATH -->`` blocks), as the reader makes it."""
    for m in FENCE.finditer((ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")):
        target = tmp_path / m["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(m["body"], encoding="utf-8")
    return tmp_path


def test_the_guides_corpus_is_registered_and_verifies(guide, capsys):
    plugins = str(guide / "plugins")
    assert main(["--plugins-dir", plugins, "corpus", "verify", "numbers"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "corpus numbers: all 4 files verified"
    (guide / "plugins" / "numbers" / "test.en").write_text("four\nsix\n", encoding="utf-8")
    assert main(["--plugins-dir", plugins, "corpus", "verify", "numbers"]) != 0
    assert "test.en" in capsys.readouterr().err


def test_a_corpus_must_be_a_manifest(tmp_path, capsys):
    (tmp_path / "paths.py").write_text(textwrap.dedent("""
        from seqkit.plugins import hookimpl

        @hookimpl
        def seqkit_register_corpora(registry):
            registry.add("mine", "corpora/mine.toml")
    """))
    assert main(["--plugins-dir", str(tmp_path), "--strict-plugins", "corpus", "list"]) == 1
    err = capsys.readouterr().err
    assert "corpus 'mine' is a str object, not a seqkit.corpora.Manifest (read one with load_manifest(path))" in err


def test_the_guides_command_runs_on_a_trained_run(guide, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(TOY), "--run-dir", str(run), "--no-progress", "--set", "training.epochs=1"]) == 0
    capsys.readouterr()
    plugins, text = str(guide / "plugins"), ROOT / "recipes" / "toy-reverse" / "test.src"
    assert main(["--plugins-dir", plugins, "lengths", "--run", str(run), str(text)]) == 0
    lines = text.read_text().splitlines()
    longest = max(len(line.split()) for line in lines)  # toy-reverse's tokenizer splits at spaces
    out = capsys.readouterr().out
    assert out.startswith(f"{len(lines)} lines: median ") and out.endswith(f", longest {longest} tokens\n")
    assert main(["--plugins-dir", plugins, "lengths", "--run", str(run), str(tmp_path / "none.txt")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("seqkit lengths: error: ") and "none.txt: cannot read it" in err[0]


def test_a_command_without_a_run_function_leaves_its_plugin_out(tmp_path, capsys):
    (tmp_path / "norun.py").write_text(textwrap.dedent("""
        from seqkit.plugins import hookimpl

        @hookimpl
        def seqkit_register_commands(subparsers):
            subparsers.add_parser("norun", help="forgets set_defaults(run=...)")
    """))
    assert main(["--plugins-dir", str(tmp_path), "plugins"]) == 0
    captured = capsys.readouterr()
    assert "command 'norun' sets no run function (p.set_defaults(run=function))" in captured.err
    assert "  command: norun" not in captured.out.splitlines() and "norun (" in captured.out  # listed as broken
    assert main(["--plugins-dir", str(tmp_path), "norun"]) == 2  # not a verb: a usage error
    assert "seqkit: error: argument COMMAND: invalid choice: 'norun'" in capsys.readouterr().err
