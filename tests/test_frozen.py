"""``frozen``: the weight layouts decoding derives while weights cannot change give the same results as the
weights as they are, are derived once, and only for the arrays declared frozen."""

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
from seqkit import Parameter, no_grad
from seqkit.functions import frozen as frozen_module
from seqkit.functions.frozen import frozen, stacked_transposed, transposed
from seqkit.layers.rnn import GRU, LSTM


def _cache():
    return frozen_module._local.state[1]


def test_layouts_are_derived_once_for_frozen_arrays_only():
    rng = np.random.default_rng(0)
    W, V = Parameter(rng.standard_normal((37, 21))), Parameter(rng.standard_normal((37, 5)))
    other = rng.standard_normal((37, 21))
    assert not transposed(W.data).flags.c_contiguous  # outside a block: the view
    assert stacked_transposed(W.data, V.data) is None
    with frozen([W, V]):
        T = transposed(W.data)
        assert T.flags.c_contiguous and np.array_equal(T, W.data.T)
        assert transposed(W.data) is T  # derived once
        assert np.array_equal(stacked_transposed(W.data, V.data), np.concatenate([W.data, V.data], axis=1).T)
        assert not transposed(other).flags.c_contiguous  # an array nobody froze (an activation) is never kept
        assert stacked_transposed(W.data, other) is None
        assert len(_cache()) == 2
    assert getattr(frozen_module._local, "state", None) is None


def test_an_inner_block_shares_what_the_outer_derives_and_drops_only_its_own():
    rng = np.random.default_rng(1)
    W, U = Parameter(rng.standard_normal((8, 4))), Parameter(rng.standard_normal((6, 4)))
    with frozen([W]):
        with frozen([W, U]):  # W again: nothing new; U: new
            TW, TU = transposed(W.data), transposed(U.data)
            assert TU.flags.c_contiguous
        assert transposed(W.data) is TW  # kept: the outer block froze W
        assert len(_cache()) == 1  # U's layout dropped with the block that froze it
        U.data[...] = 0.0  # U may change again: it is not frozen here
        assert not transposed(U.data).flags.c_contiguous


def test_linear_and_recurrences_give_the_same_results_frozen():
    seqkit.random.seed(0)
    rng = np.random.default_rng(2)
    lin = seqkit.layers.Linear(6, 5, dtype="float64")
    x = rng.standard_normal((7, 6))
    for cls in (LSTM, GRU):
        layer = cls(6, 4, 2, bidirectional=True, dtype="float64")
        xs = [rng.standard_normal((n, 6)) for n in (5, 3, 1)]
        plain = layer(xs)[0]
        with no_grad(), frozen(layer.params()):
            fast = layer(xs)[0]
            assert len(_cache()) == 2 * 3  # per layer: W.T of the input projections and of each direction's W_hh
        for a, b in zip(plain, fast):
            np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)
    plain = lin(x)
    with frozen(lin.params()):
        y = lin(x)  # recording: the product uses the derived layout, the gradient the weight as it is
        np.testing.assert_allclose(y.data, plain.data, rtol=1e-12)
        F.sum(y * y).backward()
    g = lin.W.grad.copy()
    lin.zero_grads()
    F.sum(plain * plain).backward()
    np.testing.assert_allclose(g, lin.W.grad, rtol=1e-12)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_state", [False, True])
def test_a_frozen_lstm_step_multiplies_x_and_h_at_once_and_matches_the_plain_step(
    layers, dtype, with_state, monkeypatch
):
    seqkit.random.seed(0)
    rng = np.random.default_rng(3)
    layer = LSTM(5, 4, layers, dtype=dtype)
    x = rng.standard_normal((3, 5)).astype(dtype)
    state = tuple(rng.standard_normal((layers, 3, 4)).astype(dtype) for _ in range(2)) if with_state else None
    h, (hN, cN) = layer.step(x, state)
    calls = []
    monkeypatch.setattr(F, "lstm_recurrence", lambda *a, **k: calls.append(1))  # the plain path would call it
    with no_grad(), frozen(layer.params()):
        h2, (hN2, cN2) = layer.step(seqkit.Variable(x), state)
    assert calls == []
    tol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in ((h, h2), (hN, hN2), (cN, cN2)):
        assert b.dtype == a.dtype
        np.testing.assert_allclose(a.data, b.data, rtol=tol, atol=tol)


def test_a_frozen_lstm_step_refuses_what_the_plain_step_refuses():
    layer = LSTM(5, 4, dtype="float64")
    x = np.ones((3, 5))
    for bad_x, state in ((x.astype(np.float32), None), (x, tuple(np.ones((1, 3, 4), np.float32) for _ in range(2)))):
        with pytest.raises(TypeError) as plain:
            layer.step(bad_x, state)
        with no_grad(), frozen(layer.params()), pytest.raises(TypeError) as fast:
            layer.step(bad_x, state)
        assert str(fast.value) == str(plain.value)


def test_frozen_takes_parameters_and_blocks_exiting_out_of_order_drop_everything():
    W = Parameter(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"frozen\(\) takes Parameters"), frozen([W.data]):
        pass
    outer, inner = frozen([W]), frozen([W])
    outer.__enter__()
    inner.__enter__()
    assert transposed(W.data).flags.c_contiguous
    outer.__exit__(None, None, None)  # before the inner block: nothing derived may outlive it
    assert not transposed(W.data).flags.c_contiguous
    inner.__exit__(None, None, None)
    assert getattr(frozen_module._local, "state", None) is None
