"""Acme's model: a compact attention translator whose encoder, decoder and attention are layers named in its options."""

import dataclasses

import numpy

import seqkit.functions as F
from seqkit.decoding import DecoderState
from seqkit.layers import AttentionLayer, Embedding, Linear, RecurrentLayer
from seqkit.models import Translator, pad_batch


@dataclasses.dataclass
class CompactOptions:
    embed_size: int = 32  # source and target embedding size
    hidden_size: int = 64  # encoder and decoder RNN size
    encoder: str = "acme_indrnn"  # a registered RNN layer (a seqkit.layers.RecurrentLayer), read forwards
    decoder: str = "acme_indrnn"  # a registered RNN layer, unidirectional
    attention: str = "acme_cosine_attention"  # a registered attention layer (a seqkit.layers.AttentionLayer)
    layers: int = 1  # stacked layers of the encoder, and of the decoder
    dropout: float = 0.0  # on embeddings and before the output projection

    def __post_init__(self) -> None:
        if min(self.embed_size, self.hidden_size, self.layers) < 1:
            raise ValueError("embed_size, hidden_size and layers must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def _lookup(layers, option: str, name: str, base: type) -> type:
    cls = layers.get(name)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"acme_compact: {option} = {name!r} is not a {base.__module__}.{base.__name__}")
    return cls


class CompactTranslator(Translator):
    """Unidirectional encoder; the decoder starts from the encoder's final state when both keep the same kind of
    state, and predicts each token from its output and the attention context over the encoder's outputs."""

    def __init__(self, source_vocab, target_vocab, options=None, *, pad_id=0, bos_id=2, eos_id=3, layers=None):
        super().__init__()
        o = options or CompactOptions()
        if layers is None:
            raise ValueError("acme_compact: needs the layer registry (layers=...) to find its layers")
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.dropout, self.hidden_size, self.num_layers = o.dropout, o.hidden_size, o.layers
        self.src_embed = Embedding(source_vocab, o.embed_size, padding_idx=pad_id)
        self.tgt_embed = Embedding(target_vocab, o.embed_size, padding_idx=pad_id)
        self.encoder = _lookup(layers, "encoder", o.encoder, RecurrentLayer)(o.embed_size, o.hidden_size, o.layers)
        self.decoder = _lookup(layers, "decoder", o.decoder, RecurrentLayer)(o.embed_size, o.hidden_size, o.layers)
        self.attention = _lookup(layers, "attention", o.attention, AttentionLayer).from_sizes(
            o.hidden_size, self.encoder.out_size, 1
        )
        context = self.attention.context_size(self.encoder.out_size)
        self.combine = Linear(o.hidden_size + context, o.hidden_size)
        self.out = Linear(o.hidden_size, target_vocab)
        self.bridge = self.encoder.has_cell == self.decoder.has_cell

    def _drop(self, x):
        return F.dropout(x, self.dropout) if self.dropout else x

    def _predict(self, h, context):  # (N, H), (N, C) -> (N, V) logits
        return self.out(self._drop(F.tanh(self.combine(F.concat([h, context], axis=1)))))

    def encode(self, src):
        ids, lengths = pad_batch(src, self.pad_id, self.xp)
        memory, final = self.encoder(self._drop(self.src_embed(ids)), None, lengths=lengths)
        mask = self.xp.arange(ids.shape[1])[None, :] < self.xp.asarray(lengths)[:, None]
        return memory, mask, final

    def _start(self, memory, final):  # the decoder's initial state, as a tuple
        if self.bridge:
            return final if isinstance(final, tuple) else (final,)
        zeros = self.xp.zeros((self.num_layers, memory.shape[0], self.hidden_size), dtype=memory.dtype)
        return (zeros, zeros) if self.decoder.has_cell else (zeros,)

    def _unpack(self, state: tuple):  # what the decoder layer takes: (h, c), or h alone
        return state if self.decoder.has_cell else state[0]

    def initial_state(self, encoded):
        memory, mask, final = encoded
        rows = {f"s{i}": s for i, s in enumerate(self._start(memory, final))}
        # the memory and its mask are per row too, so that a beam's select() repeats them with the hypotheses
        rows.update(memory=memory, mask=mask, keys=self.attention.precompute(memory))
        return DecoderState(rows, row_axis={k: 1 for k in rows if k.startswith("s")})

    def _state(self, rows):
        return self._unpack(tuple(rows[f"s{i}"] for i in range(2 if self.decoder.has_cell else 1)))

    def step(self, state, prev_tokens):
        rows = state.rows
        h, after = self.decoder.step(self._drop(self.tgt_embed(self.xp.asarray(prev_tokens))), self._state(rows))
        context, _ = self.attention(h, rows["memory"], rows["mask"], precomputed=rows["keys"])
        after = after if isinstance(after, tuple) else (after,)
        return F.log_softmax(self._predict(h, context), axis=1), state.after_step(
            **{f"s{i}": s for i, s in enumerate(after)}
        )

    def loss(self, src, tgt):
        memory, mask, final = self.encode(src)
        ids_in, lengths = pad_batch([numpy.concatenate([[self.bos_id], t]) for t in tgt], self.pad_id, self.xp)
        ids_out, _ = pad_batch([numpy.concatenate([t, [self.eos_id]]) for t in tgt], self.pad_id, self.xp)
        init = self._unpack(self._start(memory, final))
        hs, _ = self.decoder(self._drop(self.tgt_embed(ids_in)), init, lengths=lengths)  # (B, T, H)
        context, _ = self.attention(hs, memory, mask)  # (B, T, C)
        B, T = ids_out.shape
        logits = self._predict(F.reshape(hs, (B * T, -1)), F.reshape(context, (B * T, -1)))
        return F.softmax_cross_entropy(logits, ids_out.reshape(-1), ignore_label=self.pad_id), sum(lengths)
