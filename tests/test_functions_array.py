"""Tests for seqkit/functions/array.py: shape ops, broadcasting, indexing, joining/splitting, where and pad.

Each op is checked three ways: its forward against plain NumPy, its gradient (and the gradient of its gradient)
against central differences in float64 on hypothesis-drawn shapes and values, and dtype preservation in float32.
"""

from __future__ import annotations

import numpy
import pytest
from helpers import as_tuple, gradcheck, normal
from hypothesis import given, settings
from hypothesis import strategies as st

import seqkit.functions as F
from seqkit import Variable, grad
from seqkit.core.gradient_check import check_backward

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 4)


def shapes(min_dims=0, max_dims=3, side=sides):
    return st.lists(side, min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcastable(draw, n=2, max_dims=3):
    """A common shape and ``n`` shapes that broadcast to it (leading axes dropped, some axes set to 1)."""
    full = draw(st.lists(sides, max_size=max_dims))
    out = []
    for _ in range(n):
        drop = draw(st.integers(0, len(full)))
        out.append(tuple(1 if draw(st.booleans()) else s for s in full[drop:]))
    return tuple(full), out


def assert_float32(fn, xs):
    """float32 inputs give float32 outputs and float32 gradients of every float input."""
    vs = [Variable(x.astype(numpy.float32) if x.dtype.kind == "f" else x) for x in xs]
    ys = as_tuple(fn(*vs))
    for y in ys:
        assert y.dtype == numpy.float32, y.dtype
    targets = [v for v in vs if v.requires_grad]
    gxs = grad(list(ys), targets, [numpy.ones_like(y.data) for y in ys], create_graph=True)
    for g, v in zip(gxs, targets, strict=True):
        assert g is not None
        assert g.dtype == numpy.float32, g.dtype
        assert g.shape == v.shape


def grad_of(fn, x, gy):
    """The gradient of ``<fn(x), gy>`` with respect to ``x``, as an array."""
    v = Variable(x)
    fn(v).backward(gy)
    return v.grad


# ---- reshape, transpose, expand_dims, squeeze -------------------------------------------------------------
@st.composite
def reshape_args(draw):
    shape = draw(shapes())
    target = list(draw(st.permutations(shape)))
    if draw(st.booleans()):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


@pytest.mark.parametrize("via", ["function", "method-args", "method-tuple"])
@SETTINGS
@given(args=reshape_args(), seed=seeds)
def test_reshape(via, args, seed):
    shape, target = args
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        if via == "function":
            return F.reshape(x, target)
        return x.reshape(*target) if via == "method-args" else x.reshape(target)

    expected = x.reshape(target)
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (x,), seed)


def test_reshape_to_the_same_shape_is_the_identity():
    v = Variable(numpy.ones((2, 3)))
    assert F.reshape(v, (2, 3)) is v
    y = F.reshape(v, 6)
    assert y.shape == (6,)
    y.backward(numpy.arange(6.0))
    numpy.testing.assert_array_equal(v.grad, numpy.arange(6.0).reshape(2, 3))


@st.composite
def transpose_args(draw):
    shape = draw(shapes())
    if draw(st.booleans()):
        return shape, None
    nd = len(shape)
    axes = draw(st.permutations(range(nd)))
    return shape, tuple(a - nd if draw(st.booleans()) else a for a in axes)


@pytest.mark.parametrize("via", ["function", "method"])
@SETTINGS
@given(args=transpose_args(), seed=seeds)
def test_transpose(via, args, seed):
    shape, axes = args
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        if via == "function":
            return F.transpose(x, axes)
        return x.transpose() if axes is None else x.transpose(*axes)

    expected = numpy.transpose(x, axes)
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (x,), seed)


def test_transpose_property_and_tuple_axes():
    x = normal(numpy.random.default_rng(0), (2, 3, 4))
    numpy.testing.assert_array_equal(Variable(x).T.data, x.T)
    numpy.testing.assert_array_equal(Variable(x).transpose((2, 0, 1)).data, x.transpose(2, 0, 1))
    gy = normal(numpy.random.default_rng(1), (3, 4, 2))
    numpy.testing.assert_array_equal(grad_of(lambda v: v.transpose(1, 2, 0), x, gy), gy.transpose(2, 0, 1))
    check_backward(lambda v: v.T, x)


@SETTINGS
@given(shape=shapes(), data=st.data(), seed=seeds)
def test_expand_dims(shape, data, seed):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="axis")
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        return F.expand_dims(x, axis)

    expected = numpy.expand_dims(x, axis)
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (x,), seed)


@st.composite
def squeeze_args(draw):
    shape = draw(shapes(side=st.integers(1, 3)))
    ones = [i for i, n in enumerate(shape) if n == 1]
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"])) if ones else "none"
    if kind == "none":
        return shape, None
    if kind == "int":
        a = draw(st.sampled_from(ones))
        return shape, a - nd if draw(st.booleans()) else a
    chosen = draw(st.lists(st.sampled_from(ones), min_size=1, unique=True))
    return shape, tuple(a - nd if draw(st.booleans()) else a for a in chosen)


@SETTINGS
@given(args=squeeze_args(), seed=seeds)
def test_squeeze(args, seed):
    shape, axis = args
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        return F.squeeze(x, axis)

    expected = numpy.squeeze(x, axis)
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (x,), seed)


def test_squeeze_of_an_axis_longer_than_one_raises():
    with pytest.raises(ValueError, match="squeeze") as info:
        F.squeeze(Variable(numpy.ones((1, 3, 1))), 1)
    assert "(1, 3, 1)" in str(info.value)


@pytest.mark.parametrize(
    "label, call",
    [
        ("transpose", lambda v: F.transpose(v, (0, 2))),
        ("transpose", lambda v: v.transpose(-3, 0)),
        ("expand_dims", lambda v: F.expand_dims(v, 3)),
        ("expand_dims", lambda v: F.expand_dims(v, -4)),
        ("squeeze", lambda v: F.squeeze(v, 2)),
        ("squeeze", lambda v: F.squeeze(v, (0, -3))),
        ("Concat", lambda v: F.concat([v, v], axis=2)),
        ("expand_dims", lambda v: F.stack([v, v], axis=-4)),
    ],
)
def test_axis_out_of_bounds_raises(label, call):
    """An axis out of range is an error naming the op, as in NumPy, not silently taken modulo ndim."""
    with pytest.raises(ValueError, match=label) as info:
        call(Variable(numpy.ones((1, 3))))
    assert "out of bounds" in str(info.value)


# ---- broadcast_to and sum_to --------------------------------------------------------------------------------
@SETTINGS
@given(args=broadcastable(1), seed=seeds)
def test_broadcast_to(args, seed):
    full, (small,) = args
    x = normal(numpy.random.default_rng(seed), small)

    def f(x):
        return F.broadcast_to(x, full)

    y = f(Variable(x))
    assert y.shape == full
    numpy.testing.assert_array_equal(y.data, numpy.broadcast_to(x, full))
    gradcheck(f, (x,), seed)


def _sum_to_reference(x, shape):
    """Each element of ``x`` added to the element of ``shape`` that broadcasting would have copied it from."""
    source = numpy.broadcast_to(numpy.arange(int(numpy.prod(shape))).reshape(shape), x.shape)
    return numpy.bincount(source.ravel(), weights=x.ravel(), minlength=int(numpy.prod(shape))).reshape(shape)


@SETTINGS
@given(args=broadcastable(1), seed=seeds)
def test_sum_to(args, seed):
    full, (small,) = args
    x = normal(numpy.random.default_rng(seed), full)

    def f(x):
        return F.sum_to(x, small)

    y = f(Variable(x))
    assert y.shape == small
    numpy.testing.assert_allclose(y.data, _sum_to_reference(x, small), rtol=1e-12, atol=1e-12)
    gradcheck(f, (x,), seed)


def test_broadcast_and_sum_to_gradient_values():
    x = numpy.array([[1.0], [2.0]])
    gy = numpy.arange(6.0).reshape(2, 3)
    numpy.testing.assert_array_equal(grad_of(lambda v: F.broadcast_to(v, (2, 3)), x, gy), [[3.0], [12.0]])
    numpy.testing.assert_array_equal(F.sum_to(gy, (2, 1)).data, [[3.0], [12.0]])
    numpy.testing.assert_array_equal(grad_of(lambda v: F.sum_to(v, (2, 1)), gy, x), [[1.0] * 3, [2.0] * 3])
    numpy.testing.assert_array_equal(
        grad_of(lambda v: F.sum_to(v, (3,)), numpy.ones((2, 3)), numpy.array([1.0, 2.0, 3.0])),
        [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]],
    )


def test_broadcast_to_incompatible_shape_raises():
    with pytest.raises(ValueError, match="BroadcastTo") as info:
        F.broadcast_to(Variable(numpy.ones(3)), (2, 4))
    assert "(3,)" in str(info.value)


# ---- getitem ------------------------------------------------------------------------------------------------
@st.composite
def basic_index(draw):
    """A shape and a basic index: ints, slices (any step sign), an Ellipsis and None, NumPy style."""
    shape = draw(shapes(min_dims=1))
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 1, n + 1)
            parts.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2]))))
        else:
            parts.append(slice(None))
    k = draw(st.integers(0, len(parts)))
    form = draw(st.sampled_from(["prefix", "prefix-ellipsis", "ellipsis-suffix"]))
    if form == "prefix":
        index = parts[:k]
    elif form == "prefix-ellipsis":
        index = [*parts[:k], Ellipsis]
    else:
        index = [Ellipsis, *parts[len(parts) - k :]]
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    return shape, index[0] if len(index) == 1 and draw(st.booleans()) else tuple(index)


@SETTINGS
@given(args=basic_index(), seed=seeds)
def test_getitem_basic(args, seed):
    shape, index = args
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        return F.getitem(x, index)

    expected = x[index]
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    numpy.testing.assert_array_equal(Variable(x)[index].data, expected)
    gradcheck(f, (x,), seed)


@st.composite
def integer_index(draw):
    """A shape and an index with an integer array (repeats and negative entries allowed) on one axis."""
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    idx_shape = draw(shapes(min_dims=1, max_dims=2))
    size = int(numpy.prod(idx_shape))
    idx = numpy.array(draw(st.lists(st.integers(-n, n - 1), min_size=size, max_size=size))).reshape(idx_shape)
    form = draw(st.sampled_from(["array", "list", "variable"]))
    return shape, axis, idx, form


@SETTINGS
@given(args=integer_index(), seed=seeds)
def test_getitem_integer_array(args, seed):
    shape, axis, idx, form = args
    x = normal(numpy.random.default_rng(seed), shape)
    index_obj = {"array": idx, "list": idx.tolist(), "variable": Variable(idx)}[form]
    index = (slice(None),) * axis + (index_obj,)
    np_index = (slice(None),) * axis + (idx,)

    def f(x):
        return F.getitem(x, index)

    expected = x[np_index]
    y = f(Variable(x))
    numpy.testing.assert_array_equal(y.data, expected)
    gy = normal(numpy.random.default_rng(seed + 1), expected.shape)
    scattered = numpy.zeros_like(x)
    numpy.add.at(scattered, np_index, gy)  # repeated indices accumulate
    numpy.testing.assert_allclose(grad_of(f, x, gy), scattered, rtol=1e-12, atol=1e-12)
    gradcheck(f, (x,), seed)


def test_getitem_repeated_indices_accumulate():
    x = numpy.array([10.0, 20.0, 30.0])
    idx = numpy.array([0, 2, 0, 0, -1])
    numpy.testing.assert_array_equal(F.getitem(x, idx).data, [10.0, 30.0, 10.0, 10.0, 30.0])
    g = grad_of(lambda v: v[idx], x, numpy.array([1.0, 2.0, 4.0, 8.0, 16.0]))
    numpy.testing.assert_array_equal(g, [13.0, 0.0, 18.0])
    x2 = numpy.arange(12.0).reshape(3, 4)
    g = grad_of(lambda v: v[[1, 1], [2, 2]], x2, numpy.array([1.0, 1.0]))
    expected = numpy.zeros((3, 4))
    expected[1, 2] = 2.0
    numpy.testing.assert_array_equal(g, expected)


@st.composite
def mask_index(draw):
    """A shape, a boolean mask and the axis it starts at (the mask covers one or more axes from there)."""
    shape = draw(shapes(min_dims=1))
    start = draw(st.integers(0, len(shape) - 1))
    stop = draw(st.integers(start + 1, len(shape)))
    mask_shape = shape[start:stop]
    bits = draw(st.lists(st.booleans(), min_size=int(numpy.prod(mask_shape)), max_size=int(numpy.prod(mask_shape))))
    return shape, start, numpy.array(bits, dtype=bool).reshape(mask_shape)


@SETTINGS
@given(args=mask_index(), seed=seeds)
def test_getitem_boolean_mask(args, seed):
    shape, start, mask = args
    x = normal(numpy.random.default_rng(seed), shape)
    index = (slice(None),) * start + (mask,)

    def f(x):
        return F.getitem(x, index)

    expected = x[index]
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gy = normal(numpy.random.default_rng(seed + 1), expected.shape)
    selected = numpy.zeros(shape, dtype=bool)
    selected[index] = True
    g = grad_of(f, x, gy)
    assert not g[~selected].any()
    numpy.testing.assert_array_equal(g[index], gy)
    gradcheck(f, (x,), seed)


def test_getitem_operator_forms():
    rng = numpy.random.default_rng(7)
    x = normal(rng, (3, 4, 2))
    mask = x[..., 0] > 0
    idx = numpy.array([3, 0, 3])
    cases = [
        (lambda v: v[1], lambda a: a[1]),
        (lambda v: v[-1, 1:3], lambda a: a[-1, 1:3]),
        (lambda v: v[..., 0], lambda a: a[..., 0]),
        (lambda v: v[:, None, ::-2], lambda a: a[:, None, ::-2]),
        (lambda v: v[1:, idx], lambda a: a[1:, idx]),
        (lambda v: v[:, Variable(idx)], lambda a: a[:, idx]),
        (lambda v: v[mask], lambda a: a[mask]),
        (lambda v: v[Variable(mask)], lambda a: a[mask]),
        (lambda v: v[[0, 2, 0], [1, 1, 3]], lambda a: a[[0, 2, 0], [1, 1, 3]]),
    ]
    for f, ref in cases:
        y = f(Variable(x))
        assert isinstance(y, Variable)
        numpy.testing.assert_array_equal(y.data, ref(x))
        gradcheck(f, (x,), 7)


def test_getitem_out_of_bounds_raises_index_error():
    with pytest.raises(IndexError, match="GetItem"):
        Variable(numpy.ones((2, 3)))[:, 3]


# ---- concat, stack, split_axis, separate ------------------------------------------------------------------
@st.composite
def concat_args(draw):
    base = list(draw(shapes(min_dims=1)))
    nd = len(base)
    axis = draw(st.integers(-nd, nd - 1))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        shape = list(base)
        shape[axis] = draw(st.integers(1, 3))
        out.append(tuple(shape))
    return out, axis


@SETTINGS
@given(args=concat_args(), seed=seeds)
def test_concat(args, seed):
    in_shapes, axis = args
    rng = numpy.random.default_rng(seed)
    xs = [normal(rng, s) for s in in_shapes]

    def f(*xs):
        return F.concat(xs, axis=axis)

    expected = numpy.concatenate(xs, axis=axis)
    y = f(*[Variable(x) for x in xs])
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, xs, seed)
    if len(xs) > 1:  # only some of the inputs require grad
        no_grads = [i % 2 == 0 for i in range(len(xs))]
        gradcheck(f, xs, seed, no_grads=no_grads)


def test_concat_default_axis_and_gradient_values():
    a, b = numpy.ones((2, 1)), numpy.zeros((2, 3))
    va, vb = Variable(a), Variable(b)
    y = F.concat([va, vb])  # Chainer's default: axis 1
    numpy.testing.assert_array_equal(y.data, numpy.concatenate([a, b], axis=1))
    gy = numpy.arange(8.0).reshape(2, 4)
    y.backward(gy)
    numpy.testing.assert_array_equal(va.grad, gy[:, :1])
    numpy.testing.assert_array_equal(vb.grad, gy[:, 1:])


def test_concat_errors():
    with pytest.raises(ValueError, match="Concat") as info:
        F.concat([Variable(numpy.ones((2, 3))), Variable(numpy.ones((3, 3)))], axis=1)
    assert "(2, 3)" in str(info.value) and "(3, 3)" in str(info.value)
    with pytest.raises(ValueError, match="concat"):
        F.concat([])
    with pytest.raises(ValueError, match="stack"):
        F.stack([])


@st.composite
def stack_args(draw):
    shape = draw(shapes())
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return shape, axis, draw(st.integers(1, 4))


@SETTINGS
@given(args=stack_args(), seed=seeds)
def test_stack(args, seed):
    shape, axis, count = args
    rng = numpy.random.default_rng(seed)
    xs = [normal(rng, shape) for _ in range(count)]

    def f(*xs):
        return F.stack(xs, axis=axis)

    expected = numpy.stack(xs, axis=axis)
    y = f(*[Variable(x) for x in xs])
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, xs, seed)


@st.composite
def split_args(draw):
    """A shape, an axis, and either a number of equal sections or sorted split indices (empty pieces allowed)."""
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    axis = draw(st.integers(-nd, nd - 1))
    n = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    else:
        sections = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    n_pieces = sections if isinstance(sections, int) else len(sections) + 1
    used = draw(st.lists(st.integers(0, n_pieces - 1), min_size=1, unique=True))
    return shape, axis, sections, sorted(used)


@SETTINGS
@given(args=split_args(), seed=seeds)
def test_split_axis(args, seed):
    shape, axis, sections, used = args
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        return F.split_axis(x, sections, axis)

    expected = numpy.split(x, sections, axis=axis)
    ys = f(Variable(x))
    assert isinstance(ys, tuple) and len(ys) == len(expected)
    for y, e in zip(ys, expected, strict=True):
        assert y.shape == e.shape
        numpy.testing.assert_array_equal(y.data, e)
    gradcheck(f, (x,), seed)

    def some(x):  # gradients when only some outputs are used
        pieces = f(x)
        return tuple(pieces[i] for i in used)

    gradcheck(some, (x,), seed)


def test_split_axis_only_some_outputs_used():
    x = numpy.arange(12.0).reshape(2, 6)
    v = Variable(x)
    a, b, c = F.split_axis(v, [1, 4], axis=1)
    assert (a.shape, b.shape, c.shape) == ((2, 1), (2, 3), (2, 2))
    (b * 2.0).sum().backward()
    numpy.testing.assert_array_equal(v.grad, [[0, 2, 2, 2, 0, 0], [0, 2, 2, 2, 0, 0]])
    v = Variable(x)
    _, _, c = F.split_axis(v, 3, axis=-1)
    c.backward(numpy.ones((2, 2)))
    numpy.testing.assert_array_equal(v.grad, [[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1]])


def test_split_axis_into_unequal_sections_raises():
    with pytest.raises(ValueError, match="split_axis"):
        F.split_axis(Variable(numpy.ones((2, 5))), 2, axis=1)


@SETTINGS
@given(shape=shapes(min_dims=1), data=st.data(), seed=seeds)
def test_separate(shape, data, seed):
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    used = data.draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1, unique=True), label="used")
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        return F.separate(x, axis)

    ys = f(Variable(x))
    assert len(ys) == shape[axis]
    for i, y in enumerate(ys):
        expected = numpy.take(x, i, axis=axis)
        assert y.shape == expected.shape
        numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (x,), seed)

    def some(x):
        pieces = f(x)
        return tuple(pieces[i] for i in used)

    gradcheck(some, (x,), seed)


def test_separate_inverts_stack():
    rng = numpy.random.default_rng(8)
    xs = [normal(rng, (2, 3)) for _ in range(4)]
    for axis in (0, 1, -1):
        parts = F.separate(F.stack(xs, axis=axis), axis=axis)
        for p, x in zip(parts, xs, strict=True):
            numpy.testing.assert_array_equal(p.data, x)
    v = Variable(numpy.arange(6.0).reshape(3, 2))
    F.separate(v, axis=0)[1].backward(numpy.array([5.0, 7.0]))
    numpy.testing.assert_array_equal(v.grad, [[0, 0], [5, 7], [0, 0]])


# ---- where and pad ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cond_as_variable", [False, True])
@SETTINGS
@given(args=broadcastable(3), seed=seeds)
def test_where(cond_as_variable, args, seed):
    _, (sc, sa, sb) = args
    rng = numpy.random.default_rng(seed)
    cond = rng.random(sc) < 0.5
    a, b = normal(rng, sa), normal(rng, sb)

    def f(c, a, b):
        return F.where(c, a, b)

    expected = numpy.where(cond, a, b)
    c = Variable(cond) if cond_as_variable else cond
    y = f(c, Variable(a), Variable(b))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (cond, a, b), seed)


def test_where_gradient_values():
    cond = numpy.array([[True, False, True], [False, False, True]])
    a, b = Variable(numpy.ones((2, 3))), Variable(numpy.zeros((3,)))
    gy = numpy.arange(1.0, 7.0).reshape(2, 3)
    F.where(cond, a, b).backward(gy)
    numpy.testing.assert_array_equal(a.grad, [[1, 0, 3], [0, 0, 6]])
    numpy.testing.assert_array_equal(b.grad, [4, 2 + 5, 0])
    assert not Variable(cond).requires_grad


@st.composite
def pad_args(draw):
    shape = draw(shapes(min_dims=1))  # numpy.pad does not take 0-d arrays
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return shape, widths


@pytest.mark.parametrize("form", ["pairs", "int"])
@SETTINGS
@given(args=pad_args(), value=st.floats(-3, 3), seed=seeds)
def test_pad(form, args, value, seed):
    shape, widths = args
    arg = widths
    if form == "int":
        arg = widths[0][0]
        widths = ((arg, arg),) * len(shape)
    x = normal(numpy.random.default_rng(seed), shape)

    def f(x):
        return F.pad(x, arg, value)

    expected = numpy.pad(x, widths, mode="constant", constant_values=value)
    y = f(Variable(x))
    assert y.shape == expected.shape
    numpy.testing.assert_array_equal(y.data, expected)
    gradcheck(f, (x,), seed)


def test_pad_gradient_values_and_errors():
    x = numpy.arange(6.0).reshape(2, 3)
    gy = numpy.arange(20.0).reshape(4, 5)
    numpy.testing.assert_array_equal(grad_of(lambda v: F.pad(v, ((1, 1), (0, 2)), -1.0), x, gy), gy[1:3, 0:3])
    numpy.testing.assert_array_equal(F.pad(x, 1, 9.0).data, numpy.pad(x, 1, constant_values=9.0))
    with pytest.raises(ValueError, match="pad"):
        F.pad(Variable(x), ((1, 1),))


# ---- float32 in, float32 out --------------------------------------------------------------------------------
_mask = numpy.array([[True, False, True, True], [False, True, False, True], [True, True, False, False]])
FLOAT32_CASES = {
    "reshape": (lambda x: F.reshape(x, (4, -1)), [(3, 4)]),
    "transpose": (lambda x: F.transpose(x, (1, 0)), [(3, 4)]),
    "T": (lambda x: x.T, [(3, 4)]),
    "broadcast_to": (lambda x: F.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    "sum_to": (lambda x: F.sum_to(x, (1, 4)), [(2, 3, 4)]),
    "expand_dims": (lambda x: F.expand_dims(x, -1), [(3, 4)]),
    "squeeze": (lambda x: F.squeeze(x), [(3, 1, 4, 1)]),
    "getitem basic": (lambda x: x[1:, ::-1], [(3, 4)]),
    "getitem int array": (lambda x: x[:, [0, 0, 3]], [(3, 4)]),
    "getitem mask": (lambda x: x[_mask], [(3, 4)]),
    "concat": (lambda a, b: F.concat([a, b], axis=0), [(3, 4), (2, 4)]),
    "stack": (lambda a, b: F.stack([a, b], axis=1), [(3, 4), (3, 4)]),
    "split_axis": (lambda x: F.split_axis(x, [1, 3], axis=1), [(3, 4)]),
    "split_axis one used": (lambda x: F.split_axis(x, 2, axis=1)[1], [(3, 4)]),
    "separate": (lambda x: F.separate(x, axis=1), [(3, 4)]),
    "where": (lambda a, b: F.where(_mask, a, b), [(3, 4), (4,)]),
    "pad": (lambda x: F.pad(x, ((1, 0), (2, 1)), 0.5), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32(name):
    fn, in_shapes = FLOAT32_CASES[name]
    rng = numpy.random.default_rng(9)
    xs = [normal(rng, s) for s in in_shapes]
    expected = as_tuple(fn(*[Variable(x) for x in xs]))
    got = as_tuple(fn(*[Variable(x.astype(numpy.float32)) for x in xs]))
    for e, g in zip(expected, got, strict=True):
        numpy.testing.assert_allclose(g.data, e.data, rtol=1e-6, atol=1e-6)
    assert_float32(fn, xs)
