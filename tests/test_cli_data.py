"""``seqkit corpus`` and ``seqkit tokenizer``: through ``seqkit.cli.main``, with the corpora and tokenizers
registered the way seqkit's built-in plugin registers them."""

import json
from pathlib import Path

import pytest

import seqkit.cli
from seqkit import corpora
from seqkit.cli.tokenizer import parse_options
from seqkit.plugins import get_plugin_manager, hookimpl
from seqkit.tokenizers import (
    CharTokenizer,
    SentencePieceOptions,
    SentencePieceTokenizer,
    TokenizerPair,
    VocabularyOptions,
    WhitespaceTokenizer,
)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora"
needs_multi30k = pytest.mark.skipif(
    not (SHARED / "multi30k").is_dir(), reason=f"Multi30k is not in {SHARED / 'multi30k'} (it is never bundled)"
)


class DataPlugin:
    """What seqkit.plugins.builtin registers for corpora and tokenizers (harmless twice)."""

    @hookimpl
    def seqkit_register_corpora(self, registry):
        for manifest in corpora.builtin_manifests():
            registry.add(manifest.name, manifest)

    @hookimpl
    def seqkit_register_tokenizers(self, registry):
        registry.add("sentencepiece", SentencePieceTokenizer, options=SentencePieceOptions, aliases=("spm",))
        registry.add("whitespace", WhitespaceTokenizer, options=VocabularyOptions)
        registry.add("char", CharTokenizer, options=VocabularyOptions)


@pytest.fixture
def pm(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    monkeypatch.delenv("SEQKIT_OFFLINE", raising=False)
    manager = get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""})
    manager.register(DataPlugin(), name="test-data")
    monkeypatch.setattr(seqkit.cli, "get_plugin_manager", lambda **kwargs: manager)
    return manager


def run(capsys, *argv):
    code = seqkit.cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_corpus_list_and_show(pm, capsys):
    code, out, _ = run(capsys, "corpus", "list")
    assert code == 0 and "multi30k" in out and "tatoeba-de-en" in out and "train 126835, dev 2000" in out
    assert str(Path(corpora.BUILTIN_DIR) / "tatoeba-de-en") in out
    code, out, _ = run(capsys, "corpus", "show", "multi30k")
    assert code == 0 and "Non-commercial" in out and "Elliott" in out
    assert "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6" in out
    assert "url:   https://github.com/multi30k/dataset/raw/" in out and "local: missing" in out


@needs_multi30k
def test_corpus_verify_multi30k_against_the_shared_copy(pm, capsys):
    code, out, err = run(capsys, "corpus", "verify", "multi30k", "--data-dir", SHARED)
    assert code == 0, err
    assert out.count("ok ") == 12 and "corpus multi30k: all 12 files verified" in out


def test_corpus_verify_tatoeba_bundle(pm, capsys):
    code, out, err = run(capsys, "corpus", "verify", "tatoeba-de-en")
    assert code == 0, err
    assert "corpus tatoeba-de-en: all 6 files verified" in out


def test_corpus_verify_without_the_files_is_one_line_and_exit_code_2(pm, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_OFFLINE", "1")
    code, out, err = run(capsys, "corpus", "verify", "multi30k", "--data-dir", tmp_path / "empty")
    assert code == 2 and err.count("\n") == 1
    assert "12 of 12 files failed" in err and str(tmp_path / "empty" / "multi30k" / "train.de.gz") in err
    assert out.count("FAILED") == 12


def test_unknown_corpus_suggests_the_closest(pm, capsys):
    code, _, err = run(capsys, "corpus", "show", "multi30")
    assert code == 2 and "did you mean 'multi30k'" in err and err.count("\n") == 1


def test_tokenizer_train_on_the_bundled_corpus_and_reload(pm, capsys, tmp_path):
    out_dir = tmp_path / "run" / "tokenizer"
    code, out, err = run(
        capsys, "tokenizer", "train", "--corpus", "tatoeba-de-en", "--split", "dev", "--type", "spm",
        "--option", "vocab_size=500", "--option", "model_type=bpe", "--separate", "--out", out_dir,
    )  # fmt: skip
    assert code == 0, err
    assert "trained a separate spm tokenizer (vocabulary 500/500) on 2000 pairs" in out
    pair = TokenizerPair.load(out_dir, pm.registry("tokenizer"))
    assert not pair.joint and pair.source.options.model_type == "bpe"
    assert pair.source.decode(pair.source.encode("Ich bin müde.")) == "Ich bin müde."
    code, _, err = run(capsys, "tokenizer", "train", "--corpus", "tatoeba-de-en", "--out", out_dir)
    assert code == 2 and "exists and is not an empty folder" in err


def test_tokenizer_train_on_plain_files(pm, capsys, tmp_path):
    (tmp_path / "a.de").write_text("Hallo Welt\n\nWelt\n")
    (tmp_path / "a.en").write_text("hello world\nx\nworld\n")
    code, out, err = run(
        capsys, "tokenizer", "train", "--src", tmp_path / "a.de", "--tgt", tmp_path / "a.en", "--type", "whitespace",
        "--out", tmp_path / "tok",
    )  # fmt: skip
    assert code == 0, err
    assert "joint whitespace tokenizer (vocabulary 8) on 2 pairs (1 with an empty side skipped)" in out
    assert json.loads((tmp_path / "tok" / "joint" / "tokenizer.json").read_text())["type"] == "whitespace"


def test_tokenizer_train_with_misaligned_files_trains_nothing(pm, capsys, tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n")
    (tmp_path / "a.en").write_text("one\ntwo\n")
    code, _, err = run(
        capsys, "tokenizer", "train", "--src", tmp_path / "a.de", "--tgt", tmp_path / "a.en", "--out", tmp_path / "t"
    )
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path / 'a.de'} has 3 lines, {tmp_path / 'a.en'} has 2" in err
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--option", "vocab_sise=10"], "unknown option 'vocab_sise' (did you mean 'vocab_size'?"),
        (["--option", "vocab_size"], "--option expects KEY=VALUE"),
        (["--type", "wordpeice"], "unknown tokenizer 'wordpeice'"),
        (["--corpus", "tatoeba-de-en", "--src", "x"], "either --corpus or --src/--tgt, not both"),
        ([], "give --corpus NAME, or both --src FILE and --tgt FILE"),
    ],
)
def test_tokenizer_train_bad_flags(pm, capsys, tmp_path, argv, message):
    code, _, err = run(capsys, "tokenizer", "train", "--out", tmp_path / "t", *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_option_values_are_toml_literals():
    assert parse_options(["a=8000", "b=bpe", "c=false", "d=0.9995", "e=none", 'f="x y"']) == {
        "a": 8000, "b": "bpe", "c": False, "d": 0.9995, "e": None, "f": "x y",
    }  # fmt: skip
