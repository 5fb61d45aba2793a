"""Tests for seqkit.functions.softmax_cross_entropy: ignore_label, label_smoothing, reduce, stability, errors."""

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
REDUCES = ["mean", "sum", "no"]


# ---- NumPy reference ------------------------------------------------------------------------------------
def ref_log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - numpy.log(numpy.exp(x - m).sum(axis=1, keepdims=True))


def ref_loss(x, t, ignore_label=-1, smoothing=0.0, reduce="mean"):
    """(1 - eps) * nll + eps * mean_c(-log p_c) per row; zero for ignored rows; mean over non-ignored rows."""
    logp = ref_log_softmax(x)
    n = x.shape[0]
    rows = []
    for i in range(n):
        if t[i] == ignore_label:
            rows.append(0.0)
        else:
            rows.append((1 - smoothing) * -logp[i, t[i]] + smoothing * numpy.mean(-logp[i]))
    rows = numpy.array(rows, dtype=numpy.float64)
    if reduce == "no":
        return rows
    if reduce == "sum":
        return rows.sum()
    kept = int((t != ignore_label).sum())
    return rows.sum() / kept if kept else 0.0


def ref_grad(x, t, ignore_label=-1, smoothing=0.0, reduce="mean"):
    """d(sum(loss * gy))/dx for gy = 1: (softmax - smoothed one-hot) times the row's weight."""
    n, c = x.shape
    p = numpy.exp(ref_log_softmax(x))
    keep = t != ignore_label
    g = numpy.zeros_like(x)
    for i in range(n):
        if keep[i]:
            target = numpy.full(c, smoothing / c)
            target[t[i]] += 1 - smoothing
            g[i] = p[i] - target
    if reduce == "mean":
        g /= max(int(keep.sum()), 1)
    return g


@st.composite
def problems(draw, ignore=True):
    """Logits (N, C), labels with some ignored rows, the ignore label, smoothing and reduce."""
    n = draw(st.integers(1, 5), label="N")
    c = draw(st.integers(1, 5), label="C")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = numpy.random.default_rng(seed)
    ignore_label = draw(st.sampled_from([-1, -100, 0]), label="ignore_label")
    t = rng.integers(0, c, n)
    if ignore:
        t[rng.random(n) < 0.3] = ignore_label
    x = rng.normal(0, 2, (n, c))
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.45]), label="smoothing")
    reduce = draw(st.sampled_from(REDUCES), label="reduce")
    return x, t, ignore_label, smoothing, reduce, rng


def call(x, t, ignore_label, smoothing, reduce):
    return F.softmax_cross_entropy(x, t, ignore_label=ignore_label, label_smoothing=smoothing, reduce=reduce)


# ---- forward ----------------------------------------------------------------------------------------------
@SETTINGS
@given(problems())
def test_forward_matches_numpy(problem):
    x, t, ignore_label, smoothing, reduce, _ = problem
    loss = call(Variable(x), t, ignore_label, smoothing, reduce)
    expected = ref_loss(x, t, ignore_label, smoothing, reduce)
    assert loss.shape == ((x.shape[0],) if reduce == "no" else ())
    assert loss.dtype == numpy.float64
    numpy.testing.assert_allclose(loss.data, expected, rtol=1e-12, atol=1e-14)


@SETTINGS
@given(problems())
def test_gradient_matches_closed_form(problem):
    x, t, ignore_label, smoothing, reduce, _ = problem
    xv = Variable(x)
    loss = call(xv, t, ignore_label, smoothing, reduce)
    loss.backward(numpy.ones(loss.shape))
    numpy.testing.assert_allclose(xv.grad, ref_grad(x, t, ignore_label, smoothing, reduce), rtol=1e-12, atol=1e-14)
    ignored = t == ignore_label
    assert (xv.grad[ignored] == 0).all()


def test_known_value_and_defaults():
    x = numpy.log(numpy.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]))
    t = numpy.array([0, 2])
    loss = F.softmax_cross_entropy(x, t)  # mean over rows, ignore_label=-1, no smoothing
    assert loss.item() == pytest.approx(-(math.log(0.7) + math.log(0.5)) / 2, rel=1e-12)
    t_ign = numpy.array([0, -1])
    assert F.softmax_cross_entropy(x, t_ign).item() == pytest.approx(-math.log(0.7), rel=1e-12)


def test_mean_divides_by_non_ignored_rows_only():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(6, 4))
    t = numpy.array([1, -1, 3, -1, -1, 0])
    total = F.softmax_cross_entropy(x, t, reduce="sum").item()
    mean = F.softmax_cross_entropy(x, t, reduce="mean").item()
    assert mean == pytest.approx(total / 3, rel=1e-12)
    per_row = F.softmax_cross_entropy(x, t, reduce="no").data
    assert (per_row[t == -1] == 0).all()
    assert (per_row[t != -1] > 0).all()
    assert per_row.sum() == pytest.approx(total, rel=1e-12)


def test_label_smoothing_formula():
    rng = numpy.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    t = numpy.array([4, 0, 2])
    eps = 0.2
    logp = ref_log_softmax(x)
    nll = -logp[numpy.arange(3), t]
    expected = (1 - eps) * nll + eps * (-logp).mean(axis=1)
    got = F.softmax_cross_entropy(x, t, label_smoothing=eps, reduce="no").data
    numpy.testing.assert_allclose(got, expected, rtol=1e-12)
    # smoothing changes the loss (so the test above really exercises it)
    assert not numpy.allclose(got, nll)


@pytest.mark.parametrize("reduce", REDUCES)
def test_all_rows_ignored_gives_zero_loss_and_gradient(reduce):
    x = Variable(numpy.random.default_rng(2).normal(size=(3, 4)))
    t = numpy.full(3, -1)
    loss = F.softmax_cross_entropy(x, t, reduce=reduce, label_smoothing=0.1)
    assert numpy.isfinite(loss.data).all()
    assert (loss.data == 0).all()
    loss.backward(numpy.ones(loss.shape))
    assert (x.grad == 0).all()


def test_other_ignore_label():
    rng = numpy.random.default_rng(3)
    x = rng.normal(size=(4, 3))
    t = numpy.array([0, 2, 0, 1])
    # 0 is the padding id here: rows labelled 0 are ignored, class 0 gets no loss from them
    got = F.softmax_cross_entropy(x, t, ignore_label=0, reduce="no").data
    numpy.testing.assert_allclose(got, ref_loss(x, t, ignore_label=0, reduce="no"), rtol=1e-12)
    assert got[0] == 0 and got[2] == 0 and got[1] > 0


def test_labels_of_any_integer_dtype():
    rng = numpy.random.default_rng(4)
    x = rng.normal(size=(3, 4))
    expected = ref_loss(x, numpy.array([1, 3, 0]))
    for dtype in (numpy.int32, numpy.int64, numpy.uint8):
        t = numpy.array([1, 3, 0], dtype=dtype)
        assert F.softmax_cross_entropy(x, t, ignore_label=-1).item() == pytest.approx(expected, rel=1e-12)
    tv = Variable(numpy.array([1, 3, 0]))
    assert not tv.requires_grad
    assert F.softmax_cross_entropy(x, tv).item() == pytest.approx(expected, rel=1e-12)


# ---- gradients ----------------------------------------------------------------------------------------------
@SETTINGS
@given(problems())
def test_check_backward(problem):
    x, t, ignore_label, smoothing, reduce, rng = problem

    def fn(xv, tv):
        return call(xv, tv, ignore_label, smoothing, reduce)

    gy = rng.normal(size=(x.shape[0],) if reduce == "no" else ())
    check_backward(fn, (x, t), gy)


@SETTINGS
@given(problems())
def test_check_double_backward(problem):
    x, t, ignore_label, smoothing, reduce, rng = problem

    def fn(xv, tv):
        return call(xv, tv, ignore_label, smoothing, reduce)

    gy = rng.normal(size=(x.shape[0],) if reduce == "no" else ())
    ggx = rng.normal(size=x.shape)
    check_double_backward(fn, (x, t), gy, ggx)


def test_double_backward_of_ignored_rows_is_zero():
    rng = numpy.random.default_rng(5)
    x = Variable(rng.normal(size=(4, 3)))
    t = numpy.array([2, -1, 0, -1])
    (gx,) = seqkit.grad([F.softmax_cross_entropy(x, t)], [x], create_graph=True)
    (ggx,) = seqkit.grad([(gx * gx).sum()], [x])
    assert numpy.isfinite(ggx.data).all()
    assert (ggx.data[t == -1] == 0).all()
    assert (ggx.data[t != -1] != 0).any()


# ---- numerical stability and dtypes -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_huge_logits(dtype, smoothing):
    x = Variable(numpy.array([[1e4, 1e4 - 1, -1e4], [-1e4, 1e4, 0.0], [5.0, -5.0, 1e4]], dtype=dtype))
    t = numpy.array([2, 1, 0])
    loss = F.softmax_cross_entropy(x, t, label_smoothing=smoothing, reduce="no")
    assert loss.dtype == dtype
    assert numpy.isfinite(loss.data).all()
    expected = ref_loss(x.data.astype(numpy.float64), t, smoothing=smoothing, reduce="no")
    c = math.log1p(math.exp(-1.0))
    if smoothing == 0.0:  # written out: the first row's label is the class at -1e4, 2e4 below the top
        numpy.testing.assert_allclose(expected, [2e4 + c, 0.0, 1e4 - 5.0], rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(loss.data, expected, rtol=1e-6, atol=1e-6)
    loss.backward(numpy.ones(3, dtype=dtype))
    assert x.grad.dtype == dtype
    assert numpy.isfinite(x.grad).all()
    numpy.testing.assert_allclose(
        x.grad, ref_grad(x.data.astype(numpy.float64), t, smoothing=smoothing, reduce="no"), atol=1e-6
    )


@pytest.mark.parametrize("reduce", REDUCES)
def test_float32_in_float32_out(reduce):
    rng = numpy.random.default_rng(6)
    x = Variable(rng.normal(size=(4, 5)).astype(numpy.float32))
    t = numpy.array([0, -1, 4, 2])
    loss = F.softmax_cross_entropy(x, t, reduce=reduce, label_smoothing=0.1)
    assert loss.dtype == numpy.float32
    gy = numpy.ones(loss.shape, dtype=numpy.float32)
    (gx,) = seqkit.grad([loss], [x], [gy], create_graph=True)
    assert gx.dtype == numpy.float32
    numpy.testing.assert_allclose(
        gx.data, ref_grad(x.data.astype(numpy.float64), t, smoothing=0.1, reduce=reduce), rtol=1e-5, atol=1e-6
    )
    (ggx,) = seqkit.grad([(gx * gx).sum()], [x])
    assert ggx.dtype == numpy.float32


# ---- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x_shape", "t_shape"),
    [((3, 4), (2,)), ((3, 4), (3, 1)), ((4,), (4,)), ((2, 3, 4), (2,)), ((2, 3, 4), (2, 3)), ((3, 4), ())],
)
def test_wrong_shapes_raise_value_error_naming_the_op(x_shape, t_shape):
    x = numpy.zeros(x_shape)
    t = numpy.zeros(t_shape, dtype=numpy.int64)
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy"):
        F.softmax_cross_entropy(x, t)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_float_labels_raise_type_error(dtype):
    x = numpy.zeros((3, 4))
    with pytest.raises(TypeError, match="SoftmaxCrossEntropy"):
        F.softmax_cross_entropy(x, numpy.array([0, 1, 2], dtype=dtype))


def test_integer_logits_raise_type_error():
    with pytest.raises(TypeError, match="SoftmaxCrossEntropy"):
        F.softmax_cross_entropy(numpy.zeros((2, 3), dtype=numpy.int64), numpy.array([0, 1]))


@pytest.mark.parametrize(
    "kwargs", [{"reduce": "average"}, {"reduce": None}, {"label_smoothing": 1.0}, {"label_smoothing": -0.1}]
)
def test_bad_options_raise_value_error(kwargs):
    (name,) = kwargs
    with pytest.raises(ValueError, match=name):
        F.softmax_cross_entropy(numpy.zeros((2, 3)), numpy.array([0, 1]), **kwargs)


def test_labels_outside_the_classes_are_an_error_naming_the_row():
    x = numpy.zeros((3, 4))
    with pytest.raises(ValueError, match=r"label -2 at index \(1,\) is outside \[0, 4\)"):
        F.softmax_cross_entropy(x, numpy.array([0, -2, 1]))
    with pytest.raises(ValueError, match=r"label 4 at index \(2,\)"):
        F.softmax_cross_entropy(x, numpy.array([0, -1, 4]))
    with pytest.raises(ValueError, match=r"id -3 at index \(0, 1\) is outside \[0, 5\)"):
        F.embed_id(numpy.array([[1, -3]]), numpy.zeros((5, 2)))
