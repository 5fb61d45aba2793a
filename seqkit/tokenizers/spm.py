"""SentencePiece tokenizers (unigram or BPE), trained in memory and saved as ``spm.model``."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqkit.errors import UserError
from seqkit.io import atomic_write
from seqkit.ranges import ranged
from seqkit.tokenizers.base import Tokenizer
from seqkit.tokenizers.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

MODEL_FILE = "spm.model"


@dataclass
class SentencePieceOptions:
    """Options of the SentencePiece tokenizer.

    ``vocab_size`` counts every piece, the four specials included (with ``byte_fallback`` also the 256 byte
    pieces, which let any text round-trip without unknown tokens). ``max_sentences`` caps the sentences
    trained on (a seeded sample of them beyond that). ``threads`` changes the model SentencePiece learns, so
    it is an option rather than the machine's core count: the same options give the same model anywhere.
    """

    vocab_size: int = ranged(8000, "[1, inf)")  # pieces, counting the 4 specials (and byte_fallback's 256 bytes)
    model_type: str = "unigram"  # unigram / bpe / char / word (SentencePiece's model types)
    character_coverage: float = ranged(1.0, "(0, 1]")  # share of characters covered by pieces (others: bytes, <unk>)
    byte_fallback: bool = True  # unknown characters become byte pieces, so any text round-trips
    max_sentences: int = ranged(2_000_000, "[1, inf)")  # train on at most this many sentences (a seeded sample beyond)
    seed: int = ranged(0, "[0, inf)")  # SentencePiece's random seed (sampling, training)
    threads: int = ranged(2, "[1, inf)")  # training threads; part of the options because it changes the model learnt


class SentencePieceTokenizer(Tokenizer):
    """Subword pieces from SentencePiece. Its ids are the vocabulary's (pad 0, unk 1, bos 2, eos 3).

    SentencePiece's own normalisation is off (``identity``): the data pipeline normalises (NFC, whitespace)
    before encoding, so decoding gives back exactly the normalised text.
    """

    name = "sentencepiece"
    Options = SentencePieceOptions

    def check_options(self) -> None:
        o = self.options
        if o.model_type not in ("unigram", "bpe"):
            raise UserError(f"sentencepiece tokenizer: model_type must be 'unigram' or 'bpe', got {o.model_type!r}")
        smallest = len(SPECIALS) + (256 if o.byte_fallback else 0) + 1
        if o.vocab_size < smallest:
            raise UserError(f"sentencepiece tokenizer: vocab_size must be at least {smallest}, got {o.vocab_size!r}")
        if not 0 < o.character_coverage <= 1:
            raise UserError(
                f"sentencepiece tokenizer: character_coverage must be in (0, 1], got {o.character_coverage}"
            )
        for key in ("max_sentences", "threads"):
            if getattr(o, key) < 1:
                raise UserError(f"sentencepiece tokenizer: {key} must be positive, got {getattr(o, key)}")

    def train(self, texts: Iterable[str]) -> None:
        """Train on normalised sentences. Raises ``UserError`` when SentencePiece cannot (too little text for
        ``vocab_size``, say), with its reason."""
        import sentencepiece as spm

        o = self.options
        model = io.BytesIO()
        spm.set_random_generator_seed(o.seed)
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts), model_writer=model, vocab_size=o.vocab_size, model_type=o.model_type,
                character_coverage=o.character_coverage, byte_fallback=o.byte_fallback,
                input_sentence_size=o.max_sentences, shuffle_input_sentence=True, num_threads=o.threads,
                normalization_rule_name="identity", minloglevel=2,
                pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
                pad_piece=SPECIALS[PAD], unk_piece=SPECIALS[UNK], bos_piece=SPECIALS[BOS], eos_piece=SPECIALS[EOS],
            )  # fmt: skip
        except RuntimeError as e:
            raise UserError(f"sentencepiece training failed: {str(e).strip()}") from None
        self._set_model(model.getvalue(), "the trained model")

    def _set_model(self, proto: bytes, where: str) -> None:
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(proto)
        except (RuntimeError, OSError) as e:
            raise UserError(f"{where}: not a SentencePiece model ({str(e).strip()})") from None
        pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        if tuple(pieces[: len(SPECIALS)]) != SPECIALS:
            raise UserError(f"{where}: special pieces {pieces[:4]}, expected {list(SPECIALS)} at ids 0-3")
        self._processor, self._proto = processor, proto
        self.vocab = Vocabulary(pieces[len(SPECIALS) :])

    def encode(self, text: str) -> list[int]:
        self._check_trained()
        return self._processor.encode(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        self._check_trained()
        return self._processor.encode(list(texts), num_threads=self.options.threads)

    def decode(self, ids: Iterable[int]) -> str:
        self._check_trained()
        return self._processor.decode([int(i) for i in ids])

    def save_model(self, directory: Path) -> None:
        with atomic_write(directory / MODEL_FILE, "wb") as f:
            f.write(self.model_bytes())

    def load_model(self, directory: Path) -> None:
        path = directory / MODEL_FILE
        try:
            proto = path.read_bytes()
        except OSError as e:
            raise UserError(f"{path}: cannot read the SentencePiece model ({e.strerror or e})") from None
        self._set_model(proto, str(path))

    def model_bytes(self) -> bytes:
        self._check_trained()
        return self._proto


__all__ = ["SentencePieceOptions", "SentencePieceTokenizer"]
