"""The Transformer with the rest of seqkit: resume after SIGKILL, checkpoint averaging, mixed precision and
attention output, each with a small ``transformer`` on a cut of the toy reversal task (seconds per run).
The MPI updater's check is in plugins/seqkit-mpi/tests/test_mpi_transformer.py."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqkit
import seqkit.random
from seqkit.cli import main
from seqkit.training import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
#: two layers and two heads each side, so that per-layer and per-head attention can be told apart
MODEL = ('[model]\nname = "transformer"\nd_model = 16\nheads = 2\nencoder_layers = 2\ndecoder_layers = 2\n'
         'ffn_size = 32\ndropout = 0.1\nshare_embeddings = true\n\n')  # fmt: skip
#: 600 training pairs at 512 tokens a batch: 7 updates an epoch
TRAIN_PAIRS = 600
PER_EPOCH = 7


def write_recipe(directory: Path, model: str = MODEL) -> Path:
    """recipes/toy-reverse.toml with ``model`` as its ``[model]`` and the first pairs of each split, in
    ``directory``; returns the recipe's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", TRAIN_PAIRS), ("dev", 20), ("test", 20)):
        for side in ("src", "tgt"):
            lines = (ROOT / "recipes" / "toy-reverse" / f"{split}.{side}").read_text().splitlines()[:n]
            (directory / f"{split}.{side}").write_text("".join(line + "\n" for line in lines))
    recipe = re.sub(r"\[model\].*?\n\n", model, (ROOT / "recipes" / "toy-reverse.toml").read_text(), flags=re.S)
    path = directory / "recipe.toml"
    path.write_text(recipe.replace('"toy-reverse/', '"'))
    return path


def train(recipe: Path, run: Path, *settings: str) -> int:
    return main(["train", str(recipe), "--run-dir", str(run), "--no-progress", *settings])


def log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run of two epochs with a snapshot every 3 updates (kept: the last 3)."""
    directory = tmp_path_factory.mktemp("trained")
    recipe = write_recipe(directory)
    run = directory / "run"
    assert train(recipe, run, "--set", "training.epochs=2", "--set", "training.snapshot_every=3") == 0
    return run


# ---- 1. bitwise resume after SIGKILL ----------------------------------------------------------------------
def test_sigkill_mid_epoch_and_resume_is_bitwise_an_uninterrupted_run(tmp_path, capsys):
    """Killed the moment snapshot_9.npz is complete (iteration 9, inside epoch 1 of 7 updates each, with dropout
    drawing from seqkit.random), then resumed: the final weights, optimizer moments and training state and the
    logged losses equal an uninterrupted run's bit for bit."""
    recipe = write_recipe(tmp_path)
    settings = ["--set", "training.epochs=2", "--set", "training.snapshot_every=3", "--set", "training.log_every=2"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert train(recipe, straight, *settings) == 0
    command = ["train", str(recipe), "--run-dir", str(killed), "--no-progress", *settings]
    proc = subprocess.run([sys.executable, "-m", "seqkit", *command], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SEQKIT_FAULTS": "snapshot@9:kill"})  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (killed / "results.json").exists()
    capsys.readouterr()
    assert train(recipe, killed, *settings, "--resume") == 0
    assert re.search(r"resumed from .* at iteration 9 \(epoch 1\)", capsys.readouterr().out)
    (a, meta_a), (b, meta_b) = (load_checkpoint(run / "checkpoints" / "last.npz") for run in (straight, killed))
    assert a.keys() == b.keys() and any(k.startswith("optimizer/") for k in a)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    keep = ("iteration", "updater", "optimizer", "schedule", "random", "extensions")
    assert {k: meta_a[k] for k in keep} == {k: meta_b[k] for k in keep}
    assert meta_b["iteration"] == 2 * PER_EPOCH
    expected, logged = log(straight), log(killed)
    assert [e["iteration"] for e in logged] == [e["iteration"] for e in expected]  # no line logged twice
    assert [e.get("loss") for e in logged] == [e.get("loss") for e in expected]


# ---- 2. checkpoint averaging --------------------------------------------------------------------------------
def test_average_the_last_two_snapshots_and_evaluate_with_them(trained, capsys):
    snapshots = [load_checkpoint(trained / "checkpoints" / f"snapshot_{i}.npz")[0] for i in (12, 14)]
    assert main(["average", "--run", str(trained), "--last", "2"]) == 0
    assert "averaged 2 snapshots (snapshot_14.npz, snapshot_12.npz)" in capsys.readouterr().out
    averaged, meta = load_checkpoint(trained / "checkpoints" / "averaged.npz")
    assert meta["averaged"] == ["snapshot_14.npz", "snapshot_12.npz"]
    assert averaged.keys() == {k for k in snapshots[0] if k.startswith("model/")}
    for k, v in averaged.items():
        assert v.dtype == np.float32, k
        np.testing.assert_allclose(v, (snapshots[0][k] + snapshots[1][k]) / 2, rtol=1e-6, atol=1e-7, err_msg=k)
    assert main(["evaluate", "--run", str(trained), "--checkpoint", "averaged", "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["sentences"] == 20 and math.isfinite(results["bleu"])


# ---- 3. mixed precision --------------------------------------------------------------------------------------
def test_mixed_precision_products_follow_float32_in_the_loss_and_gradients():
    """Under autocast the Transformer's products run in float16 (its loss differs from float32's by rounding,
    not more) while the weights and their gradients stay float32."""
    from seqkit.models.transformer import Transformer, TransformerOptions

    seqkit.random.seed(0)
    model = Transformer(20, 20, TransformerOptions(d_model=16, heads=2, encoder_layers=2, decoder_layers=2,
                                                   ffn_size=32, dropout=0.0))  # fmt: skip
    rng = np.random.default_rng(0)
    src = [rng.integers(4, 20, size=int(n)) for n in rng.integers(2, 9, size=6)]
    tgt = [s[::-1] for s in src]
    losses, grads = [], []
    for autocast in (None, "float16"):
        model.zero_grads()
        with seqkit.using_config("autocast", autocast):
            loss, _ = model.loss(src, tgt)
        loss.backward()
        losses.append(float(loss.data))
        grads.append({name: p.grad for name, p in model.named_params()})
    assert losses[0] != losses[1] and losses[1] == pytest.approx(losses[0], rel=1e-2)
    for name, p in model.named_params():
        assert p.data.dtype == np.float32 and grads[1][name].dtype == np.float32, name
        scale = np.abs(grads[0][name]).max() + 1e-3
        np.testing.assert_allclose(grads[1][name], grads[0][name], atol=2e-2 * scale, err_msg=name)


def test_mixed_precision_trains_a_transformer(tmp_path):
    recipe = write_recipe(tmp_path)
    run = tmp_path / "run"
    assert train(recipe, run, "--set", "training.epochs=2", "--set", "training.mixed_precision=true",
                 "--set", "training.log_every=2") == 0  # fmt: skip
    losses = [e["loss"] for e in log(run) if e.get("loss") is not None]
    assert losses and all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    arrays, meta = load_checkpoint(run / "checkpoints" / "last.npz")
    assert all(v.dtype == np.float32 for k, v in arrays.items() if k.startswith(("model/", "optimizer/")))
    scaler = meta["updater"]["scaler"]
    assert scaler["scale"] > 1 and scaler["good_steps"] >= 0


# ---- 5. attention weights: translate --attention and report --------------------------------------------------
def test_translate_attention_gives_every_layer_and_head(trained, tmp_path, seqkit_plugin_manager):
    """A transformer's --attention file holds per sentence (layers, heads, steps, source pieces): every decoder
    layer's cross-attention per head, its rows distributions over the source; the last layer's mean over heads
    is what the decoder reported while searching."""
    from seqkit.runs import Run

    sentences = [*(trained.parent / "dev.src").read_text().splitlines()[:3], "", "a b"]
    src = tmp_path / "in.txt"
    src.write_text("".join(s + "\n" for s in sentences))
    for suffix in (".npz", ".json"):
        out = tmp_path / f"a{suffix}"
        argv = ["translate", "--run", str(trained), "-i", str(src), "-o", str(tmp_path / "out.txt")]
        assert main([*argv, "--attention", str(out)]) == 0
        if suffix == ".npz":
            with np.load(out) as f:
                found = {k: f[k] for k in f.files}
        else:
            found = {k: np.asarray(v) for k, v in json.loads(out.read_text()).items()}
        assert sorted(found) == ["sentence_0", "sentence_1", "sentence_2", "sentence_4"]  # not the empty line
        results = Run.open(trained, seqkit_plugin_manager, "best").translate(sentences, keep_attention=True)
        for i in (0, 1, 2, 4):
            w, h = found[f"sentence_{i}"], results[i][0]
            assert w.shape == (2, 2, len(h.attention), len(sentences[i].split())), i
            np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)
            np.testing.assert_allclose(w[-1].mean(axis=0), h.attention, atol=1e-6)
            assert not np.allclose(w[:, 0], w[:, 1])  # the heads differ


def test_report_plots_attention_per_layer_and_head(trained, capsys, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    grids, subplots = [], plt.subplots

    def recording(*args, **kwargs):
        grids.append(args[:2])
        return subplots(*args, **kwargs)

    monkeypatch.setattr(plt, "subplots", recording)
    assert main(["report", str(trained), "--attention", "2"]) == 0
    written = {Path(p).name for p in capsys.readouterr().out.split()}
    assert {"attention_0.png", "attention_1.png"} <= written
    assert grids.count((2, 2)) == 2  # each sentence: a grid of decoder layers x heads
