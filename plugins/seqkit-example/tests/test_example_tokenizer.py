"""The UTF-8 byte tokenizer: seqkit's tokenizer test kit, round trips, ids, save/load, use from a recipe, and
bugs planted in copies of it that the kit must catch."""

import hashlib
from pathlib import Path

import pytest
from seqkit.data import BOS, EOS, PAD, UNK
from seqkit.plugins import Registry
from seqkit.testing.tokenizers import TokenizerCase, TokenizerTests
from seqkit.tokenizers import load_tokenizer

from seqkit_example import ByteTokenizer, ByteTokenizerOptions


class TestByteTokenizer(TokenizerTests):
    name = "utf8_bytes"
    lossless = True  # every text is its bytes: nothing is unknown
    changed_options = {"lowercase": True}


class TestLowercaseByteTokenizer(TokenizerTests):
    name = "utf8_bytes"
    options = {"lowercase": True}
    texts = ["lower case only, ünïcödé 🙂", "two dogs play in the snow."]
    unseen = ["quokka ⊕ 🦘", "<pad> <unk> <s> </s> ⌘"]  # lowercase: what lowercasing keeps round-trips
    lossless = True
    changed_options = {"lowercase": False}


# ---- planted bugs: each copy of the tokenizer breaks one rule, and the kit's check for it fails --------------


class DropsTheLastByte(ByteTokenizer):
    def decode(self, ids):
        return super().decode(list(ids)[:-1])


class ForgetsTheOptionOnLoad(ByteTokenizer):
    def load_model(self, directory):
        self.options = ByteTokenizerOptions()  # as if the saved lowercase were never read


class FingerprintIgnoresTheOptions(ByteTokenizer):
    def fingerprint(self):
        return hashlib.sha256(self.model_bytes()).hexdigest()


class FramesWithBosAndEos(ByteTokenizer):
    def encode(self, text):
        return [BOS, *super().encode(text), EOS]


class CrashesOnEmoji(ByteTokenizer):
    def encode(self, text):
        if any(ord(c) > 0xFFFF for c in text):
            raise ValueError("no emoji")
        return super().encode(text)


class BatchSkipsEmptyTexts(ByteTokenizer):
    def encode_batch(self, texts):
        return [self.encode(t) for t in texts if t]


class RegisteredUnderAnotherName(ByteTokenizer):
    pass  # its name stays "utf8_bytes", which the registry below does not give it


PLANTED = {  # the check, the buggy copy, its options, what the failure says
    "round_trip": (DropsTheLastByte, {}, r"decode\(encode\('Ein Mann fährt Fahrrad\.'\)\) gives 'Ein Mann fährt F"),
    "save_load": (ForgetsTheOptionOnLoad, {"lowercase": True}, "options after load are .*lowercase=False"),
    "fingerprint": (FingerprintIgnoresTheOptions, {}, r"options \{'lowercase': True\} do not change the fingerprint"),
    "special_ids": (FramesWithBosAndEos, {}, r"encode\('Ein Mann fährt Fahrrad\.'\) gives the special id 2 \(<s>\)"),
    "unknown": (CrashesOnEmoji, {}, r"encode\('Quokka ⊕ 🦘'\) raised ValueError: no emoji"),
    "encode_batch": (BatchSkipsEmptyTexts, {}, r"encode_batch of 13 texts gives 12 sequences"),
}


def run_check(check: str, cls: type, options: dict, tmp_path: Path) -> None:
    """``TokenizerCase.check_<check>`` on ``cls`` registered as utf8_bytes."""
    registry = Registry("tokenizer")
    registry.add("utf8_bytes", cls, options=ByteTokenizerOptions)
    case = TokenizerCase("utf8_bytes", options, lossless=True, changed_options={"lowercase": True}, registry=registry)
    if check == "save_load":
        case.check_save_load(tmp_path)
    else:
        getattr(case, f"check_{check}")()


@pytest.mark.parametrize("check", PLANTED)
def test_the_kit_catches_a_planted_bug(check, tmp_path):
    cls, options, message = PLANTED[check]
    run_check(check, ByteTokenizer, options, tmp_path / "good")  # the tokenizer itself passes the check
    with pytest.raises(AssertionError, match=f"^tokenizer 'utf8_bytes': {message}") as info:
        run_check(check, cls, options, tmp_path / "planted")
    assert "\n" not in str(info.value)


def test_the_kit_catches_a_wrong_registration():
    registry = Registry("tokenizer")
    registry.add("bytes_again", RegisteredUnderAnotherName, options=ByteTokenizerOptions)
    with pytest.raises(AssertionError, match="its class attribute name is 'utf8_bytes', which the registry does not"):
        TokenizerCase("bytes_again", registry=registry).check_registered()
    with pytest.raises(AssertionError, match="not found in the tokenizer registry"):
        TokenizerCase("bytes", registry=registry).check_registered()


def test_the_kit_holds_the_tokenizer_to_what_it_declares():
    """Declared lossy, it must give UNK for unseen characters; the byte tokenizer never does."""
    with pytest.raises(AssertionError, match=r"encode\('Ein Pferd ∞ galoppiert\.'\) gives no UNK"):
        TokenizerCase("utf8_bytes", lossless=False).check_unknown()


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
