"""The attention encoder-decoder (``seq2seq``), built from registered layers.

Embedding -> encoder RNN (any registered RNN layer) -> bridge -> decoder RNN with attention (any registered
attention) -> attentional hidden ``tanh(W_c [context; h])`` -> output projection (optionally tied to the
target embedding). Without input feeding, teacher-forced training runs the decoder as one fused
whole-sequence op; with it, a loop of ``step`` calls (each step needs the previous attentional hidden).

Token ids are Python lists of integer arrays, one per sentence, without BOS/EOS; the model adds them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy

import seqkit.functions as F
from seqkit.core.autograd import Variable
from seqkit.decoding.state import DecoderState
from seqkit.errors import UserError
from seqkit.layers import AttentionLayer, Embedding, Linear, RNNLayer, lengths_to_mask
from seqkit.models.base import Translator, default_layers, layer_class, pad_batch
from seqkit.ranges import check_ranges, ranged


@dataclasses.dataclass
class Seq2SeqOptions:
    """Options of the ``seq2seq`` model (recipe section ``[model]``)."""

    embed_size: int = ranged(256, "[1, inf)")  # source and target embedding size
    hidden_size: int = ranged(512, "[1, inf)")  # encoder RNN size per direction, and decoder RNN size
    encoder: str = "lstm"  # a registered RNN layer (a seqkit.layers.RNNLayer)
    encoder_layers: int = ranged(2, "[1, inf)")  # stacked encoder RNN layers
    bidirectional: bool = True  # bidirectional encoder
    decoder: str = "lstm"  # a registered RNN layer (a seqkit.layers.RNNLayer), unidirectional
    decoder_layers: int = ranged(2, "[1, inf)")  # stacked decoder RNN layers
    attention: str = "general_attention"  # a registered attention layer (a seqkit.layers.AttentionLayer)
    attention_heads: int = ranged(8, "[1, inf)")  # heads, for an attention layer that has several
    input_feeding: bool = False  # feed the previous attentional hidden into the decoder (Luong et al.)
    bridge: str = "dense"  # encoder final state -> decoder initial state: "dense", "copy" or "none"
    dropout: float = ranged(0.2, "[0, 1)")  # on embeddings, between RNN layers, and before the output projection
    tie_embeddings: bool = False  # share the target embedding with the output projection
    label_smoothing: float = ranged(0.0, "[0, 1)")  # share of the target probability spread over the vocabulary


class Seq2Seq(Translator):
    """Attention encoder-decoder. ``src_vocab``/``tgt_vocab``: vocabulary sizes; ``layers``: the registry the
    options' layer names are looked up in, seqkit's own layers by default (``default_layers()``); pass
    ``pm.registry("layer")`` for plugins' layers too (a recipe's model gets it)."""

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        options: Seq2SeqOptions | None = None,
        *,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        layers=None,
    ) -> None:
        super().__init__()
        o = options or Seq2SeqOptions()
        check_ranges(o, "model")
        self.options = o
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        layers = default_layers() if layers is None else layers
        if o.bridge not in ("dense", "copy", "none"):
            raise UserError(f"model.bridge must be 'dense', 'copy' or 'none', got {o.bridge!r}")
        E, H = o.embed_size, o.hidden_size
        self.src_embed = Embedding(src_vocab, E, padding_idx=pad_id)
        self.tgt_embed = Embedding(tgt_vocab, E, padding_idx=pad_id)
        encoder = layer_class(layers, "encoder", o.encoder, RNNLayer)
        decoder = layer_class(layers, "decoder", o.decoder, RNNLayer)
        attention = layer_class(layers, "attention", o.attention, AttentionLayer)
        self.encoder = encoder(E, H, o.encoder_layers, bidirectional=o.bidirectional, dropout=o.dropout)
        memory_size = self.encoder.out_size
        dec_in = E + (H if o.input_feeding else 0)
        self.decoder = decoder(dec_in, H, o.decoder_layers, dropout=o.dropout)
        try:  # the heads must fit the sizes (a multi-head attention splits hidden_size among them)
            self.attention = attention.from_sizes(H, memory_size, o.attention_heads)
        except ValueError as e:
            heads = f"model.attention_heads = {o.attention_heads}"
            raise UserError(f"model.attention = {o.attention!r}, {heads}: {e}") from None
        self.combine = Linear(self.attention.context_size(memory_size) + H, H, bias=False)
        self.out = Linear(H, tgt_vocab)
        if o.tie_embeddings:
            if E != H:
                raise UserError(f"model.tie_embeddings needs embed_size == hidden_size, got {E} and {H}")
            self.out.W = self.tgt_embed.W
        enc_state = o.hidden_size * self.encoder.directions
        self.decoder_parts = 2 if self.decoder.has_cell else 1
        if o.bridge == "dense":
            self.bridge = Linear(enc_state, H)
            if self.decoder_parts == 2:
                self.bridge_c = Linear(enc_state, H)
        elif o.bridge == "copy" and enc_state != H:
            raise UserError(f"model.bridge 'copy' needs encoder state size {enc_state} == hidden_size {H}")

    @classmethod
    def parameter_count(cls, options: Seq2SeqOptions, *, source_vocab: int, target_vocab: int) -> int:
        """At least this many parameters: the embeddings, the RNNs' weights with one gate each (an LSTM has four),
        the attentional hidden's recurrent half and the output projection; biases and attention weights left out."""
        o = options
        E, H, d = o.embed_size, o.hidden_size, 2 if o.bidirectional else 1
        encoder = d * H * (E + H) + (o.encoder_layers - 1) * d * H * (d * H + H)
        decoder = H * (E + H) + (o.decoder_layers - 1) * 2 * H * H
        return (source_vocab + target_vocab) * E + encoder + decoder + H * H + H * target_vocab

    # ---- the decoding interface ------------------------------------------------------------------------------
    def encode(self, src: list) -> dict:
        """Run the encoder over a batch of source id arrays. Returns the memory ``(B, S, D)``, its mask and
        the encoder's final state."""
        xp = self.xp
        ids, lengths = pad_batch(src, self.pad_id, xp)
        x = F.dropout(self.src_embed(ids), self.options.dropout)
        memory, final = self.encoder(x, lengths=lengths)
        return {"memory": memory, "mask": lengths_to_mask(lengths, ids.shape[1], xp=xp), "final": final}

    def initial_state(self, encoded: dict) -> DecoderState:
        """The decoder state before the first target token: the decoder RNN's state per row; the memory, its
        mask and the attention's precomputed keys per source sentence."""
        memory = encoded["memory"]
        B = memory.shape[0]
        rows = {"rnn": self._bridge(encoded["final"], B)}
        if self.options.input_feeding:
            rows["feed"] = self.xp.zeros((B, self.options.hidden_size), dtype=self.out.W.dtype)
        sources = {"memory": memory, "mask": encoded["mask"]}
        keys = self.attention.precompute(memory)
        if keys is not None:  # DecoderState selects every source value by sentence
            sources["keys"] = keys
        return DecoderState(rows, sources, row_axis={"rnn": 1})

    def step(self, state: DecoderState, prev_tokens) -> tuple[Variable, DecoderState]:
        """One decoder step: ``prev_tokens`` (B,) -> log-probabilities (B, V) and the next state (which also
        holds this step's attention weights)."""
        h_tilde, state = self._step(state, prev_tokens)
        return F.log_softmax(self.out(h_tilde), axis=1), state

    # ---- training ---------------------------------------------------------------------------------------------
    def loss(self, src: list, tgt: list) -> tuple[Variable, int]:
        """Mean cross-entropy per target token under teacher forcing, and the number of target tokens
        (each sentence's tokens plus EOS)."""
        state = self.initial_state(self.encode(src))
        sources = state.sources
        xp = self.xp
        tgt_in = [numpy.concatenate([[self.bos_id], numpy.asarray(t, dtype=numpy.int64)]) for t in tgt]
        tgt_out = [numpy.concatenate([numpy.asarray(t, dtype=numpy.int64), [self.eos_id]]) for t in tgt]
        ids_in, lengths = pad_batch(tgt_in, self.pad_id, xp)
        ids_out, _ = pad_batch(tgt_out, self.pad_id, xp)
        B, T = ids_in.shape
        emb = F.dropout(self.tgt_embed(ids_in), self.options.dropout)
        rows = numpy.concatenate([b * T + numpy.arange(n) for b, n in enumerate(lengths)])  # real positions

        def real(x):  # (B, T, D) -> (N, D): the rows of real target positions, padding left out
            return F.gather_rows(F.reshape(x, (B * T, -1)), rows)

        if self.options.input_feeding:
            outs = []
            for t in range(T):
                h_tilde, state = self._step(state, None, emb[:, t])
                outs.append(h_tilde)
            h_tilde = real(F.stack(outs, axis=1))
        else:
            hs, _ = self.decoder(emb, state.rows["rnn"], lengths=lengths)
            context, _ = self.attention(hs, sources["memory"], sources["mask"], precomputed=sources.get("keys"))
            h_tilde = F.tanh(self.combine(F.concat([real(context), real(hs)], axis=1)))
        logits = self.out(F.dropout(h_tilde, self.options.dropout))
        targets = ids_out.reshape(-1)[xp.asarray(rows)]
        loss = F.softmax_cross_entropy(logits, targets, label_smoothing=self.options.label_smoothing)
        return loss, len(rows)

    # ---- pieces -----------------------------------------------------------------------------------------------
    def _step(self, state: DecoderState, prev_tokens, emb=None) -> tuple[Variable, DecoderState]:
        if emb is None:
            emb = self.tgt_embed(self.xp.asarray(prev_tokens))
        feeding = self.options.input_feeding
        x = F.concat([emb, state.rows["feed"]], axis=1) if feeding else emb
        h, rnn = self.decoder.step(x, state.rows["rnn"])
        memory, mask, keys = state.sources["memory"], state.sources["mask"], state.sources.get("keys")
        group = state.group
        if group > 1:  # a beam per source: its rows attend to their sentence's memory together
            n, size = h.shape[0] // group, h.shape[1]
            context, weights = self.attention(F.reshape(h, (n, group, size)), memory, mask, precomputed=keys)
            if weights.ndim == 4:  # multi-head: (n, heads, group, S) -> (n, group, heads, S)
                weights = F.transpose(weights, (0, 2, 1, 3))
            context = F.reshape(context, (n * group, -1))
            weights = F.reshape(weights, (n * group, *weights.shape[2:]))
        else:
            context, weights = self.attention(h, memory, mask, precomputed=keys)
        h_tilde = F.tanh(self.combine(F.concat([context, h], axis=1)))
        if feeding:
            return h_tilde, state.after_step(weights, rnn=rnn, feed=h_tilde)
        return h_tilde, state.after_step(weights, rnn=rnn)

    def _bridge(self, final: Any, B: int):
        """Encoder final state ``(L_enc * dirs, B, H)`` (pair for an LSTM) -> decoder initial state."""
        o = self.options
        L_dec, H = o.decoder_layers, o.hidden_size
        enc_parts = final if isinstance(final, tuple) else (final,)
        dirs = self.encoder.directions
        out = []
        for k in range(self.decoder_parts):
            if o.bridge == "none" or k >= len(enc_parts):
                out.append(self.xp.zeros((L_dec, B, H), dtype=self.out.W.dtype))
                continue
            part = enc_parts[k]
            L_enc = part.shape[0] // dirs
            # (L*dirs, B, H) -> (L, B, dirs*H): both directions of a layer side by side
            per_layer = F.reshape(F.transpose(F.reshape(part, (L_enc, dirs, B, -1)), (0, 2, 1, 3)), (L_enc, B, -1))
            picked = [per_layer[min(L_enc - 1, max(0, L_enc - L_dec + i))] for i in range(L_dec)]
            if o.bridge == "dense":
                linear = self.bridge if k == 0 else self.bridge_c
                picked = [F.tanh(linear(p)) for p in picked]
            out.append(F.stack(picked))
        return tuple(out) if self.decoder_parts == 2 else out[0]

