"""The Transformer: its layers against PyTorch's in float64 (forward and every gradient), gradient checks and
fused-vs-plain references, and the ``transformer`` and ``transformer_lm`` models (training = step-by-step
decoding, cached = uncached decoding, batch invariance of beam search, the model kit, recipes)."""

import math

import numpy
import pytest
from helpers import gradcheck

import seqkit.functions as F
import seqkit.random
from seqkit.config import no_grad, using_config
from seqkit.core.autograd import Variable
from seqkit.core.backward import grad
from seqkit.decoding import DecoderState, beam_search, greedy_search
from seqkit.errors import UserError
from seqkit.layers import (
    CrossAttention,
    SelfAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    attention_keep_mask,
    sinusoidal_positions,
)
from seqkit.models import Transformer, TransformerLM, TransformerLMOptions, TransformerOptions
from seqkit.plugins import get_plugin_manager
from seqkit.recipes import load_recipe
from seqkit.runs import build_model
from seqkit.testing.models import ModelTests

D, HEADS, FFN = 8, 2, 12


def _rng(seed=0):
    return numpy.random.default_rng(seed)


def _randomize(layer, rng):
    """Random values in every parameter (biases and norms included), so that no term hides behind a zero."""
    for _, p in layer.named_params():
        p.data[...] = rng.standard_normal(p.shape) * (0.5 if p.ndim == 2 else 0.3) + (1.0 if "gamma" in _ else 0)
    return layer


def _padding(lengths, T):
    return numpy.arange(T)[None, :] >= numpy.asarray(lengths)[:, None]  # True at padding


# ---- against PyTorch ----------------------------------------------------------------------------------------
def _torch_names(kind):
    """seqkit name -> (torch name, row slice) for copying a layer's weights."""
    names = {
        "self_attn.W_qkv": ("self_attn.in_proj_weight", None), "self_attn.b_qkv": ("self_attn.in_proj_bias", None),
        "self_attn.W_o": ("self_attn.out_proj.weight", None), "self_attn.b_o": ("self_attn.out_proj.bias", None),
        "linear1.W": ("linear1.weight", None), "linear1.b": ("linear1.bias", None),
        "linear2.W": ("linear2.weight", None), "linear2.b": ("linear2.bias", None),
        "norm1.gamma": ("norm1.weight", None), "norm1.beta": ("norm1.bias", None),
        "norm2.gamma": ("norm2.weight", None), "norm2.beta": ("norm2.bias", None),
    }  # fmt: skip
    if kind == "decoder":
        names.update({
            "cross_attn.W_q": ("multihead_attn.in_proj_weight", slice(0, D)),
            "cross_attn.b_q": ("multihead_attn.in_proj_bias", slice(0, D)),
            "cross_attn.W_kv": ("multihead_attn.in_proj_weight", slice(D, None)),
            "cross_attn.b_kv": ("multihead_attn.in_proj_bias", slice(D, None)),
            "cross_attn.W_o": ("multihead_attn.out_proj.weight", None),
            "cross_attn.b_o": ("multihead_attn.out_proj.bias", None),
            "norm3.gamma": ("norm3.weight", None), "norm3.beta": ("norm3.bias", None),
        })  # fmt: skip
    return names


def _max_rel(a, b):
    a, b = numpy.asarray(a), numpy.asarray(b)
    return float(numpy.max(numpy.abs(a - b)) / max(numpy.max(numpy.abs(b)), 1e-300))


def _compare_with_torch(kind, norm_first, activation):
    torch = pytest.importorskip("torch")
    rng = _rng(1)
    B, T, S = 3, 5, 4
    cls = TransformerEncoderLayer if kind == "encoder" else TransformerDecoderLayer
    ours = _randomize(cls(D, HEADS, FFN, dropout=0.0, activation=activation, norm_first=norm_first,
                          dtype="float64"), rng)  # fmt: skip
    tcls = torch.nn.TransformerEncoderLayer if kind == "encoder" else torch.nn.TransformerDecoderLayer
    theirs = tcls(D, HEADS, FFN, dropout=0.0, activation=activation, norm_first=norm_first, batch_first=True,
                  dtype=torch.float64)  # fmt: skip
    theirs.train()  # the reference path, not the inference fast path
    names = _torch_names(kind)
    tparams = dict(theirs.named_parameters())
    assert set(tparams) == {n for n, _ in names.values()}
    ours_params = dict(ours.named_params())
    assert set(ours_params) == set(names)
    with torch.no_grad():
        for name, (tname, rows) in names.items():
            tparams[tname][rows if rows is not None else slice(None)] = torch.from_numpy(ours_params[name].data)
    x = rng.standard_normal((B, T, D))
    gy = rng.standard_normal((B, T, D))
    tx = torch.tensor(x, requires_grad=True)
    xv = Variable(x)
    inputs = [xv]
    if kind == "encoder":
        pad = _padding([5, 3, 1], T)
        ty = theirs(tx, src_key_padding_mask=torch.from_numpy(pad))
        y = ours(xv, pad)
        tinputs = [tx]
    else:
        memory = rng.standard_normal((B, S, D))
        mpad = _padding([4, 2, 3], S)
        tm = torch.tensor(memory, requires_grad=True)
        causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
        ty = theirs(tx, tm, tgt_mask=causal, memory_key_padding_mask=torch.from_numpy(mpad), tgt_is_causal=True)
        mv = Variable(memory)
        y = ours(xv, mv, mpad)
        inputs.append(mv)
        tinputs = [tx, tm]
    ty.backward(torch.from_numpy(gy))
    errors = {"forward": _max_rel(y.data, ty.detach().numpy())}
    grads = grad([y], inputs + list(ours_params.values()), [Variable(gy)])
    for i, (g, t) in enumerate(zip(grads, tinputs)):
        errors[f"input {i}"] = _max_rel(g.data, t.grad.numpy())
    for g, (name, (tname, rows)) in zip(grads[len(inputs) :], ((n, names[n]) for n in ours_params)):
        tg = tparams[tname].grad.numpy()
        errors[name] = _max_rel(g.data, tg[rows] if rows is not None else tg)
    return errors


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_layers_agree_with_pytorch_in_float64(kind, norm_first, activation):
    errors = _compare_with_torch(kind, norm_first, activation)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, f"{worst}: max relative error {errors[worst]:.2e}"


def test_causal_encoder_layer_agrees_with_pytorch():
    """A decoder-only (language model) layer: the encoder layer with a causal mask and padding."""
    torch = pytest.importorskip("torch")
    rng = _rng(2)
    B, T = 2, 6
    ours = _randomize(TransformerEncoderLayer(D, HEADS, FFN, dropout=0.0, dtype="float64"), rng)
    theirs = torch.nn.TransformerEncoderLayer(D, HEADS, FFN, dropout=0.0, norm_first=True, batch_first=True,
                                              dtype=torch.float64)  # fmt: skip
    tparams = dict(theirs.named_parameters())
    with torch.no_grad():
        for name, p in ours.named_params():
            tparams[_torch_names("encoder")[name][0]][...] = torch.from_numpy(p.data)
    x = rng.standard_normal((B, T, D))
    pad = _padding([6, 4], T)
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)  # True: not allowed
    ty = theirs(torch.from_numpy(x), src_mask=causal, src_key_padding_mask=torch.from_numpy(pad), is_causal=True)
    y = ours(x, pad, causal=True)
    assert _max_rel(y.data, ty.detach().numpy()) < 1e-6


# ---- gradient checks and plain references (no PyTorch) -----------------------------------------------------
def _as_function(layer, call):
    """``fn(*inputs, *params)`` calling ``call(layer, *inputs)`` with the layer's parameters replaced by the
    given arrays, for ``gradcheck`` of every parameter's gradient too."""
    names = [n for n, _ in layer.named_params()]

    def fn(*args):
        n_in = len(args) - len(names)
        for name, value in zip(names, args[n_in:]):
            *path, attr = name.split(".")
            owner = layer
            for part in path:
                owner = getattr(owner, part)
            object.__setattr__(owner, attr, value)  # the ops read it; the registry keeps the original
        return call(layer, *args[:n_in])

    return fn, [p.data.copy() for _, p in layer.named_params()]


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_gradients_and_double_backward(norm_first):
    rng = _rng(3)
    layer = _randomize(TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", norm_first=norm_first,
                                               dtype="float64"), rng)  # fmt: skip
    pad = _padding([3, 2], 3)
    fn, params = _as_function(layer, lambda lay, x: lay(x, pad))
    gradcheck(fn, (rng.standard_normal((2, 3, 4)), *params), seed=3)
    fn, params = _as_function(layer, lambda lay, x: lay(x, causal=True))
    gradcheck(fn, (rng.standard_normal((2, 3, 4)), *params), seed=4, double=False)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_gradients_and_double_backward(norm_first):
    rng = _rng(5)
    layer = _randomize(TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, dtype="float64"), rng)
    pad = _padding([2, 1], 2)
    fn, params = _as_function(layer, lambda lay, x, m: lay(x, m, pad))
    gradcheck(fn, (rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4)), *params), seed=5)


def test_fused_projections_equal_separate_ones():
    """One ``(3D, D)`` GEMM for q, k, v (and ``(2D, D)`` for the memory's k, v) gives what the separately
    projected, already tested ``MultiHeadAttention`` gives, masks included."""
    from seqkit.layers import MultiHeadAttention

    rng = _rng(6)
    B, T, S = 3, 5, 4
    sa = _randomize(SelfAttention(D, HEADS, dtype="float64"), rng)
    ca = _randomize(CrossAttention(D, HEADS, dtype="float64"), rng)
    ref = MultiHeadAttention(D, HEADS, dtype="float64")
    x, memory = rng.standard_normal((B, T, D)), rng.standard_normal((B, S, D))
    pad, mpad = _padding([5, 3, 2], T), _padding([4, 1, 3], S)
    causal = numpy.tri(T, dtype=bool)
    with no_grad():
        for attn, Wq, bq, Wkv, bkv in ((sa, sa.W_qkv.data[:D], sa.b_qkv.data[:D], sa.W_qkv.data[D:], sa.b_qkv.data[D:]),
                                       (ca, ca.W_q.data, ca.b_q.data, ca.W_kv.data, ca.b_kv.data)):  # fmt: skip
            pairs = ((ref.W_q, Wq), (ref.b_q, bq), (ref.W_k, Wkv[:D]), (ref.b_k, bkv[:D]), (ref.W_v, Wkv[D:]),
                     (ref.b_v, bkv[D:]), (ref.W_o, attn.W_o.data), (ref.b_o, attn.b_o.data))  # fmt: skip
            for dst, src in pairs:
                dst.data[...] = src
            if attn is sa:
                keep = ~pad[:, None, :] & causal[None]  # (B, T, T), True at allowed keys
                got = sa(x, attention_keep_mask(pad, T))
                want, _ = ref(x, x, keep)
            else:
                got, weights = ca(x, ca.memory_keys_values(memory), attention_keep_mask(mpad))
                want, want_weights = ref(x, memory, ~mpad)
                numpy.testing.assert_allclose(weights.data, want_weights.data, rtol=1e-12, atol=1e-15)
                assert (weights.data[numpy.broadcast_to(mpad[:, None, None, :], weights.shape)] == 0.0).all()
            numpy.testing.assert_allclose(got.data, want.data, rtol=1e-12, atol=1e-13)


def test_attention_bias_is_added_to_the_scores_in_calls_and_steps():
    """``scores + bias`` before the masked softmax, against NumPy; a cached step with the bias's last query row
    gives the call's last position."""
    rng = _rng(7)
    B, T, dh = 2, 5, D // HEADS
    sa = _randomize(SelfAttention(D, HEADS, dtype="float64"), rng)
    x, bias = rng.standard_normal((B, T, D)), rng.standard_normal((HEADS, T, T))
    q, k, v = (a.reshape(B, T, HEADS, dh).transpose(0, 2, 1, 3)
               for a in numpy.split(x @ sa.W_qkv.data.T + sa.b_qkv.data, 3, axis=-1))  # fmt: skip
    scores = numpy.where(numpy.tri(T, dtype=bool), q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh) + bias, -numpy.inf)
    weights = numpy.exp(scores - scores.max(-1, keepdims=True))
    heads = (weights / weights.sum(-1, keepdims=True)) @ v
    want = heads.transpose(0, 2, 1, 3).reshape(B, T, D) @ sa.W_o.data.T + sa.b_o.data
    with no_grad():
        got = sa(x, attention_keep_mask(None, T), bias)
        cache = sa.empty_cache(B, dtype="float64")
        for t in range(T):
            y, cache = sa.step(x[:, t], cache, bias[:, t : t + 1, : t + 1])
            numpy.testing.assert_allclose(y.data, want[:, t], rtol=1e-12, atol=1e-13)
    numpy.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-13)


def test_position_schemes_are_registered_layers():
    from seqkit.layers import BUILTIN_LAYERS, LearnedPositions, PositionEncoding, SinusoidalPositions

    assert BUILTIN_LAYERS["sinusoidal"][0] is SinusoidalPositions and BUILTIN_LAYERS["learned"][0] is LearnedPositions
    model = _model(positions="learned")
    assert isinstance(model.src_positions, PositionEncoding) and model.src_positions.attention_bias(None, None) is None
    assert sorted(n for n, _ in model.named_params() if "positions" in n) == ["src_positions.W", "tgt_positions.W"]
    x = numpy.zeros((1, 3, D))
    numpy.testing.assert_allclose(_model().tgt_positions.embed(x, 2), sinusoidal_positions(3, D, start=2)[None])


def test_sinusoidal_positions_and_masks():
    pe = sinusoidal_positions(7, 6)
    p, i = 5, 2
    assert pe[p, 2 * i] == pytest.approx(math.sin(p / 10000 ** (2 * i / 6)))
    assert pe[p, 2 * i + 1] == pytest.approx(math.cos(p / 10000 ** (2 * i / 6)))
    numpy.testing.assert_array_equal(sinusoidal_positions(3, 6, start=4), pe[4:7])
    assert sinusoidal_positions(2, 5).shape == (2, 5)
    keep = attention_keep_mask(_padding([2, 3], 3), 3)
    assert keep.shape == (2, 1, 3, 3)
    numpy.testing.assert_array_equal(keep[0, 0], [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    assert attention_keep_mask() is None
    with pytest.raises(ValueError, match="padding_mask must be"):
        attention_keep_mask(numpy.zeros(3, dtype=bool))


def test_layer_options_are_checked():
    with pytest.raises(ValueError, match="multiple of heads"):
        TransformerEncoderLayer(6, 4, 8)
    with pytest.raises(ValueError, match="activation must be one of"):
        TransformerDecoderLayer(8, 2, 8, activation="swish")
    with pytest.raises(ValueError, match="dropout must be in"):
        TransformerEncoderLayer(8, 2, 8, dropout=1.0)


def test_steps_equal_the_whole_sequence():
    """``step`` with the key/value cache gives, position by position, what the causal whole-sequence call
    gives: the encoder layer as a decoder-only layer, and the decoder layer with two rows per source."""
    rng = _rng(7)
    B, T, S = 2, 4, 3
    enc = _randomize(TransformerEncoderLayer(D, HEADS, FFN, dtype="float64"), rng)
    dec = _randomize(TransformerDecoderLayer(D, HEADS, FFN, norm_first=False, dtype="float64"), rng)
    x = rng.standard_normal((B * 2, T, D))  # rows 2b, 2b + 1 belong to source b
    memory, mpad = rng.standard_normal((B, S, D)), _padding([3, 2], S)
    with using_config("train", False), no_grad():
        full_enc = enc(x, causal=True).data
        full_dec = dec(x, numpy.repeat(memory, 2, axis=0), numpy.repeat(mpad, 2, axis=0)).data
        kv = dec.memory_keys_values(memory)
        c_enc = enc.self_attn.empty_cache(B * 2, dtype=numpy.float64)
        c_dec = dec.self_attn.empty_cache(B * 2, dtype=numpy.float64)
        for t in range(T):
            y, c_enc = enc.step(x[:, t], c_enc)
            numpy.testing.assert_allclose(y.data, full_enc[:, t], rtol=1e-12, atol=1e-12)
            y, c_dec, w = dec.step(x[:, t], kv, mpad, c_dec, need_weights=True)
            numpy.testing.assert_allclose(y.data, full_dec[:, t], rtol=1e-12, atol=1e-12)
            assert w.shape == (B * 2, S) and (w.data[2:, 2] == 0.0).all()
            numpy.testing.assert_allclose(w.data.sum(axis=1), 1.0, rtol=1e-12)
        assert c_dec[0].shape == (B * 2, HEADS, T, D // HEADS)


# ---- the models ----------------------------------------------------------------------------------------------
SMALL = {"d_model": 8, "heads": 2, "encoder_layers": 2, "decoder_layers": 2, "ffn_size": 12, "dropout": 0.1}
SMALL_LM = {"d_model": 8, "heads": 2, "layers": 2, "ffn_size": 12, "dropout": 0.1}


class TestTransformerKit(ModelTests):
    name = "transformer"
    options = SMALL


class TestTransformerLMKit(ModelTests):
    name = "transformer_lm"
    options = SMALL_LM


def _model(cls=Transformer, vocab=(14, 14), seed=0, **options):
    seqkit.random.seed(seed)
    with using_config("dtype", "float64"):
        if cls is Transformer:
            model = Transformer(*vocab, TransformerOptions(**{**SMALL, **options}))
        else:
            model = TransformerLM(vocab[1], TransformerLMOptions(**{**SMALL_LM, **options}))
    _randomize_biases(model, _rng(seed))
    return model


def _randomize_biases(model, rng):
    """Random biases and norms (zeros and ones at first), so that the tests see every term."""
    for name, p in model.named_params():
        if p.ndim == 1:
            p.data[...] = rng.standard_normal(p.shape) * 0.2 + (1.0 if name.endswith("gamma") else 0.0)


def _sentences(n, seed, vocab=14, longest=6):
    rng = _rng(seed)
    return [rng.integers(4, vocab, size=int(k)) for k in rng.integers(1, longest + 1, size=n)]


def _teacher_forced_steps(model, src, tgt):
    """The mean negative log-probability of each target (plus EOS) from ``step`` calls, row by row."""
    state = model.initial_state(model.encode(src))
    longest = max(len(t) for t in tgt) + 1
    ins = numpy.full((len(tgt), longest), model.pad_id)
    outs = numpy.full((len(tgt), longest), -1)
    for b, t in enumerate(tgt):
        ins[b, : len(t) + 1] = [model.bos_id, *t]
        outs[b, : len(t) + 1] = [*t, model.eos_id]
    total, count = 0.0, 0
    for t in range(longest):
        logp, state = model.step(state, ins[:, t])
        real = outs[:, t] >= 0
        total -= logp.data[numpy.nonzero(real)[0], outs[real, t]].sum()
        count += int(real.sum())
    return total / count, count


@pytest.mark.parametrize(
    "options",
    [{}, {"norm_first": False, "activation": "gelu"}, {"positions": "learned", "share_embeddings": True},
     {"tie_output": True, "decoder_layers": 1}],
    ids=["pre-norm", "post-norm-gelu", "learned-shared", "tied"],
)  # fmt: skip
def test_loss_equals_step_by_step_decoding(options):
    model = _model(**options)
    src, tgt = _sentences(4, 1), _sentences(4, 2)
    with using_config("train", False), no_grad():
        loss, n = model.loss(src, tgt)
        stepped, m = _teacher_forced_steps(model, src, tgt)
    assert n == m == sum(len(t) + 1 for t in tgt)
    assert float(loss.data) == pytest.approx(stepped, rel=1e-12)


@pytest.mark.parametrize("options", [{}, {"norm_first": False, "positions": "learned", "tie_output": True}])
def test_lm_loss_equals_step_by_step_decoding(options):
    model = _model(TransformerLM, **options)
    sentences = _sentences(4, 3)
    with using_config("train", False), no_grad():
        loss, n = model.loss(sentences)
        stepped, m = _teacher_forced_steps(model, sentences, sentences)
    assert n == m
    assert float(loss.data) == pytest.approx(stepped, rel=1e-12)


class Uncached:
    """A decoding model that re-runs the whole prefix through ``model.decode`` at every step (no cache): the
    reference for the cached ``step``."""

    def __init__(self, model):
        self.model, self.bos_id, self.eos_id, self.xp = model, model.bos_id, model.eos_id, model.xp

    def for_decoding(self):
        return self

    def encode(self, src):
        return self.model.encode(src) if isinstance(self.model, Transformer) else {"batch": len(src)}

    def initial_state(self, encoded):
        if isinstance(self.model, Transformer):
            B = encoded["memory"].shape[0]
            sources = {"memory": encoded["memory"], "padding": encoded["padding"]}
        else:
            B, sources = encoded["batch"], {}
        return DecoderState({"prefix": numpy.zeros((B, 0), dtype=numpy.int64)}, sources)

    def step(self, state, prev):
        prefix = numpy.concatenate([state.rows["prefix"], numpy.asarray(prev)[:, None]], axis=1)
        if isinstance(self.model, Transformer):
            g = state.group
            encoded = {k: numpy.repeat(getattr(v, "data", v), g, axis=0) for k, v in state.sources.items()}
            h = self.model.decode(prefix, encoded)
        else:
            h = self.model.decode(prefix)
        logp = F.log_softmax(self.model._logits(h[:, -1]), axis=1)
        return logp, state.after_step(prefix=prefix)


@pytest.mark.parametrize("cls", [Transformer, TransformerLM])
def test_cached_and_uncached_decoding_agree(cls):
    model = _model(cls)
    src = _sentences(5, 4)
    for search, kwargs in ((greedy_search, {}), (beam_search, {"beam": 3, "nbest": 2})):
        cached = search(model, src, max_len_offset=3, **kwargs)
        uncached = search(Uncached(model), src, max_len_offset=3, **kwargs)
        for a, b in zip(cached, uncached):
            for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
                assert x.tokens == y.tokens
                assert x.log_prob == pytest.approx(y.log_prob, rel=1e-12, abs=1e-12)


def test_beam_search_is_batch_invariant():
    model = _model(norm_first=False)
    src = _sentences(16, 5, longest=8)
    batched = beam_search(model, src, beam=4, nbest=2, keep_attention=True)
    for i in (0, 5, 15):
        alone = beam_search(model, [src[i]], beam=4, nbest=2, keep_attention=True)[0]
        for a, b in zip(alone, batched[i]):
            assert a.tokens == b.tokens
            assert a.score == pytest.approx(b.score, rel=1e-12)
            numpy.testing.assert_allclose(a.attention, b.attention, rtol=1e-10, atol=1e-12)
            numpy.testing.assert_allclose(a.attention.sum(axis=1), 1.0, rtol=1e-12)


def test_cache_reorders_with_the_beam():
    """``state.select`` takes each layer's cache rows: a selected state steps as its rows stepped alone."""
    model = _model()
    src = _sentences(2, 6)
    with using_config("train", False), no_grad():
        state = model.initial_state(model.encode(src))
        _, state = model.step(state, [model.bos_id] * 2)
        _, state = model.step(state.select(numpy.array([0, 0, 1, 1])), [5, 6, 7, 8])
        picked = state.select(numpy.array([1, 1, 2, 3]))
        logp, _ = model.step(picked, [9, 9, 9, 9])
        assert picked.group == 2 and picked.rows["cache"][0].shape[:3] == (4, 2, 2)
        alone = model.initial_state(model.encode(src[:1]))
        _, alone = model.step(alone, [model.bos_id])
        _, alone = model.step(alone, [6])
        want, _ = model.step(alone, [9])
    numpy.testing.assert_allclose(logp.data[0], want.data[0], rtol=1e-12)
    numpy.testing.assert_allclose(logp.data[1], want.data[0], rtol=1e-12)


def test_embeddings_shared_and_tied():
    shared = _model(share_embeddings=True)
    assert shared.src_embed.W is shared.tgt_embed.W is shared.out.W
    tied = _model(tie_output=True)
    assert tied.tgt_embed.W is tied.out.W and tied.src_embed.W is not tied.tgt_embed.W
    assert "out.W" not in shared.state_dict()
    lm = _model(TransformerLM, tie_output=True)
    assert lm.out.W is lm.embed.W


@pytest.mark.parametrize(
    "options, message",
    [({"heads": 3}, "model.heads (3) must divide model.d_model (8)"),
     ({"activation": "tanh"}, "model.activation must be one of"),
     ({"positions": "rotary"}, "rotary"),
     ({"positions": "linear"}, "model.positions: layer 'linear' (seqkit.layers.basic.Linear) does not extend "
                               "seqkit.layers.PositionEncoding"),
     ({"dropout": 1.0}, "model.dropout must be in [0, 1)"),
     ({"encoder_layers": 0}, "model.encoder_layers must be an integer >= 1"),
     ({"label_smoothing": -0.1}, "model.label_smoothing must be in [0, 1)")],
)  # fmt: skip
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(UserError) as e:
        _model(**options)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_shared_embeddings_need_one_vocabulary():
    with pytest.raises(UserError, match=r"share_embeddings needs one vocabulary size, got 14 \(source\) and 15") as e:
        _model(vocab=(14, 15), share_embeddings=True)
    assert "\n" not in str(e.value)


def test_learned_positions_stop_at_max_positions():
    model = _model(positions="learned", max_positions=4)
    with pytest.raises(UserError, match=r"needs 5 positions, model\.max_positions is 4"):
        model.loss([numpy.array([4, 5])], [numpy.array([4, 5, 6, 7])])


def test_label_smoothing_changes_the_loss():
    src, tgt = _sentences(3, 7), _sentences(3, 8)
    with using_config("train", False):
        plain = float(_model().loss(src, tgt)[0].data)
        smoothed = float(_model(label_smoothing=0.1).loss(src, tgt)[0].data)
    assert smoothed != pytest.approx(plain)


def test_training_dropout_is_active_and_eval_is_deterministic():
    model = _model(dropout=0.3, attention_dropout=0.2, activation_dropout=0.2)
    src, tgt = _sentences(3, 9), _sentences(3, 10)
    a, b = (float(model.loss(src, tgt)[0].data) for _ in range(2))
    assert a != b
    with using_config("train", False):
        assert float(model.loss(src, tgt)[0].data) == float(model.loss(src, tgt)[0].data)


@pytest.mark.parametrize("name, options", [("transformer", SMALL), ("transformer_lm", SMALL_LM)])
def test_built_from_a_recipe(tmp_path, name, options):
    keys = "\n".join(f"{k} = {v!r}" for k, v in {**options, "norm_first": False, "positions": "learned"}.items())
    path = tmp_path / "recipe.toml"
    path.write_text(f'schema = 2\n[model]\nname = "{name}"\n{keys.replace("False", "false")}\n')
    pm = get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""})
    recipe = load_recipe(path, registries=pm.registry)
    model = build_model(recipe, None, pm)
    assert type(model) is (Transformer if name == "transformer" else TransformerLM)
    assert model.options.norm_first is False and model.options.positions == "learned"
    assert model.options.d_model == 8


def test_for_decoding_copy_decodes_the_same():
    model = _model(tie_output=True)
    src = _sentences(3, 11)
    want = beam_search(model, src, beam=3)
    got = beam_search(model.for_decoding(), src, beam=3)
    assert [h[0].tokens for h in got] == [h[0].tokens for h in want]


@pytest.mark.slow
def test_trains_on_the_toy_task_beyond_chance(tmp_path):
    """``seqkit train`` on the toy reversal task with a small Transformer: the test BLEU beats that of the
    references against each other shuffled (what unrelated outputs of the right vocabulary and length score)."""
    import json
    import re
    from pathlib import Path

    from sacrebleu.metrics import BLEU

    from seqkit.cli import main

    root = Path(__file__).resolve().parent.parent / "recipes"
    recipe = (root / "toy-reverse.toml").read_text()
    model = ('[model]\nname = "transformer"\nd_model = 32\nheads = 4\nencoder_layers = 2\ndecoder_layers = 2\n'
             'ffn_size = 64\ndropout = 0.0\nshare_embeddings = true\n\n')  # fmt: skip
    recipe = re.sub(r"\[model\].*?\n\n", model, recipe, flags=re.S)
    recipe = recipe.replace('"toy-reverse/', f'"{root.as_posix()}/toy-reverse/')
    (tmp_path / "recipe.toml").write_text(recipe)
    code = main(["train", str(tmp_path / "recipe.toml"), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    assert code in (0, None)
    bleu = json.loads((tmp_path / "run" / "results.json").read_text())["bleu"]
    refs = (root / "toy-reverse" / "test.tgt").read_text().splitlines()
    chance = BLEU().corpus_score(refs[1:] + refs[:1], [refs]).score
    assert bleu > max(20.0, 3 * chance), f"test BLEU {bleu:.2f}, chance {chance:.2f}"
