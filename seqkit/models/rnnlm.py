"""An RNN language model (``rnnlm``): embedding -> RNN -> softmax over the vocabulary."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy

import seqkit.functions as F
from seqkit.core.autograd import Variable
from seqkit.decoding.state import DecoderState
from seqkit.errors import UserError
from seqkit.layers import Embedding, Linear, RNNLayer
from seqkit.models.base import Translator, default_layers, layer_class, pad_batch
from seqkit.ranges import check_ranges, ranged
from seqkit.registry import Registry


@dataclasses.dataclass
class RNNLMOptions:
    """Options of the ``rnnlm`` model (recipe section ``[model]``)."""

    embed_size: int = ranged(256, "[1, inf)")  # token embedding size
    hidden_size: int = ranged(512, "[1, inf)")  # RNN size
    rnn: str = "lstm"  # a registered RNN layer (a seqkit.layers.RNNLayer), unidirectional
    layers: int = ranged(2, "[1, inf)")  # stacked RNN layers
    dropout: float = ranged(0.2, "[0, 1)")  # on embeddings, between RNN layers, and before the output projection
    tie_embeddings: bool = False  # share the embedding with the output projection


class RNNLM(Translator):
    """Language model over sentences of token ids (BOS/EOS added by the model). As a decoding model it
    ignores its source: ``encode`` only fixes the batch size, so search generates unconditionally. ``layers``:
    the registry ``options.rnn`` is looked up in, seqkit's own layers by default (as ``Seq2Seq``'s)."""

    def __init__(
        self, vocab: int, options: RNNLMOptions | None = None, *, pad_id: int = 0, bos_id: int = 2, eos_id: int = 3,
        layers=None,
    ) -> None:  # fmt: skip
        super().__init__()
        o = options or RNNLMOptions()
        check_ranges(o, "model")
        self.options = o
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        layers = default_layers() if layers is None else layers
        self.embed = Embedding(vocab, o.embed_size, padding_idx=pad_id)
        rnn = layer_class(layers, "rnn", o.rnn, RNNLayer)
        self.rnn = rnn(o.embed_size, o.hidden_size, o.layers, dropout=o.dropout)
        self.out = Linear(o.hidden_size, vocab)
        if o.tie_embeddings:
            if o.embed_size != o.hidden_size:
                sizes = f"{o.embed_size} and {o.hidden_size}"
                raise UserError(f"model.tie_embeddings needs embed_size == hidden_size, got {sizes}")
            self.out.W = self.embed.W

    @classmethod
    def build(
        cls, options: Any, *, source_vocab: int, target_vocab: int, pad_id: int, bos_id: int, eos_id: int,
        layers: Registry,
    ) -> RNNLM:  # fmt: skip
        """A language model of the target side: ``source_vocab`` is not used."""
        return cls(target_vocab, options, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id, layers=layers)

    @classmethod
    def parameter_count(cls, options: RNNLMOptions, *, source_vocab: int, target_vocab: int) -> int:
        """At least this many parameters: the embedding and the RNN's weights with one gate each (an LSTM has
        four); biases and the output projection (which may be the embedding) left out."""
        o = options
        E, H = o.embed_size, o.hidden_size
        return target_vocab * E + H * (E + H) + (o.layers - 1) * 2 * H * H

    def loss(self, sentences: list, _unused: list | None = None) -> tuple[Variable, int]:
        """Mean cross-entropy per predicted token (each sentence's tokens plus EOS), and that token count."""
        xp = self.xp
        ids_in, lengths = pad_batch([numpy.concatenate([[self.bos_id], s]) for s in sentences], self.pad_id, xp)
        ids_out, _ = pad_batch([numpy.concatenate([s, [self.eos_id]]) for s in sentences], self.pad_id, xp)
        B, T = ids_in.shape
        hs, _ = self.rnn(F.dropout(self.embed(ids_in), self.options.dropout), lengths=lengths)
        rows = numpy.concatenate([b * T + numpy.arange(n) for b, n in enumerate(lengths)])
        h = F.dropout(F.gather_rows(F.reshape(hs, (B * T, -1)), rows), self.options.dropout)
        loss = F.softmax_cross_entropy(self.out(h), ids_out.reshape(-1)[xp.asarray(rows)])
        return loss, len(rows)

    def encode(self, src: list) -> dict:
        return {"batch": len(src)}

    def initial_state(self, encoded: dict) -> DecoderState:
        B, H, L = encoded["batch"], self.options.hidden_size, self.options.layers
        zeros = self.xp.zeros((L, B, H), dtype=self.out.W.dtype)
        return DecoderState({"rnn": (zeros, zeros) if self.rnn.has_cell else zeros}, row_axis={"rnn": 1})

    def step(self, state: DecoderState, prev_tokens) -> tuple[Variable, DecoderState]:
        h, rnn = self.rnn.step(self.embed(self.xp.asarray(prev_tokens)), state.rows["rnn"])
        return F.log_softmax(self.out(h), axis=1), state.after_step(rnn=rnn)
