"""``Layer.for_decoding()``: a copy of a model whose weights are laid out for the products a decoder runs gives
the same results as the model, shares what it does not re-lay, and searches use it."""

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
from seqkit import no_grad
from seqkit.decoding import Ensemble, beam_search, for_search, greedy_search
from seqkit.layers import GRU, LSTM, GRUCell, LayerList, Linear, LSTMCell, Sequential
from seqkit.layers.attention import AdditiveAttention, GeneralAttention, MultiHeadAttention
from seqkit.models import Seq2Seq, Seq2SeqOptions


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(getattr(a, "data", a), getattr(b, "data", b), rtol=tol, atol=tol)


def _flat(r) -> list:
    return [v for item in r for v in _flat(item)] if isinstance(r, (tuple, list)) else [r]


def test_the_copy_relays_transposed_weights_shares_the_rest_and_leaves_the_model_alone():
    seqkit.random.seed(0)
    model = Seq2Seq(30, 40, Seq2SeqOptions(embed_size=8, hidden_size=8, tie_embeddings=True))
    before = {n: p.data.copy() for n, p in model.named_params()}
    copy = model.for_decoding()
    assert copy.for_decoding() is copy and copy is not model
    copied = dict(copy.named_params())
    assert sorted(copied) == sorted([n for n, _ in model.named_params()] + ["out.W"])  # tied: two layouts now
    for name, p in model.named_params():
        q = copied[name]
        np.testing.assert_array_equal(p.data, q.data)
        if p.ndim == 2 and not name.endswith("embed.W"):
            assert q is not p and q.data.T.flags.c_contiguous and not q.requires_grad, name
        else:
            assert q is p, name  # biases and embeddings (read by rows) are shared
    assert copy.tgt_embed.W is model.tgt_embed.W and copy.out.W.data.T.flags.c_contiguous  # rows / transposed
    for n, p in model.named_params():
        assert p.data.flags.c_contiguous and p.requires_grad and p.data is not None
        np.testing.assert_array_equal(p.data, before[n])
    assert model.decoder._joint is None and len(copy.decoder._joint) == 2


def test_layers_give_the_same_results_as_their_decoding_copies():
    seqkit.random.seed(0)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((n, 6)) for n in (5, 3, 1)]
    x, memory = rng.standard_normal((4, 6)), rng.standard_normal((4, 7, 6))
    shared = Linear(6, 6, dtype="float64")
    cases = [
        (Linear(6, 5, dtype="float64"), (x,)),
        (LSTMCell(6, 4, dtype="float64"), (x,)),
        (GRUCell(6, 4, dtype="float64"), (x,)),
        (AdditiveAttention(6, 6, dtype="float64"), (x, memory)),
        (GeneralAttention(6, 6, dtype="float64"), (x, memory)),
        (MultiHeadAttention(6, 2, dtype="float64"), (x, memory)),
        (Sequential(shared, F.tanh, shared), (x,)),  # one layer twice: one copy of it
        (LayerList([Linear(6, 6, dtype="float64")]), None),
    ]
    for cls in (LSTM, GRU):
        for bidirectional in (False, True):
            cases.append((cls(6, 4, 2, bidirectional=bidirectional, dtype="float64"), (xs,)))
    for layer, args in cases:
        copy = layer.for_decoding()
        if isinstance(layer, LayerList):
            assert list(copy) == [copy._registry["0"]] and copy[0] is not layer[0]
            continue
        if isinstance(layer, Sequential):
            assert copy[0] is copy[2] and copy[0] is not shared
        with no_grad():
            plain, fast = layer(*args), copy(*args)
        for a, b in zip(_flat(plain), _flat(fast), strict=True):
            _close(a, b)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_state", [False, True])
def test_a_decoding_lstm_step_multiplies_x_and_h_at_once_and_matches_the_plain_step(
    layers, dtype, with_state, monkeypatch
):
    seqkit.random.seed(0)
    rng = np.random.default_rng(3)
    layer = LSTM(5, 4, layers, dtype=dtype)
    copy = layer.for_decoding()
    x = rng.standard_normal((3, 5)).astype(dtype)
    state = tuple(rng.standard_normal((layers, 3, 4)).astype(dtype) for _ in range(2)) if with_state else None
    h, (hN, cN) = layer.step(x, state)
    calls = []
    monkeypatch.setattr(F, "lstm_recurrence", lambda *a, **k: calls.append(1))  # the plain path would call it
    with no_grad():
        h2, (hN2, cN2) = copy.step(seqkit.Variable(x), state)
    assert calls == []
    tol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in ((h, h2), (hN, hN2), (cN, cN2)):
        assert b.dtype == a.dtype
        _close(a, b, tol)


def test_a_decoding_lstm_step_refuses_what_the_plain_step_refuses():
    layer = LSTM(5, 4, dtype="float64")
    copy = layer.for_decoding()
    x = np.ones((3, 5))
    for bad_x, state in ((x.astype(np.float32), None), (x, tuple(np.ones((1, 3, 4), np.float32) for _ in range(2)))):
        with pytest.raises(TypeError) as plain:
            layer.step(bad_x, state)
        with no_grad(), pytest.raises(TypeError) as fast:
            copy.step(bad_x, state)
        assert str(fast.value) == str(plain.value)
    with pytest.raises(ValueError, match=r"expected x of shape \(B, 5\)"), no_grad():
        copy.step(np.ones((3, 6)))


def test_the_copy_takes_no_gradient_into_its_relaid_weights():
    lin = Linear(3, 2, dtype="float64")
    copy = lin.for_decoding()
    y = copy(np.ones((4, 3)))  # recording: the bias is shared and still learns, the copied weight does not
    F.sum(y * y).backward()
    assert copy.W.grad is None and lin.b.grad is not None


def test_searches_find_the_same_hypotheses_with_the_decoding_copy():
    seqkit.random.seed(0)
    model = Seq2Seq(30, 40, Seq2SeqOptions(embed_size=8, hidden_size=8, input_feeding=True))
    rng = np.random.default_rng(0)
    src = [rng.integers(4, 30, size=n) for n in (4, 9, 6)]
    copy = model.for_decoding()
    for search in (greedy_search, lambda m, s: [h[0] for h in beam_search(m, s, beam=3)]):
        a, b = search(model, src), search(copy, src)
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-5)
    assert for_search(model, src[:1], 1, 1.0, 2) is model  # too few decoder rows to win back the copy
    assert for_search(model, src, 5, 2.0, 10).decoder._joint is not None
    ensemble = Ensemble([model, model]).for_decoding()
    assert all(m.decoder._joint is not None for m in ensemble.models)
