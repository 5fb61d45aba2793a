"""Character bigrams as tokens: the most frequent pairs of adjacent characters, and every character seen."""

import dataclasses
import json
from collections import Counter

from seqkit.errors import UserError
from seqkit.tokenizers import Tokenizer, Vocabulary

SPECIALS = 4  # <pad>, <unk>, <s>, </s>: ids 0-3


@dataclasses.dataclass
class BigramOptions:
    """Bigrams seen at least min_freq times, the max_bigrams most frequent; single characters for the rest."""

    max_bigrams: int = 200  # most character pairs kept as tokens (0: characters only)
    min_freq: int = 2  # fewest occurrences a pair needs to become a token


class BigramTokenizer(Tokenizer):
    """Reads text left to right, taking the next two characters as one token when they are a known bigram,
    else the next character alone; a character never seen in training is ``<unk>``. Lossless on the
    training text: every character seen in it is a token."""

    name = "acme_bigrams"
    Options = BigramOptions

    def check_options(self):
        if self.options.max_bigrams < 0:
            raise UserError(f"acme_bigrams tokenizer: max_bigrams must be >= 0, got {self.options.max_bigrams}")
        if self.options.min_freq < 1:
            raise UserError(f"acme_bigrams tokenizer: min_freq must be at least 1, got {self.options.min_freq}")

    def train(self, texts):
        chars, pairs = Counter(), Counter()
        for text in texts:
            chars.update(text)
            pairs.update(text[i : i + 2] for i in range(len(text) - 1))
        kept = [p for p, n in pairs.most_common() if n >= self.options.min_freq][: self.options.max_bigrams]
        # sorted: the same counts give the same ids, whatever order the texts came in
        self.vocab = Vocabulary(sorted(chars) + sorted(kept, key=lambda p: (-pairs[p], p)))

    def _table(self):  # token -> id, specials left out: text spelled like <s> is never BOS
        vocab = self.vocab
        if getattr(self, "_table_of", None) is not vocab:
            self._table_of, self._ids = vocab, {token: i for i, token in enumerate(vocab.tokens) if i >= SPECIALS}
        return self._ids

    def encode(self, text):
        table, ids, i = self._table(), [], 0
        while i < len(text):
            pair = table.get(text[i : i + 2]) if i + 1 < len(text) else None
            if pair is not None:
                ids.append(pair)
                i += 2
            else:
                ids.append(table.get(text[i], 1))  # 1: <unk>
                i += 1
        return ids

    def decode(self, ids):
        tokens = self.vocab.tokens
        return "".join(tokens[i] if i >= SPECIALS or i == 1 else "" for i in map(int, ids) if i < len(tokens))

    def save_model(self, directory):
        self.vocab.save(directory / "vocab.json")

    def load_model(self, directory):
        path = directory / "vocab.json"
        try:
            self.vocab = Vocabulary.load(path)
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"{path}: cannot read the acme_bigrams vocabulary ({e})") from None

    def model_bytes(self):
        return json.dumps(list(self.vocab.tokens)).encode()
