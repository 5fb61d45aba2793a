"""The UTF-8 byte tokenizer: round trips, special ids, save/load, and one-line errors."""

import json

import pytest

from seqkit_example import ByteTokenizer, ByteTokenizerOptions


@pytest.mark.parametrize("text", ["", "hello", "naïve café", "日本語", "emoji 🙂 and\ttabs\nnewlines"])
def test_round_trip(text):
    tok = ByteTokenizer(add_bos=True, add_eos=True)
    ids = tok.encode(text)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id and len(ids) == len(text.encode()) + 2
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_ids_are_bytes_after_the_specials():
    tok = ByteTokenizer()
    assert tok.encode("A") == [ord("A") + 3] and tok.vocab_size == 259
    assert tok.decode([tok.pad_id, 65 + 3, tok.eos_id]) == "A"


def test_broken_utf8_and_bad_ids():
    tok = ByteTokenizer()
    assert tok.decode([0xFF + 3]) == "\ufffd"
    with pytest.raises(ValueError, match=r"id 259 at position 1 is outside \[0, 259\)"):
        tok.decode([70, 259])
    with pytest.raises(TypeError, match="encode expects a str"):
        tok.encode(b"bytes")


def test_save_load(tmp_path):
    tok = ByteTokenizer.train(["whatever"], add_eos=True)
    tok.save(tmp_path / "tok")
    assert ByteTokenizer.load(tmp_path / "tok") == tok
    with pytest.raises(FileNotFoundError, match="no such file"):
        ByteTokenizer.load(tmp_path / "missing")
    (tmp_path / "tok" / "tokenizer.json").write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(ValueError, match=r"tokenizer.json: expected format 'seqkit-example.utf8_bytes/1', got 'oth"):
        ByteTokenizer.load(tmp_path / "tok")


def test_found_by_name(seqkit_plugin_manager):
    entry = seqkit_plugin_manager.registry("tokenizer").entry("utf8_bytes")
    assert entry.obj is ByteTokenizer and entry.options is ByteTokenizerOptions and entry.plugin == "example"
