"""Tests for seqkit.functions.activation: tanh, sigmoid, relu, gelu, softplus, softmax, log_softmax.

Forward results are compared with NumPy references written here; gradients with numerical ones
(float64, random shapes and values drawn by hypothesis).
"""

import math

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqkit
import seqkit.functions as F
from seqkit import Variable
from seqkit.core.gradient_check import check_backward, check_double_backward

SETTINGS = settings(max_examples=25, deadline=None)

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


# ---- NumPy references -----------------------------------------------------------------------------------
def ref_sigmoid(x):
    return numpy.where(
        x >= 0, 1 / (1 + numpy.exp(-numpy.abs(x))), numpy.exp(-numpy.abs(x)) / (1 + numpy.exp(-numpy.abs(x)))
    )


def ref_softplus(x):
    return numpy.maximum(x, 0) + numpy.log1p(numpy.exp(-numpy.abs(x)))


def ref_gelu(x):
    erf = numpy.vectorize(math.erf, otypes=[numpy.float64])
    return x * 0.5 * (1 + erf(x / math.sqrt(2)))


def ref_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - numpy.log(numpy.exp(x - m).sum(axis=axis, keepdims=True))


def ref_softmax(x, axis):
    return numpy.exp(ref_log_softmax(x, axis))


ELEMENTWISE = [
    (F.tanh, numpy.tanh),
    (F.sigmoid, ref_sigmoid),
    (F.relu, lambda x: numpy.maximum(x, 0)),
    (F.gelu, ref_gelu),
    (F.softplus, ref_softplus),
]
ELEMENTWISE_IDS = ["tanh", "sigmoid", "relu", "gelu", "softplus"]


def away_from_zero(rng, shape, low=0.05):
    """Values with |x| in [low, 2]: relu is smooth there (no kink within the finite-difference step)."""
    return rng.uniform(low, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# ---- forward ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("f", "ref"), ELEMENTWISE, ids=ELEMENTWISE_IDS)
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_elementwise_forward_matches_numpy(f, ref, shape, seed):
    x = numpy.random.default_rng(seed).normal(0, 3, shape)
    y = f(Variable(x))
    assert y.shape == x.shape
    assert y.dtype == numpy.float64
    numpy.testing.assert_allclose(y.data, ref(x), rtol=1e-12, atol=1e-14)


def test_known_values():
    x = numpy.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    numpy.testing.assert_allclose(F.relu(x).data, [0, 0, 0, 1, 2])
    numpy.testing.assert_allclose(F.sigmoid(x).data[2], 0.5)
    numpy.testing.assert_allclose(F.softplus(x).data[2], math.log(2))
    # GELU(x) = x * Phi(x); Phi(1) = 0.8413447460685429 (standard normal CDF)
    numpy.testing.assert_allclose(
        F.gelu(x).data,
        [-2 * 0.022750131948179195, -0.15865525393145707, 0.0, 0.8413447460685429, 2 * 0.9772498680518208],
        rtol=1e-14,
    )


@pytest.mark.parametrize("f", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data())
def test_softmax_forward_matches_numpy(f, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = numpy.random.default_rng(seed).normal(0, 3, shape)
    y = f(x, axis=axis).data
    ref = ref_softmax(x, axis) if f is F.softmax else ref_log_softmax(x, axis)
    numpy.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-14)
    probs = y if f is F.softmax else numpy.exp(y)
    numpy.testing.assert_allclose(probs.sum(axis=axis), 1.0, rtol=1e-12)


def test_softmax_default_axis_is_last():
    x = numpy.random.default_rng(0).normal(size=(2, 3, 4))
    numpy.testing.assert_allclose(F.softmax(x).data, ref_softmax(x, -1), rtol=1e-12)
    numpy.testing.assert_allclose(F.log_softmax(x).data, ref_log_softmax(x, -1), rtol=1e-12)


def test_input_is_not_modified():
    x = numpy.random.default_rng(1).normal(size=(3, 4))
    before = x.copy()
    for f in [F.tanh, F.sigmoid, F.relu, F.gelu, F.softplus, F.softmax, F.log_softmax]:
        f(Variable(x)).backward(numpy.ones((3, 4)))
    numpy.testing.assert_array_equal(x, before)


# ---- gradients ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("f", [F.tanh, F.sigmoid, F.gelu, F.softplus], ids=["tanh", "sigmoid", "gelu", "softplus"])
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_smooth_elementwise_gradients(f, shape, seed):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(0, 2, shape)
    gy = rng.normal(size=shape)
    ggx = rng.normal(size=shape)
    check_backward(f, x, gy)
    check_double_backward(f, x, gy, ggx)


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_relu_gradients_away_from_zero(shape, seed):
    rng = numpy.random.default_rng(seed)
    x = away_from_zero(rng, shape)
    gy = rng.normal(size=shape)
    check_backward(F.relu, x, gy)
    check_double_backward(F.relu, x, gy, rng.normal(size=shape))


def test_relu_gradient_is_the_step_function():
    x = Variable(numpy.array([-1.5, -0.1, 0.2, 3.0]))
    gy = numpy.array([1.0, 2.0, 3.0, 4.0])
    F.relu(x).backward(gy)
    numpy.testing.assert_array_equal(x.grad, [0.0, 0.0, 3.0, 4.0])


@pytest.mark.parametrize("f", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data())
def test_softmax_gradients(f, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    rng = numpy.random.default_rng(seed)
    x = rng.normal(0, 2, shape)
    gy = rng.normal(size=shape)

    def fn(v):
        return f(v, axis=axis)

    check_backward(fn, x, gy)
    check_double_backward(fn, x, gy, rng.normal(size=shape))


@pytest.mark.parametrize("f", [F.tanh, F.sigmoid, F.gelu, F.softplus], ids=["tanh", "sigmoid", "gelu", "softplus"])
def test_third_order_gradients(f):
    """Backward is built of differentiable ops, so gradients of the double-backward are exact as well."""
    rng = numpy.random.default_rng(3)
    shape = (2, 3)
    x, gy, ggx, g3x, g3gy = (rng.normal(size=shape) for _ in range(5))

    def first_order(xv, gyv):
        return seqkit.grad([f(xv)], [xv, gyv], [gyv], create_graph=True)[0]

    # (x, gy) -> gx, checked to second order: third derivatives of f and mixed ones through gy
    check_double_backward(first_order, (x, gy), ggx, (g3x, g3gy))


def test_softmax_gradient_matches_closed_form():
    rng = numpy.random.default_rng(4)
    x = Variable(rng.normal(size=(3, 5)))
    gy = rng.normal(size=(3, 5))
    F.softmax(x).backward(gy)
    y = ref_softmax(x.data, -1)
    numpy.testing.assert_allclose(x.grad, y * (gy - (gy * y).sum(axis=-1, keepdims=True)), rtol=1e-12, atol=1e-14)
    x.zero_grad()
    F.log_softmax(x).backward(gy)
    numpy.testing.assert_allclose(x.grad, gy - y * gy.sum(axis=-1, keepdims=True), rtol=1e-12, atol=1e-14)


# ---- numerical stability ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_softmax_and_log_softmax_with_huge_logits(dtype):
    x = numpy.array([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    c = math.log1p(math.exp(-1.0))  # log(1 + e^-1)
    expected_log = numpy.array([[-c, -1 - c, -2e4 - c], [-math.log(3)] * 3])
    xv = Variable(x)
    y = F.softmax(xv)
    assert numpy.isfinite(y.data).all()
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype is numpy.float32 else {"rtol": 1e-12, "atol": 1e-15}
    numpy.testing.assert_allclose(y.data, numpy.exp(expected_log), **tol)
    logy = F.log_softmax(xv)
    assert numpy.isfinite(logy.data).all()
    numpy.testing.assert_allclose(logy.data, expected_log, **tol)
    gy = numpy.array([[1.0, -2.0, 0.5], [0.3, 0.0, -1.0]], dtype=dtype)
    for f in (F.softmax, F.log_softmax):
        xv.zero_grad()
        f(xv).backward(gy)
        assert numpy.isfinite(xv.grad).all()
    # log_softmax's gradient: gy - softmax * sum(gy)
    numpy.testing.assert_allclose(xv.grad, gy - numpy.exp(expected_log) * gy.sum(axis=1, keepdims=True), **tol)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_sigmoid_and_softplus_with_large_inputs(dtype):
    x = Variable(numpy.array([-1e3, -50.0, 50.0, 1e3], dtype=dtype))
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, not even a silenced one
        s = F.sigmoid(x)
        sp = F.softplus(x)
    assert numpy.isfinite(s.data).all()
    assert numpy.isfinite(sp.data).all()
    numpy.testing.assert_allclose(s.data, [0.0, 0.0, 1.0, 1.0], atol=1e-20)
    numpy.testing.assert_allclose(sp.data, [0.0, 0.0, 50.0, 1e3], rtol=1e-7, atol=1e-20)
    s.backward(numpy.ones(4, dtype=dtype))
    assert numpy.isfinite(x.grad).all()
    numpy.testing.assert_allclose(x.grad, 0.0, atol=1e-20)
    x.zero_grad()
    sp.backward(numpy.ones(4, dtype=dtype))
    assert numpy.isfinite(x.grad).all()
    numpy.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, 1.0], atol=1e-20)


def test_sigmoid_moderate_inputs_accurate():
    x = numpy.linspace(-30, 30, 61)
    numpy.testing.assert_allclose(F.sigmoid(x).data, ref_sigmoid(x), rtol=1e-9, atol=1e-15)


# ---- dtypes and edge cases -------------------------------------------------------------------------------
ALL_OPS = [F.tanh, F.sigmoid, F.relu, F.gelu, F.softplus, F.softmax, F.log_softmax]
ALL_IDS = ["tanh", "sigmoid", "relu", "gelu", "softplus", "softmax", "log_softmax"]


@pytest.mark.parametrize("f", ALL_OPS, ids=ALL_IDS)
def test_float32_in_float32_out(f):
    rng = numpy.random.default_rng(5)
    x = Variable(away_from_zero(rng, (3, 4)).astype(numpy.float32))
    y = f(x)
    assert y.dtype == numpy.float32
    gy = rng.normal(size=(3, 4)).astype(numpy.float32)
    (gx,) = seqkit.grad([y], [x], [gy], create_graph=True)
    assert gx.dtype == numpy.float32
    # and the gradient agrees with the float64 one to float32 accuracy
    x64 = Variable(x.data.astype(numpy.float64))
    (gx64,) = seqkit.grad([f(x64)], [x64], [gy.astype(numpy.float64)])
    numpy.testing.assert_allclose(gx.data, gx64.data, rtol=1e-4, atol=1e-5)
    (ggx,) = seqkit.grad([gx], [x], [numpy.ones((3, 4), numpy.float32)])
    assert ggx is None or ggx.dtype == numpy.float32


@pytest.mark.parametrize(("f", "ref"), ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_zero_dim_input(f, ref):
    x = numpy.array(0.7)
    y = f(Variable(x))
    assert y.shape == ()
    assert float(y.data) == pytest.approx(float(ref(x)), rel=1e-12)
    check_backward(f, x, numpy.array(1.3))
    check_double_backward(f, x, numpy.array(1.3), numpy.array(-0.4))


@pytest.mark.parametrize("f", ALL_OPS, ids=ALL_IDS)
def test_integer_input_rejected(f):
    with pytest.raises(TypeError, match="floating-point"):
        f(numpy.arange(6).reshape(2, 3))


@pytest.mark.parametrize("f", ALL_OPS, ids=ALL_IDS)
def test_no_graph_for_plain_arrays_or_no_grad(f):
    x = numpy.ones((2, 3))
    assert f(x).creator is None
    with seqkit.no_grad():
        assert f(Variable(x)).creator is None
    assert f(Variable(x)).creator is not None
