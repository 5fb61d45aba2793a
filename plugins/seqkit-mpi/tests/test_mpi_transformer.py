"""The mpi updater with the ``transformer`` model: ``mpirun -n 2`` with half batches ends with one process's
weights (to floating-point rounding), as test_mpi.py checks for seq2seq."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from test_mpi import ROOT, log, mpirun, weights

MODEL = ('[model]\nname = "transformer"\nd_model = 16\nheads = 2\nencoder_layers = 2\ndecoder_layers = 2\n'
         'ffn_size = 32\ndropout = 0.0\nshare_embeddings = true\n\n')  # fmt: skip


def write_recipe(directory: Path) -> Path:
    """recipes/toy-reverse.toml with a small transformer as its model and the first 600 training pairs."""
    for split, n in (("train", 600), ("dev", 20), ("test", 20)):
        for side in ("src", "tgt"):
            lines = (ROOT / "recipes" / "toy-reverse" / f"{split}.{side}").read_text().splitlines()[:n]
            (directory / f"{split}.{side}").write_text("".join(line + "\n" for line in lines))
    recipe = re.sub(r"\[model\].*?\n\n", MODEL, (ROOT / "recipes" / "toy-reverse.toml").read_text(), flags=re.S)
    path = directory / "recipe.toml"
    path.write_text(recipe.replace('"toy-reverse/', '"'))
    return path


def test_a_transformer_on_two_processes_equals_one_process(tmp_path):
    recipe = write_recipe(tmp_path)
    settings = ["--set", "training.epochs=1", "--set", "training.log_every=2"]
    one, two = tmp_path / "one", tmp_path / "two"
    runs = {one: ["--set", "training.max_tokens=512"],
            two: ["--set", "training.max_tokens=256", "--set", "updater.name=mpi"]}  # fmt: skip
    for n, run in ((1, one), (2, two)):
        args = ["-m", "seqkit", "train", str(recipe), "--run-dir", str(run), "--no-progress", *settings, *runs[run]]
        done = mpirun(n, *args)
        assert done.returncode == 0, done.stderr
    assert "(2 processes)" in done.stdout
    a, b = weights(one), weights(two)
    assert a.keys() == b.keys() and any(".cross_attn." in k for k in a)
    D = 16
    for k in a:  # float32 sums in another order, through 7 Adam steps
        x, y = a[k].copy(), b[k].copy()
        keys = {"self_attn.b_qkv": slice(D, 2 * D), "cross_attn.b_kv": slice(0, D)}
        for name, part in keys.items():
            if k.endswith(name):
                # The key bias adds the same q.b to every score of a query: the softmax ignores it, its gradient
                # is rounding noise, which Adam scales up to steps of up to lr (0.003) each, in any direction.
                np.testing.assert_allclose(y[part], x[part], atol=7 * 0.003, err_msg=k)
                x[part] = y[part] = 0.0
        np.testing.assert_allclose(y, x, rtol=1e-3, atol=2e-5, err_msg=k)
    log_one, log_two = log(one), log(two)
    assert [e["iteration"] for e in log_two] == [e["iteration"] for e in log_one] != []
    for e1, e2 in zip(log_one, log_two):
        assert e2.get("loss") == pytest.approx(e1.get("loss"), rel=1e-4)
    assert log_two[-1]["val/loss"] == pytest.approx(log_one[-1]["val/loss"], rel=1e-4)
