"""``seqkit.data.vocab`` names ``seqkit.tokenizers.vocab``'s ``Vocabulary`` and special ids, for code that imports
them from here."""

from seqkit.tokenizers.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "UNK", "Vocabulary"]
