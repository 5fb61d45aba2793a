"""Attention layers (seqkit.layers.attention) and masked_softmax (seqkit.functions.attention).

Every layer is compared with a float64 NumPy reference written here (one softmax per row, one loop per head),
on random inputs with random lengths; gradients with numerical ones.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy
import pytest

import seqkit.functions as F
import seqkit.random
from seqkit import Variable, using_config
from seqkit.core.gradient_check import check_backward, check_double_backward
from seqkit.functions.attention import masked_softmax
from seqkit.layers import BUILTIN_LAYERS, Linear
from seqkit.layers.attention import (
    AdditiveAttention,
    AttentionLayer,
    DotAttention,
    GeneralAttention,
    MultiHeadAttention,
    ScaledDotProductAttention,
    lengths_to_mask,
)
from seqkit.plugins import get_plugin_manager
from seqkit.registry import Registry
from seqkit.testing.models import AttentionCase, AttentionLayerTests, ModelCase

DQ, DK, DV = 3, 4, 5  # query, memory (key) and value feature sizes where a layer allows them to differ
KINDS = ["additive", "dot", "scaled", "general", "multihead", "multihead_value"]


def make_layer(kind: str, dtype="float64", seed: int = 0):
    """A layer of ``kind`` with every parameter (biases included) random, so that each one matters."""
    seqkit.random.seed(seed)
    layer = {
        "additive": lambda: AdditiveAttention(DQ, DK, attn_size=6, dtype=dtype),
        "dot": lambda: DotAttention(),
        "scaled": lambda: ScaledDotProductAttention(),
        "general": lambda: GeneralAttention(DQ, DK, dtype=dtype),
        "multihead": lambda: MultiHeadAttention(6, 3, query_size=DQ, memory_size=DK, dtype=dtype),
        "multihead_value": lambda: MultiHeadAttention(6, 2, query_size=DQ, memory_size=DK, value_size=DV, dtype=dtype),
    }[kind]()
    rng = numpy.random.default_rng(seed + 1)
    for p in layer.params():
        p.data[...] = rng.uniform(-0.8, 0.8, p.shape)
    return layer


def query_size(kind: str) -> int:
    return DK if kind in ("dot", "scaled") else DQ


def make_inputs(kind, B, Tq, Tk, rng, dtype="float64"):
    """``(query, memory, value or None, lengths)``; ``Tq=None`` gives a one-step ``(B, Dq)`` query."""
    q_shape = (B, query_size(kind)) if Tq is None else (B, Tq, query_size(kind))
    q = rng.standard_normal(q_shape).astype(dtype)
    m = rng.standard_normal((B, Tk, DK)).astype(dtype)
    v = rng.standard_normal((B, Tk, DV)).astype(dtype) if kind == "multihead_value" else None
    lengths = rng.integers(1, Tk + 1, size=B)
    return q, m, v, lengths


def call(layer, kind, q, m, mask, v=None, **kw):
    if kind == "multihead_value":
        return layer(q, m, mask, value=v, **kw)
    return layer(q, m, mask, **kw)


# ---- NumPy references (float64) --------------------------------------------------------------------------
def ref_masked_softmax(s, mask):
    """Softmax of each last-axis row over its real positions alone; masked entries and empty rows are 0."""
    mask = numpy.broadcast_to(mask, s.shape)
    out = numpy.zeros_like(s)
    for idx in numpy.ndindex(*s.shape[:-1]):
        real = mask[idx]
        if real.any():
            e = numpy.exp(s[idx][real] - s[idx][real].max())
            out[idx][real] = e / e.sum()
    return out


def reference(kind, P, q, m, mask, v=None):
    """``(context, weights)`` for a 3-D query ``(B, Tq, Dq)`` and a ``(B, Tq, Tk)`` mask; ``P``: parameters."""
    if kind.startswith("multihead"):
        v = m if v is None else v
        d_model, n_heads = P["W_o"].shape[0], (3 if kind == "multihead" else 2)
        dh = d_model // n_heads
        Q, K, V = q @ P["W_q"].T + P["b_q"], m @ P["W_k"].T + P["b_k"], v @ P["W_v"].T + P["b_v"]
        heads, weights = [], []
        for h in range(n_heads):
            cols = slice(h * dh, (h + 1) * dh)
            w = ref_masked_softmax(Q[..., cols] @ K[..., cols].transpose(0, 2, 1) / math.sqrt(dh), mask)
            heads.append(w @ V[..., cols])
            weights.append(w)
        return numpy.concatenate(heads, axis=-1) @ P["W_o"].T + P["b_o"], numpy.stack(weights, axis=1)
    if kind == "additive":
        hidden = numpy.tanh((q @ P["W_q"].T)[:, :, None, :] + (m @ P["W_k"].T + P["b"])[:, None, :, :])
        scores = hidden @ P["v"]
    elif kind == "general":
        scores = numpy.einsum("btd,de,bse->bts", q, P["W_a"], m)
    else:
        scores = q @ m.transpose(0, 2, 1)
        if kind == "scaled":
            scores = scores / math.sqrt(m.shape[-1])
    w = ref_masked_softmax(scores, mask)
    return w @ m, w


def reference_for(layer, kind, q, m, mask2, v=None, P=None):
    """The reference for the layer's call form: 2-D or 3-D query, ``(B, Tk)`` mask."""
    P = layer.state_dict() if P is None else P
    q3 = q[:, None, :] if q.ndim == 2 else q
    ctx, w = reference(kind, P, q3, m, mask2[:, None, :], v)
    if q.ndim == 2:
        ctx, w = ctx[:, 0], w[..., 0, :]
    return ctx, w


# ---- forward against the reference ------------------------------------------------------------------------
SHAPES = [(1, None, 1), (1, 1, 1), (3, 2, 1), (1, None, 5), (3, 3, 5), (2, None, 4), (4, 1, 3)]  # (B, Tq, Tk)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_matches_reference_with_random_lengths(kind, shape):
    B, Tq, Tk = shape
    rng = numpy.random.default_rng(SHAPES.index(shape))
    layer = make_layer(kind)
    q, m, v, lengths = make_inputs(kind, B, Tq, Tk, rng)
    mask = lengths_to_mask(lengths, Tk)
    ctx, w = call(layer, kind, q, m, mask, v)
    ref_ctx, ref_w = reference_for(layer, kind, q, m, mask, v)
    assert ctx.shape == ref_ctx.shape and w.shape == ref_w.shape
    numpy.testing.assert_allclose(ctx.data, ref_ctx, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(w.data, ref_w, rtol=1e-10, atol=1e-12)
    padded = numpy.broadcast_to(~mask.reshape((B,) + (1,) * (w.ndim - 2) + (Tk,)), w.shape)
    assert (w.data[padded] == 0.0).all()
    numpy.testing.assert_allclose(w.data.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_per_query_mask_and_fully_masked_row(kind):
    """A ``(B, Tq, Tk)`` mask (here causal, plus a row with no real position: all-zero weights)."""
    rng = numpy.random.default_rng(7)
    B, Tq, Tk = 2, 4, 4
    layer = make_layer(kind)
    q, m, v, _ = make_inputs(kind, B, Tq, Tk, rng)
    mask = numpy.broadcast_to(numpy.tril(numpy.ones((Tq, Tk), dtype=bool)), (B, Tq, Tk)).copy()
    mask[1, 2] = False
    ctx, w = call(layer, kind, q, m, mask, v)
    ref_ctx, ref_w = reference(kind, layer.state_dict(), q, m, mask, v)
    numpy.testing.assert_allclose(ctx.data, ref_ctx, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(w.data, ref_w, rtol=1e-10, atol=1e-12)
    empty_row = w.data[1, ..., 2, :]
    assert (empty_row == 0.0).all() and numpy.isfinite(ctx.data).all()


def test_masked_weights_exactly_zero_when_padding_has_the_largest_scores():
    rng = numpy.random.default_rng(3)
    for dtype in ("float64", "float32"):
        q = (rng.standard_normal((2, 3, 4)) * 100).astype(dtype)
        m = rng.standard_normal((2, 5, 4)).astype(dtype)
        m[0, 2:] = q[0, 0] * 1000  # padding that would dominate (and overflow exp) without the mask
        mask = lengths_to_mask([2, 5])
        ctx, w = DotAttention()(q, m, mask)
        assert (w.data[0, :, 2:] == 0.0).all()
        assert numpy.isfinite(w.data).all() and numpy.isfinite(ctx.data).all()
        numpy.testing.assert_allclose(w.data.sum(axis=-1), 1.0, rtol=0, atol=1e-6)


def test_fully_masked_batch_entry_gives_zero_context_and_zero_gradient():
    rng = numpy.random.default_rng(4)
    q = Variable(rng.standard_normal((2, 4)))
    m = Variable(rng.standard_normal((2, 3, 4)))
    ctx, w = DotAttention()(q, m, lengths_to_mask([0, 3], 3))
    assert (w.data[0] == 0.0).all() and (ctx.data[0] == 0.0).all()
    (F.sum(ctx * ctx) + F.sum(w)).backward()
    assert (q.grad[0] == 0.0).all() and (m.grad[0] == 0.0).all()
    assert numpy.isfinite(q.grad).all() and numpy.isfinite(m.grad).all()


# ---- gradients -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("Tq", [None, 3])
def test_check_backward_wrt_query_and_memory(kind, Tq):
    rng = numpy.random.default_rng(11)
    layer = make_layer(kind)
    q, m, v, _ = make_inputs(kind, 3, Tq, 4, rng)
    mask = lengths_to_mask([4, 1, 2], 4)
    if kind == "multihead_value":
        check_backward(lambda q, m, v: layer(q, m, mask, value=v), (q, m, v), eps=1e-5)
    else:
        check_backward(lambda q, m: layer(q, m, mask), (q, m), eps=1e-5)


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("dot", "scaled")])
def test_parameter_gradients_match_numerical_reference(kind):
    """d/dp of ``<context, G> + <weights, H>``, per parameter, against central differences of the reference."""
    rng = numpy.random.default_rng(12)
    layer = make_layer(kind)
    q, m, v, _ = make_inputs(kind, 2, 3, 4, rng)
    mask = lengths_to_mask([4, 2], 4)
    ctx, w = call(layer, kind, q, m, mask, v)
    G, H = rng.standard_normal(ctx.shape), rng.standard_normal(w.shape)
    (F.sum(ctx * G) + F.sum(w * H)).backward()

    def loss(P):
        c, a = reference_for(layer, kind, q, m, mask, v, P)
        return float((c * G).sum() + (a * H).sum())

    eps = 1e-6
    for name, p in layer.named_params():
        assert p.grad is not None and p.grad.shape == p.shape, name
        d = rng.standard_normal(p.shape)
        plus, minus = layer.state_dict(), layer.state_dict()
        plus[name] = plus[name] + eps * d
        minus[name] = minus[name] - eps * d
        numeric = (loss(plus) - loss(minus)) / (2 * eps)
        assert float((p.grad * d).sum()) == pytest.approx(numeric, rel=1e-6, abs=1e-8), name


@pytest.mark.parametrize("kind", KINDS)
def test_padded_memory_positions_get_exactly_zero_gradient(kind):
    rng = numpy.random.default_rng(13)
    layer = make_layer(kind)
    q, m, v, _ = make_inputs(kind, 2, 3, 5, rng)
    m = Variable(m)
    v = None if v is None else Variable(v)
    ctx, _ = call(layer, kind, q, m, lengths_to_mask([5, 2], 5), v)
    F.sum(ctx * rng.standard_normal(ctx.shape)).backward()
    for x in (m,) if v is None else (m, v):
        assert (x.grad[1, 2:] == 0.0).all()
        assert (x.grad[1, :2] != 0.0).any() and (x.grad[0] != 0.0).any()


# ---- masked_softmax ---------------------------------------------------------------------------------------
def softmax_case(seed):
    rng = numpy.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 5))
    mask = lengths_to_mask([5, 2], 5)[:, None, :]  # (2, 1, 5) broadcast over the 3 rows
    full = numpy.broadcast_to(mask, x.shape).copy()
    full[0, 1] = False  # one row with no real position
    return rng, x, mask, full


def test_masked_softmax_matches_reference_and_is_exactly_zero_where_masked():
    _, x, mask, full = softmax_case(20)
    for m in (mask, full, full.astype("int32")):
        y = masked_softmax(x, m)
        numpy.testing.assert_allclose(y.data, ref_masked_softmax(x, m != 0), rtol=1e-12, atol=1e-15)
        assert (y.data[~numpy.broadcast_to(m != 0, x.shape)] == 0.0).all()
    big = numpy.where(numpy.broadcast_to(mask, x.shape), x, 1e300)  # huge scores at the masked positions
    assert (masked_softmax(big, mask).data[~numpy.broadcast_to(mask, x.shape)] == 0.0).all()
    numpy.testing.assert_allclose(masked_softmax(x * 1e4, mask).data.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    numpy.testing.assert_allclose(masked_softmax(x, None).data, F.softmax(x).data, rtol=1e-15)
    numpy.testing.assert_allclose(masked_softmax(x, mask, axis=-1).data, masked_softmax(x, Variable(mask)).data)


def test_masked_softmax_other_axis():
    rng = numpy.random.default_rng(21)
    x = rng.standard_normal((4, 3))
    mask = lengths_to_mask([4, 1, 3], 4).T  # (4, 3): masking along axis 0
    y = masked_softmax(x, mask, axis=0)
    numpy.testing.assert_allclose(y.data, ref_masked_softmax(x.T, mask.T).T, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("which", ["broadcast", "full"])
def test_masked_softmax_backward_and_double_backward(which):
    rng, x, mask, full = softmax_case(22)
    m = mask if which == "broadcast" else full
    f = lambda x: masked_softmax(x, m)  # noqa: E731
    check_backward(f, x, rng.standard_normal(x.shape), eps=1e-5)
    check_double_backward(f, x, rng.standard_normal(x.shape), rng.standard_normal(x.shape), eps=1e-5)


def test_masked_softmax_float32_and_bad_mask():
    _, x, mask, _ = softmax_case(23)
    x32 = Variable(x.astype("float32"))
    y = masked_softmax(x32, mask)
    assert y.dtype == numpy.float32
    F.sum(y * y).backward()
    assert x32.grad.dtype == numpy.float32
    with pytest.raises(ValueError, match=r"MaskedSoftmax: mask of shape \(2, 4\) does not broadcast.*\(2, 3, 5\)"):
        masked_softmax(x, numpy.ones((2, 4), dtype=bool))


# ---- dtypes, parameters, precompute ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_float32_in_float32_out(kind):
    rng = numpy.random.default_rng(30)
    layer = make_layer(kind, dtype=None)  # config.dtype, float32 by default
    assert all(p.dtype == numpy.float32 for p in layer.params())
    q, m, v, lengths = make_inputs(kind, 2, 3, 4, rng, dtype="float32")
    q = Variable(q)
    ctx, w = call(layer, kind, q, m, lengths_to_mask(lengths, 4), v)
    assert ctx.dtype == numpy.float32 and w.dtype == numpy.float32
    F.sum(ctx).backward()
    assert q.grad.dtype == numpy.float32
    assert all(p.grad.dtype == numpy.float32 for p in layer.params())


def test_parameter_dtype_shapes_names_and_seeded_glorot_init():
    with using_config("dtype", "float64"):
        layer = AdditiveAttention(DQ, DK, attn_size=6)
    assert all(p.dtype == numpy.float64 for p in layer.params())
    assert GeneralAttention(DQ, DK, dtype="float16").W_a.dtype == numpy.float16
    assert {n: p.shape for n, p in layer.named_params()} == {"W_q": (6, DQ), "W_k": (6, DK), "b": (6,), "v": (6,)}
    assert AdditiveAttention(DQ, DK).W_k.shape == (DK, DK)  # attn_size defaults to memory_size
    assert dict(GeneralAttention(DQ, DK).named_params())["W_a"].shape == (DQ, DK)
    assert list(DotAttention().params()) == [] and list(ScaledDotProductAttention().params()) == []
    mha = MultiHeadAttention(8, 2, value_size=DV)
    assert [(n, p.shape) for n, p in mha.named_params()] == [
        ("W_q", (8, 8)), ("b_q", (8,)), ("W_k", (8, 8)), ("b_k", (8,)),
        ("W_v", (8, DV)), ("b_v", (8,)), ("W_o", (8, 8)), ("b_o", (8,)),
    ]  # fmt: skip
    seqkit.random.seed(5)
    a = MultiHeadAttention(64, 4).state_dict()
    seqkit.random.seed(5)
    b = MultiHeadAttention(64, 4).state_dict()
    assert all((a[k] == b[k]).all() for k in a)
    limit = math.sqrt(6 / (64 + 64))
    assert numpy.abs(a["W_q"]).max() <= limit and a["W_q"].std() > limit / 3 and (a["b_q"] == 0).all()
    with pytest.raises(ValueError, match="d_model=6 must be a multiple of n_heads=4"):
        MultiHeadAttention(6, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_precomputed_steps_match_one_call_over_all_steps(kind):
    rng = numpy.random.default_rng(40)
    layer = make_layer(kind)
    q, m, v, lengths = make_inputs(kind, 3, 4, 5, rng)
    mask = lengths_to_mask(lengths, 5)
    ctx, w = call(layer, kind, q, m, mask, v)
    pre = layer.precompute(m, v) if kind == "multihead_value" else layer.precompute(m)
    for t in range(q.shape[1]):
        c_t, w_t = call(layer, kind, q[:, t], m, mask, v, precomputed=pre)
        numpy.testing.assert_allclose(c_t.data, ctx.data[:, t], rtol=1e-12, atol=1e-14)
        numpy.testing.assert_allclose(w_t.data, w.data[..., t, :], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="precomputed"):
        call(layer, kind, q[:2], m[:2], mask[:2], None if v is None else v[:2], precomputed=pre)


def test_gradient_flows_through_precomputed_keys():
    layer = make_layer("additive")
    rng = numpy.random.default_rng(41)
    q, m, _, _ = make_inputs("additive", 2, None, 3, rng)
    keys = layer.precompute(m)
    ctx, _ = layer(q, m, precomputed=keys)
    F.sum(ctx).backward()
    assert layer.W_k.grad is not None and (layer.W_k.grad != 0).any()


def count_nodes(y: Variable) -> int:
    seen, stack = set(), [y.creator]
    while stack:
        fn = stack.pop()
        if fn is not None and fn not in seen:
            seen.add(fn)
            stack.extend(e[0] for e in fn.inputs if type(e) is tuple)
    return len(seen)


def test_multihead_graph_size_does_not_grow_with_heads():
    """All heads go through one batched product: the same graph for 1 head and for 8."""
    rng = numpy.random.default_rng(42)
    q, m = rng.standard_normal((2, 3, 16)), rng.standard_normal((2, 4, 16))
    sizes = {count_nodes(MultiHeadAttention(16, h, dtype="float64")(q, m, lengths_to_mask([4, 2]))[0]) for h in (1, 8)}
    assert len(sizes) == 1


# ---- errors and the mask helper -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_bad_shapes_raise_value_error_naming_layer_and_shapes(kind):
    rng = numpy.random.default_rng(50)
    layer = make_layer(kind)
    name = type(layer).__name__
    q, m, v, _ = make_inputs(kind, 2, 3, 4, rng)
    Dq = q.shape[-1]
    shapes = rf"query \(2, 3, {Dq}\), memory \(2, 4, 4\), mask \(2, 5\)"
    with pytest.raises(ValueError, match=rf"{name}: mask must be .*{shapes}"):
        call(layer, kind, q, m, numpy.ones((2, 5), dtype=bool), v)
    with pytest.raises(ValueError, match=rf"{name}: mask must be \(B, Tk\) = \(2, 4\),.*mask \(2, 1, 4\)"):
        call(layer, kind, q[:, 0], m, numpy.ones((2, 1, 4), dtype=bool), v)  # a per-query mask needs 3-D queries
    with pytest.raises(ValueError, match=rf"{name}: query has batch size 1, memory 2 .*query \(1, 3, {Dq}\)"):
        call(layer, kind, q[:1], m, None, v)
    with pytest.raises(ValueError, match=rf"{name}: .*features.*query \(2, 3, {Dq + 1}\)"):
        call(layer, kind, numpy.zeros((2, 3, Dq + 1)), m, None, v)
    with pytest.raises(ValueError, match=rf"{name}: .*features.*memory \(2, 4, 2\)"):
        call(layer, kind, q, numpy.zeros((2, 4, 2)), None, v)
    with pytest.raises(ValueError, match=rf"{name}: query must be"):
        call(layer, kind, q[None], m, None, v)
    with pytest.raises(ValueError, match=rf"{name}: memory must be"):
        call(layer, kind, q, m[0], None, v)


def test_multihead_bad_value_shape():
    layer = make_layer("multihead_value")
    q, m = numpy.zeros((2, DQ)), numpy.zeros((2, 4, DK))
    with pytest.raises(ValueError, match=r"MultiHeadAttention: value of shape \(2, 3, 5\) does not match memory"):
        layer(q, m, value=numpy.zeros((2, 3, DV)))


def test_lengths_to_mask():
    mask = lengths_to_mask([2, 0, 3], 4)
    assert mask.dtype == bool
    assert mask.tolist() == [[True, True, False, False], [False] * 4, [True, True, True, False]]
    assert lengths_to_mask(numpy.array([1, 3])).shape == (2, 3)
    with pytest.raises(ValueError, match="lengths must lie in"):
        lengths_to_mask([5], 4)
    with pytest.raises(ValueError, match="lengths must lie in"):
        lengths_to_mask([-1, 2], 4)


# ---- the declared contract: AttentionLayer ----------------------------------------------------------------
ATTENTIONS = [name for name, (cls, _) in BUILTIN_LAYERS.items() if issubclass(cls, AttentionLayer)]


def test_every_seqkit_attention_layer_is_an_attention_layer():
    assert sorted(ATTENTIONS) == [
        "additive_attention", "dot_attention", "general_attention", "multi_head_attention", "scaled_dot_attention",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ATTENTIONS)
class TestSeqkitAttention(AttentionLayerTests):
    """The author kit on seqkit's own layers: what a plugin's attention layer is held to."""

    shapes = (3, 4, 6)

    @pytest.fixture
    def case(self, name, seqkit_plugin_manager) -> AttentionCase:
        return AttentionCase(name, self.shapes, {}, seqkit_plugin_manager.registry("layer"), heads=self.heads)


def test_from_sizes_builds_what_a_model_asks_for():
    general = GeneralAttention.from_sizes(3, 4, 8)
    assert (general.query_size, general.memory_size, general.context_size(4)) == (3, 4, 4)
    additive = AdditiveAttention.from_sizes(3, 4, 8)
    assert (additive.query_size, additive.memory_size, additive.attn_size) == (3, 4, 4)
    assert type(DotAttention.from_sizes(4, 4, 8)) is DotAttention
    assert type(ScaledDotProductAttention.from_sizes(4, 4, 8)) is ScaledDotProductAttention
    mha = MultiHeadAttention.from_sizes(6, 4, 3)
    assert (mha.d_model, mha.n_heads, mha.query_size, mha.memory_size, mha.context_size(4)) == (6, 3, 6, 4, 6)


class _Mean(AttentionLayer):
    """The mean of the real memory positions, for one-step queries: only what the base has no default for."""

    def __init__(self, query_size, memory_size):
        super().__init__()
        self.sizes = (query_size, memory_size)

    def __call__(self, query, memory, mask=None, *, precomputed=None):
        B, Tk, Dk = memory.shape
        real = numpy.ones((B, Tk)) if mask is None else numpy.asarray(mask, dtype=float)
        weights = Variable(real / real.sum(axis=1, keepdims=True))
        return F.reshape(F.matmul(F.reshape(weights, (B, 1, Tk)), memory), (B, Dk)), weights


def test_the_base_declares_the_call_and_defaults_for_the_rest():
    layer = _Mean.from_sizes(3, 4, 8)  # default: cls(query_size, memory_size)
    memory = numpy.arange(24.0).reshape(2, 3, 4)
    assert layer.sizes == (3, 4) and layer.context_size(4) == 4 and layer.precompute(memory) is None
    context, _ = layer(numpy.zeros((2, 3)), memory, lengths_to_mask([1, 3], 3), precomputed=layer.precompute(memory))
    numpy.testing.assert_allclose(context.data, [memory[0, 0], memory[1].mean(axis=0)], rtol=1e-15)

    class NoCall(AttentionLayer):
        pass

    with pytest.raises(TypeError, match=r"abstract method.*__call__"):
        NoCall()


class _WrongContextSize(GeneralAttention):
    def context_size(self, memory_size):
        return memory_size + 1


class _IgnoresMask(GeneralAttention):
    def __call__(self, query, memory, mask=None, *, precomputed=None):
        return super().__call__(query, memory, None, precomputed=precomputed)


class _IgnoresPrecomputed(GeneralAttention):
    def precompute(self, memory):
        return super().precompute(memory) * 2.0


@pytest.mark.parametrize(
    "cls, problem",
    [(_WrongContextSize, "but context_size"), (_IgnoresMask, "padded memory positions a weight"),
     (_IgnoresPrecomputed, "with precomputed= vs without"), (Linear, "not a seqkit.layers.AttentionLayer")],
)  # fmt: skip
def test_the_author_kit_catches_a_broken_attention_layer(cls, problem):
    registry = Registry("layer")
    registry.add("broken", cls)
    case = AttentionCase("broken", (3, 4, 6), registry=registry)
    with pytest.raises(AssertionError, match=problem):
        case.check_attention_contract()


def docs_example(marker: str) -> str:
    """The python block after ``<!-- example: MARKER -->`` in docs/plugins.md."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    return text.split(f"<!-- example: {marker} -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def test_the_documented_attention_plugin_keeps_the_contract_and_serves_a_seq2seq_model(tmp_path):
    (tmp_path / "projected.py").write_text(docs_example("attention plugin"), encoding="utf-8")
    pm = get_plugin_manager(plugins_dir=tmp_path, strict=True, environ={"SEQKIT_LOAD_PLUGINS": "projected"})
    case = AttentionCase("projected_dot_attention", (3, 4, 6), registry=pm.registry("layer"))
    case.check_attention_contract()
    case.check_all(tmp_path)
    model = ModelCase("seq2seq", {"embed_size": 6, "hidden_size": 6, "attention": "projected_dot_attention"}, pm)
    assert model.build().combine.W.shape == (6, 6 + 6)  # context_size: the query's 6, not the memory's 12
    model.check_training()
    model.check_decoding()
