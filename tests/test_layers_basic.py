"""Initialisers (seqkit.initializers) and the basic layers: Linear, Embedding, Dropout, LayerNorm, Sequential."""

from __future__ import annotations

import math

import numpy
import pytest

import seqkit
import seqkit.functions as F
import seqkit.random
from seqkit import Parameter, Variable, initializers
from seqkit.core.gradient_check import check_backward
from seqkit.layers import Layer, load, save
from seqkit.layers.basic import Dropout, Embedding, LayerNorm, Linear, Sequential


def with_params(layer: Layer, names: tuple[str, ...]):
    """``f(x, *params)`` that calls ``layer(x)`` with its parameters ``names`` replaced by the given Variables
    (for ``check_backward``, which differentiates with respect to the Variables it passes in)."""

    def f(x, *params):
        saved = [getattr(layer, n) for n in names]
        for n, p in zip(names, params):
            object.__setattr__(layer, n, p)  # bypasses registration: the registry keeps the real Parameter
        try:
            return layer(x)
        finally:
            for n, p in zip(names, saved):
                object.__setattr__(layer, n, p)

    return f


@pytest.fixture(autouse=True)
def seeded():
    seqkit.random.seed(0)  # the statistical checks below are then deterministic


@pytest.fixture
def float64():
    with seqkit.using_config("dtype", "float64"):
        yield


# =========================================================================================================
# initialisers
# =========================================================================================================
def test_constant_zeros_ones_and_create_from_number_or_array():
    assert (initializers.create(initializers.constant(2.5), (2, 3)) == 2.5).all()
    assert (initializers.create(initializers.zeros, 4) == 0).all()
    assert (initializers.create(initializers.ones, (3,)) == 1).all()
    assert (initializers.create(-1.5, (2, 2)) == -1.5).all()
    value = numpy.arange(6.0).reshape(2, 3)
    made = initializers.create(value, (2, 3))
    assert made.dtype == numpy.float32 and numpy.array_equal(made, value) and made is not value
    with pytest.raises(ValueError, match=r"shape \(3, 2\), expected \(2, 3\)"):
        initializers.create(value.T, (2, 3))


def test_create_dtype_defaults_to_config_and_rejects_integers():
    assert initializers.create(initializers.zeros, (2,)).dtype == numpy.float32
    with seqkit.using_config("dtype", "float64"):
        assert initializers.create(initializers.zeros, (2,)).dtype == numpy.float64
    assert initializers.create(initializers.normal(1.0), (5,), "float16").dtype == numpy.float16
    with pytest.raises(TypeError, match="floating-point dtype, got int32"):
        initializers.create(initializers.zeros, (2,), "int32")


def test_uniform_range_and_moments():
    a = initializers.create(initializers.uniform(0.3), (200_000,), "float64")
    assert a.min() >= -0.3 and a.max() < 0.3
    assert a.min() < -0.29 and a.max() > 0.29
    assert abs(a.mean()) < 0.005
    assert a.std() == pytest.approx(0.3 / math.sqrt(3), rel=0.01)


def test_normal_std_and_mean():
    a = initializers.create(initializers.normal(0.5, mean=1.0), (200_000,), "float64")
    assert a.mean() == pytest.approx(1.0, abs=0.005)
    assert a.std() == pytest.approx(0.5, rel=0.01)
    b = initializers.create(initializers.normal(2.0), (100_000,), "float32")
    assert b.dtype == numpy.float32 and b.std() == pytest.approx(2.0, rel=0.02)


def test_glorot_scales_use_fans_like_pytorch():
    assert initializers.fans((300, 500)) == (500, 300)
    assert initializers.fans((8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        initializers.fans((5,))
    W = initializers.create(initializers.glorot_uniform, (300, 500), "float64")
    limit = math.sqrt(6 / 800)
    assert numpy.abs(W).max() <= limit and numpy.abs(W).max() > 0.99 * limit
    assert W.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)
    W = initializers.create(initializers.glorot_normal, (300, 500), "float64")
    assert W.std() == pytest.approx(math.sqrt(2 / 800), rel=0.02)
    assert initializers.xavier_uniform is initializers.glorot_uniform
    assert initializers.xavier_normal is initializers.glorot_normal
    W = numpy.empty((300, 500))
    initializers.glorot_uniform(W, gain=2.0)
    assert numpy.abs(W).max() > 0.99 * 2 * limit and numpy.abs(W).max() <= 2 * limit


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (4, 2, 3)])
def test_orthogonal_square_tall_wide(shape):
    W = initializers.create(initializers.orthogonal(gain=1.5), shape, "float64")
    M = W.reshape(shape[0], -1) / 1.5
    small = min(M.shape)
    gram = M.T @ M if M.shape[0] >= M.shape[1] else M @ M.T
    numpy.testing.assert_allclose(gram, numpy.eye(small), atol=1e-12)


def test_orthogonal_blocks_makes_each_gate_block_orthogonal():
    H, k = 5, 4
    W = initializers.create(initializers.orthogonal(blocks=k), (k * H, H), "float32")
    for g in range(k):
        block = W[g * H : (g + 1) * H].astype(numpy.float64)
        numpy.testing.assert_allclose(block.T @ block, numpy.eye(H), atol=1e-5)
    # without blocks, the tall (4H, H) matrix has orthonormal columns but its (H, H) blocks are not orthogonal
    W = initializers.create(initializers.orthogonal(), (k * H, H), "float64")
    numpy.testing.assert_allclose(W.T @ W, numpy.eye(H), atol=1e-12)
    assert not numpy.allclose(W[:H].T @ W[:H], numpy.eye(H), atol=1e-3)
    with pytest.raises(ValueError, match="cannot be split into 3 equal blocks"):
        initializers.create(initializers.orthogonal(blocks=3), (10, 5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        initializers.create(initializers.orthogonal(), (5,))
    with pytest.raises(ValueError, match="blocks must be >= 1"):
        initializers.orthogonal(blocks=0)


def test_orthogonal_signs_are_fixed_so_blocks_are_not_biased():
    # Each (1, 1) block is Q of a 1x1 QR: +1 always without the sign correction, +-1 evenly with it.
    seqkit.random.seed(0)
    W = initializers.create(initializers.orthogonal(blocks=400), (400, 1), "float64")
    assert set(numpy.unique(W)) == {-1.0, 1.0}
    assert abs(W.mean()) < 0.2


@pytest.mark.parametrize(
    "init",
    [initializers.uniform(1.0), initializers.normal(1.0), initializers.glorot_uniform, initializers.orthogonal()],
    ids=["uniform", "normal", "glorot", "orthogonal"],
)
def test_random_initialisers_reproducible_after_seed(init):
    seqkit.random.seed(7)
    a = initializers.create(init, (6, 4))
    b = initializers.create(init, (6, 4))
    seqkit.random.seed(7)
    assert numpy.array_equal(initializers.create(init, (6, 4)), a)
    assert not numpy.array_equal(a, b)


# =========================================================================================================
# Linear
# =========================================================================================================
def test_linear_matches_numpy_on_any_leading_shape():
    layer = Linear(3, 4)
    assert layer.W.shape == (4, 3) and layer.b.shape == (4,) and layer.W.dtype == numpy.float32
    assert (layer.b.data == 0).all() and numpy.abs(layer.W.data).max() <= math.sqrt(6 / 7)
    layer.b.data[...] = numpy.arange(4)
    x = numpy.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    y = layer(x)
    assert y.shape == (2, 5, 4)
    numpy.testing.assert_allclose(y.data, x @ layer.W.data.T + layer.b.data, rtol=1e-6)
    assert [n for n, _ in layer.named_params()] == ["W", "b"]


def test_linear_without_bias_and_with_initial_values():
    layer = Linear(2, 3, bias=False, initialW=numpy.ones((3, 2)))
    assert layer.b is None and [n for n, _ in layer.named_params()] == ["W"]
    numpy.testing.assert_array_equal(layer(numpy.ones((1, 2), "float32")).data, [[2, 2, 2]])
    layer = Linear(2, 3, initialW=initializers.zeros, initial_bias=0.5, dtype="float64")
    assert layer.W.dtype == layer.b.dtype == numpy.float64 and (layer.b.data == 0.5).all()


def test_linear_gradients(float64):
    layer = Linear(3, 4, initial_bias=initializers.normal(1.0))
    assert layer.W.dtype == numpy.float64
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3))
    check_backward(with_params(layer, ("W", "b")), (x, layer.W.data, layer.b.data))
    gy = rng.standard_normal((2, 5, 4))
    layer(Variable(x)).backward(gy)
    numpy.testing.assert_allclose(layer.W.grad, gy.reshape(-1, 4).T @ x.reshape(-1, 3))
    numpy.testing.assert_allclose(layer.b.grad, gy.sum(axis=(0, 1)))


def test_linear_lazy_in_size():
    layer = Linear(None, 4)
    assert layer.W is None and [n for n, _ in layer.named_params()] == ["b"]
    y = layer(numpy.ones((2, 6), "float32"))
    assert y.shape == (2, 4) and layer.in_size == 6 and layer.W.shape == (4, 6)
    assert [n for n, _ in layer.named_params()] == ["W", "b"]
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\).*size 5"):
        layer(numpy.ones((2, 5), "float32"))


def test_linear_wrong_input_size_names_layer_and_sizes():
    layer = Linear(3, 4)
    with pytest.raises(ValueError, match=r"^Linear\(3, 4.*expected an input of shape \(\.\.\., 3\).*size 5"):
        layer(numpy.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match="0-d input"):
        layer(numpy.float32(1.0).reshape(()))


@pytest.mark.parametrize("sizes", [(0, 4), (3, 0), (-1, 4), (3, 2.5), (None, 0)])
def test_linear_bad_sizes(sizes):
    with pytest.raises(ValueError, match=r"Linear: .*must be a positive integer"):
        Linear(*sizes)


# =========================================================================================================
# Embedding
# =========================================================================================================
def test_embedding_lookup_and_init():
    seqkit.random.seed(0)
    emb = Embedding(1000, 64)
    assert emb.W.shape == (1000, 64) and emb.W.dtype == numpy.float32
    assert emb.W.data.std() == pytest.approx(1.0, rel=0.02)
    ids = numpy.array([[1, 5, 999], [0, 0, 3]])
    y = emb(ids)
    assert y.shape == (2, 3, 64)
    numpy.testing.assert_array_equal(y.data, emb.W.data[ids])
    numpy.testing.assert_array_equal(emb([2, 3]).data, emb.W.data[[2, 3]])


def test_embedding_padding_row_zero_and_no_gradient(float64):
    with pytest.raises(ValueError, match=r"padding_idx must be in \[0, 6\)"):
        Embedding(6, 3, padding_idx=-1)
    emb = Embedding(6, 3, padding_idx=5)
    assert emb.padding_idx == 5 and (emb.W.data[5] == 0).all() and (emb.W.data[:5] != 0).all()
    emb.W.data[5] = 7.0  # e.g. after loading other weights: the output is zero all the same
    ids = numpy.array([[5, 1], [1, 5], [2, 0]])
    y = emb(ids)
    assert (y.data[0, 0] == 0).all() and (y.data[1, 1] == 0).all()
    numpy.testing.assert_array_equal(y.data[0, 1], emb.W.data[1])
    gy = numpy.random.default_rng(0).standard_normal(y.shape)
    y.backward(gy)
    assert (emb.W.grad[5] == 0).all()
    numpy.testing.assert_allclose(emb.W.grad[1], gy[0, 1] + gy[1, 0])
    assert (emb.W.grad[3:5] == 0).all()
    check_backward(lambda W: with_params(emb, ("W",))(ids, W), emb.W.data)


def test_embedding_bad_input():
    emb = Embedding(4, 2)
    with pytest.raises(TypeError, match=r"Embedding\(4, 2.*ids must be integers, got dtype float32"):
        emb(numpy.array([1.0, 2.0], "float32"))
    with pytest.raises(TypeError, match="ids must be integers"):
        emb(Variable(numpy.array([1.0])))
    for args in [(0, 2), (4, 0), (-3, 2)]:
        with pytest.raises(ValueError, match=r"Embedding: .*must be a positive integer"):
            Embedding(*args)
    with pytest.raises(ValueError, match="padding_idx must be in"):
        Embedding(4, 2, padding_idx=4)


# =========================================================================================================
# Dropout and LayerNorm
# =========================================================================================================
def test_dropout_layer():
    layer = Dropout(0.5)
    assert list(layer.params()) == []
    x = numpy.ones((100, 100), "float32")
    with seqkit.using_config("train", False):
        numpy.testing.assert_array_equal(layer(x).data, x)
    seqkit.random.seed(3)
    y = layer(x).data
    assert set(numpy.unique(y)) == {0.0, 2.0}
    assert (y == 0).mean() == pytest.approx(0.5, abs=0.03)
    assert Dropout(0.0)(x).data is x
    for ratio in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"Dropout: ratio must be in \[0, 1\)"):
            Dropout(ratio)


def test_layer_norm_forward_and_gradients(float64):
    layer = LayerNorm(5)
    assert (layer.gamma.data == 1).all() and (layer.beta.data == 0).all() and layer.gamma.dtype == numpy.float64
    rng = numpy.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5)) * 3 + 1
    y = layer(x).data
    numpy.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    numpy.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-5)
    layer.gamma.data[...] = rng.standard_normal(5)
    layer.beta.data[...] = rng.standard_normal(5)
    check_backward(with_params(layer, ("gamma", "beta")), (x, layer.gamma.data, layer.beta.data))


def test_layer_norm_bad_sizes():
    with pytest.raises(ValueError, match=r"^LayerNorm\(5.*\(\.\.\., 5\).*size 4"):
        LayerNorm(5)(numpy.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="LayerNorm: size must be a positive integer"):
        LayerNorm(0)
    assert LayerNorm(3, dtype="float16").beta.dtype == numpy.float16


# =========================================================================================================
# Sequential
# =========================================================================================================
def test_sequential_composition_and_registration():
    seq = Sequential(Linear(3, 4), F.tanh, Linear(4, 2))
    assert len(seq) == 3 and seq[1] is F.tanh and list(seq)[2] is seq[2]
    assert list(seq.state_dict()) == ["0.W", "0.b", "2.W", "2.b"]
    assert list(seq.children()) == [seq[0], seq[2]]
    x = numpy.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    expected = numpy.tanh(x @ seq[0].W.data.T + seq[0].b.data) @ seq[2].W.data.T + seq[2].b.data
    numpy.testing.assert_allclose(seq(x).data, expected, rtol=1e-5, atol=1e-6)
    seq.append(LayerNorm(2))
    assert list(seq.state_dict())[-2:] == ["3.gamma", "3.beta"]
    assert "(1): tanh" in repr(seq) and "(3): LayerNorm(2" in repr(seq)
    with pytest.raises(TypeError, match="Layers or callables, got int"):
        Sequential(Linear(1, 1), 3)


def test_sequential_gradients(float64):
    seq = Sequential(Linear(3, 4), F.tanh, Dropout(0.3), LayerNorm(4), Linear(4, 2))
    x = numpy.random.default_rng(4).standard_normal((2, 3))
    with seqkit.using_config("train", False):
        check_backward(seq, x)
        seq(Variable(x)).sum().backward()
    assert [n for n, p in seq.named_params() if p.grad is None or p.grad.shape != p.shape] == []
    last = with_params(seq[4], ("W", "b"))
    check_backward(lambda h, W, b: last(h, W, b), (seq[3](F.tanh(seq[0](x))).data, seq[4].W.data, seq[4].b.data))


def test_sequential_save_load_round_trip(tmp_path):
    def make():
        return Sequential(Linear(3, 4), F.relu, LayerNorm(4), Linear(4, 2))

    seqkit.random.seed(0)
    a = make()
    a[2].gamma.data[...] = numpy.arange(4)
    seqkit.random.seed(1)
    b = make()
    x = numpy.random.default_rng(5).standard_normal((3, 3)).astype("float32")
    assert not numpy.allclose(a(x).data, b(x).data)
    save(a, tmp_path / "model.npz")
    load(b, tmp_path / "model.npz")
    numpy.testing.assert_array_equal(a(x).data, b(x).data)
    for (na, pa), (nb, pb) in zip(a.named_params(), b.named_params()):
        assert na == nb and numpy.array_equal(pa.data, pb.data) and isinstance(pb, Parameter)
