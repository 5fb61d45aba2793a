"""Recipes, the trainer and the train/translate/evaluate/average commands, on the toy-reverse task."""

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seqkit.cli import main
from seqkit.errors import UserError
from seqkit.plugins import get_plugin_manager
from seqkit.recipes import load_recipe
from seqkit.training import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "recipes" / "toy-reverse.toml"


def _registries():
    return get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""}).registry


# ---- recipes ----------------------------------------------------------------------------------------------
def _write(tmp_path, text):
    path = tmp_path / "r.toml"
    path.write_text("schema = 2\n" + text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[model]\nhiden_size = 3\n",
            r"r.toml: model: unknown key 'hiden_size'; did you mean 'hidden_size'\? known keys:",
        ),
        ("[training]\nepochs = 'ten'\n", r"r.toml: training.epochs: expected int, got str 'ten'"),
        ("[model]\nname = 'seq2sq'\n", r"r.toml: model.name: unknown model 'seq2sq'; did you mean 'seq2seq'\? known:"),
        ("[trainig]\nepochs = 1\n", r"r.toml: unknown section or key 'trainig'; did you mean 'training'\?"),
        ("[optimizer]\nname = 'adam'\nlr = true\n", r"optimizer.lr: expected float, got bool True"),
        ("[tokenizer]\njoint = 1\n", r"tokenizer.joint: expected bool, got int 1"),
    ],
)
def test_recipe_errors_name_the_file_key_and_expectation(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        load_recipe(_write(tmp_path, text), registries=_registries())


def test_a_recipe_path_that_is_a_directory_is_named(tmp_path, capsys):
    assert main(["train", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"seqkit train: error: {tmp_path}: a directory, not a recipe file (a .toml file)\n"


def test_recipe_schema_and_missing_file(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text("schema = 3\n")
    with pytest.raises(UserError, match=r"schema = 3; this seqkit reads schema = 2 \(and 1\)"):
        load_recipe(path, registries=_registries())
    with pytest.raises(UserError, match="no such recipe file"):
        load_recipe(tmp_path / "none.toml", registries=_registries())


def test_overrides_take_precedence_and_the_resolved_recipe_round_trips(tmp_path):
    overrides = ["training.epochs=7", "model.hidden_size=16", "optimizer.lr=0.01"]
    recipe = load_recipe(TOY, overrides, registries=_registries())
    assert (recipe.training.epochs, recipe.model["hidden_size"], recipe.optimizer["lr"]) == (7, 16, 0.01)
    assert recipe.model["embed_size"] == 32 and recipe.model["encoder"] == "lstm"  # recipe, then defaults
    resolved = tmp_path / "resolved.toml"
    resolved.write_text(recipe.to_toml())
    again = load_recipe(resolved, registries=_registries())
    assert again.to_toml() == recipe.to_toml()
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        load_recipe(TOY, ["epochs"], registries=_registries())


# ---- the commands, end to end -----------------------------------------------------------------------------
def _train(run_dir, *extra):
    return main(["train", str(TOY), "--run-dir", str(run_dir), "--no-progress", *extra])


def test_train_translate_evaluate_average(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run) == 0
    out = capsys.readouterr().out
    bleu = float(out.split("test BLEU = ")[1].split()[0])
    assert bleu > 80, out
    results = json.loads((run / "results.json").read_text())
    assert results["bleu"] == pytest.approx(bleu)
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert lines[0]["loss"] > lines[-1]["loss"] and "val/bleu" in lines[-1] and lines[-1]["grad_norm"] > 0
    assert {"iteration", "epoch", "perplexity", "lr", "tokens_per_s", "elapsed"} <= lines[0].keys()
    src = tmp_path / "in.txt"
    src.write_text("a b c d\n\nl k\n")
    assert main(["translate", "--run", str(run), "-i", str(src), "-o", str(tmp_path / "out.txt")]) == 0
    assert (tmp_path / "out.txt").read_text().splitlines() == ["d c b a", "", "k l"]
    gz = tmp_path / "in.txt.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    assert main(["translate", "--run", str(run), "-i", str(gz), "-o", str(tmp_path / "out2.txt")]) == 0
    assert (tmp_path / "out2.txt").read_text() == (tmp_path / "out.txt").read_text()
    assert (
        main(["translate", "--run", str(run), "-i", str(src), "--nbest", "2", "--attention", str(tmp_path / "a.npz")])
        == 0
    )
    nbest = capsys.readouterr().out.splitlines()
    assert nbest[0].startswith("0 ||| d c b a ||| ") and len(nbest) == 5  # an empty line: one empty hypothesis
    assert np.load(tmp_path / "a.npz")["sentence_0"].shape == (5, 4)
    assert main(["evaluate", "--run", str(run), "--split", "dev"]) == 0
    assert "dev: BLEU = " in capsys.readouterr().out
    assert main(["average", "--run", str(run), "--last", "2"]) == 0
    assert main(["evaluate", "--run", str(run), "--checkpoint", "averaged", "--format", "json"]) == 0
    # the run directory refuses a different recipe, and needs --resume for the same one
    assert _train(run, "--set", "training.epochs=1") == 2
    assert "holds a run of a different recipe" in capsys.readouterr().err
    assert _train(run) == 2
    assert "add --resume" in capsys.readouterr().err
    # a run made before a recipe key existed (its recipe.toml lacks it) still resumes, also on another device
    saved = run / "recipe.toml"
    saved.write_text("".join(line for line in saved.read_text().splitlines(True) if "mixed_precision" not in line))
    assert _train(run, "--resume", "--device", "cpu") == 0


def test_checkpoint_from_another_architecture_is_named(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--set", "training.epochs=1") == 0
    other = tmp_path / "other"
    assert _train(other, "--set", "training.epochs=1", "--set", "model.hidden_size=16") == 0
    capsys.readouterr()
    code = main(
        ["translate", "--run", str(run), "--checkpoint", str(other / "checkpoints" / "last.npz"), "-i", os.devnull]
    )
    assert code == 2
    assert "does not fit this run's model" in capsys.readouterr().err


def test_nan_guard_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    code = _train(
        run,
        "--set",
        'optimizer={name = "sgd", lr = 1e37}',
        "--set",
        "training.clip=0.0",
        "--set",
        "training.snapshot_every=1",
    )
    err = capsys.readouterr().err
    assert code == 1 and "became" in err and "last good checkpoint is kept" in err
    arrays, _meta = load_checkpoint(run / "checkpoints" / "last.npz")
    assert all(np.isfinite(v).all() for k, v in arrays.items() if k.startswith("model/"))


def _final_weights(run: Path) -> dict:
    arrays, _ = load_checkpoint(run / "checkpoints" / "last.npz")
    return {k: v for k, v in arrays.items() if k.startswith("model/")}


@pytest.mark.slow
def test_sigkill_mid_epoch_and_resume_gives_bitwise_identical_weights(tmp_path):
    settings = ["--set", "training.epochs=2", "--set", "training.snapshot_every=7", "--set", "model.dropout=0.2",
                "--set", "evaluation.dev_sentences=20"]  # fmt: skip
    straight = tmp_path / "straight"
    assert _train(straight, *settings) == 0
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "seqkit", "train", str(TOY), "--run-dir", str(killed), "--no-progress", *settings]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = killed / "checkpoints" / "snapshot_14.npz"  # the second snapshot, in the middle of epoch 1
    deadline = time.time() + 120
    while not target.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / "results.json").exists()
    assert _train(killed, *settings, "--resume") == 0
    a, b = _final_weights(straight), _final_weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    logged = [json.loads(line) for line in (killed / "log.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    assert [e["iteration"] for e in logged] == [e["iteration"] for e in expected]  # no line logged twice
    assert [e["loss"] for e in logged] == [e["loss"] for e in expected]


def test_resume_skips_a_corrupted_snapshot(tmp_path, capsys):
    run = tmp_path / "run"
    settings = ["--set", "training.epochs=1", "--set", "training.snapshot_every=10"]
    assert _train(run, *settings) == 0
    last = run / "checkpoints" / "last.npz"
    last.write_bytes(last.read_bytes()[:100])  # truncated
    capsys.readouterr()
    assert _train(run, *settings, "--resume") == 0
    captured = capsys.readouterr()
    assert "last.npz: not a readable seqkit checkpoint" in captured.err and "trying an older snapshot" in captured.err
    assert "resumed from" in captured.out and "snapshot_" in captured.out


def _rewrite(path: Path, change) -> None:
    """Save the checkpoint at ``path`` again after ``change(arrays, meta)``."""
    from seqkit.training import save_checkpoint

    arrays, meta = load_checkpoint(path)
    change(arrays, meta)
    meta.pop("format")
    save_checkpoint(path, arrays, meta)


def test_checkpoints_that_are_not_finite_or_not_seqkits_are_refused_naming_the_file(tmp_path, capsys):
    """NaN weights: translate and average refuse the file, resume falls back to an older snapshot; random bytes
    and pickled objects are "not a seqkit checkpoint" (never a hint to load them unsafely)."""
    run = tmp_path / "run"
    settings = ["--set", "training.epochs=1", "--set", "training.snapshot_every=10"]
    assert _train(run, *settings) == 0
    newest = max((run / "checkpoints").glob("snapshot_*.npz"), key=lambda p: int(p.stem.split("_")[1]))
    for path in (run / "checkpoints" / "last.npz", newest):  # the same state, linked
        _rewrite(path, lambda arrays, meta: arrays[next(k for k in arrays if k.startswith("model/"))].fill(np.nan))
    capsys.readouterr()
    assert main(["translate", "--run", str(run), "--checkpoint", "last", "-i", os.devnull]) == 2
    assert re.search(r"last.npz: model/\S+ holds NaN or infinite values", capsys.readouterr().err)
    assert main(["average", "--run", str(run), "--last", "5"]) == 2
    assert f"{newest.name}: model/" in capsys.readouterr().err
    assert _train(run, *settings, "--resume") == 0
    captured = capsys.readouterr()
    assert "holds NaN or infinite values; trying an older snapshot" in captured.err
    assert "resumed from" in captured.out and "snapshot_" in captured.out
    wide = tmp_path / "float64.npz"  # a snapshot someone converted: the model is float32
    wide.write_bytes((run / "checkpoints" / "best.npz").read_bytes())
    _rewrite(wide, lambda arrays, meta: arrays.update({k: v.astype(np.float64) for k, v in arrays.items()}))
    assert main(["translate", "--run", str(run), "--checkpoint", str(wide), "-i", os.devnull]) == 2
    assert re.search(r"float64.npz: does not fit this run's model: dtype mismatch for '\S+': expected float32, got "
                     "float64", capsys.readouterr().err)  # fmt: skip
    import secrets

    (tmp_path / "random.npz").write_bytes(secrets.token_bytes(4096))
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    for name in ("random.npz", "objects.npz"):
        assert main(["translate", "--run", str(run), "--checkpoint", str(tmp_path / name), "-i", os.devnull]) == 2
        err = capsys.readouterr().err
        assert f"{name}: not a seqkit checkpoint" in err and "allow_pickle" not in err, err


def test_resume_passes_over_a_checkpoint_that_does_not_fit(tmp_path, capsys):
    """A checkpoint that reads but whose state does not fit the run (no optimizer state, here) is named and
    passed over for the newest that fits; when none fits, resuming is refused."""
    run = tmp_path / "run"
    settings = ["--set", "training.epochs=1", "--set", "training.snapshot_every=10"]
    assert _train(run, *settings) == 0
    _rewrite(run / "checkpoints" / "last.npz", lambda arrays, meta: meta.pop("optimizer"))
    capsys.readouterr()
    assert _train(run, *settings, "--resume") == 0
    captured = capsys.readouterr()
    assert "last.npz: its state does not fit this run (KeyError: 'optimizer'); trying an older snapshot" in captured.err
    assert "resumed from" in captured.out and "snapshot_" in captured.out
    for path in (run / "checkpoints").glob("*.npz"):
        _rewrite(path, lambda arrays, meta: meta.pop("optimizer", None))
    assert _train(run, *settings, "--resume") == 2
    assert "no checkpoint in" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_stops_after_the_iteration_saves_and_resumes_exactly(tmp_path):
    settings = ["--set", "training.epochs=2", "--set", "training.log_every=5", "--set", "evaluation.dev_sentences=20"]
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert _train(straight, *settings) == 0
    cmd = [sys.executable, "-m", "seqkit", "train", str(TOY), "--run-dir", str(run), "--no-progress", *settings]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    deadline = time.time() + 120
    while not (run / "log.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert re.search(r"interrupted \(SIGINT\): the state at iteration \d+ is saved", err), err
    assert "--resume" in err and "Traceback" not in err
    _, meta = load_checkpoint(run / "checkpoints" / "last.npz")
    assert meta["iteration"] >= 5
    assert _train(run, *settings, "--resume") == 0
    a, b = _final_weights(straight), _final_weights(run)
    for k in a:  # the interrupted iteration was finished and saved whole: nothing skipped, nothing repeated
        assert np.array_equal(a[k], b[k]), k


def test_report_writes_curves_and_attention_heatmaps(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    assert _train(run, "--set", "training.epochs=2") == 0
    capsys.readouterr()
    assert main(["report", str(run), "--attention", "2"]) == 0
    written = capsys.readouterr().out.split()
    names = {Path(p).name for p in written}
    assert {"loss.png", "lr.png", "val_bleu.png", "val_loss.png", "attention_0.png", "attention_1.png"} <= names
    assert all(Path(p).read_bytes().startswith(b"\x89PNG") for p in written)


def test_report_without_matplotlib_says_how_to_install(tmp_path, monkeypatch, capsys):
    (tmp_path / "log.jsonl").write_text('{"iteration": 1, "loss": 2.0}\n')
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", str(tmp_path), "--attention", "0"]) == 2
    assert "pip install 'seqkit[plot]'" in capsys.readouterr().err


def test_a_failed_checkpoint_write_leaves_the_old_one_intact(tmp_path, monkeypatch):
    from seqkit.training import save_checkpoint

    path = tmp_path / "last.npz"
    save_checkpoint(path, {"model/w": np.ones(3)}, {"iteration": 1})

    def disk_full(f, **arrays):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"model/w": np.zeros(3)}, {"iteration": 2})
    monkeypatch.undo()
    arrays, meta = load_checkpoint(path)
    assert meta["iteration"] == 1 and arrays["model/w"].tolist() == [1.0, 1.0, 1.0]
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.eval_every=0", "training.eval_every must be an integer >= 1, got 0"),
        ("training.accumulate=4", r"training.accumulate is \[updater\] accumulate since schema 2"),
        ("training.schedule='cosine'", r"training.schedule is \[schedule\] name since schema 2"),
        ("updater.accumulate=4", r"updater: updater 'standard' takes no options, got accumulate"),
        ("schedule.warmup=4", r"schedule: schedule 'constant' takes no options, got warmup"),
        ("evaluation.monitor='val/blue'", r"toy-reverse.toml: evaluation.monitor 'val/blue': unknown metric "
         r"'blue'; did you mean 'bleu'\? known: bleu, chrf, ter"),
        ("evaluation.monitor='chrf'", r"evaluation.monitor 'chrf': expected 'val/loss' or 'val/NAME' with NAME a "
         r"registered metric \(bleu, chrf, ter\); did you mean 'val/chrf'\?"),
        ("evaluation.monitor='val/perplexity'", "unknown metric 'perplexity'"),
        ("evaluation.dev_bleu=false", "needs evaluation.dev_bleu = true"),
        ("decoding.length_penalty='wu'", "decoding: length_penalty 'wu': expected one of"),
        ("updater.name='standart'", "updater.name: unknown updater 'standart'; did you mean 'standard'"),
        ("schedule.name='cosin'", "schedule.name: unknown schedule 'cosin'; did you mean 'cosine'"),
    ],
)
def test_rules_between_recipe_keys_are_checked_before_anything_runs(tmp_path, override, message):
    with pytest.raises(UserError, match=message):
        load_recipe(TOY, [override], registries=_registries())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[updater]\nname = 'accumulate'\naccumulate = 0\n", "updater.accumulate must be an integer >= 1, got 0"),
        ("[schedule]\nname = 'inverse_sqrt'\nwarmup = 0\n", "schedule.warmup must be an integer >= 1, got 0"),
        ("[schedule]\nname = 'plateau'\nfactor = 1.5\n", r"schedule.factor must be in \(0, 1\), got 1.5"),
        ("[schedule]\nname = 'step'\nevery = 2\n", "schedule: unknown key 'every'; known keys: epochs, gamma"),
    ],
)
def test_component_options_are_checked_by_their_dataclass(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        load_recipe(_write(tmp_path, text), registries=_registries())


def test_a_schema_1_recipe_reads_as_schema_2(tmp_path):
    """Schema 1 kept the updater and the schedule in [training]: such recipes (and the run directories that saved
    them) load as the same schema 2 recipe."""
    old = tmp_path / "old.toml"
    old.write_text("schema = 1\n[training]\nupdater = 'accumulate'\naccumulate = 3\nschedule = 'plateau'\n"
                   "decay = 0.25\npatience = 6\nepochs = 4\n")  # fmt: skip
    recipe = load_recipe(old, ["training.decay_every=2"], registries=_registries())
    assert recipe.updater == {"name": "accumulate", "accumulate": 3}
    assert recipe.schedule == {"name": "plateau", "factor": 0.25, "patience": 3, "threshold": 0.0, "cooldown": 0,
                               "min_lr": 0.0}  # fmt: skip
    assert (recipe.training.patience, recipe.training.epochs) == (6, 4)
    new = tmp_path / "new.toml"
    new.write_text(recipe.to_toml())
    assert load_recipe(new, registries=_registries()).identity() == recipe.identity()
    for name, options in [("cosine", {"warmup": 7, "min_lr": 0.0}), ("step", {"gamma": 0.5, "epochs": 2}),
                          ("inverse_sqrt", {"warmup": 1}), ("constant", {})]:  # fmt: skip
        old.write_text(f"schema = 1\n[training]\nschedule = '{name}'\nwarmup = {options.get('warmup', 0)}\n"
                       "decay_every = 2\n")  # fmt: skip
        assert load_recipe(old, registries=_registries()).schedule == {"name": name, **options}


def test_a_bad_model_option_fails_before_the_run_directory_is_written(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--set", "model.bridge='copy'", "--set", "model.hidden_size=16") == 2
    assert "bridge 'copy' needs encoder state size 32 == hidden_size 16" in capsys.readouterr().err
    assert not run.exists()


def test_resuming_a_finished_run_trains_nothing_more(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, "--set", "training.epochs=1") == 0
    _, before = load_checkpoint(run / "checkpoints" / "last.npz")
    assert _train(run, "--set", "training.epochs=1", "--resume") == 0
    _, after = load_checkpoint(run / "checkpoints" / "last.npz")
    assert after["iteration"] == before["iteration"]


def test_the_accumulate_updater_ends_an_update_at_the_end_of_an_epoch(tmp_path, capsys):
    run = tmp_path / "run"
    settings = ["--set", "training.epochs=2", "--set", "updater.name='accumulate'", "--set",
                "updater.accumulate=4", "--set", "training.log_every=1000"]  # fmt: skip
    assert _train(run, *settings) == 0
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in lines] == [1, 2] and all("val/bleu" in e for e in lines)
    assert all(e["epoch_detail"] == e["epoch"] for e in lines)


# ---- a registered metric as evaluation.monitor ------------------------------------------------------------
FAST = ["--set", "training.epochs=2", "--set", "decoding.beam=1", "--set", "evaluation.dev_sentences=100"]


def _metric_plugins(tmp_path) -> Path:
    """A plugins folder: exact.py, the metric plugin of docs/plugins.md (its python block after
    ``<!-- example: metric plugin -->``), and exact_low.py, the same score declared lower-is-better: the model
    improves, so the two must pick different checkpoints, whatever the metrics are named."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = text.split("<!-- example: metric plugin -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "exact.py").write_text(example, encoding="utf-8")
    low = example.replace("higher_is_better = True", "higher_is_better = False").replace('"exact"', '"exact_low"')
    assert low.count("higher_is_better = False") == 1 and '"exact_low"' in low
    (folder / "exact_low.py").write_text(low, encoding="utf-8")
    return folder


def _best_iteration(entries: list[dict], key: str, higher_is_better: bool) -> int:
    """The iteration whose validation best.npz must hold: the first best value (a tie does not replace it)."""
    scored = [e for e in entries if key in e]
    best = (max if higher_is_better else min)(e[key] for e in scored)
    return next(e["iteration"] for e in scored if e[key] == best)


@pytest.mark.parametrize(("metric", "higher_is_better"), [("exact", True), ("exact_low", False)])
def test_a_registered_metric_selects_checkpoints_and_lands_in_the_results(tmp_path, capsys, metric,
                                                                          higher_is_better):  # fmt: skip
    run, plugins = tmp_path / "run", _metric_plugins(tmp_path)
    key = f"val/{metric}"
    assert main(["--plugins-dir", str(plugins), "train", str(TOY), "--run-dir", str(run), "--no-progress", *FAST,
                 "--set", f"evaluation.monitor='{key}'"]) == 0, capsys.readouterr().err  # fmt: skip
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    scored = [e for e in entries if key in e]
    assert len(scored) == 2 and all("val/bleu" in e for e in scored)
    # the direction decides: the other one would pick the other validation
    expected = _best_iteration(entries, key, higher_is_better)
    assert expected != _best_iteration(entries, key, not higher_is_better), scored
    _, best = load_checkpoint(run / "checkpoints" / "best.npz")
    assert best["iteration"] == expected
    # the final scores: the test set translated with best.npz and scored with the metric
    results = json.loads((run / "results.json").read_text())
    hyps = (run / "translations" / "test.txt").read_text(encoding="utf-8").splitlines()
    refs = (ROOT / "recipes" / "toy-reverse" / "test.tgt").read_text(encoding="utf-8").splitlines()
    assert results[metric] == pytest.approx(100 * sum(h == r for h, r in zip(hyps, refs)) / len(refs), abs=1e-4)
    assert results[f"{metric}_signature"] == "nrefs:1" and results["monitor"] == key
    assert {"bleu", "bleu_signature", "chrf", "chrf_signature"} <= results.keys()
    if higher_is_better:  # seqkit evaluate scores the monitored metric too
        capsys.readouterr()
        assert main(["--plugins-dir", str(plugins), "evaluate", "--run", str(run), "--split", "dev", "--format",
                     "json"]) == 0  # fmt: skip
        assert json.loads(capsys.readouterr().out)[metric] >= 0


@pytest.mark.slow
def test_a_builtin_lower_is_better_metric_selects_the_lowest(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run, *FAST, "--set", "evaluation.monitor='val/ter'") == 0
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    _, best = load_checkpoint(run / "checkpoints" / "best.npz")
    assert best["iteration"] == _best_iteration(entries, "val/ter", higher_is_better=False)
    results = json.loads((run / "results.json").read_text())
    assert results["monitor"] == "val/ter" and results["ter_signature"].startswith("nrefs:1|case:lc|tok:tercom")


def test_a_monitored_metric_is_checked_when_the_recipe_is_loaded(tmp_path, capsys):
    plugins = _metric_plugins(tmp_path)
    registries = get_plugin_manager(plugins_dir=plugins, environ={"SEQKIT_LOAD_PLUGINS": "exact"}).registry
    recipe = load_recipe(TOY, ["evaluation.monitor='val/exact'"], registries=registries)
    assert recipe.evaluation.monitor == "val/exact"
    with pytest.raises(UserError, match=r"evaluation.monitor 'val/exat': unknown metric 'exat'; did you mean 'exact'"):
        load_recipe(TOY, ["evaluation.monitor='val/exat'"], registries=registries)
    with pytest.raises(UserError, match=r"evaluation.monitor = 'val/exact' needs evaluation.dev_bleu = true"):
        load_recipe(TOY, ["evaluation.monitor='val/exact'", "evaluation.dev_bleu=false"], registries=registries)
    # without the plugin, seqkit train refuses the recipe in one line, before the run directory is written
    run = tmp_path / "run"
    assert _train(run, "--set", "evaluation.monitor='val/exact'") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "toy-reverse.toml: evaluation.monitor 'val/exact': unknown metric 'exact'" in err
    assert not run.exists()


def _toy_recipe_training_on(tmp_path: Path) -> Path:
    """The toy recipe, with ``tmp_path``'s train.src and train.tgt as its training data."""
    recipe = tmp_path / "r.toml"
    recipe.write_text(TOY.read_text().replace('train_files = ["toy-reverse/train.src", "toy-reverse/train.tgt"]',
                                              f'train_files = ["{tmp_path}/train.src", "{tmp_path}/train.tgt"]')
                      .replace('"toy-reverse/', f'"{TOY.parent}/toy-reverse/'))  # fmt: skip
    return recipe


def test_a_run_dir_that_is_a_file_and_empty_training_data_are_named(tmp_path, capsys):
    (tmp_path / "file").write_text("mine\n")
    assert _train(tmp_path / "file") == 2
    assert "file: not a directory" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine\n"
    for name in ("train.src", "train.tgt"):
        (tmp_path / name).write_text("")
    recipe = _toy_recipe_training_on(tmp_path)
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"r.toml: the training data {tmp_path}/train.src and {tmp_path}/train.tgt hold no sentence pairs" in err


def test_the_tokenizer_does_not_learn_from_pairs_max_len_drops(tmp_path):
    """A pair with more words on a side than data.max_len (every tokenizer gives a word a token at least) is
    dropped before the tokenizer is trained, as the model's data drops it: its words are not in the vocabulary."""
    from seqkit.tokenizers import TokenizerPair

    src = (TOY.parent / "toy-reverse" / "train.src").read_text()
    tgt = (TOY.parent / "toy-reverse" / "train.tgt").read_text()
    long = " ".join(f"zz{i}" for i in range(30))
    (tmp_path / "train.src").write_text(src + long + "\n")
    (tmp_path / "train.tgt").write_text(tgt + long + "\n")
    recipe = _toy_recipe_training_on(tmp_path)
    quick = ["--set", "training.epochs=1", "--set", "evaluation.dev_bleu=false",
             "--set", "evaluation.monitor='val/loss'"]  # fmt: skip
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run"), "--no-progress", *quick]) == 0
    vocab = TokenizerPair.load(tmp_path / "run" / "tokenizer", _registries()("tokenizer")).source.vocab
    assert "zz0" not in vocab.tokens and "a" in vocab.tokens
