"""The acme_bigrams tokenizer against seqkit's tokenizer kit, and how it splits text."""

from typing import ClassVar

from seqkit_acme.tokenizer import BigramTokenizer

from seqkit.testing.tokenizers import TokenizerTests


class TestBigrams(TokenizerTests):
    name = "acme_bigrams"
    options: ClassVar = {}
    lossless = False  # a character not seen in training is <unk>
    changed_options: ClassVar = {"max_bigrams": 0}


class TestCharactersOnly(TokenizerTests):
    name = "acme_bigrams"
    options: ClassVar = {"max_bigrams": 0, "min_freq": 1}
    lossless = False
    changed_options: ClassVar = {"max_bigrams": 5}


def test_pairs_before_characters():
    tok = BigramTokenizer(max_bigrams=1, min_freq=2)
    tok.train(["abab", "abc"])
    tokens = tok.vocab.tokens
    assert [tokens[i] for i in tok.encode("ababc")] == ["ab", "ab", "c"]
    assert tok.encode("xa") == [1, tokens.index("a")]  # x unseen: <unk>
    assert tok.decode(tok.encode("cab")) == "cab"
