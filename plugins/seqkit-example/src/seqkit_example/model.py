"""The RNN encoder-decoder of Cho et al. (2014, "Learning Phrase Representations using RNN Encoder-Decoder for
Statistical Machine Translation"), without attention (``rnn_encdec``).

The encoder RNN reads the source; the top layer's final state ``c`` is a fixed-size summary of it, the only
thing the decoder learns about the source. With ``e(y)`` the target embedding::

    s_0 = tanh(V c)                                   # the decoder's initial state (each layer its own slice)
    s_t = RNN(s_{t-1}, [e(y_{t-1}); c])               # c is fed at every step
    r_t = maxout(O [s_t; e(y_{t-1}); c])              # the paper's deep output, pools of two units
    p(y_t | y_<t, c) = softmax(G r_t)

Concatenating ``c`` to the RNN's input is the paper's ``C c`` term in every gate: the layer's input projection
holds it. Any registered ``seqkit.layers.RNNLayer`` serves as encoder or decoder (the paper's is a GRU). Since
``c`` enters every step directly, teacher-forced training runs the decoder as one RNN call over the padded batch.
"""

from __future__ import annotations

import dataclasses

import numpy
import seqkit.functions as F
from seqkit.core.autograd import Variable
from seqkit.decoding.state import DecoderState
from seqkit.layers import Embedding, Linear, RNNLayer
from seqkit.models.base import Translator, default_layers, layer_class, pad_batch


@dataclasses.dataclass
class RNNEncDecOptions:
    """Options of the ``rnn_encdec`` model (recipe section ``[model]``)."""

    embed_size: int = 256  # source and target embedding size
    hidden_size: int = 512  # encoder and decoder RNN size: the size of the source summary c
    encoder: str = "gru"  # a registered RNN layer (a seqkit.layers.RNNLayer), read left to right
    encoder_layers: int = 1  # stacked encoder RNN layers; c is the top one's final state
    decoder: str = "gru"  # a registered RNN layer (a seqkit.layers.RNNLayer), unidirectional
    decoder_layers: int = 1  # stacked decoder RNN layers
    maxout_size: int = 256  # units of the output layer, each the larger of two projections
    dropout: float = 0.2  # on embeddings, between RNN layers, and before the output projection


class RNNEncDec(Translator):
    """RNN encoder-decoder with the source summarised in one vector. ``src_vocab``/``tgt_vocab``: vocabulary
    sizes; ``layers``: the registry the options' layer names are looked up in, seqkit's own layers by default;
    pass ``pm.registry("layer")`` for plugins' layers too (a recipe's model gets it)."""

    def __init__(
        self, src_vocab: int, tgt_vocab: int, options: RNNEncDecOptions | None = None, *, pad_id: int = 0,
        bos_id: int = 2, eos_id: int = 3, layers=None,
    ) -> None:  # fmt: skip
        super().__init__()
        o = options or RNNEncDecOptions()
        self.options = o
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        layers = default_layers() if layers is None else layers
        encoder = layer_class(layers, "encoder", o.encoder, RNNLayer)
        decoder = layer_class(layers, "decoder", o.decoder, RNNLayer)
        E, H = o.embed_size, o.hidden_size
        self.src_embed = Embedding(src_vocab, E, padding_idx=pad_id)
        self.tgt_embed = Embedding(tgt_vocab, E, padding_idx=pad_id)
        self.encoder = encoder(E, H, o.encoder_layers, dropout=o.dropout)
        self.decoder = decoder(E + H, H, o.decoder_layers, dropout=o.dropout)
        self.init = Linear(H, o.decoder_layers * H)  # V: c -> every decoder layer's initial state
        self.readout = Linear(H + E + H, 2 * o.maxout_size)  # O: [s_t; e(y_{t-1}); c] -> maxout's pieces
        self.out = Linear(o.maxout_size, tgt_vocab)  # G

    # ---- the decoding interface ------------------------------------------------------------------------------
    def encode(self, src: list) -> Variable:
        """The summary ``c`` ``(B, H)`` of each source sentence: the top encoder layer's final state."""
        ids, lengths = pad_batch(src, self.pad_id, self.xp)
        _, final = self.encoder(F.dropout(self.src_embed(ids), self.options.dropout), lengths=lengths)
        h = final[0] if isinstance(final, tuple) else final  # an LSTM's (h, c): its h
        return h[-1]

    def initial_state(self, c: Variable) -> DecoderState:
        """The decoder RNN's state ``tanh(V c)`` (an LSTM's memory cell at zero) and ``c`` itself, per row."""
        B, L, H = c.shape[0], self.options.decoder_layers, self.options.hidden_size
        h = F.transpose(F.reshape(F.tanh(self.init(c)), (B, L, H)), (1, 0, 2))  # (L, B, H)
        rnn = (h, self.xp.zeros(h.shape, dtype=h.dtype)) if self.decoder.has_cell else h
        return DecoderState({"rnn": rnn, "c": c}, row_axis={"rnn": 1})

    def step(self, state: DecoderState, prev_tokens) -> tuple[Variable, DecoderState]:
        """One decoder step: ``prev_tokens`` ``(B,)`` -> log-probabilities ``(B, V)`` and the next state."""
        emb, c = self.tgt_embed(self.xp.asarray(prev_tokens)), state.rows["c"]
        s, rnn = self.decoder.step(F.concat([emb, c], axis=1), state.rows["rnn"])
        return F.log_softmax(self._logits(s, emb, c), axis=1), state.after_step(rnn=rnn)

    # ---- training ---------------------------------------------------------------------------------------------
    def loss(self, src: list, tgt: list) -> tuple[Variable, int]:
        """Mean cross-entropy per target token under teacher forcing, and the number of target tokens (each
        sentence's tokens plus EOS): the decoder runs over every step of the padded batch in one call."""
        c = self.encode(src)
        state = self.initial_state(c)
        xp = self.xp
        ids_in, lengths = pad_batch([numpy.concatenate([[self.bos_id], t]) for t in tgt], self.pad_id, xp)
        ids_out, _ = pad_batch([numpy.concatenate([t, [self.eos_id]]) for t in tgt], self.pad_id, xp)
        B, T = ids_in.shape
        emb = F.dropout(self.tgt_embed(ids_in), self.options.dropout)  # (B, T, E)
        every_step = F.broadcast_to(F.expand_dims(c, 1), (B, T, c.shape[1]))
        s, _ = self.decoder(F.concat([emb, every_step], axis=2), state.rows["rnn"], lengths=lengths)
        rows = numpy.concatenate([b * T + numpy.arange(n) for b, n in enumerate(lengths)])  # real positions

        def real(x):  # (B, T, D) -> (N, D): the rows of real target positions, padding left out
            return F.gather_rows(F.reshape(x, (B * T, -1)), rows)

        logits = self._logits(real(s), real(emb), real(every_step))
        loss = F.softmax_cross_entropy(logits, ids_out.reshape(-1)[xp.asarray(rows)])
        return loss, len(rows)

    # ---- pieces -----------------------------------------------------------------------------------------------
    def _logits(self, s: Variable, emb: Variable, c: Variable) -> Variable:
        """The deep output: ``(N, H)``, ``(N, E)``, ``(N, H)`` -> ``G maxout(O [s; e; c])`` ``(N, V)``."""
        pieces = self.readout(F.concat([s, emb, c], axis=1))
        r = F.max(F.reshape(pieces, (s.shape[0], self.options.maxout_size, 2)), axis=2)
        return self.out(F.dropout(r, self.options.dropout))
