"""Decoding strategies: seqkit's own pass the kit; the kit catches broken ones; the recipe's [decoding], the
commands' --strategy, --set, --ensemble and evaluate -m."""

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from seqkit.cli import main
from seqkit.decoding import DecodingStrategy, Sampling, sample_search
from seqkit.errors import UserError
from seqkit.plugins import get_plugin_manager
from seqkit.recipes import load_recipe
from seqkit.registry import Registry
from seqkit.testing.decoding import StrategyCase, StrategyTests, ToyTranslator

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "recipes" / "toy-reverse.toml"


class TestGreedy(StrategyTests):
    name = "greedy"


class TestBeam(StrategyTests):
    name = "beam"
    options: ClassVar[dict] = {"beam": 4, "length_penalty": "gnmt", "alpha": 1.0}


class TestBeamOfOne(StrategyTests):
    name = "beam"
    options: ClassVar[dict] = {"beam": 1}


class TestSampling(StrategyTests):
    name = "sampling"
    nbest = 4


class TestTruncatedSampling(StrategyTests):
    name = "sampling"
    options: ClassVar[dict] = {"top_k": 4, "top_p": 0.9, "temperature": 0.8, "seed": 7}


def test_truncation_keeps_the_top_k_and_the_nucleus():
    logp = np.log(np.array([[0.5, 0.3, 0.15, 0.05], [0.25, 0.25, 0.25, 0.25]]))
    kept = lambda **o: np.isfinite(Sampling(**o).truncate(logp)).tolist()  # noqa: E731
    assert kept(top_k=2) == [[True, True, False, False], [True, True, True, True]]  # ties at the k-th all stay
    assert kept(top_p=0.79) == [[True, True, False, False], [True, True, True, True]]
    assert kept(top_p=0.81) == [[True, True, True, False], [True, True, True, True]]
    assert kept(top_p=0.1) == [[True, False, False, False], [True, False, False, False]]
    assert kept() == [[True] * 4] * 2


def test_a_sentence_samples_the_same_in_any_batch_and_order():
    model = ToyTranslator(eos_bias=-1.0)
    rng = np.random.default_rng(1)
    src = [rng.integers(4, 12, size=n) for n in (3, 5, 2, 4)]
    together = sample_search(model, src, nbest=3, seed=11)
    reversed_ = sample_search(model, src[::-1], nbest=3, seed=11)[::-1]
    assert [[h.tokens for h in a] for a in together] == [[h.tokens for h in b] for b in reversed_]
    assert sample_search(model, src, nbest=3, seed=12) != together


# ---- the kit catches what it promises to catch ----------------------------------------------------------------
class _Base(DecodingStrategy):
    """Greedy search with one bug planted by each subclass."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    max_nbest = None
    distinct = False

    def search(self, model, sources, *, nbest=1, max_len_ratio=1.5, max_len_offset=10, keep_attention=False):
        return sample_search(model, sources, nbest=nbest, seed=self.seed, truncate=self.truncate,
                             max_len_ratio=max_len_ratio, max_len_offset=max_len_offset,
                             keep_attention=keep_attention)  # fmt: skip

    truncate = None


class _Unsorted(_Base):
    def search(self, model, sources, **kwargs):
        return [sorted(h, key=lambda h: h.score) for h in super().search(model, sources, **kwargs)]


class _Leaky(_Base):
    def truncate(self, logp):  # the nucleus of the whole batch's mean distribution: rows leak into each other
        return np.where(logp.mean(axis=0) > np.median(logp.mean(axis=0)), logp, -np.inf)


class _Unseeded(_Base):
    stochastic = True

    def search(self, model, sources, **kwargs):
        return sample_search(model, sources, seed=0, nbest=kwargs.pop("nbest"), **kwargs)


class _TooLong(_Base):
    def search(self, model, sources, *, max_len_offset=10, **kwargs):
        return super().search(model, sources, max_len_offset=max_len_offset + 1, **kwargs)


class _WrongLogProb(_Base):
    def search(self, model, sources, **kwargs):
        found = super().search(model, sources, **kwargs)
        for hyps in found:
            for h in hyps:
                h.log_prob = h.score = h.log_prob * 0.5
        return found


class _NotAStrategy:
    pass


@pytest.mark.parametrize(
    ("cls", "check", "message"),
    [
        (_Unsorted, "check_nbest", r"n-best scores .* are not finite and best first"),
        (_Leaky, "check_batch_invariance", "decoded alone gives"),
        (_Unseeded, "check_reproducible", "seed 1 gives the same samples as seed 0"),
        (_TooLong, "check_lengths", "where the maximum length is"),
        (_WrongLogProb, "check_nbest", "is not the model's"),
        (_NotAStrategy, "check_registered", "not a seqkit.decoding.DecodingStrategy subclass"),
    ],
)
def test_the_kit_catches_a_broken_strategy(cls, check, message):
    registry = Registry("decoding_strategy")
    registry.add("broken", cls)
    with pytest.raises(AssertionError, match=message):
        getattr(StrategyCase("broken", registry=registry), check)()


def test_a_registered_object_that_is_not_a_strategy_is_refused(tmp_path):
    (tmp_path / "bad.py").write_text(
        "from seqkit.plugins import hookimpl\n\n\n@hookimpl\ndef seqkit_register_decoding_strategies(registry):\n"
        "    registry.add('fancy', lambda model, sources: [])\n"
    )
    pm = get_plugin_manager(plugins_dir=tmp_path, environ={})
    with pytest.warns(UserWarning, match="not a subclass of seqkit's DecodingStrategy"):
        assert "fancy" not in pm.registry("decoding_strategy").names()


# ---- recipes ------------------------------------------------------------------------------------------------
def _registries():
    return get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""}).registry


def test_decoding_names_a_strategy_and_holds_its_options(tmp_path):
    toy = TOY.read_text().replace('beam = 3\nlength_penalty = "none"\n', "")
    (tmp_path / "toy.toml").write_text(toy.replace('"toy-reverse/', f'"{TOY.parent}/toy-reverse/'))
    recipe = load_recipe(tmp_path / "toy.toml", ["decoding.strategy='sampling'", "decoding.top_k=5"],
                         registries=_registries())  # fmt: skip
    assert recipe.decoding == {"strategy": "sampling", "max_len_ratio": 1.5, "max_len_offset": 10, "batch_size": 64,
                               "top_k": 5, "top_p": 1.0, "temperature": 1.0, "seed": 0}  # fmt: skip
    old = tmp_path / "old.toml"
    old.write_text("schema = 1\n[decoding]\nbeam = 3\nlength_penalty = 'none'\nalpha = 0.5\nbatch_size = 8\n")
    assert load_recipe(old, registries=_registries()).decoding == {
        "strategy": "beam", "max_len_ratio": 1.5, "max_len_offset": 10, "batch_size": 8, "beam": 3,
        "length_penalty": "none", "alpha": 0.5}  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["decoding.strategy='sampling'"], r"decoding: unknown key 'beam'; known keys: seed, temperature"),
        (["decoding.strategy='greedy'"], "decoding: decoding strategy 'greedy' takes no options, got beam"),
        (["decoding.strategy='beem'"], "decoding.strategy: unknown decoding_strategy 'beem'; did you mean 'beam'"),
        (["decoding.bean=4"], r"decoding: unknown key 'bean'; did you mean 'beam'\?"),
        (["decoding.beam=0"], r"decoding.beam must be in \[1, 1000\], got 0"),
        (["decoding.beam=1000000000"], r"decoding.beam must be in \[1, 1000\], got 1000000000"),
        (["decoding.alpha=-1.0"], r"decoding.alpha must be a number >= 0, got -1.0"),
        (["decoding.batch_size=0"], "decoding.batch_size must be an integer >= 1, got 0"),
    ],
)
def test_decoding_errors_name_the_key(overrides, message):
    with pytest.raises(UserError, match=message):
        load_recipe(TOY, overrides, registries=_registries())


# ---- the commands --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two toy runs with one tokenizer (the same data and recipe, other seeds) and one with another tokenizer."""
    base = tmp_path_factory.mktemp("runs")
    quick = ["--set", "training.epochs=1", "--set", "evaluation.dev_bleu=false",
             "--set", "evaluation.monitor='val/loss'"]  # fmt: skip
    for name, extra in (("a", []), ("b", ["--set", "training.seed=2"]), ("chars", ["--set", "tokenizer.name='char'"])):
        assert main(["train", str(TOY), "--run-dir", str(base / name), "--no-progress", *quick, *extra]) == 0
    return base


def _translate(runs, capsys, *args, lines="a b c d\n\nl k\ne f g\n", before=()):
    source = runs / "in.txt"
    source.write_text(lines)
    code = main([*before, "translate", "--run", str(runs / "a"), "-i", str(source), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_translate_with_each_strategy(runs, capsys):
    code, beam1, _ = _translate(runs, capsys, "--beam", "1")
    assert code == 0 and _translate(runs, capsys, "--strategy", "greedy")[1] == beam1
    code, out, _ = _translate(runs, capsys, "--strategy", "sampling", "--nbest", "3", "--set", "decoding.seed=3")
    assert code == 0 and len(out.splitlines()) == 3 * 3 + 1 and out.startswith("0 ||| ")
    again = _translate(runs, capsys, "--strategy", "sampling", "--nbest", "3", "--set", "decoding.seed=3")[1]
    assert again == out
    assert _translate(runs, capsys, "--strategy", "sampling", "--nbest", "3", "--set", "decoding.seed=4")[1] != out
    code, out, _ = _translate(runs, capsys, "--set", "decoding.strategy='sampling'", "--set", "decoding.top_k=1")
    assert code == 0 and out == beam1  # the top 1 token: greedy search
    code, out, _ = _translate(runs, capsys, "--strategy", "beam", "--beam", "4", "--nbest", "4", "--alpha", "1.0")
    assert code == 0 and len(out.splitlines()) == 3 * 4 + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "greedy", "--nbest", "2"], "decoding strategy 'greedy' gives at most 1 hypothesis per "
         "sentence, not nbest = 2"),
        (["--beam", "3", "--nbest", "4"], "decoding strategy 'beam' gives at most 3 hypotheses per sentence"),
        (["--strategy", "sampling", "--set", "decoding.top_kk=3"], "decoding: unknown key 'top_kk'; did you mean "
         "'top_k'?"),
        (["--strategy", "greedy", "--beam", "2"], "decoding strategy 'greedy' takes no options, got beam"),
        (["--strategy", "sampler"], "unknown decoding_strategy 'sampler'; did you mean 'sampling'?"),
        (["--set", "training.epochs=2"], "translate sets decoding keys only"),
        (["--strategy", "sampling", "--set", "decoding.temperature=0"],
         "decoding.temperature must be a number > 0, got 0"),
        (["--strategy", "sampling", "--set", "decoding.top_p=0.0"], "decoding.top_p must be in (0, 1], got 0.0"),
    ],
)
def test_translate_refuses_bad_decoding_in_one_line(runs, capsys, args, message):
    code, _, err = _translate(runs, capsys, *args)
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_an_ensemble_of_runs(runs, capsys):
    code, alone, _ = _translate(runs, capsys)
    assert code == 0
    code, twice, _ = _translate(runs, capsys, "--ensemble", str(runs / "a"))
    assert code == 0 and twice == alone  # a model averaged with itself is the model
    code, out, _ = _translate(runs, capsys, "--ensemble", str(runs / "b"), "--nbest", "2")
    assert code == 0 and len(out.splitlines()) == 2 * 3 + 1
    code, _, err = _translate(runs, capsys, "--ensemble", str(runs / "b"), str(runs / "chars"))
    assert code == 2 and err == (
        f"seqkit translate: error: {runs / 'chars'}: its tokenizers differ from those of {runs / 'a'}; an ensemble's "
        "runs must share them\n"
    )


def test_evaluate_scores_any_registered_metric(runs, capsys):
    assert main(["evaluate", "--run", str(runs / "a"), "--split", "dev", "-m", "ter", "chrf"]) == 0
    out = capsys.readouterr().out
    assert "dev: BLEU = " in out and "dev: ter = " in out and out.count("chrF") == 1
    args = ["evaluate", "--run", str(runs / "a"), "--format", "json", "--metrics", "ter", "--strategy", "greedy",
            "--ensemble", str(runs / "b")]  # fmt: skip
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert isinstance(results["ter"], float) and results["ter_signature"].startswith("nrefs:1")
    assert main(["evaluate", "--run", str(runs / "a"), "-m", "terr"]) == 2
    assert "unknown metric 'terr'; did you mean 'ter'?" in capsys.readouterr().err


def test_the_decoding_plugin_of_the_docs(runs, tmp_path, capsys):
    """docs/plugins.md's epsilon sampling (the python block after ``<!-- example: decoding plugin -->``) as a
    plugin file: it passes the kit and decodes in seqkit translate."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = text.split("<!-- example: decoding plugin -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    (tmp_path / "epsilon.py").write_text(example, encoding="utf-8")
    registry = get_plugin_manager(plugins_dir=tmp_path, strict=True, environ={}).registry("decoding_strategy")
    StrategyCase("epsilon_sampling", {"epsilon": 0.05}, registry=registry).check_all()
    code, out, err = _translate(runs, capsys, "--strategy", "epsilon_sampling", "--nbest", "2", "--set",
                                "decoding.epsilon=0.1", before=["--plugins-dir", str(tmp_path)])  # fmt: skip
    assert code == 0 and len(out.splitlines()) == 2 * 3 + 1, err
