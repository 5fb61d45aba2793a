"""Every bad value is refused up front: one line naming the recipe file and key (or the flag) and what was
expected, exit status 2, no traceback, before anything is written.

Recipe keys declare their ranges in their fields' metadata (``seqkit.ranges``), checked when a recipe is
read; a model's parameters are estimated from its options and a model too large for the machine is refused then
too. Flags declare their ranges as their argparse type (``seqkit.cli.flags.number``). Names that become folders
(a recipe's, a corpus manifest's) are single path components.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
from pathlib import Path

import pytest

from seqkit import corpora
from seqkit.cli import main
from seqkit.cli.flags import number
from seqkit.errors import UserError
from seqkit.models import (
    RNNLM,
    RNNLMOptions,
    Seq2Seq,
    Seq2SeqOptions,
    Transformer,
    TransformerLM,
    TransformerLMOptions,
    TransformerOptions,
)
from seqkit.plugins import get_plugin_manager
from seqkit.plugins.manager import KINDS
from seqkit.ranges import contains, expected
from seqkit.recipes import (
    DataOptions,
    DecodingOptions,
    EvaluationOptions,
    TrainingOptions,
    build_options,
    load_recipe,
)

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "recipes" / "toy-reverse.toml"
TRANSFORMER = ROOT / "recipes" / "multi30k-de-en-transformer.toml"
#: what a training run in a test leaves out: dev BLEU at every validation
QUICK = ["--set", "evaluation.dev_bleu=false", "--set", "evaluation.monitor='val/loss'"]


@pytest.fixture(scope="module")
def pm():
    return get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""})


def refused(recipe: Path, *overrides: str, pm) -> str:
    """The one-line message ``load_recipe`` refuses ``recipe`` with, given ``overrides``."""
    with pytest.raises(UserError) as e:
        load_recipe(recipe, list(overrides), registries=pm.registry)
    assert "\n" not in str(e.value)
    return str(e.value)


def minimal_recipe(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "minimal.toml"
    path.write_text(f'schema = 2\n\n[model]\nname = "{model}"\n', encoding="utf-8")
    return path


# ---- recipe keys -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("recipe", "override", "message"),
    [
        (TOY, "decoding.max_len_offset=-100", "decoding.max_len_offset must be an integer >= 0, got -100"),
        (TOY, "decoding.max_len_ratio=-1", "decoding.max_len_ratio must be a number >= 0, got -1"),
        (TOY, "decoding.batch_size=-2", "decoding.batch_size must be an integer >= 1, got -2"),
        (TOY, "evaluation.dev_sentences=-1", "evaluation.dev_sentences must be an integer >= 0, got -1"),
        (TOY, "training.patience=-1", "training.patience must be an integer >= 0, got -1"),
        (TOY, "training.clip=-0.5", "training.clip must be a number >= 0, got -0.5"),
        (TOY, "training.seed=-1", "training.seed must be an integer >= 0, got -1"),
        (TOY, "data.max_len=0", "data.max_len must be an integer >= 1, got 0"),
        (TOY, "model.embed_size=0", "model.embed_size must be an integer >= 1, got 0"),
        (TOY, "model.hidden_size=-64", "model.hidden_size must be an integer >= 1, got -64"),
        (TOY, "model.encoder_layers=0", "model.encoder_layers must be an integer >= 1, got 0"),
        (TOY, "model.decoder_layers=0", "model.decoder_layers must be an integer >= 1, got 0"),
        (TOY, "model.dropout=1.0", "model.dropout must be in [0, 1), got 1.0"),
        (TOY, "model.dropout=-0.1", "model.dropout must be in [0, 1), got -0.1"),
        (TRANSFORMER, "model.ffn_size=0", "model.ffn_size must be an integer >= 1, got 0"),
        (TRANSFORMER, "model.decoder_layers=-1", "model.decoder_layers must be an integer >= 1, got -1"),
        (TRANSFORMER, "model.attention_dropout=1.5", "model.attention_dropout must be in [0, 1), got 1.5"),
    ],
)  # fmt: skip
def test_a_value_out_of_its_declared_range_names_the_file_and_key(pm, recipe, override, message):
    assert refused(recipe, override, pm=pm) == f"{recipe}: {message}"


@pytest.mark.parametrize(("model", "key"), [("rnnlm", "layers"), ("transformer_lm", "layers"),
                                            ("rnnlm", "hidden_size"), ("transformer_lm", "d_model")])  # fmt: skip
def test_every_models_sizes_are_checked(pm, tmp_path, model, key):
    recipe = minimal_recipe(tmp_path, model)
    assert refused(recipe, f"model.{key}=0", pm=pm) == f"{recipe}: model.{key} must be an integer >= 1, got 0"


def test_outputs_of_one_token_are_refused(pm):
    message = refused(TOY, "decoding.max_len_ratio=0", "decoding.max_len_offset=0", pm=pm)
    assert message == f"{TOY}: decoding: max_len_ratio and max_len_offset are both 0: every output would be one " \
                      "token long"  # fmt: skip
    assert load_recipe(TOY, ["decoding.max_len_ratio=0"], registries=pm.registry).decoding["max_len_offset"] == 10


OWN_OPTIONS = [DataOptions, TrainingOptions, DecodingOptions, EvaluationOptions, Seq2SeqOptions, RNNLMOptions,
               TransformerOptions, TransformerLMOptions]  # fmt: skip


def test_every_numeric_key_declares_a_range_that_holds_its_default(pm):
    """seqkit's recipe sections and every component seqkit registers (models, optimizers, schedules, updaters,
    tokenizers, decoding strategies) declare a range for every int and float key; every declaration, a
    plugin's included, is an interval that holds the key's default."""
    components = [e.options for kind in KINDS for e in pm.registry(kind).entries() if e.options is not None]
    own = [cls for cls in components if cls.__module__.startswith("seqkit.")]
    assert len(own) >= 12, own
    for cls in {*OWN_OPTIONS, *own}:
        types = {f.name: f.type if isinstance(f.type, str) else f.type.__name__ for f in dataclasses.fields(cls)}
        numeric = [f for f in dataclasses.fields(cls) if types[f.name].replace(" | None", "") in ("int", "float")]
        undeclared = [f.name for f in numeric if "range" not in f.metadata]
        assert not undeclared, f"{cls.__name__}: {undeclared}"
    for cls in {*OWN_OPTIONS, *components}:
        for f in dataclasses.fields(cls):
            if "range" in f.metadata and f.default is not None:
                assert contains(f.metadata["range"], f.default), f"{cls.__name__}.{f.name}"


@dataclasses.dataclass
class PluginOptions:
    """A plugin's options: ranges declared as plain metadata, without importing seqkit."""

    rate: float = dataclasses.field(default=0.5, metadata={"range": "(0, 1]"})
    steps: int | None = dataclasses.field(default=None, metadata={"range": "[1, inf)"})


def test_any_options_dataclass_declares_ranges_as_plain_metadata():
    with pytest.raises(UserError, match=r"^r\.toml: model\.rate must be in \(0, 1\], got 0$"):
        build_options(PluginOptions, {"rate": 0}, "r.toml: model")
    with pytest.raises(UserError, match=r"^r\.toml: model\.steps must be an integer >= 1, got 0$"):
        build_options(PluginOptions, {"steps": 0}, "r.toml: model")
    assert build_options(PluginOptions, {"rate": 1, "steps": None}, "r.toml: model") == PluginOptions(1, None)


def test_intervals_in_words_and_a_malformed_declaration():
    assert expected("[1, inf)", True) == "an integer >= 1"
    assert expected("(0, inf)", False) == "a number > 0"
    assert expected("(-inf, 10]", True) == "an integer <= 10"
    assert expected("[0, 1)", False) == "in [0, 1)"
    assert contains("(0, 1]", 1) and not contains("(0, 1]", 0) and not contains("[0, 1)", float("nan"))
    with pytest.raises(ValueError, match=r"range '1\.\.5' is not an interval"):
        contains("1..5", 3)


# ---- models ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Seq2Seq(8, 8, Seq2SeqOptions(hidden_size=0)), "model.hidden_size must be an integer >= 1, got 0"),
        (lambda: Seq2Seq(8, 8, Seq2SeqOptions(dropout=1.0)), "model.dropout must be in [0, 1), got 1.0"),
        (lambda: RNNLM(8, RNNLMOptions(layers=0)), "model.layers must be an integer >= 1, got 0"),
        (lambda: Seq2Seq(8, 8, Seq2SeqOptions(hidden_size=8, attention="multi_head_attention", attention_heads=3)),
         "model.attention = 'multi_head_attention', model.attention_heads = 3: MultiHeadAttention: d_model=8 must be "
         "a multiple of n_heads=3"),
    ],
)  # fmt: skip
def test_a_model_built_from_python_names_the_option(build, message):
    with pytest.raises(UserError) as e:
        build()
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (Seq2Seq, Seq2SeqOptions(embed_size=8, hidden_size=12, encoder_layers=2, decoder_layers=3)),
        (Seq2Seq, Seq2SeqOptions(embed_size=8, hidden_size=8, bidirectional=False, encoder_layers=1, encoder="gru",
                                 decoder="gru", decoder_layers=1, tie_embeddings=True, attention="dot_attention")),
        (RNNLM, RNNLMOptions(embed_size=8, hidden_size=12, layers=3)),
        (RNNLM, RNNLMOptions(embed_size=8, hidden_size=8, layers=1, rnn="gru", tie_embeddings=True)),
        (Transformer, TransformerOptions(d_model=8, heads=2, ffn_size=16, encoder_layers=2, decoder_layers=3)),
        (Transformer, TransformerOptions(d_model=8, heads=2, ffn_size=16, encoder_layers=1, decoder_layers=1,
                                         share_embeddings=True, positions="learned", max_positions=40)),
        (TransformerLM, TransformerLMOptions(d_model=8, heads=2, ffn_size=16, layers=2, positions="learned")),
    ],
)  # fmt: skip
def test_the_parameter_estimate_is_a_close_lower_bound(pm, cls, options):
    model = cls.build(options, source_vocab=13, target_vocab=13, pad_id=0, bos_id=2, eos_id=3,
                      layers=pm.registry("layer"))  # fmt: skip
    real = sum(p.data.size for p in model.params())
    assert real / 8 <= cls.parameter_count(options, source_vocab=13, target_vocab=13) <= real


@pytest.mark.parametrize(
    ("recipe", "overrides", "count"),
    [
        (TOY, ["model.hidden_size=1000000"], "at least 4e+12 parameters (14.6 TiB of float32 weights) from "),
        (TRANSFORMER, ["model.d_model=1000000"], "at least 3.6e+13 parameters (131.0 TiB of float32 weights) from "),
        (TRANSFORMER, ["model.positions='learned'", "model.max_positions=1000000000"], "at least 5.12e+11 parameters"),
    ],
)  # fmt: skip
def test_a_model_too_large_for_memory_is_refused_naming_its_sizes(pm, recipe, overrides, count):
    message = refused(recipe, *overrides, pm=pm)
    key = overrides[-1].replace("=", " = ")
    assert message.startswith(f"{recipe}: model: {count}") and key in message and "more than this machine's" in message


def test_the_memory_limit_is_the_machines(pm, monkeypatch):
    load_recipe(TOY, [], registries=pm.registry)  # the toy model fits
    monkeypatch.setattr("seqkit.recipes.memory_limit", lambda: 1000)
    message = refused(TOY, pm=pm)
    assert "model: at least 2.36e+04 parameters (92.0 KiB of float32 weights)" in message
    assert message.endswith("; more than this machine's 1000 bytes of memory")


# ---- recipe names ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["'../../escaped'", "'/tmp/abs'", "'a/b'", "'a\\\\b'", "'..'", "'.'", "''", "5"])
def test_a_recipe_name_is_one_path_component(pm, name):
    message = refused(TOY, f"name={name}", pm=pm)
    assert message.startswith(f"{TOY}: name ") and "expected one path component (the run directory" in message


def test_train_writes_nothing_for_a_name_that_leaves_runs(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["train", str(TOY), "--no-progress", "--set", "name='../../escaped'", "--set", "training.epochs=1",
                 *QUICK]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name '../../escaped': expected one path component" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and not any(work.iterdir())


# ---- seqkit train ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hidden_size=0"], f"{TOY}: model.hidden_size must be an integer >= 1, got 0"),
        (["model.dropout=1.5"], f"{TOY}: model.dropout must be in [0, 1), got 1.5"),
        (["model.hidden_size=1000000"], f"{TOY}: model: at least 4e+12 parameters"),
        (["model.attention='multi_head_attention'", "model.attention_heads=3"], "model.attention_heads = 3: "),
        (["optimizer.lr=-1.0"], f"{TOY}: optimizer.lr must be a number >= 0, got -1.0"),
        (["optimizer.beta2=1.0"], f"{TOY}: optimizer.beta2 must be in [0, 1), got 1.0"),
        (["tokenizer.min_freq=0"], f"{TOY}: tokenizer.min_freq must be an integer >= 1, got 0"),
        (["tokenizer.name='sentencepiece'", "tokenizer.vocab_size=100"],
         f"{TOY}: sentencepiece tokenizer: vocab_size must be at least 261, got 100"),
    ],
)  # fmt: skip
def test_train_refuses_a_bad_model_option_in_one_line_before_writing(tmp_path, capsys, overrides, message):
    sets = [arg for o in overrides for arg in ("--set", o)]
    code = main(["train", str(TOY), "--run-dir", str(tmp_path / "run"), "--no-progress", *sets])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("seqkit train: error: ") and message in err, err
    assert not any(tmp_path.iterdir())


# ---- corpus manifests ----------------------------------------------------------------------------------------------
def write_manifest(folder: Path, name: str, url: str = "") -> Path:
    sha = hashlib.sha256(b"hallo\n").hexdigest()
    urls = f'"{url}"' if url else ""
    path = folder / "corpus.toml"
    path.write_text(f"""format = 1
name = '{name}'
languages = ["de", "en"]
license = "test"
attribution = "test"
redistributable = true
bundled = false
[splits.train]
pairs = 1
de = {{ path = "a.de", sha256 = "{sha}", urls = [{urls}] }}
en = {{ path = "a.en", sha256 = "{sha}", urls = [{urls}] }}
""", encoding="utf-8")  # fmt: skip
    return path


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs", "a/b", "a\\b", "..", ".", ""])
def test_a_manifest_name_is_one_path_component(tmp_path, name):
    path = write_manifest(tmp_path, name)
    with pytest.raises(UserError) as e:
        corpora.load_manifest(path)
    assert str(e.value).startswith(f"{path}: name {name!r}: expected one path component (the folder NAME of ")


def test_corpus_verify_download_writes_nothing_outside_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.delenv("SEQKIT_OFFLINE", raising=False)
    source = tmp_path / "source.txt"
    source.write_bytes(b"hallo\n")
    manifest = write_manifest(tmp_path, "../../escaped", source.as_uri())
    assert main(["corpus", "verify", str(manifest), "--download"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name '../../escaped': expected one path component" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.toml", "source.txt"]  # no cache/../../escaped


# ---- flags ---------------------------------------------------------------------------------------------------------
def exit_status_and_output(capsys, argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)``'s exit status, whether returned or argparse's ``SystemExit``, and its output and errors."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


RUN = "RUN_DIR"  # replaced by a folder that does not exist: a flag is refused before the run is opened


@pytest.mark.parametrize(
    ("argv", "flag", "message"),
    [
        (["translate", "--run", RUN, "--batch-size", "-2"], "--batch-size", "must be an integer >= 1, got -2"),
        (["translate", "--run", RUN, "--batch-size", "0"], "--batch-size", "must be an integer >= 1, got 0"),
        (["translate", "--run", RUN, "--batch-size", "two"], "--batch-size", "expected an integer >= 1, got 'two'"),
        (["translate", "--run", RUN, "--beam", "0"], "--beam", "must be an integer in [1, 1000], got 0"),
        (["translate", "--run", RUN, "--beam", "1000000000"], "--beam", "must be an integer in [1, 1000], got "
         "1000000000"),
        (["translate", "--run", RUN, "--nbest", "0"], "--nbest", "must be an integer in [1, 1000], got 0"),
        (["translate", "--run", RUN, "--strategy", "sampling", "--nbest", "1000000000"], "--nbest",
         "must be an integer in [1, 1000], got 1000000000"),
        (["translate", "--run", RUN, "--alpha", "-1"], "--alpha", "must be a number >= 0, got -1"),
        (["translate", "--run", RUN, "--alpha", "nan"], "--alpha", "must be a number >= 0, got nan"),
        (["translate", "--run", RUN, "--buffer-size", "-1"], "--buffer-size", "must be an integer >= 0, got -1"),
        (["evaluate", "--run", RUN, "--beam", "-3"], "--beam", "must be an integer in [1, 1000], got -3"),
        (["score", "--run", RUN, "-s", "a", "-t", "b", "--batch-size", "0"], "--batch-size",
         "must be an integer >= 1, got 0"),
        (["average", "--run", RUN, "--last", "-1"], "--last", "must be an integer >= 1, got -1"),
        (["report", RUN, "--attention", "-1"], "--attention", "must be an integer >= 0, got -1"),
        (["serve", "--run", RUN, "--port", "70000"], "--port", "must be an integer in [0, 65535], got 70000"),
        (["serve", "--run", RUN, "--max-lines", "0"], "--max-lines", "must be an integer >= 1, got 0"),
        (["serve", "--run", RUN, "--window-ms", "-1"], "--window-ms", "must be a number in [0, 10000], got -1"),
        (["serve", "--run", RUN, "--max-wait-ms", "inf"], "--max-wait-ms", "must be a number in [0, 10000], got inf"),
    ],
)  # fmt: skip
def test_a_flag_out_of_its_range_is_refused_before_the_verb_runs(tmp_path, capsys, argv, flag, message):
    argv = [str(tmp_path / "none") if a == RUN else a for a in argv]
    code, out, err = exit_status_and_output(capsys, argv)
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert err.splitlines() == [f"seqkit {argv[0]}: error: argument {flag}: {message} (see seqkit {argv[0]} --help)"]
    assert not any(tmp_path.iterdir())


def test_number_bounds_are_inclusive_and_only_finite_numbers_pass():
    port, share = number(int, 0, 65535), number(float, 0, 1)
    assert (port("0"), port("65535"), share("0"), share("1.0"), number(int)("-7")) == (0, 65535, 0.0, 1.0, -7)
    for parse, text in ((port, "1.5"), (share, "-inf"), (share, "nan"), (number(float), "inf")):
        with pytest.raises(argparse.ArgumentTypeError, match=r"^(must be|expected) "):
            parse(text)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """recipes/toy-reverse.toml trained for two epochs: two snapshots to average, a log to report."""
    directory = tmp_path_factory.mktemp("values") / "run"
    quick = ["--set", "training.epochs=2", *QUICK]
    assert main(["train", str(TOY), "--run-dir", str(directory), "--no-progress", *quick]) == 0
    return directory


def test_bad_flags_on_a_real_run_write_nothing(run_dir, capsys, tmp_path):
    capsys.readouterr()
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    source = tmp_path / "in.txt"
    source.write_text("a b c\nd e\n", encoding="utf-8")
    for argv, flag in (
        (["average", "--run", str(run_dir), "--last", "-1"], "--last"),
        (["report", str(run_dir), "--attention", "-1"], "--attention"),
        (["translate", "--run", str(run_dir), "-i", str(source), "--batch-size", "-2"], "--batch-size"),
    ):
        code, out, err = exit_status_and_output(capsys, argv)
        assert code == 2 and out == "" and f"argument {flag}: must be an integer" in err.splitlines()[-1], err
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before
