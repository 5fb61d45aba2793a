"""The Transformer: its layers against PyTorch's in float64 (forward and every gradient), gradient checks and
fused-vs-plain references, and the ``transformer`` and ``transformer_lm`` models (training = step-by-step
decoding, cached = uncached decoding, batch invariance of beam search, the model kit, recipes)."""

import math

import numpy
import pytest
from helpers import gradcheck

from seqkit.config import no_grad, using_config
from seqkit.core.autograd import Variable
from seqkit.core.backward import grad
from seqkit.layers import (
    CrossAttention,
    SelfAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    attention_keep_mask,
    sinusoidal_positions,
)

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
