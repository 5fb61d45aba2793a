"""The Transformer (Vaswani et al. 2017): the encoder-decoder ``transformer`` and the decoder-only language model
``transformer_lm``.

Token embeddings scaled by ``sqrt(d_model)`` with a position scheme (``model.positions``, a registered
``seqkit.layers.PositionEncoding``: sinusoidal, learned, or a plugin's, which may also bias self-attention),
dropout, a stack of ``seqkit.layers.TransformerEncoderLayer`` / ``TransformerDecoderLayer`` (pre-norm by default,
then a final layer norm; post-norm as an option), and the output projection (optionally the target embedding
itself). Training runs every layer once over the whole padded batch, with key-padding and causal masks; decoding
(``step``) runs one position per call against each decoder layer's cache of keys and values, kept per hypothesis
in the ``DecoderState``'s rows so that ``state.select`` reorders it with the beam, and the memory's keys and
values, projected once per source at ``initial_state``.

Token ids are Python lists of integer arrays, one per sentence, without BOS/EOS; the models add them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy

import seqkit.functions as F
from seqkit import initializers
from seqkit.core.autograd import Variable
from seqkit.decoding.state import DecoderState
from seqkit.errors import UserError
from seqkit.layers import (
    Embedding,
    LayerList,
    LayerNorm,
    Linear,
    PositionEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    lengths_to_mask,
)
from seqkit.layers.transformer import ACTIVATIONS
from seqkit.models.base import Translator, default_layers, layer_class, pad_batch
from seqkit.ranges import check_ranges, ranged
from seqkit.registry import Registry


@dataclasses.dataclass
class TransformerOptions:
    """Options of the ``transformer`` model (recipe section ``[model]``)."""

    d_model: int = ranged(512, "[1, inf)")  # embedding and hidden size of every layer
    heads: int = ranged(8, "[1, inf)")  # attention heads (each of d_model / heads features); must divide d_model
    encoder_layers: int = ranged(6, "[1, inf)")  # stacked encoder layers
    decoder_layers: int = ranged(6, "[1, inf)")  # stacked decoder layers
    ffn_size: int = ranged(2048, "[1, inf)")  # hidden size of each layer's feed-forward block
    dropout: float = ranged(0.1, "[0, 1)")  # on embeddings and on each attention and feed-forward block's output
    attention_dropout: float = ranged(0.0, "[0, 1)")  # on the attention weights
    activation_dropout: float = ranged(0.0, "[0, 1)")  # on the feed-forward block's hidden activations
    activation: str = "relu"  # the feed-forward block's activation: "relu" or "gelu"
    norm_first: bool = True  # pre-norm layers and a final layer norm; false: post-norm (the original Transformer)
    positions: str = "sinusoidal"  # a registered position scheme (PositionEncoding): "sinusoidal", "learned", ...
    max_positions: int = ranged(1024, "[1, inf)")  # longest sentence (tokens + BOS or EOS) with learned positions
    share_embeddings: bool = False  # one embedding for source, target and output (needs equal vocabulary sizes)
    tie_output: bool = False  # the output projection is the target embedding
    label_smoothing: float = ranged(0.0, "[0, 1)")  # share of the target probability spread over the vocabulary


@dataclasses.dataclass
class TransformerLMOptions:
    """Options of the ``transformer_lm`` model (recipe section ``[model]``)."""

    d_model: int = ranged(512, "[1, inf)")  # embedding and hidden size of every layer
    heads: int = ranged(8, "[1, inf)")  # attention heads (each of d_model / heads features); must divide d_model
    layers: int = ranged(6, "[1, inf)")  # stacked causal self-attention layers
    ffn_size: int = ranged(2048, "[1, inf)")  # hidden size of each layer's feed-forward block
    dropout: float = ranged(0.1, "[0, 1)")  # on embeddings and on each attention and feed-forward block's output
    attention_dropout: float = ranged(0.0, "[0, 1)")  # on the attention weights
    activation_dropout: float = ranged(0.0, "[0, 1)")  # on the feed-forward block's hidden activations
    activation: str = "relu"  # the feed-forward block's activation: "relu" or "gelu"
    norm_first: bool = True  # pre-norm layers and a final layer norm; false: post-norm
    positions: str = "sinusoidal"  # a registered position scheme (PositionEncoding): "sinusoidal", "learned", ...
    max_positions: int = ranged(1024, "[1, inf)")  # longest sentence (tokens + BOS or EOS) with learned positions
    tie_output: bool = False  # the output projection is the token embedding
    label_smoothing: float = ranged(0.0, "[0, 1)")  # share of the target probability spread over the vocabulary


def _check_options(o: Any) -> None:
    """``UserError`` (one line naming the option) for options no Transformer can be built with: a value outside
    its declared range, heads that do not divide d_model, an unknown activation."""
    check_ranges(o, "model")
    if o.d_model % o.heads:
        raise UserError(f"model.heads ({o.heads}) must divide model.d_model ({o.d_model})")
    if o.activation not in ACTIVATIONS:
        raise UserError(f"model.activation must be one of {sorted(ACTIVATIONS)}, got {o.activation!r}")


class _TransformerBase(Translator):
    """Embeddings with positions, the layer options, and the final projection shared by both models."""

    options: Any

    def _layer_kwargs(self) -> dict[str, Any]:
        o = self.options
        return dict(dropout=o.dropout, attention_dropout=o.attention_dropout, activation_dropout=o.activation_dropout,
                    activation=o.activation, norm_first=o.norm_first)  # fmt: skip

    def _token_embedding(self, vocab: int) -> Embedding:
        # N(0, 1 / d_model), scaled by sqrt(d_model) in use: unit variance, as the positions' scale
        d = self.options.d_model
        return Embedding(vocab, d, padding_idx=self.pad_id, initialW=initializers.normal(d**-0.5))

    def _position_scheme(self, layers: Registry | None) -> type[PositionEncoding]:
        """The class ``model.positions`` names (``UserError`` in one line unless a ``PositionEncoding``)."""
        return layer_class(layers or default_layers(), "positions", self.options.positions, PositionEncoding)

    def _positions(self, scheme: type[PositionEncoding]) -> PositionEncoding:
        o = self.options
        return scheme.from_sizes(o.d_model, o.heads, o.max_positions)

    def _embed(self, embedding: Embedding, positions: PositionEncoding, ids, start: int = 0) -> Variable:
        """``ids`` ``(B, T)`` (or ``(R,)``, one step at position ``start``) -> scaled embeddings with positions,
        after dropout."""
        o = self.options
        x = embedding(ids) * math.sqrt(o.d_model)
        if ids.ndim == 1:  # a step: (R, D) -> (R, 1, D) at position start, and back
            return F.dropout(F.reshape(positions.embed(F.reshape(x, (-1, 1, o.d_model)), start), (-1, o.d_model)),
                             o.dropout)  # fmt: skip
        return F.dropout(positions.embed(x, start), o.dropout)

    def _bias(self, positions: PositionEncoding, queries: int, keys: int, start: int = 0):
        """The scheme's self-attention bias for queries at ``start .. start + queries - 1`` against keys at
        ``0 .. keys - 1``, in the parameters' dtype; None (without a call) for a scheme that never biases."""
        if type(positions).attention_bias is PositionEncoding.attention_bias:
            return None
        xp = self.xp
        bias = positions.attention_bias(xp.arange(start, start + queries), xp.arange(keys))
        if bias is None or isinstance(bias, Variable):
            return bias
        return bias.astype(self.out.W.dtype, copy=False)

    def _logits(self, h) -> Variable:
        return self.out(self.final_norm(h) if self.options.norm_first else h)

    def _cross_entropy(self, h, ids_out, lengths) -> tuple[Variable, int]:
        """Mean (label-smoothed) cross-entropy of the decoder's outputs ``h`` ``(B, T, D)`` at real positions."""
        B, T, _ = h.shape
        rows = numpy.concatenate([b * T + numpy.arange(n) for b, n in enumerate(lengths)])
        real = F.gather_rows(F.reshape(h, (B * T, -1)), rows)
        targets = ids_out.reshape(-1)[self.xp.asarray(rows)]
        loss = F.softmax_cross_entropy(self._logits(real), targets, label_smoothing=self.options.label_smoothing)
        return loss, len(rows)

    def _teacher_forcing(self, tgt: list):
        tgt_in = [numpy.concatenate([[self.bos_id], numpy.asarray(t, dtype=numpy.int64)]) for t in tgt]
        tgt_out = [numpy.concatenate([numpy.asarray(t, dtype=numpy.int64), [self.eos_id]]) for t in tgt]
        ids_in, lengths = pad_batch(tgt_in, self.pad_id, self.xp)
        ids_out, _ = pad_batch(tgt_out, self.pad_id, self.xp)
        return ids_in, ids_out, lengths

    def _empty_caches(self, layers: LayerList, rows: int) -> tuple:
        """Every layer's self-attention keys and values before the first step: ``(k_0, v_0, k_1, v_1, ...)``."""
        dtype = self.out.W.dtype
        return tuple(a for layer in layers for a in layer.self_attn.empty_cache(rows, self.xp, dtype))


class Transformer(_TransformerBase):
    """Transformer encoder-decoder. ``src_vocab``/``tgt_vocab``: vocabulary sizes (equal with
    ``share_embeddings``); ``layers``: the registry ``model.positions`` is looked up in (seqkit's own layers when
    None). Raises ``UserError`` (one line naming the option) for inconsistent options."""

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        options: TransformerOptions | None = None,
        *,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        layers: Registry | None = None,
    ) -> None:
        super().__init__()
        o = options or TransformerOptions()
        self.options = o
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        _check_options(o)
        if o.share_embeddings and src_vocab != tgt_vocab:
            raise UserError(
                f"model.share_embeddings needs one vocabulary size, got {src_vocab} (source) and {tgt_vocab} (target);"
                " use a joint tokenizer"
            )
        positions = self._position_scheme(layers)
        D = o.d_model
        self.src_embed = self._token_embedding(src_vocab)
        self.tgt_embed = self.src_embed if o.share_embeddings else self._token_embedding(tgt_vocab)
        self.src_positions = self._positions(positions)
        self.tgt_positions = self._positions(positions)
        kwargs = self._layer_kwargs()
        self.encoder = LayerList(TransformerEncoderLayer(D, o.heads, o.ffn_size, **kwargs)
                                 for _ in range(o.encoder_layers))  # fmt: skip
        self.decoder = LayerList(TransformerDecoderLayer(D, o.heads, o.ffn_size, **kwargs)
                                 for _ in range(o.decoder_layers))  # fmt: skip
        if o.norm_first:
            self.encoder_norm = LayerNorm(D)
            self.final_norm = LayerNorm(D)
        self.out = Linear(D, tgt_vocab)
        if o.share_embeddings or o.tie_output:
            self.out.W = self.tgt_embed.W

    @classmethod
    def parameter_count(cls, options: TransformerOptions, *, source_vocab: int, target_vocab: int) -> int:
        """At least this many parameters: the token embeddings, learned positions' two tables, each encoder
        layer's four and each decoder layer's eight d_model x d_model projections and two feed-forward matrices;
        biases, norms, other position schemes' weights and the output projection (which may be the target
        embedding) left out."""
        o = options
        D, F = o.d_model, o.ffn_size
        embeddings = (source_vocab if o.share_embeddings else source_vocab + target_vocab) * D
        positions = 2 * o.max_positions * D if o.positions == "learned" else 0
        layers = o.encoder_layers * (4 * D * D + 2 * D * F) + o.decoder_layers * (8 * D * D + 2 * D * F)
        return embeddings + positions + layers

    # ---- the decoding interface ------------------------------------------------------------------------------
    def encode(self, src: list) -> dict:
        """The encoder's output ``memory`` ``(B, S, D)`` and the source ``padding`` ``(B, S)`` (True at padding)."""
        ids, lengths = pad_batch(src, self.pad_id, self.xp)
        padding = ~lengths_to_mask(lengths, ids.shape[1], xp=self.xp)
        x = self._embed(self.src_embed, self.src_positions, ids)
        bias = self._bias(self.src_positions, ids.shape[1], ids.shape[1])
        for layer in self.encoder:
            x = layer(x, padding, bias=bias)
        if self.options.norm_first:
            x = self.encoder_norm(x)
        return {"memory": x, "padding": padding}

    def initial_state(self, encoded: dict) -> DecoderState:
        """Per source: every decoder layer's memory keys and values and the source padding; per row: every
        decoder layer's (empty) self-attention cache."""
        memory = encoded["memory"]
        kv = tuple(a for layer in self.decoder for a in layer.memory_keys_values(memory))
        sources = {"memory_kv": kv, "padding": encoded["padding"]}
        return DecoderState({"cache": self._empty_caches(self.decoder, memory.shape[0])}, sources)

    def step(self, state: DecoderState, prev_tokens) -> tuple[Variable, DecoderState]:
        """One decoder position for every row: ``prev_tokens`` ``(R,)`` -> log-probabilities ``(R, V)`` and the
        state with each layer's cache one position longer; ``attention`` is the last layer's cross-attention,
        averaged over heads ``(R, S)``."""
        cache, kv = state.rows["cache"], state.sources["memory_kv"]
        padding = state.sources["padding"]
        t = cache[0].shape[2]
        x = self._embed(self.tgt_embed, self.tgt_positions, self.xp.asarray(prev_tokens), t)
        bias = self._bias(self.tgt_positions, 1, t + 1, t)
        new, last = [], len(self.decoder) - 1
        weights = None
        for i, layer in enumerate(self.decoder):
            out = layer.step(x, kv[2 * i : 2 * i + 2], padding, cache[2 * i : 2 * i + 2], need_weights=i == last,
                             bias=bias)  # fmt: skip
            x = out[0]
            new.extend(out[1])
            if i == last:
                weights = out[2]
        return F.log_softmax(self._logits(x), axis=1), state.after_step(weights, cache=tuple(new))

    def cross_attention(self, src: list, tgt: list) -> list[numpy.ndarray]:
        """Every decoder layer's cross-attention weights, per head, for each source ``src[b]`` and its output
        ``tgt[b]`` (token ids without BOS/EOS), fed step by step as in decoding: float32 NumPy arrays
        ``(decoder_layers, heads, len(tgt[b]) + 1, len(src[b]))``, row ``t`` the step that predicted token ``t``
        (the last one EOS). The weights ``step`` reports are the last layer's averaged over heads."""
        from seqkit.backend import to_device
        from seqkit.config import no_grad, using_config

        with using_config("train", False), no_grad():
            state = self.initial_state(self.encode(src))
            ids_in, _, lengths = self._teacher_forcing(tgt)
            kv, padding = state.sources["memory_kv"], state.sources["padding"]
            cache, steps = state.rows["cache"], []
            for t in range(ids_in.shape[1]):
                x = self._embed(self.tgt_embed, self.tgt_positions, ids_in[:, t], t)
                bias = self._bias(self.tgt_positions, 1, t + 1, t)
                new, layers = [], []
                for i, layer in enumerate(self.decoder):
                    x, c, w = layer.step(x, kv[2 * i : 2 * i + 2], padding, cache[2 * i : 2 * i + 2],
                                         need_weights=True, average_heads=False, bias=bias)  # fmt: skip
                    new.extend(c)
                    layers.append(to_device(w.data, "cpu"))
                cache = tuple(new)
                steps.append(numpy.stack(layers, axis=1))  # (B, layers, heads, S)
        maps = numpy.stack(steps, axis=3).astype(numpy.float32)  # (B, layers, heads, T, S)
        return [maps[b, :, :, :n, : len(s)] for b, (n, s) in enumerate(zip(lengths, src))]

    # ---- training ---------------------------------------------------------------------------------------------
    def loss(self, src: list, tgt: list) -> tuple[Variable, int]:
        """Mean (label-smoothed) cross-entropy per target token under teacher forcing, and the number of target
        tokens (each sentence's tokens plus EOS)."""
        encoded = self.encode(src)
        ids_in, ids_out, lengths = self._teacher_forcing(tgt)
        return self._cross_entropy(self.decode(ids_in, encoded), ids_out, lengths)

    def decode(self, ids_in, encoded: dict) -> Variable:
        """The decoder over whole target prefixes ``ids_in`` ``(B, T)`` (BOS first) in one pass: its last layer's
        outputs ``(B, T, D)``, before the final norm and the output projection."""
        memory, padding = encoded["memory"], encoded["padding"]
        x = self._embed(self.tgt_embed, self.tgt_positions, ids_in)
        bias = self._bias(self.tgt_positions, ids_in.shape[1], ids_in.shape[1])
        for layer in self.decoder:
            x = layer(x, memory, padding, bias=bias)
        return x


class TransformerLM(_TransformerBase):
    """Decoder-only Transformer language model over sentences of token ids (BOS/EOS added by the model): causal
    ``TransformerEncoderLayer``s. As a decoding model it ignores its source (``encode`` fixes the batch size),
    as ``rnnlm`` does."""

    def __init__(
        self, vocab: int, options: TransformerLMOptions | None = None, *, pad_id: int = 0, bos_id: int = 2,
        eos_id: int = 3, layers: Registry | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        o = options or TransformerLMOptions()
        self.options = o
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        _check_options(o)
        positions = self._position_scheme(layers)
        self.embed = self._token_embedding(vocab)
        self.positions = self._positions(positions)
        kwargs = self._layer_kwargs()
        self.layers = LayerList(TransformerEncoderLayer(o.d_model, o.heads, o.ffn_size, **kwargs)
                                for _ in range(o.layers))  # fmt: skip
        if o.norm_first:
            self.final_norm = LayerNorm(o.d_model)
        self.out = Linear(o.d_model, vocab)
        if o.tie_output:
            self.out.W = self.embed.W

    @classmethod
    def build(
        cls, options: Any, *, source_vocab: int, target_vocab: int, pad_id: int, bos_id: int, eos_id: int,
        layers: Registry,
    ) -> TransformerLM:  # fmt: skip
        """A language model of the target side: ``source_vocab`` is not used."""
        return cls(target_vocab, options, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id, layers=layers)

    @classmethod
    def parameter_count(cls, options: TransformerLMOptions, *, source_vocab: int, target_vocab: int) -> int:
        """At least this many parameters: the token embedding, learned positions' table and each layer's four
        d_model x d_model projections and two feed-forward matrices; biases, norms, other position schemes'
        weights and the output projection left out."""
        o = options
        D, F = o.d_model, o.ffn_size
        positions = o.max_positions * D if o.positions == "learned" else 0
        return target_vocab * D + positions + o.layers * (4 * D * D + 2 * D * F)

    def loss(self, sentences: list, _unused: list | None = None) -> tuple[Variable, int]:
        """Mean (label-smoothed) cross-entropy per predicted token (each sentence's tokens plus EOS), and that
        token count."""
        ids_in, ids_out, lengths = self._teacher_forcing(sentences)
        return self._cross_entropy(self.decode(ids_in), ids_out, lengths)

    def decode(self, ids_in) -> Variable:
        """The layers over whole prefixes ``ids_in`` ``(B, T)`` (BOS first), causally: ``(B, T, D)`` before the
        final norm and the output projection. Padding follows the real tokens, so no real position sees it."""
        x = self._embed(self.embed, self.positions, ids_in)
        bias = self._bias(self.positions, ids_in.shape[1], ids_in.shape[1])
        for layer in self.layers:
            x = layer(x, causal=True, bias=bias)
        return x

    def encode(self, src: list) -> dict:
        return {"batch": len(src)}

    def initial_state(self, encoded: dict) -> DecoderState:
        return DecoderState({"cache": self._empty_caches(self.layers, encoded["batch"])})

    def step(self, state: DecoderState, prev_tokens) -> tuple[Variable, DecoderState]:
        cache = state.rows["cache"]
        t = cache[0].shape[2]
        x = self._embed(self.embed, self.positions, self.xp.asarray(prev_tokens), t)
        bias = self._bias(self.positions, 1, t + 1, t)
        new = []
        for i, layer in enumerate(self.layers):
            x, kv = layer.step(x, cache[2 * i : 2 * i + 2], bias=bias)
            new.extend(kv)
        return F.log_softmax(self._logits(x), axis=1), state.after_step(cache=tuple(new))


__all__ = ["Transformer", "TransformerLM", "TransformerLMOptions", "TransformerOptions"]
