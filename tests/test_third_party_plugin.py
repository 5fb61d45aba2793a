"""A third-party plugin package, used the way its author and its users would: tests/thirdparty/seqkit-acme, with one
component of every plugin kind, installed (not editable) into a fresh virtual environment layered over this one,
its own tests run there, its recipe trained, translated with its decoding strategy, scored with its metric, and its
command run, each through the installed `seqkit`."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent / "thirdparty" / "seqkit-acme"
KINDS = {
    "layer": ["acme_indrnn", "acme_cosine_attention"],
    "model": ["acme_compact"],
    "corpus": ["acme-shift"],
    "tokenizer": ["acme_bigrams"],
    "optimizer": ["acme_adamax"],
    "updater": ["acme_centralized"],
    "schedule": ["acme_poly"],
    "decoding_strategy": ["acme_best_of_n"],
    "metric": ["acme_char_accuracy"],
    "command": ["acme-stats"],
}
ALPHABET = set("abcdefghijkl")


def make_venv(root: Path) -> Path:
    """A virtual environment that sees this one's packages (seqkit, its dependencies, setuptools) through a .pth
    file, so nothing is downloaded; with a `seqkit` script of its own, so that `seqkit` runs its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    outer = sysconfig.get_paths()["purelib"]  # addsitedir, not a bare path: its .pth files (editable seqkit) count
    Path(purelib, "_seqkit_outer.pth").write_text(f"import site; site.addsitedir({outer!r})\n", encoding="utf-8")
    script = root / "bin" / "seqkit"
    script.write_text(f"#!{python}\nimport sys\n\nfrom seqkit.cli import main\n\nsys.exit(main())\n", encoding="utf-8")
    script.chmod(0o755)
    return python


@pytest.mark.slow
def test_third_party_plugin_package(tmp_path):
    pytest.importorskip("setuptools")
    venv = tmp_path / "venv"
    python = make_venv(venv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQKIT_") and k != "PYTHONPATH"}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv), PYTHONHASHSEED="0",
               XDG_CACHE_HOME=str(tmp_path / "cache"), PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")

    def run(*argv, cwd=tmp_path, timeout=300):
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    def ok(result):
        assert result.returncode == 0, f"{result.args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    # 1. Install a copy (building in place would write build/ and *.egg-info into the checkout).
    source = tmp_path / "seqkit-acme"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)]
    result = run(*install)
    if result.returncode and "bdist_wheel" in result.stdout + result.stderr:
        # setuptools before 70.1 builds wheels only with the 'wheel' package: bring it from the configured index
        if run(python, "-m", "pip", "install", "-q", "--no-deps", "wheel").returncode:
            pytest.skip("setuptools here needs the 'wheel' package to build a wheel, and it cannot be installed")
        result = run(*install)
    ok(result)
    shown = ok(run(python, "-m", "pip", "show", "-f", "seqkit-acme"))
    assert "Editable project location" not in shown and "seqkit_acme/corpus/acme-shift/train.src" in shown

    # 2. seqkit finds every component through the entry point, with no conflict and nothing broken.
    records = json.loads(ok(run("seqkit", "--strict-plugins", "plugins", "--json")))
    (acme,) = [r for r in records if r["name"] == "acme"]
    assert (acme["distribution"], acme["via"], acme["error"], acme["conflicts"]) == (
        "seqkit-acme", "entry point", None, [])
    assert {kind: sorted(names) for kind, names in acme["provides"].items()} == {
        kind: sorted(names) for kind, names in KINDS.items()}

    # 3. The package's own tests, against the installed package (the GPU checks skip without CUDA).
    out = ok(run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=source))
    summary = out.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 80 and "failed" not in summary and "error" not in summary, summary

    # 4. Train its recipe: its corpus, tokenizer, model and layers, optimizer, updater, schedule, strategy, metric.
    run_dir = tmp_path / "run"
    out = ok(run("seqkit", "--strict-plugins", "train", str(source / "recipes" / "acme.toml"),
                 "--run-dir", str(run_dir), "--no-progress"))
    assert "test BLEU = " in out
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["monitor"] == "val/acme_char_accuracy"
    assert "version:acme-0.1.0" in results["acme_char_accuracy_signature"]
    assert results["acme_char_accuracy"] > 50, results  # it learnt the task (about 99 on two CPU cores)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("val/acme_char_accuracy" in record for record in log)
    assert 100 <= log[-1]["iteration"] <= 400

    # 5. Translate a few test lines with its decoding strategy, and score them with its metric.
    corpus = source / "src" / "seqkit_acme" / "corpus" / "acme-shift"
    src, ref, hyp = tmp_path / "in.txt", tmp_path / "ref.txt", tmp_path / "out.txt"
    src.write_text("".join(corpus.joinpath("test.src").read_text(encoding="utf-8").splitlines(True)[:8]))
    ref.write_text("".join(corpus.joinpath("test.tgt").read_text(encoding="utf-8").splitlines(True)[:8]))
    ok(run("seqkit", "translate", "--run", str(run_dir), "--strategy", "acme_best_of_n", "--set", "decoding.n=4",
           "-i", str(src), "-o", str(hyp)))
    lines = hyp.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and all(line and set(line.split()) <= ALPHABET for line in lines), lines
    refused = run("seqkit", "translate", "--run", str(run_dir), "--strategy", "acme_best_of_n",
                  "--set", "decoding.n=2", "--nbest", "3", "-i", str(src))
    assert refused.returncode == 2 and "acme_best_of_n" in refused.stderr, refused.stderr
    out = ok(run("seqkit", "bleu", str(ref), "-i", str(hyp), "-m", "acme_char_accuracy"))
    score = re.fullmatch(r"\s*CharAcc\|nrefs:1\|case:mixed\|unit:char\|version:acme-0\.1\.0 = (\d+\.\d)\s*", out)
    assert score and 50 < float(score.group(1)) <= 100, out

    # 6. Its command, with good and bad input.
    out = ok(run("seqkit", "acme-stats", "--split", "test"))
    assert out.splitlines()[1:] == [
        "test.src: 60 lines, 330 tokens (12 types), 600 characters, tokens per line mean 5.50 max 8",
        "test.tgt: 60 lines, 330 tokens (12 types), 600 characters, tokens per line mean 5.50 max 8",
    ], out
    out = ok(run("seqkit", "acme-stats", str(hyp)))
    assert out.startswith(f"{hyp}: 8 lines, "), out
    bad = run("seqkit", "acme-stats", "--split", "valid")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "seqkit acme-stats: error: acme-shift has no split 'valid'; it has train, dev, test"), bad.stderr
