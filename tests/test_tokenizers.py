"""Tokenizers (SentencePiece, whitespace, character) and the vocabulary: the tokenizer test kit on each and on
docs/plugins.md's example, round trips, saving, bad models, the base class's errors."""

import json
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqkit import corpora
from seqkit.data import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary, normalize, read_parallel
from seqkit.errors import UserError
from seqkit.plugins import Registry, get_plugin_manager
from seqkit.testing.tokenizers import TokenizerTests
from seqkit.tokenizers import (
    CharTokenizer,
    SentencePieceOptions,
    SentencePieceTokenizer,
    Tokenizer,
    TokenizerPair,
    VocabularyOptions,
    WhitespaceTokenizer,
    load_tokenizer,
)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora"
needs_multi30k = pytest.mark.skipif(
    not (SHARED / "multi30k").is_dir(), reason=f"Multi30k is not in {SHARED / 'multi30k'} (it is never bundled)"
)


@pytest.fixture
def registry():
    """The tokenizer registry as seqkit's built-in plugin fills it."""
    reg = Registry("tokenizer")
    reg.add("sentencepiece", SentencePieceTokenizer, options=SentencePieceOptions, aliases=("spm",))
    reg.add("whitespace", WhitespaceTokenizer, options=VocabularyOptions)
    reg.add("char", CharTokenizer, options=VocabularyOptions)
    return reg


def pairs_of(name: str, split: str, data=None) -> list[tuple[str, str]]:
    m = {m.name: m for m in corpora.builtin_manifests()}[name]
    return list(read_parallel(*corpora.split_paths(m, split, data=data, download=False)))


@pytest.fixture(scope="module")
def tatoeba_dev():
    return pairs_of("tatoeba-de-en", "dev")


@pytest.fixture(scope="module")
def small_spm(tatoeba_dev):
    """A small BPE model with byte fallback, trained on the bundled Tatoeba dev split (well under a second)."""
    tok = SentencePieceTokenizer(vocab_size=600, model_type="bpe")
    tok.train([s for pair in tatoeba_dev for s in pair])
    return tok


TATOEBA = [s for pair in pairs_of("tatoeba-de-en", "dev") for s in pair]


# ---- the tokenizer test kit (seqkit.testing.tokenizers) on seqkit's tokenizers ---------------------------


class TestSentencePieceBPE(TokenizerTests):
    name = "sentencepiece"
    options: ClassVar = {"vocab_size": 600, "model_type": "bpe"}
    texts = TATOEBA
    lossless = True  # byte fallback
    changed_options: ClassVar = {"vocab_size": 601}


class TestSentencePieceUnigramWithoutByteFallback(TokenizerTests):
    name = "sentencepiece"
    options: ClassVar = {"vocab_size": 400, "byte_fallback": False}
    texts = TATOEBA
    changed_options: ClassVar = {"vocab_size": 401}


class TestWhitespace(TokenizerTests):
    name = "whitespace"
    changed_options: ClassVar = {"min_freq": 2}


class TestChar(TokenizerTests):
    name = "char"
    changed_options: ClassVar = {"max_size": 5}


DOCS_PLUGINS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def tokenizer_example() -> str:
    """The tokenizer plugin of docs/plugins.md (the python block after ``<!-- example: tokenizer plugin -->``)."""
    text = DOCS_PLUGINS.read_text(encoding="utf-8")
    return text.split("<!-- example: tokenizer plugin -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"


class TestTheGuidesExample(TokenizerTests):
    """docs/plugins.md's words.py, loaded as a plugin file."""

    name = "words"
    changed_options: ClassVar = {"min_freq": 2}

    @pytest.fixture
    def seqkit_plugin_manager(self, tmp_path):
        (tmp_path / "plugins").mkdir()
        (tmp_path / "plugins" / "words.py").write_text(tokenizer_example(), encoding="utf-8")
        return get_plugin_manager(plugins_dir=tmp_path / "plugins", strict=True)


def test_the_base_class_says_what_it_needs(tmp_path):
    saved = WhitespaceTokenizer()
    saved.train(["a b"])
    saved.save(tmp_path / "tok")
    assert WhitespaceTokenizer.load(tmp_path / "tok").vocab == saved.vocab
    with pytest.raises(TypeError, match=r"Tokenizer.load needs a concrete tokenizer class; .*load_tokenizer\("):
        Tokenizer.load(tmp_path / "tok")

    class Nameless(WhitespaceTokenizer):
        name = None

    with pytest.raises(TypeError, match="Nameless must set the class attributes name"):
        Nameless()
    tok = WhitespaceTokenizer()
    with pytest.raises(TypeError, match=r"vocab must be a seqkit\.tokenizers\.Vocabulary, got"):
        tok.vocab = ["a", "b"]
    tok.vocab = Vocabulary(["a", "b"])
    assert tok.encode("b a c") == [5, 4, UNK]


# ---- SentencePiece ----------------------------------------------------------------------------------------


@needs_multi30k
@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_trains_on_multi30k_and_round_trips(model_type, tmp_path, registry):
    train = pairs_of("multi30k", "train", SHARED)
    tok = SentencePieceTokenizer(vocab_size=8000 if model_type == "unigram" else 2000, model_type=model_type)
    tok.train([s for pair in train for s in pair])
    assert tok.vocab.tokens[:4] == SPECIALS and tok.vocab_size == tok.options.vocab_size
    val = [s for pair in pairs_of("multi30k", "val", SHARED) for s in pair]
    ids = tok.encode_batch(val)
    assert ids == [tok.encode(s) for s in val[:50]] + ids[50:]
    assert all(0 not in seq and UNK not in seq for seq in ids)  # no padding, nothing unknown (byte fallback)
    assert [tok.decode(seq) for seq in ids] == val
    assert sum(map(len, ids)) < 2 * sum(len(s.split()) for s in val)  # subwords, not characters
    tok.save(tmp_path / "spm")
    again = load_tokenizer(tmp_path / "spm", registry)
    assert isinstance(again, SentencePieceTokenizer) and again.options == tok.options
    assert again.encode_batch(val) == ids and again.fingerprint() == tok.fingerprint()


def test_sentencepiece_training_is_deterministic_and_options_change_the_fingerprint(tatoeba_dev, small_spm):
    texts = [s for pair in tatoeba_dev for s in pair]
    again = SentencePieceTokenizer(vocab_size=600, model_type="bpe")
    again.train(texts)
    assert again.fingerprint() == small_spm.fingerprint()
    other = SentencePieceTokenizer(vocab_size=601, model_type="bpe")
    other.train(texts)
    assert other.fingerprint() != small_spm.fingerprint()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_sentencepiece_round_trips_any_normalised_text(small_spm, text):
    text = normalize(text)
    ids = small_spm.encode(text)
    assert all(4 <= i < small_spm.vocab_size for i in ids)
    assert small_spm.decode(ids) == text


def test_decode_leaves_out_pad_bos_eos(small_spm):
    ids = small_spm.encode("Ich bin müde.")
    assert small_spm.decode([BOS, *ids, EOS, PAD, PAD]) == "Ich bin müde."
    assert small_spm.decode(small_spm.encode("<s> ist kein Sonderzeichen")) == "<s> ist kein Sonderzeichen"


def test_sentencepiece_asks_for_less_than_the_data_can_give():
    tok = SentencePieceTokenizer(vocab_size=5000, model_type="bpe", byte_fallback=False)
    with pytest.raises(UserError, match=r"sentencepiece training failed: .*Vocabulary size"):
        tok.train(["ein kleiner satz", "noch ein satz"])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"vocab_size": 100}, "vocab_size must be at least 261"),
        ({"model_type": "word"}, "model_type must be 'unigram' or 'bpe'"),
        ({"vocab_sise": 100}, "unknown option 'vocab_sise' .*did you mean 'vocab_size'"),
        ({"vocab_size": "8000"}, "vocab_size must be int, got '8000'"),
        ({"byte_fallback": 1}, "byte_fallback must be bool"),
        ({"character_coverage": 0}, r"character_coverage must be in \(0, 1\]"),
    ],
)
def test_bad_options_are_user_errors(options, message):
    with pytest.raises(UserError, match=message):
        SentencePieceTokenizer(**options)


def test_untrained_tokenizer_says_so():
    with pytest.raises(RuntimeError, match="not trained"):
        SentencePieceTokenizer().encode("hallo")
    with pytest.raises(RuntimeError, match="not trained"):
        WhitespaceTokenizer().decode([4])


# ---- saved tokenizers: layout, versions, damage -----------------------------------------------------------


def test_incompatible_format_is_refused_with_the_file_and_versions(small_spm, tmp_path, registry):
    small_spm.save(tmp_path / "tok")
    config_path = tmp_path / "tok" / "tokenizer.json"
    config = json.loads(config_path.read_text())
    assert config["type"] == "sentencepiece" and config["format"] == 1 and config["options"]["vocab_size"] == 600
    config.update(format=2, seqkit="9.0.0")
    config_path.write_text(json.dumps(config))
    with pytest.raises(UserError) as info:
        load_tokenizer(tmp_path / "tok", registry)
    message = str(info.value)
    assert str(config_path) in message and "format 2" in message and "9.0.0" in message and "reads format 1" in message


def test_damaged_or_missing_models_name_the_file(small_spm, tmp_path, registry):
    small_spm.save(tmp_path / "tok")
    (tmp_path / "tok" / "spm.model").write_bytes(b"not a model")
    with pytest.raises(UserError, match=r"spm.model: not a SentencePiece model"):
        load_tokenizer(tmp_path / "tok", registry)
    (tmp_path / "tok" / "spm.model").unlink()
    with pytest.raises(UserError, match=r"spm.model: cannot read"):
        load_tokenizer(tmp_path / "tok", registry)
    with pytest.raises(UserError, match="not a saved tokenizer"):
        load_tokenizer(tmp_path / "nothing", registry)
    with pytest.raises(UserError, match="a sentencepiece tokenizer, not whitespace"):
        WhitespaceTokenizer.load(tmp_path / "tok")
    config = json.loads((tmp_path / "tok" / "tokenizer.json").read_text())
    config["type"] = "wordpiece"
    (tmp_path / "tok" / "tokenizer.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="unknown tokenizer 'wordpiece'"):
        load_tokenizer(tmp_path / "tok", registry)
    config.update(type="sentencepiece", options={"vocab_size": 600, "dropout": 0.1})
    (tmp_path / "tok" / "tokenizer.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"incompatible options: .*unknown option 'dropout'"):
        load_tokenizer(tmp_path / "tok", registry)


@pytest.mark.parametrize("joint", [True, False])
def test_pairs_train_save_and_load_joint_or_separate(tatoeba_dev, tmp_path, registry, joint):
    src, tgt = zip(*tatoeba_dev)
    pair = TokenizerPair.train(WhitespaceTokenizer, {"min_freq": 2}, src, tgt, joint=joint)
    assert pair.joint == joint
    if not joint:
        assert pair.source.vocab != pair.target.vocab
    pair.save(tmp_path / "tokenizer")
    assert sorted(p.name for p in (tmp_path / "tokenizer").iterdir()) == (["joint"] if joint else ["source", "target"])
    again = TokenizerPair.load(tmp_path / "tokenizer", registry)
    assert again.joint == joint
    assert again.source.vocab == pair.source.vocab and again.target.vocab == pair.target.vocab
    (tmp_path / "tokenizer" / ("source" if joint else "joint")).mkdir()
    with pytest.raises(UserError, match="not a saved tokenizer pair"):
        TokenizerPair.load(tmp_path / "tokenizer", registry)


# ---- whitespace and character tokenizers ------------------------------------------------------------------

# a word spelled like a special token ("<unk>") is unknown by design (Vocabulary): not a round-trip case
words = st.text(st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=8).filter(
    lambda w: w not in SPECIALS
)
sentences = st.lists(words, max_size=12).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(sentences, min_size=1, max_size=20))
def test_whitespace_and_char_tokenizers_round_trip_what_they_were_trained_on(texts):
    texts = [normalize(t) for t in texts]
    for cls in (WhitespaceTokenizer, CharTokenizer):
        tok = cls()
        tok.train(texts)
        for text in texts:
            ids = tok.encode(text)
            assert UNK not in ids and tok.decode(ids) == text


def test_unknown_and_rare_tokens_become_unk():
    tok = WhitespaceTokenizer(min_freq=2)
    tok.train(["a b a", "b c"])
    assert tok.vocab.tokens == (*SPECIALS, "a", "b")
    assert tok.encode("a c d </s>") == [4, UNK, UNK, UNK]
    assert tok.decode(tok.encode("a c")) == "a <unk>"
    chars = CharTokenizer(max_size=2)
    chars.train(["aab", "abc"])
    assert chars.vocab.tokens[4:] == ("a", "b") and chars.decode(chars.encode("abz")) == "ab<unk>"


# ---- vocabulary -------------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefg"), max_size=6), max_size=10), st.randoms())
def test_vocabulary_ids_are_stable_whatever_the_order_of_the_text(sequences, rnd):
    shuffled = [list(s) for s in sequences]
    rnd.shuffle(shuffled)
    for s in shuffled:
        rnd.shuffle(s)
    assert Vocabulary.build(sequences) == Vocabulary.build(shuffled)


def test_vocabulary_specials_save_and_load(tmp_path):
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "<s>"]])
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3) and vocab.tokens == (*SPECIALS, "b", "a", "c")
    assert vocab.encode(["a", "<s>", "<pad>", "zzz"]) == [5, UNK, UNK, UNK]
    assert vocab.decode([BOS, 4, 5, UNK, EOS, PAD]) == ["b", "a", "<unk>"]
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == vocab
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["</s>"])
    (tmp_path / "vocab.json").write_text('{"format": 7, "tokens": []}')
    with pytest.raises(UserError, match=r"vocab\.json: vocabulary format 7 is not supported"):
        Vocabulary.load(tmp_path / "vocab.json")
