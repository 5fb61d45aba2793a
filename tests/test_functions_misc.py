"""Tests for embed_id (connection), dropout (noise) and layer_norm (normalization)."""

import math

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqkit
import seqkit.functions as F
import seqkit.random
from seqkit import Variable
from seqkit.core.gradient_check import check_backward, check_double_backward
from seqkit.functions.noise import BLOCK, apply_blocks, dropout_blocks, dropout_reference

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)


# =========================================================================================================
# embed_id
# =========================================================================================================
def ref_embed(ids, W, ignore_label=None):
    out = numpy.zeros(ids.shape + W.shape[1:], dtype=W.dtype)
    for pos in numpy.ndindex(ids.shape):
        if ids[pos] != ignore_label:
            out[pos] = W[ids[pos]]
    return out


def ref_embed_grad(ids, gy, V, ignore_label=None):
    gW = numpy.zeros((V, gy.shape[-1]), dtype=gy.dtype)
    for pos in numpy.ndindex(ids.shape):
        if ids[pos] != ignore_label:
            gW[ids[pos]] += gy[pos]
    return gW


@st.composite
def embed_problems(draw):
    """W (V, D), ids of shape (N,) or (B, T) drawn from a small vocabulary (so ids repeat), an ignore label."""
    V = draw(st.integers(1, 4), label="V")
    D = draw(st.integers(1, 3), label="D")
    ids_shape = draw(st.sampled_from([(1,), (3,), (7,), (2, 3), (3, 4), (1, 5)]), label="ids_shape")
    ignore_label = draw(st.sampled_from([None, -1, 0]), label="ignore_label")
    rng = numpy.random.default_rng(draw(seeds, label="seed"))
    low = -1 if ignore_label == -1 else 0
    ids = rng.integers(low, V, ids_shape)
    W = rng.normal(size=(V, D))
    return ids, W, ignore_label, rng


@SETTINGS
@given(embed_problems())
def test_embed_forward_matches_numpy(problem):
    ids, W, ignore_label, _ = problem
    W_before = W.copy()
    y = F.embed_id(ids, Variable(W), ignore_label=ignore_label)
    assert y.shape == (*ids.shape, W.shape[1])
    assert y.dtype == W.dtype
    numpy.testing.assert_array_equal(y.data, ref_embed(ids, W, ignore_label))
    if ignore_label is not None:
        assert (y.data[ids == ignore_label] == 0).all()
    numpy.testing.assert_array_equal(W, W_before)


@SETTINGS
@given(embed_problems())
def test_embed_gradient_is_scatter_add(problem):
    ids, W, ignore_label, rng = problem
    Wv = Variable(W)
    gy = rng.normal(size=(*ids.shape, W.shape[1]))
    F.embed_id(ids, Wv, ignore_label=ignore_label).backward(gy)
    numpy.testing.assert_allclose(Wv.grad, ref_embed_grad(ids, gy, W.shape[0], ignore_label), rtol=1e-12, atol=1e-14)


@SETTINGS
@given(embed_problems())
def test_embed_check_backward_and_double_backward(problem):
    ids, W, ignore_label, rng = problem

    def fn(idv, Wv):
        return F.embed_id(idv, Wv, ignore_label=ignore_label)

    gy = rng.normal(size=(*ids.shape, W.shape[1]))
    check_backward(fn, (ids, W), gy)
    check_double_backward(fn, (ids, W), gy, rng.normal(size=W.shape))


def test_embed_batch_with_padding():
    rng = numpy.random.default_rng(0)
    W = Variable(rng.normal(size=(5, 3)) - 2.0)  # all rows nonzero, mostly negative
    ids = numpy.array([[1, 4, 4, 0, 0], [2, 1, 0, 0, 0]])  # 0 is padding
    y = F.embed_id(ids, W, ignore_label=0)
    assert y.shape == (2, 5, 3)
    assert (y.data[ids == 0] == 0).all()
    numpy.testing.assert_array_equal(y.data[0, 1], W.data[4])
    numpy.testing.assert_array_equal(y.data[1, 0], W.data[2])
    gy = numpy.ones((2, 5, 3))
    y.backward(gy)
    # the padding row gets no gradient; repeated ids accumulate
    numpy.testing.assert_array_equal(W.grad, [[0, 0, 0], [2, 2, 2], [1, 1, 1], [0, 0, 0], [2, 2, 2]])


def test_embed_without_ignore_label_uses_every_id():
    W = Variable(numpy.arange(6.0).reshape(3, 2))
    ids = numpy.array([0, 0, 2, 0])
    y = F.embed_id(ids, W)
    numpy.testing.assert_array_equal(y.data, [[0, 1], [0, 1], [4, 5], [0, 1]])
    y.backward(numpy.ones((4, 2)))
    numpy.testing.assert_array_equal(W.grad, [[3, 3], [0, 0], [1, 1]])


@pytest.mark.parametrize("ids_shape", [(0,), (2, 0)])
def test_embed_empty_ids(ids_shape):
    W = Variable(numpy.ones((4, 3)))
    ids = numpy.zeros(ids_shape, dtype=numpy.int64)
    y = F.embed_id(ids, W, ignore_label=-1)
    assert y.shape == (*ids_shape, 3)
    y.backward(numpy.zeros(y.shape))
    numpy.testing.assert_array_equal(W.grad, numpy.zeros((4, 3)))


def test_embed_zero_dim_id():
    W = Variable(numpy.arange(6.0).reshape(3, 2))
    y = F.embed_id(numpy.array(2), W)
    numpy.testing.assert_array_equal(y.data, [4, 5])
    y.backward(numpy.array([1.0, 2.0]))
    numpy.testing.assert_array_equal(W.grad, [[0, 0], [0, 0], [1, 2]])
    assert F.embed_id(numpy.array(2), W, ignore_label=2).data.tolist() == [0, 0]
    numpy.testing.assert_array_equal(W.data, numpy.arange(6.0).reshape(3, 2))


@pytest.mark.parametrize("dtype", [numpy.int8, numpy.int32, numpy.int64, numpy.uint16])
def test_embed_any_integer_ids_and_float32(dtype):
    W = Variable(numpy.random.default_rng(1).normal(size=(4, 3)).astype(numpy.float32))
    ids = numpy.array([[3, 1], [1, 0]], dtype=dtype)
    y = F.embed_id(ids, W, ignore_label=0)
    assert y.dtype == numpy.float32
    numpy.testing.assert_array_equal(y.data, ref_embed(ids, W.data, 0))
    (gW,) = seqkit.grad([y], [W], [numpy.ones((2, 2, 3), numpy.float32)], create_graph=True)
    assert gW.dtype == numpy.float32
    numpy.testing.assert_array_equal(gW.data, [[0] * 3, [2] * 3, [0] * 3, [1] * 3])


def test_embed_ids_as_variable():
    W = Variable(numpy.arange(6.0).reshape(3, 2))
    ids = Variable(numpy.array([2, 1]))
    assert not ids.requires_grad
    y = F.embed_id(ids, W)
    numpy.testing.assert_array_equal(y.data, [[4, 5], [2, 3]])


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64, numpy.bool_])
def test_embed_non_integer_ids_raise_type_error(dtype):
    W = numpy.ones((3, 2))
    with pytest.raises(TypeError, match="EmbedID"):
        F.embed_id(numpy.array([0, 1], dtype=dtype), W)


# =========================================================================================================
# dropout
# =========================================================================================================
def seeded_dropout(ratio, seed=1234):
    """dropout with the generator reseeded before each call, so every call draws the same mask."""

    def fn(x):
        seqkit.random.seed(seed)
        return F.dropout(x, ratio)

    return fn


@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.99])
def test_dropout_is_identity_outside_training(ratio):
    x = Variable(numpy.random.default_rng(0).normal(size=(3, 4)))
    with seqkit.using_config("train", False):
        y = F.dropout(x, ratio)
        assert y is x
        raw = numpy.ones((2, 2))
        y2 = F.dropout(raw, ratio)
        assert y2.data is raw
        assert y2.creator is None and not y2.requires_grad


def test_dropout_with_ratio_zero_is_identity_in_training():
    assert seqkit.config.train
    x = Variable(numpy.random.default_rng(0).normal(size=(3, 4)))
    y = F.dropout(x, 0.0)
    assert y is x
    assert y.creator is None


def test_dropout_is_active_by_default_in_training():
    seqkit.random.seed(0)
    x = Variable(numpy.ones((50, 50)))
    y = F.dropout(x)  # default ratio 0.5
    assert y.creator is not None
    assert (y.data == 0).any() and (y.data == 2.0).any()
    assert set(numpy.unique(y.data).tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_dropout_statistics_and_scaling(dtype, ratio):
    seqkit.random.seed(0)
    x = numpy.random.default_rng(1).uniform(0.5, 1.5, (400, 500)).astype(dtype)  # nonzero everywhere
    y = F.dropout(Variable(x), ratio).data
    assert y.dtype == dtype
    kept = y != 0
    n = x.size
    # the fraction kept is Binomial(n, 1 - ratio) / n: allow 6 standard deviations
    assert abs(kept.mean() - (1 - ratio)) < 6 * math.sqrt(ratio * (1 - ratio) / n)
    rtol = 1e-6 if dtype == numpy.float32 else 1e-14
    numpy.testing.assert_allclose(y[kept], x[kept] / (1 - ratio), rtol=rtol)
    # and the expectation is preserved
    assert abs(y.mean() / x.mean() - 1) < 0.05


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan")])
@pytest.mark.parametrize("train", [True, False])
def test_dropout_bad_ratio_raises_value_error(ratio, train):
    with seqkit.using_config("train", train), pytest.raises(ValueError, match="ratio"):
        F.dropout(Variable(numpy.ones(3)), ratio)


def test_dropout_masks_differ_between_calls_and_repeat_after_seeding():
    x = numpy.ones((20, 20))
    seqkit.random.seed(5)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    assert not numpy.array_equal(a, b)
    seqkit.random.seed(5)
    numpy.testing.assert_array_equal(F.dropout(x, 0.5).data, a)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("shape", [(0,), (7,), (3, BLOCK + 5), (2, 3, BLOCK), (BLOCK + 1, 3)])
@pytest.mark.parametrize("drawn_before", [0, 1])
def test_dropout_blocks_equal_the_whole_array_reference_bitwise(dtype, shape, drawn_before):
    """The CPU path's blocks give the reference's mask and output bit for bit, from the same generator state
    (also after an odd number of float32 draws, which leaves half of a 64-bit draw for the next), on a
    transposed (non-contiguous) input too; the gradient is ``g * mask`` bit for bit."""
    rng = numpy.random.default_rng(3)
    for x in (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape[::-1]).astype(dtype).T):
        a, b = numpy.random.default_rng(7), numpy.random.default_rng(7)
        a.random(drawn_before, dtype=dtype)
        b.random(drawn_before, dtype=dtype)
        keep, y = dropout_blocks(x, 0.3, a)
        mask, y_reference = dropout_reference(x, b.random(x.shape, dtype=dtype), 0.3)
        assert keep.dtype == bool and y.dtype == dtype
        numpy.testing.assert_array_equal(keep, mask != 0)
        numpy.testing.assert_array_equal(y, y_reference)
        assert a.random() == b.random()  # both generators moved on by as many numbers
        g = rng.standard_normal(x.shape).astype(dtype)
        numpy.testing.assert_array_equal(apply_blocks(g, keep, dtype(1 / 0.7)), g * mask)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=seeds,
       ratio=st.sampled_from([0.1, 0.3, 0.5, 0.8]))  # fmt: skip
def test_dropout_gradient_uses_the_forward_mask(shape, seed, ratio):
    rng = numpy.random.default_rng(seed)
    x = Variable(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))
    y = F.dropout(x, ratio)
    gy = rng.normal(size=shape)
    y.backward(gy)
    # y = x * mask, so d<y, gy>/dx = gy * mask = gy * y / x
    numpy.testing.assert_allclose(x.grad, gy * y.data / x.data, rtol=1e-12, atol=1e-15)
    assert set(numpy.unique(numpy.round(y.data / x.data, 10)).tolist()) <= {0.0, round(1 / (1 - ratio), 10)}


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=seeds,
       ratio=st.sampled_from([0.1, 0.3, 0.5, 0.8]))  # fmt: skip
def test_dropout_check_backward_and_double_backward(shape, seed, ratio):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=shape)
    gy = rng.normal(size=shape)
    fn = seeded_dropout(ratio, seed=seed)
    check_backward(fn, x, gy)
    check_double_backward(fn, x, gy, rng.normal(size=shape))


def test_dropout_float32_gradient():
    seqkit.random.seed(3)
    x = Variable(numpy.ones((4, 5), dtype=numpy.float32))
    y = F.dropout(x, 0.25)
    (gx,) = seqkit.grad([y], [x], [numpy.ones((4, 5), numpy.float32)])
    assert y.dtype == numpy.float32 and gx.dtype == numpy.float32
    numpy.testing.assert_array_equal(gx.data, y.data)


# =========================================================================================================
# layer_norm
# =========================================================================================================
def ref_layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / numpy.sqrt(var + eps) * gamma + beta


@st.composite
def norm_problems(draw):
    lead = draw(st.sampled_from([(1,), (3,), (2, 3), (1, 4), (3, 2)]), label="leading axes")
    D = draw(st.integers(2, 6), label="D")
    rng = numpy.random.default_rng(draw(seeds, label="seed"))
    # a ramp plus noise: every row has a standard deviation well away from zero
    x = rng.normal(0, 0.3, (*lead, D)) + numpy.linspace(-1, 1, D) * rng.choice([-1, 1], (*lead, 1))
    x = x * rng.uniform(0.5, 3) + rng.normal()
    gamma = rng.normal(1, 0.5, D)
    beta = rng.normal(0, 0.5, D)
    return x, gamma, beta, rng


@SETTINGS
@given(norm_problems())
def test_layer_norm_forward_matches_numpy(problem):
    x, gamma, beta, _ = problem
    y = F.layer_norm(Variable(x), Variable(gamma), Variable(beta))
    assert y.shape == x.shape and y.dtype == numpy.float64
    numpy.testing.assert_allclose(y.data, ref_layer_norm(x, gamma, beta), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(norm_problems())
def test_layer_norm_check_backward(problem):
    x, gamma, beta, rng = problem
    check_backward(F.layer_norm, (x, gamma, beta), rng.normal(size=x.shape), eps=1e-4)


@SETTINGS
@given(norm_problems())
def test_layer_norm_check_double_backward(problem):
    x, gamma, beta, rng = problem
    gy = rng.normal(size=x.shape)
    ggs = (rng.normal(size=x.shape), rng.normal(size=gamma.shape), rng.normal(size=beta.shape))
    check_double_backward(F.layer_norm, (x, gamma, beta), gy, ggs, eps=1e-4)  # see helpers.gradcheck


def test_layer_norm_normalises_the_last_axis():
    rng = numpy.random.default_rng(0)
    x = rng.normal(5.0, 3.0, (2, 3, 8))
    y = F.layer_norm(x, numpy.ones(8), numpy.zeros(8), eps=0.0).data
    numpy.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    numpy.testing.assert_allclose(y.std(axis=-1), 1.0, rtol=1e-12)
    # each row on its own: normalising rows separately gives the same result
    for i, j in numpy.ndindex(2, 3):
        row = F.layer_norm(x[i, j][None], numpy.ones(8), numpy.zeros(8), eps=0.0).data[0]
        numpy.testing.assert_allclose(y[i, j], row, rtol=1e-12)


def test_layer_norm_eps_matters_and_constant_rows_are_finite():
    x = numpy.array([[2.0, 2.0, 2.0], [0.0, 0.1, 0.2]])
    gamma, beta = numpy.array([1.0, 2.0, 3.0]), numpy.array([0.5, -0.5, 0.0])
    xv = Variable(x)
    y = F.layer_norm(xv, gamma, beta, eps=1e-2)
    numpy.testing.assert_allclose(y.data, ref_layer_norm(x, gamma, beta, eps=1e-2), rtol=1e-12)
    numpy.testing.assert_array_equal(y.data[0], beta)  # a constant row gives beta
    y.backward(numpy.ones((2, 3)))
    assert numpy.isfinite(xv.grad).all()


def test_layer_norm_parameter_gradients_closed_form():
    rng = numpy.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4))
    gamma, beta = Variable(rng.normal(size=4)), Variable(rng.normal(size=4))
    gy = rng.normal(size=(2, 3, 4))
    F.layer_norm(x, gamma, beta).backward(gy)
    xhat = ref_layer_norm(x, numpy.ones(4), numpy.zeros(4))
    numpy.testing.assert_allclose(gamma.grad, (gy * xhat).sum(axis=(0, 1)), rtol=1e-12)
    numpy.testing.assert_allclose(beta.grad, gy.sum(axis=(0, 1)), rtol=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 5)])
def test_layer_norm_float32(shape):
    rng = numpy.random.default_rng(2)
    x = Variable(rng.normal(size=shape).astype(numpy.float32))
    gamma = Variable(rng.normal(size=5).astype(numpy.float32))
    beta = Variable(rng.normal(size=5).astype(numpy.float32))
    y = F.layer_norm(x, gamma, beta)
    assert y.dtype == numpy.float32
    numpy.testing.assert_allclose(
        y.data, ref_layer_norm(x.data.astype(numpy.float64), gamma.data, beta.data), rtol=1e-5, atol=1e-5
    )
    grads = seqkit.grad([y], [x, gamma, beta], [numpy.ones(shape, numpy.float32)], create_graph=True)
    assert [g.dtype for g in grads] == [numpy.float32] * 3
    (ggx,) = seqkit.grad([(grads[0] * grads[0]).sum()], [x])
    assert ggx.dtype == numpy.float32


@pytest.mark.parametrize(("gamma_shape", "beta_shape"), [((4,), (5,)), ((5,), (4,)), ((1, 5), (5,)), ((), (5,))])
def test_layer_norm_bad_parameter_shapes(gamma_shape, beta_shape):
    with pytest.raises(ValueError, match="LayerNorm"):
        F.layer_norm(numpy.ones((2, 5)), numpy.ones(gamma_shape), numpy.ones(beta_shape))
