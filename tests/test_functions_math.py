"""Tests for seqkit/functions/math.py: arithmetic, elementwise math, matmul/linear and reductions.

Each op is checked three ways: its forward against plain NumPy, its gradient (and the gradient of its gradient)
against central differences in float64 on hypothesis-drawn shapes and values, and dtype preservation in float32.
"""

from __future__ import annotations

import operator

import numpy
import pytest
from helpers import as_tuple, gradcheck, normal
from hypothesis import given, settings
from hypothesis import strategies as st

import seqkit.functions as F
from seqkit import Variable, grad
from seqkit.core.gradient_check import check_backward, check_double_backward

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 4)


def shapes(min_dims=0, max_dims=3):
    return st.lists(sides, min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcastable(draw, n=2, max_dims=3):
    """``n`` shapes that broadcast together: each drops leading axes of a common shape and sets some to 1."""
    full = draw(st.lists(sides, max_size=max_dims))
    out = []
    for _ in range(n):
        drop = draw(st.integers(0, len(full)))
        out.append(tuple(1 if draw(st.booleans()) else s for s in full[drop:]))
    return out


def uniform(rng, shape, lo=-1.0, hi=1.0, dtype=numpy.float64):
    return numpy.asarray(rng.uniform(lo, hi, shape)).astype(dtype)


def assert_float32(fn, xs):
    """float32 inputs give float32 outputs, float32 first gradients and float32 second gradients."""
    vs = [Variable(numpy.asarray(x, dtype=numpy.float32)) for x in xs]
    ys = as_tuple(fn(*vs))
    for y in ys:
        assert y.dtype == numpy.float32, y.dtype
    gxs = grad(list(ys), vs, [numpy.ones_like(y.data) for y in ys], create_graph=True)
    for g, v in zip(gxs, vs, strict=True):
        assert g is not None
        assert g.dtype == numpy.float32, g.dtype
        assert g.shape == v.shape
    total = gxs[0].sum()
    for g in gxs[1:]:
        total = total + g.sum()
    if total.creator is not None:  # only when the gradient still depends on an input (not for add or sub)
        for gg in grad(total, vs):
            assert gg is None or gg.dtype == numpy.float32


# ---- binary arithmetic with broadcasting ------------------------------------------------------------------
# name -> (seqkit function, operator on Variables, NumPy reference, domain of a, domain of b)
BINARY = {
    "add": (F.add, operator.add, numpy.add, (-2, 2), (-2, 2)),
    "sub": (F.sub, operator.sub, numpy.subtract, (-2, 2), (-2, 2)),
    "mul": (F.mul, operator.mul, numpy.multiply, (-2, 2), (-2, 2)),
    "div": (F.div, operator.truediv, numpy.divide, (-2, 2), (0.5, 2)),
    "pow": (F.pow, operator.pow, numpy.power, (0.5, 2), (-2, 2)),
}


@pytest.mark.parametrize("via", ["function", "operator"])
@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(pair=broadcastable(2), seed=seeds)
def test_binary_broadcast(name, via, pair, seed):
    fn, op, ref, (alo, ahi), (blo, bhi) = BINARY[name]
    f = fn if via == "function" else op
    rng = numpy.random.default_rng(seed)
    a = uniform(rng, pair[0], alo, ahi)
    b = uniform(rng, pair[1], blo, bhi)
    y = f(Variable(a), Variable(b))
    assert isinstance(y, Variable)
    numpy.testing.assert_allclose(y.data, ref(a, b), rtol=1e-12)
    assert y.shape == numpy.broadcast_shapes(a.shape, b.shape)
    gradcheck(f, (a, b), seed)


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(pair=broadcastable(2), seed=seeds)
def test_binary_float32(name, pair, seed):
    fn, _, ref, (alo, ahi), (blo, bhi) = BINARY[name]
    rng = numpy.random.default_rng(seed)
    a = uniform(rng, pair[0], alo, ahi, numpy.float32)
    b = uniform(rng, pair[1], blo, bhi, numpy.float32)
    numpy.testing.assert_allclose(fn(a, b).data, ref(a, b), rtol=1e-6)
    assert_float32(fn, (a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradient_with_one_constant_input(name):
    """Only the input that requires grad gets a gradient; the other may be a plain array."""
    fn, _, _, (alo, ahi), (blo, bhi) = BINARY[name]
    rng = numpy.random.default_rng(0)
    a = uniform(rng, (2, 3), alo, ahi)
    b = uniform(rng, (3,), blo, bhi)
    va = Variable(a)
    fn(va, b).sum().backward()
    assert va.grad.shape == a.shape
    vb = Variable(b)
    fn(a, vb).sum().backward()
    assert vb.grad.shape == b.shape
    check_backward(fn, (a, b), no_grads=[True, False])
    check_backward(fn, (a, b), no_grads=[False, True])


def test_broadcast_gradient_values():
    """The gradient of a broadcast operand is the gradient summed over the axes it was broadcast along."""
    a = Variable(numpy.arange(6.0).reshape(2, 3))
    b = Variable(numpy.array([[1.0], [2.0]]))
    (a * b).backward(numpy.ones((2, 3)))
    numpy.testing.assert_array_equal(a.grad, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    numpy.testing.assert_array_equal(b.grad, [[3.0], [12.0]])
    c = Variable(numpy.array(2.0))
    (a - c).backward(numpy.ones((2, 3)))
    assert c.grad.shape == ()
    assert c.grad == -6.0


# ---- a Python scalar (or NumPy scalar) on either side ----------------------------------------------------
# name -> (function of a Variable, NumPy reference, domain of x)
SCALAR = {
    "x + 1.5": (lambda x: x + 1.5, lambda x: x + 1.5, (-2, 2)),
    "1.5 + x": (lambda x: 1.5 + x, lambda x: 1.5 + x, (-2, 2)),
    "x + 2 (int)": (lambda x: x + 2, lambda x: x + 2, (-2, 2)),
    "x - 0.5": (lambda x: x - 0.5, lambda x: x - 0.5, (-2, 2)),
    "0.5 - x": (lambda x: 0.5 - x, lambda x: 0.5 - x, (-2, 2)),
    "3 - x (int)": (lambda x: 3 - x, lambda x: 3 - x, (-2, 2)),
    "x * 2.5": (lambda x: x * 2.5, lambda x: x * 2.5, (-2, 2)),
    "-3 * x": (lambda x: -3 * x, lambda x: -3 * x, (-2, 2)),
    "x / 4.0": (lambda x: x / 4.0, lambda x: x / 4.0, (-2, 2)),
    "x / 3 (int)": (lambda x: x / 3, lambda x: x / 3, (-2, 2)),
    "2.0 / x": (lambda x: 2.0 / x, lambda x: 2.0 / x, (0.5, 2)),
    "x ** 2": (lambda x: x**2, lambda x: x**2, (-2, 2)),
    "x ** 3": (lambda x: x**3, lambda x: x**3, (-2, 2)),
    "x ** 1": (lambda x: x**1, lambda x: x**1, (-2, 2)),
    "x ** 0": (lambda x: x**0, lambda x: x**0, (0.5, 2)),
    "x ** 0.5": (lambda x: x**0.5, numpy.sqrt, (0.5, 2)),
    "x ** -1.5": (lambda x: x**-1.5, lambda x: x**-1.5, (0.5, 2)),
    "2.0 ** x": (lambda x: 2.0**x, lambda x: 2.0**x, (-2, 2)),
    "0.5 ** x": (lambda x: 0.5**x, lambda x: 0.5**x, (-2, 2)),
    "3 ** x (int)": (lambda x: 3**x, lambda x: 3.0**x, (-2, 2)),
    "-x": (lambda x: -x, numpy.negative, (-2, 2)),
    "neg(x)": (F.neg, numpy.negative, (-2, 2)),
    "add(x, c)": (lambda x: F.add(x, 1.25), lambda x: x + 1.25, (-2, 2)),
    "add(c, x)": (lambda x: F.add(1.25, x), lambda x: 1.25 + x, (-2, 2)),
    "sub(x, c)": (lambda x: F.sub(x, 1.25), lambda x: x - 1.25, (-2, 2)),
    "sub(c, x)": (lambda x: F.sub(1.25, x), lambda x: 1.25 - x, (-2, 2)),
    "mul(x, c)": (lambda x: F.mul(x, -0.75), lambda x: x * -0.75, (-2, 2)),
    "mul(c, x)": (lambda x: F.mul(-0.75, x), lambda x: -0.75 * x, (-2, 2)),
    "div(x, c)": (lambda x: F.div(x, 0.8), lambda x: x / 0.8, (-2, 2)),
    "div(c, x)": (lambda x: F.div(0.8, x), lambda x: 0.8 / x, (0.5, 2)),
    "pow(x, c)": (lambda x: F.pow(x, 1.7), lambda x: x**1.7, (0.5, 2)),
    "pow(c, x)": (lambda x: F.pow(1.7, x), lambda x: 1.7**x, (-2, 2)),
    "x * float64 scalar": (lambda x: x * numpy.float64(1.5), lambda x: x * 1.5, (-2, 2)),
    "float64 scalar - x": (lambda x: numpy.float64(1.5) - x, lambda x: 1.5 - x, (-2, 2)),
    "x ** float64 scalar": (lambda x: x ** numpy.float64(2.5), lambda x: x**2.5, (0.5, 2)),
}


@pytest.mark.parametrize("name", sorted(SCALAR))
@SETTINGS
@given(shape=shapes(), seed=seeds)
def test_scalar_operand(name, shape, seed):
    f, ref, (lo, hi) = SCALAR[name]
    rng = numpy.random.default_rng(seed)
    x = uniform(rng, shape, lo, hi)
    y = f(Variable(x))
    assert isinstance(y, Variable)
    assert y.shape == x.shape
    numpy.testing.assert_allclose(y.data, ref(x), rtol=1e-12, atol=1e-12)
    gradcheck(f, (x,), seed)


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_scalar_operand_float32(name):
    f, ref, (lo, hi) = SCALAR[name]
    x = uniform(numpy.random.default_rng(1), (3, 2), lo, hi, numpy.float32)
    numpy.testing.assert_allclose(f(Variable(x)).data, ref(x.astype(numpy.float64)), rtol=1e-5)
    assert_float32(f, (x,))


def test_operators_with_numpy_array_on_the_left():
    """``ndarray OP Variable`` goes to the Variable's reflected operator, so the gradient is recorded."""
    rng = numpy.random.default_rng(0)
    a = uniform(rng, (3, 3), 0.5, 2)
    b = uniform(rng, (3, 3), 0.5, 2)
    cases = {
        "+": (operator.add, lambda v: numpy.ones((3, 3))),
        "-": (operator.sub, lambda v: -numpy.ones((3, 3))),
        "*": (operator.mul, lambda v: a),
        "/": (operator.truediv, lambda v: -a / b**2),
        "**": (operator.pow, lambda v: a**b * numpy.log(a)),
        "@": (operator.matmul, lambda v: a.T @ numpy.ones((3, 3))),
    }
    for symbol, (op, expected) in cases.items():
        v = Variable(b)
        y = op(a, v)
        assert isinstance(y, Variable), symbol
        numpy.testing.assert_allclose(y.data, op(a, b), err_msg=symbol)
        y.sum().backward()
        numpy.testing.assert_allclose(v.grad, expected(v), rtol=1e-12, err_msg=symbol)


# ---- elementwise math -------------------------------------------------------------------------------------
UNARY = {
    "exp": (F.exp, numpy.exp, (-2, 2)),
    "log": (F.log, numpy.log, (0.5, 3)),
    "sqrt": (F.sqrt, numpy.sqrt, (0.5, 3)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes(), seed=seeds)
def test_unary(name, shape, seed):
    fn, ref, (lo, hi) = UNARY[name]
    rng = numpy.random.default_rng(seed)
    x = uniform(rng, shape, lo, hi)
    y = fn(Variable(x))
    assert y.shape == x.shape
    numpy.testing.assert_allclose(y.data, ref(x), rtol=1e-14)
    numpy.testing.assert_allclose(fn(x).data, ref(x), rtol=1e-14)  # a plain array is accepted too
    gradcheck(fn, (x,), seed)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32(name):
    fn, ref, (lo, hi) = UNARY[name]
    x = uniform(numpy.random.default_rng(2), (4, 3), lo, hi, numpy.float32)
    numpy.testing.assert_allclose(fn(x).data, ref(x), rtol=1e-6)
    assert_float32(fn, (x,))


def test_unary_gradient_values():
    x = numpy.array([0.25, 1.0, 4.0])
    for fn, expected in [(F.exp, numpy.exp(x)), (F.log, 1 / x), (F.sqrt, 0.5 / numpy.sqrt(x))]:
        v = Variable(x)
        fn(v).sum().backward()
        numpy.testing.assert_allclose(v.grad, expected, rtol=1e-14)


# ---- matrix products ---------------------------------------------------------------------------------------
@st.composite
def matmul_args(draw):
    """Shapes for ``matmul(a, b, transa, transb)``: 2-D or batched, with broadcasting batch axes."""
    n, k, m = draw(sides), draw(sides), draw(sides)
    batch_a, batch_b = draw(broadcastable(2, max_dims=2))
    transa, transb = draw(st.booleans()), draw(st.booleans())
    a = batch_a + ((k, n) if transa else (n, k))
    b = batch_b + ((m, k) if transb else (k, m))
    return a, b, transa, transb


def _matmul_ref(a, b, transa, transb):
    return numpy.matmul(a.swapaxes(-1, -2) if transa else a, b.swapaxes(-1, -2) if transb else b)


@SETTINGS
@given(args=matmul_args(), seed=seeds)
def test_matmul(args, seed):
    sa, sb, transa, transb = args
    rng = numpy.random.default_rng(seed)
    a, b = normal(rng, sa), normal(rng, sb)

    def f(a, b):
        return F.matmul(a, b, transa=transa, transb=transb)

    expected = _matmul_ref(a, b, transa, transb)
    y = f(Variable(a), Variable(b))
    assert y.shape == expected.shape
    numpy.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    gradcheck(f, (a, b), seed)


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3, 4), (4, 5)),  # 2-D
        ((2, 3, 4), (2, 4, 5)),  # batched 3-D
        ((2, 1, 3, 4), (5, 4, 2)),  # batch axes broadcast both ways
        ((3, 4), (2, 4, 5)),  # a 2-D matrix against a batch
        ((2, 3, 4), (4, 5)),  # a batch against a 2-D matrix
        ((1, 3, 4), (2, 4, 5)),  # a batch axis of length 1
    ],
)
@pytest.mark.parametrize("transa", [False, True])
@pytest.mark.parametrize("transb", [False, True])
def test_matmul_cases(sa, sb, transa, transb):
    rng = numpy.random.default_rng(3)
    if transa:
        sa = (*sa[:-2], sa[-1], sa[-2])
    if transb:
        sb = (*sb[:-2], sb[-1], sb[-2])
    a, b = normal(rng, sa), normal(rng, sb)

    def f(a, b):
        return F.matmul(a, b, transa=transa, transb=transb)

    numpy.testing.assert_allclose(f(a, b).data, _matmul_ref(a, b, transa, transb), rtol=1e-12, atol=1e-12)
    gradcheck(f, (a, b), 3)
    assert_float32(f, (a, b))


def test_matmul_operator():
    rng = numpy.random.default_rng(4)
    a, b = normal(rng, (2, 3, 4)), normal(rng, (4, 2))
    va, vb = Variable(a), Variable(b)
    y = va @ vb
    numpy.testing.assert_allclose(y.data, a @ b, rtol=1e-12)
    gy = normal(rng, y.shape)
    y.backward(gy)
    numpy.testing.assert_allclose(va.grad, gy @ b.T, rtol=1e-12)
    numpy.testing.assert_allclose(vb.grad, numpy.einsum("bij,bik->jk", a, gy), rtol=1e-12)
    check_backward(operator.matmul, (a, b))


@st.composite
def linear_args(draw):
    batch = draw(st.lists(sides, min_size=1, max_size=2).map(tuple))  # x is 2-D or 3-D
    return batch, draw(sides), draw(sides), draw(st.booleans())


@SETTINGS
@given(args=linear_args(), seed=seeds)
def test_linear(args, seed):
    batch, n_in, n_out, with_bias = args
    rng = numpy.random.default_rng(seed)
    x, W, b = normal(rng, (*batch, n_in)), normal(rng, (n_out, n_in)), normal(rng, (n_out,))
    xs = (x, W, b) if with_bias else (x, W)
    expected = x @ W.T + (b if with_bias else 0.0)
    y = F.linear(*[Variable(a) for a in xs])
    assert y.shape == (*batch, n_out)
    numpy.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    gradcheck(F.linear, xs, seed)


@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_gradient_values(x_shape, with_bias):
    rng = numpy.random.default_rng(5)
    x, W, b = normal(rng, x_shape), normal(rng, (5, 4)), normal(rng, (5,))
    vs = [Variable(x), Variable(W)] + ([Variable(b)] if with_bias else [])
    y = F.linear(*vs)
    gy = normal(rng, y.shape)
    y.backward(gy)
    gy2, x2 = gy.reshape(-1, 5), x.reshape(-1, 4)
    numpy.testing.assert_allclose(vs[0].grad, (gy2 @ W).reshape(x_shape), rtol=1e-12)
    numpy.testing.assert_allclose(vs[1].grad, gy2.T @ x2, rtol=1e-12)
    if with_bias:
        numpy.testing.assert_allclose(vs[2].grad, gy2.sum(axis=0), rtol=1e-12)
    xs = tuple(v.data for v in vs)
    assert_float32(F.linear, xs)
    numpy.testing.assert_allclose(F.linear(*[a.astype(numpy.float32) for a in xs]).data, y.data, rtol=1e-5)


# ---- reductions --------------------------------------------------------------------------------------------
@st.composite
def reduction_args(draw):
    """A shape with an ``axis`` (None, an int or a tuple, possibly negative) and ``keepdims``."""
    shape = draw(shapes(min_dims=0, max_dims=3))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"])) if nd else "none"
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        axis = tuple(a - nd if draw(st.booleans()) else a for a in axes)
    return shape, axis, draw(st.booleans())


def distinct_values(rng, shape, dtype=numpy.float64):
    """Values without ties, at least 0.05 apart, so the max is differentiable well beyond ``eps``."""
    n = int(numpy.prod(shape))
    return ((rng.permutation(n) + rng.uniform(0, 0.5, n) - n / 2) * 0.1).reshape(shape).astype(dtype)


REDUCTIONS = {
    "sum": (F.sum, numpy.sum),
    "mean": (F.mean, numpy.mean),
    "max": (F.max, numpy.max),
}


@pytest.mark.parametrize("via", ["function", "method"])
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(args=reduction_args(), seed=seeds)
def test_reduction(name, via, args, seed):
    shape, axis, keepdims = args
    fn, ref = REDUCTIONS[name]
    rng = numpy.random.default_rng(seed)
    x = distinct_values(rng, shape)

    def f(x):
        if via == "method":
            return getattr(x, name)(axis=axis, keepdims=keepdims)
        return fn(x, axis=axis, keepdims=keepdims)

    expected = ref(x, axis=axis, keepdims=keepdims)
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    gradcheck(f, (x,), seed)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (1, False), ((0, -1), True), (-2, False)])
def test_reduction_float32(name, axis, keepdims):
    fn, ref = REDUCTIONS[name]
    x = distinct_values(numpy.random.default_rng(6), (2, 3, 4), numpy.float32)

    def f(x):
        return fn(x, axis=axis, keepdims=keepdims)

    numpy.testing.assert_allclose(f(x).data, ref(x, axis=axis, keepdims=keepdims), rtol=1e-6)
    assert_float32(f, (x,))


def test_reduction_gradient_values():
    x = numpy.array([[1.0, 5.0, 2.0], [7.0, 3.0, 4.0]])
    v = Variable(x)
    F.sum(v, axis=0).backward(numpy.array([1.0, 2.0, 3.0]))
    numpy.testing.assert_array_equal(v.grad, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    v = Variable(x)
    F.mean(v, axis=1).backward(numpy.array([3.0, 6.0]))
    numpy.testing.assert_allclose(v.grad, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    v = Variable(x)
    F.mean(v).backward()
    numpy.testing.assert_allclose(v.grad, numpy.full((2, 3), 1 / 6))
    v = Variable(x)
    F.max(v, axis=1).backward(numpy.array([2.0, 3.0]))
    numpy.testing.assert_array_equal(v.grad, [[0.0, 2.0, 0.0], [3.0, 0.0, 0.0]])


def test_max_ties_share_the_gradient():
    v = Variable(numpy.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    F.max(v, axis=1).backward(numpy.array([1.0, 3.0]))
    numpy.testing.assert_allclose(v.grad, [[0.0, 0.5, 0.5], [1.0, 1.0, 1.0]])
    v = Variable(numpy.array([4.0, 1.0, 4.0]))
    F.max(v).backward()
    numpy.testing.assert_allclose(v.grad, [0.5, 0.0, 0.5])


# ---- errors --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, label", [("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"), ("pow", "Pow")]
)
def test_binary_shape_mismatch_names_op_and_shapes(name, label):
    fn = BINARY[name][0]
    with pytest.raises(ValueError) as info:
        fn(Variable(numpy.ones(3)), Variable(numpy.ones(4)))
    message = str(info.value)
    assert label in message
    assert "(3,)" in message and "(4,)" in message


def test_add_shape_mismatch_with_arrays_and_operator():
    with pytest.raises(ValueError, match="Add") as info:
        F.add(numpy.ones(3), numpy.ones(4))
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)
    with pytest.raises(ValueError, match="Add"):
        Variable(numpy.ones((2, 3))) + Variable(numpy.ones((3, 2)))


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError) as info:
        F.matmul(Variable(numpy.ones((3, 4))), Variable(numpy.ones((5, 6))))
    message = str(info.value)
    assert "MatMul" in message
    assert "(3, 4)" in message and "(5, 6)" in message
    with pytest.raises(ValueError, match="MatMul"):
        F.matmul(numpy.ones((3, 4)), numpy.ones((3, 4)), transa=False, transb=False)
    with pytest.raises(ValueError, match="MatMul"):  # the batch axes do not broadcast
        F.matmul(numpy.ones((2, 3, 4)), numpy.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="MatMul"):
        F.matmul(numpy.ones(4), numpy.ones((4, 5)))


def test_linear_shape_mismatch():
    with pytest.raises(ValueError, match="Linear") as info:
        F.linear(numpy.ones((2, 3)), numpy.ones((4, 5)))
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)
    with pytest.raises(ValueError, match="Linear"):
        F.linear(numpy.ones((2, 3)), numpy.ones((4, 3)), numpy.ones(5))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("shape, axis", [((2, 3), 2), ((2, 3), -3), ((2, 3), (0, 5)), ((), 0)])
def test_reduction_axis_out_of_bounds_raises(name, shape, axis):
    """An axis out of range is an error naming the op, as in NumPy, not silently taken modulo ndim."""
    fn = REDUCTIONS[name][0]
    label = {"sum": "Sum", "mean": "Sum", "max": "Max"}[name]
    with pytest.raises(ValueError, match=label) as info:
        fn(Variable(numpy.ones(shape)), axis=axis)
    assert "out of bounds" in str(info.value)


@pytest.mark.parametrize(
    "label, call",
    [
        ("Exp", lambda a: F.exp(a)),
        ("Log", lambda a: F.log(a)),
        ("Sqrt", lambda a: F.sqrt(a)),
        ("Add", lambda a: F.add(a, numpy.ones(3))),
        ("Mul", lambda a: F.mul(numpy.ones(3), a)),
        ("MatMul", lambda a: F.matmul(a, numpy.ones((3, 2)))),
        ("Linear", lambda a: F.linear(a, numpy.ones((2, 3)))),
        ("Sum", lambda a: F.sum(a)),
    ],
)
@pytest.mark.parametrize("wrap", [False, True])
def test_integer_input_raises_type_error(label, call, wrap):
    a = numpy.arange(6, dtype=numpy.int64).reshape(2, 3)
    with pytest.raises(TypeError, match=label):
        call(Variable(a) if wrap else a)


def test_linear_with_a_full_matrix_as_bias():
    rng = numpy.random.default_rng(7)
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((4, 5))
    numpy.testing.assert_allclose(F.linear(x, W, b).data, x @ W.T + b)
    check_backward(F.linear, (x, W, b))
    ggs = tuple(rng.standard_normal(a.shape) for a in (x, W, b))
    check_double_backward(F.linear, (x, W, b), rng.standard_normal((4, 5)), ggs)
