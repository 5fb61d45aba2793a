"""The UTF-8 byte tokenizer: round trips, ids, save/load through seqkit's protocol, and use from a recipe."""

from pathlib import Path

import pytest
from seqkit.data import BOS, EOS, PAD, UNK
from seqkit.tokenizers import load_tokenizer

from seqkit_example import ByteTokenizer, ByteTokenizerOptions


@pytest.mark.parametrize("text", ["", "hello", "naïve café", "日本語", "emoji 🙂 and\ttabs"])
def test_round_trip(text):
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert len(ids) == len(text.encode()) and all(4 <= i < tok.vocab_size for i in ids)
    assert tok.decode([BOS, *ids, EOS, PAD]) == text


def test_ids_are_bytes_after_seqkits_specials():
    tok = ByteTokenizer(lowercase=True)
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3) and tok.vocab_size == 260
    assert tok.encode("A") == [ord("a") + 4]


def test_broken_utf8_and_bad_input():
    tok = ByteTokenizer()
    assert tok.decode([0xFF + 4]) == "\ufffd"
    with pytest.raises(ValueError, match=r"id 260 at position 1 is outside \[0, 260\)"):
        tok.decode([70, 260])
    with pytest.raises(TypeError, match="encode expects a str"):
        tok.encode(b"bytes")


def test_save_load_through_the_registry(tmp_path, seqkit_plugin_manager):
    tok = ByteTokenizer(lowercase=True)
    tok.train(["whatever"])
    tok.save(tmp_path / "tok")
    again = load_tokenizer(tmp_path / "tok", seqkit_plugin_manager.registry("tokenizer"))
    assert isinstance(again, ByteTokenizer) and again.options.lowercase
    assert again.fingerprint() == tok.fingerprint() and again.encode("Ab") == tok.encode("Ab")


def test_found_by_name(seqkit_plugin_manager):
    entry = seqkit_plugin_manager.registry("tokenizer").entry("utf8_bytes")
    assert entry.obj is ByteTokenizer and entry.options is ByteTokenizerOptions and entry.plugin == "example"


def test_a_recipe_trains_with_it(tmp_path):
    from seqkit.cli import main

    recipe = Path(__file__).resolve().parents[3] / "recipes" / "toy-reverse.toml"
    settings = ["--set", "tokenizer.name=utf8_bytes", "--set", "training.epochs=1", "--set", "data.max_len=60",
                "--set", "evaluation.dev_sentences=10"]  # fmt: skip
    assert main(["train", str(recipe), "--run-dir", str(tmp_path / "run"), "--no-progress", *settings]) == 0
    assert (tmp_path / "run" / "results.json").exists()
