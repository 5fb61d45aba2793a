"""LSTM/GRU: the fused whole-sequence path against the plain per-step reference, gradients, bad input."""

from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqkit
import seqkit.functions as F
from seqkit import Variable
from seqkit.core.gradient_check import check_backward, check_double_backward
from seqkit.functions import rnn as R
from seqkit.layers import load, save
from seqkit.layers.rnn import GRU, LSTM, GRUCell, LSTMCell, RecurrentLayer, RecurrentWeight
from seqkit.testing import rnn_reference

lengths_st = st.lists(st.integers(1, 6), min_size=1, max_size=5)


def _close(a, b, rtol=1e-6, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _packed_inputs(rng, lengths, gates, H=3):
    lengths = sorted(lengths, reverse=True)
    bs = R.batch_sizes_of(lengths)
    N, B = sum(lengths), len(lengths)
    W = rng.standard_normal((gates * H, H)) * 0.5
    return bs, rng.standard_normal((N, gates * H)), W, rng.standard_normal((B, H))


# ---- ops ----------------------------------------------------------------------------------------------
def test_batch_sizes_of_sorted_lengths():
    assert R.batch_sizes_of([4, 3, 3, 1]) == (4, 3, 3, 1)
    assert R.batch_sizes_of([2, 2]) == (2, 2)
    assert R.batch_sizes_of([1]) == (1,)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_lstm_step_matches_reference_with_shrinking_batch(B, shrink, seed):
    rng = np.random.default_rng(seed)
    b, H = max(1, B - shrink), 3
    c, x = rng.standard_normal((B, H)), rng.standard_normal((b, 4 * H))
    for fused, ref in zip(F.lstm(c, x), R.lstm_reference(Variable(c), Variable(x))):
        _close(fused.data, ref.data)
    gys = (rng.standard_normal((B, H)), rng.standard_normal((b, H)))
    check_backward(F.lstm, (c, x), gys)
    check_double_backward(F.lstm, (c, x), gys, (rng.standard_normal((B, H)), rng.standard_normal((b, 4 * H))))


@settings(max_examples=12, deadline=None)
@given(lengths_st, st.booleans(), st.integers(0, 2**31 - 1))
def test_lstm_recurrence_matches_reference_and_gradients(lengths, reverse, seed):
    rng = np.random.default_rng(seed)
    bs, gx, W, h0 = _packed_inputs(rng, lengths, 4)
    c0 = rng.standard_normal(h0.shape)
    fused = F.lstm_recurrence(gx, W, h0, c0, bs, reverse)
    ref = R.lstm_recurrence_reference(*map(Variable, (gx, W, h0, c0)), bs, reverse)
    for a, b in zip(fused, ref):
        _close(a.data, b.data)

    def f(*args):
        return F.lstm_recurrence(*args, bs, reverse)

    check_backward(f, (gx, W, h0, c0), eps=1e-4)  # central differences: error ~ eps**2
    gys = tuple(rng.standard_normal(y.shape) for y in fused)
    ggs = tuple(rng.standard_normal(a.shape) for a in (gx, W, h0, c0))
    check_double_backward(f, (gx, W, h0, c0), gys, ggs, eps=1e-4)


@settings(max_examples=10, deadline=None)
@given(lengths_st, st.integers(0, 2**31 - 1))
def test_bilstm_recurrence_equals_both_directions_and_has_exact_gradients(lengths, seed):
    """Both directions in one op = lstm_recurrence forward and reverse on the two halves of gx, concatenated."""
    rng = np.random.default_rng(seed)
    bs, gx_f, W_f, h0_f = _packed_inputs(rng, lengths, 4)
    _, gx_b, W_b, h0_b = _packed_inputs(rng, lengths, 4)
    c0_f, c0_b = rng.standard_normal(h0_f.shape), rng.standard_normal(h0_f.shape)
    gx = np.concatenate([gx_f, gx_b], axis=1)
    inputs = (gx, W_f, W_b, h0_f, c0_f, h0_b, c0_b)
    fused = F.bilstm_recurrence(*inputs, bs)
    hs_f, *finals_f = F.lstm_recurrence(gx_f, W_f, h0_f, c0_f, bs)
    hs_b, *finals_b = F.lstm_recurrence(gx_b, W_b, h0_b, c0_b, bs, reverse=True)
    for a, b in zip(fused, (np.concatenate([hs_f.data, hs_b.data], axis=1), *finals_f, *finals_b)):
        _close(a.data, getattr(b, "data", b), rtol=1e-12)

    def f(*args):
        return F.bilstm_recurrence(*args, bs)

    check_backward(f, inputs, eps=1e-4)
    gys = tuple(rng.standard_normal(y.shape) for y in fused)
    check_double_backward(f, inputs, gys, tuple(rng.standard_normal(a.shape) for a in inputs), eps=1e-4)


@settings(max_examples=12, deadline=None)
@given(lengths_st, st.booleans(), st.integers(0, 2**31 - 1))
def test_gru_recurrence_matches_reference_and_gradients(lengths, reverse, seed):
    rng = np.random.default_rng(seed)
    bs, gx, W, h0 = _packed_inputs(rng, lengths, 3)
    b = rng.standard_normal(W.shape[0])
    fused = F.gru_recurrence(gx, W, b, h0, bs, reverse)
    ref = R.gru_recurrence_reference(*map(Variable, (gx, W, b, h0)), bs, reverse)
    for a, r in zip(fused, ref):
        _close(a.data, r.data)

    def f(*args):
        return F.gru_recurrence(*args, bs, reverse)

    check_backward(f, (gx, W, b, h0), eps=1e-4)
    gys = tuple(rng.standard_normal(y.shape) for y in fused)
    ggs = tuple(rng.standard_normal(a.shape) for a in (gx, W, b, h0))
    check_double_backward(f, (gx, W, b, h0), gys, ggs, eps=1e-4)


def test_recurrence_keeps_float32():
    rng = np.random.default_rng(0)
    bs, gx, W, h0 = (v.astype(np.float32) if isinstance(v, np.ndarray) else v for v in _packed_inputs(rng, [3, 2], 4))
    gx, W = Variable(gx), Variable(W)
    hs, hN, cN = F.lstm_recurrence(gx, W, h0, h0, bs)
    assert hs.dtype == hN.dtype == cN.dtype == np.float32
    (hs.sum() + cN.sum()).backward()
    assert gx.grad.dtype == W.grad.dtype == np.float32


def test_gather_and_scatter_rows_are_each_others_gradient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3))
    idx = np.array([3, 0, 4])
    _close(F.gather_rows(x, idx).data, x[idx])
    y = F.scatter_rows(x[:3], idx, 6).data
    _close(y[idx], x[:3])
    assert np.all(y[[1, 2, 5]] == 0)
    check_backward(lambda v: F.gather_rows(v, idx), x)
    check_backward(lambda v: F.scatter_rows(v, idx, 6), x[:3])
    check_double_backward(lambda v: F.gather_rows(v, idx), x, rng.standard_normal((3, 3)), rng.standard_normal((5, 3)))


# ---- layers against the per-step reference --------------------------------------------------------------
def _all_grads(layer, xs, outputs, weights):
    """Gradients of sum(w * out) w.r.t. every parameter and input."""
    layer.zero_grads()
    for x in xs:
        x.zero_grad()
    loss = sum(F.sum(o * w) for o, w in zip(outputs, weights))
    loss.backward()
    grads = {name: p.grad.copy() for name, p in layer.named_params()}
    grads.update({f"x{i}": x.grad.copy() for i, x in enumerate(xs)})
    return grads


CASES = [
    (LSTM, [5, 2, 1, 5, 3], 1, False),
    (LSTM, [4, 1, 3], 2, True),
    (LSTM, [1], 2, True),  # a batch of one with a length-1 sequence
    (GRU, [5, 2, 1, 5, 3], 1, False),
    (GRU, [4, 1, 3], 2, True),
    (GRU, [3], 1, True),
]


@pytest.mark.parametrize(("cls", "lengths", "layers", "bidirectional"), CASES)
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_layer_matches_cell_loop_reference(cls, lengths, layers, bidirectional, with_state):
    seqkit.random.seed(0)
    rng = np.random.default_rng(1)
    layer = cls(3, 4, layers, bidirectional=bidirectional, dtype="float64")
    xs = [Variable(rng.standard_normal((n, 3))) for n in lengths]
    shape = (layers * layer.directions, len(lengths), 4)
    state = None
    if with_state:
        parts = tuple(Variable(rng.standard_normal(shape)) for _ in range(2 if cls is LSTM else 1))
        state = parts if cls is LSTM else parts[0]
    ys, final = layer(xs, state)
    ys_ref, final_ref = rnn_reference(layer, xs, state)
    finals = final if cls is LSTM else (final,)
    finals_ref = final_ref if cls is LSTM else (final_ref,)
    assert len(ys) == len(lengths)
    for y, r, n in zip(ys, ys_ref, lengths):
        assert y.shape == (n, 4 * layer.directions)
        _close(y.data, r.data)
    for a, b in zip(finals, finals_ref):
        assert a.shape == shape
        _close(a.data, b.data)
    weights = [rng.standard_normal(y.shape) for y in (*ys, *finals)]
    fused = _all_grads(layer, xs, [*ys, *finals], weights)
    ref = _all_grads(layer, xs, [*ys_ref, *finals_ref], weights)
    assert fused.keys() == ref.keys()
    for name in fused:
        _close(fused[name], ref[name], rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_padded_form_equals_list_form(cls):
    seqkit.random.seed(0)
    rng = np.random.default_rng(2)
    layer = cls(3, 4, 2, bidirectional=True, dtype="float64")
    lengths = [2, 5, 1]
    padded = rng.standard_normal((3, 5, 3))
    xs = [padded[i, :n] for i, n in enumerate(lengths)]
    ys, final = layer(xs)
    px = Variable(padded)
    yp, final_p = layer(px, lengths=lengths)
    assert yp.shape == (3, 5, 8)
    for i, n in enumerate(lengths):
        _close(yp.data[i, :n], ys[i].data)
        assert np.all(yp.data[i, n:] == 0)
    for a, b in zip(final if cls is LSTM else (final,), final_p if cls is LSTM else (final_p,)):
        _close(a.data, b.data)
    F.sum(yp * yp).backward()
    assert np.all(px.grad[0, 2:] == 0) and np.all(px.grad[2, 1:] == 0)
    assert np.abs(px.grad[1]).min() > 0


def test_dropout_between_layers_only_in_training():
    seqkit.random.seed(0)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((4, 3)) for _ in range(2)]
    layer = LSTM(3, 4, 2, dropout=0.5, dtype="float64")
    with seqkit.using_config("train", False):
        ys, _ = layer(xs)
        ref, _ = rnn_reference(layer, xs)
    _close(ys[0].data, ref[0].data)
    ys_train, _ = layer(xs)
    assert not np.allclose(ys_train[0].data, ref[0].data)


def test_cells_match_the_fused_layers_step():
    seqkit.random.seed(0)
    rng = np.random.default_rng(4)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    cell = LSTMCell(3, 4, dtype="float64")
    h1, c1 = cell(x, (h, c))
    c_ref, h_ref = R.lstm_reference(c, F.linear(x, cell.W_ih, cell.b) + F.linear(h, cell.W_hh))
    _close(h1.data, h_ref.data)
    _close(c1.data, c_ref.data)
    h0, c0 = cell(x)
    _close(h0.data, cell(x, (np.zeros((2, 4)), np.zeros((2, 4))))[0].data)
    assert c0.shape == (2, 4)
    gcell = GRUCell(3, 4, dtype="float64")
    g1 = gcell(x, h)
    g_ref = R.gru_step_reference(h, F.linear(x, gcell.W_ih, gcell.b), gcell.W_hh, gcell.b_hh)
    _close(g1.data, g_ref.data)
    check_backward(lambda v, s: gcell(v, s), (x, h))
    check_backward(lambda v, a, b: cell(v, (a, b)), (x, h, c))


def test_initialisation_forget_bias_and_orthogonal_recurrent_blocks():
    seqkit.random.seed(0)
    layer = LSTM(3, 4, bidirectional=True, dtype="float64")
    b = layer.b_l0.data.reshape(2, 4, 4)
    assert np.all(b[:, 1] == 1.0) and np.all(b[:, [0, 2, 3]] == 0.0)
    for block in layer.W_hh_l0.data.reshape(4, 4, 4):
        _close(block.T @ block, np.eye(4), atol=1e-12)
    names = [n for n, _ in layer.named_params()]
    assert names == ["W_ih_l0", "b_l0", "W_hh_l0", "W_hh_l0_reverse"]


def test_save_and_load_round_trip(tmp_path):
    seqkit.random.seed(0)
    a = GRU(3, 4, 2, bidirectional=True)
    save(a, tmp_path / "gru.npz")
    seqkit.random.seed(1)
    b = GRU(3, 4, 2, bidirectional=True)
    load(b, tmp_path / "gru.npz")
    xs = [np.ones((2, 3), np.float32)]
    _close(a(xs)[0][0].data, b(xs)[0][0].data)


# ---- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("xs", "kwargs", "message"),
    [
        ([np.ones((2, 3)), np.ones((2, 4))], {}, r"LSTM: every sequence must be \(T_i, D\).*\(2, 3\), \(2, 4\)"),
        ([np.ones((2, 3)), np.ones((0, 3))], {}, "LSTM: sequence 1 is empty"),
        ([], {}, "LSTM: expected a non-empty list"),
        ([np.ones((2, 5))], {}, "LSTM: expected 3 input features, got 5"),
        (np.ones((2, 4, 3)), {"lengths": [4, 5]}, r"LSTM: lengths \[4, 5\] must be 2 values in \[1, 4\]"),
        (np.ones((2, 4, 3)), {"lengths": [4]}, "must be 2 values"),
        ([np.ones((2, 3))], {"state": (np.ones((1, 2, 4)), np.ones((1, 2, 4)))}, r"initial state must be \(1, 1, 4\)"),
    ],
)
def test_bad_input_names_the_layer_and_shapes(xs, kwargs, message):
    layer = LSTM(3, 4, dtype="float64")
    with pytest.raises(ValueError, match=message):
        layer(xs, **kwargs)


def test_bad_sizes_at_construction():
    with pytest.raises(ValueError, match="sizes must be positive"):
        GRU(0, 4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        LSTM(3, 4, dropout=1.0)


# ---- pure NumPy references ------------------------------------------------------------------------------
def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_lstm(x, W_ih, b, W_hh, h, c, reverse):
    H = h.shape[0]
    out = np.zeros((len(x), H))
    for t in range(len(x))[::-1] if reverse else range(len(x)):
        a = W_ih @ x[t] + b + W_hh @ h
        i, f, o, g = _np_sigmoid(a[:H]), _np_sigmoid(a[H : 2 * H]), _np_sigmoid(a[2 * H : 3 * H]), np.tanh(a[3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t] = h
    return out, h, c


def _np_gru(x, W_ih, b, W_hh, b_hh, h, reverse):
    H = h.shape[0]
    out = np.zeros((len(x), H))
    for t in range(len(x))[::-1] if reverse else range(len(x)):
        gx, gh = W_ih @ x[t] + b, W_hh @ h + b_hh
        r, z = _np_sigmoid(gx[:H] + gh[:H]), _np_sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
        n = np.tanh(gx[2 * H :] + r * gh[2 * H :])
        h = (1 - z) * n + z * h
        out[t] = h
    return out, h


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_layers_match_a_pure_numpy_reference(cls):
    seqkit.random.seed(0)
    rng = np.random.default_rng(5)
    layer = cls(3, 4, 2, bidirectional=True, dtype="float64")
    xs = [rng.standard_normal((n, 3)) for n in (3, 1, 4)]
    ys, final = layer(xs)
    p = {n: v.data for n, v in layer.named_params()}
    G, H = cls.gates, 4
    inputs = xs
    finals = []
    for layer_index in range(2):
        outs = []
        for d, suffix in enumerate(["", "_reverse"]):
            rows = slice(d * G * H, (d + 1) * G * H)
            W_ih, b = p[f"W_ih_l{layer_index}"][rows], p[f"b_l{layer_index}"][rows]
            W_hh = p[f"W_hh_l{layer_index}{suffix}"]
            per_seq = []
            for x in inputs:
                if cls is LSTM:
                    o, h, c = _np_lstm(x, W_ih, b, W_hh, np.zeros(H), np.zeros(H), d == 1)
                    per_seq.append((o, h, c))
                else:
                    o, h = _np_gru(x, W_ih, b, W_hh, p[f"b_hh_l{layer_index}{suffix}"], np.zeros(H), d == 1)
                    per_seq.append((o, h))
            outs.append([s[0] for s in per_seq])
            finals.append(np.stack([s[1] for s in per_seq]))
        inputs = [np.concatenate(pair, axis=1) for pair in zip(*outs)]
    for y, ref in zip(ys, inputs):
        _close(y.data, ref, rtol=1e-10, atol=1e-12)
    h_final = final[0] if cls is LSTM else final
    _close(h_final.data, np.stack(finals), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_step_matches_the_whole_sequence_call(cls):
    seqkit.random.seed(0)
    rng = np.random.default_rng(6)
    layer = cls(3, 4, 2, dtype="float64")
    x = rng.standard_normal((2, 5, 3))
    ys, final = layer(x, lengths=[5, 5])
    state = None
    for t in range(5):
        h, state = layer.step(x[:, t], state)
        _close(h.data, ys.data[:, t])
    for a, b in zip(state if cls is LSTM else (state,), final if cls is LSTM else (final,)):
        _close(a.data, b.data)
    check_backward(lambda v: layer.step(v, None)[0], x[:, 0])
    with pytest.raises(ValueError, match="bidirectional layer cannot run one step"):
        cls(3, 4, bidirectional=True).step(x[:, 0].astype(np.float32))


# ---- the RecurrentLayer contract --------------------------------------------------------------------------
def test_the_base_names_the_parameters_from_the_weight_table():
    layer = GRU(3, 4, 2, bidirectional=True)
    assert [n for n, _ in layer.named_params()] == [
        "W_ih_l0", "b_l0", "W_hh_l0", "b_hh_l0", "W_hh_l0_reverse", "b_hh_l0_reverse",
        "W_ih_l1", "b_l1", "W_hh_l1", "b_hh_l1", "W_hh_l1_reverse", "b_hh_l1_reverse",
    ]  # fmt: skip
    w = layer.weights(1, 1)
    assert w._fields == ("W_ih", "b", "W_hh", "b_hh") and w.W_hh is layer.W_hh_l1_reverse and w.W_ih is layer.W_ih_l1
    assert layer.weight_names(0) == ("W_ih_l0", "b_l0", "W_hh_l0", "b_hh_l0")
    assert layer.W_hh_l0.shape == (12, 4) and layer.b_hh_l0.shape == (12,)
    assert set(layer.transposed_weights) == {"W_ih_l0", "W_hh_l0", "W_hh_l0_reverse", "W_ih_l1", "W_hh_l1",
                                             "W_hh_l1_reverse"}  # fmt: skip


def test_a_recurrent_layer_must_declare_its_cell_gates_and_weights():
    class NoCell(RecurrentLayer):
        gates = 1
        weight_table: ClassVar = {"U": RecurrentWeight.matrix()}

    class NoGates(RecurrentLayer):
        weight_table: ClassVar = {}

        def cell(self, gx, weights, state):
            return state

    with pytest.raises(TypeError, match="abstract"):
        NoCell(2, 3)
    with pytest.raises(TypeError, match=r"NoGates: a RecurrentLayer declares gates \(an int > 0\)"):
        NoGates(2, 3)
    with pytest.raises(TypeError, match=r"\['b'\] name the input projection"):
        type("Clash", (RecurrentLayer,), {"gates": 1, "weight_table": {"b": RecurrentWeight.bias()}})


def test_the_default_recurrence_is_the_cell_in_a_loop():
    """A GRU whose fused recurrence is replaced by the base's loop of its cell computes the same function."""

    class LoopGRU(GRU):
        recurrence = RecurrentLayer.recurrence

    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((n, 3)) for n in (4, 1, 3)]
    state = rng.standard_normal((4, 3, 5))
    seqkit.random.seed(0)
    fused = GRU(3, 5, 2, bidirectional=True, dtype="float64")
    seqkit.random.seed(0)
    loop = LoopGRU(3, 5, 2, bidirectional=True, dtype="float64")
    (ys, final), (ys_loop, final_loop) = fused(xs, state), loop(xs, state)
    for a, b in zip([*ys, final], [*ys_loop, final_loop]):
        _close(a.data, b.data, rtol=1e-10)
