"""The MGU layer: seqkit's author kit (gradients, save/load, determinism, GPU parity, the RNN contract), the
layer against a plain NumPy transcription of its equations, and the layer inside seqkit's seq2seq model."""

import dataclasses
import inspect
from pathlib import Path

import numpy
import pytest
import seqkit
import seqkit.functions as F
from seqkit.models import Seq2Seq, Seq2SeqOptions
from seqkit.testing import RNNLayerTests

from seqkit_example import MGU, MGUOptions

SHAPES = [(3, 3), (1, 3), (5, 3), (3, 3)]  # unsorted, with a tie and a length-1 sequence


class TestMGU(RNNLayerTests):
    name = "mgu"
    kwargs = {"in_size": 3, "hidden_size": 4}
    shapes = SHAPES


class TestStackedBidirectionalMGU(RNNLayerTests):
    name = "mgu"
    kwargs = {"in_size": 3, "hidden_size": 2, "num_layers": 2, "bidirectional": True}
    shapes = SHAPES


def reference(layer: MGU, xs: list, h0: numpy.ndarray) -> tuple[list, numpy.ndarray]:
    """The equations in NumPy, one sequence, layer and direction at a time."""

    def sigmoid(a):
        return 1 / (1 + numpy.exp(-a))

    H, D = layer.hidden_size, layer.directions
    finals = numpy.zeros_like(h0)
    for layer_index in range(layer.num_layers):
        outs = []
        for j, x in enumerate(xs):
            per_direction = []
            for d in range(D):
                w = layer.weights(layer_index, d)
                W, b = w.W_ih.data.reshape(D, 2, H, -1)[d], w.b.data.reshape(D, 2, H)[d]
                U_f, U_n = w.U_f.data, w.U_n.data
                k = layer_index * D + d
                h, y = h0[k, j], numpy.zeros((len(x), H))
                for t in reversed(range(len(x))) if d else range(len(x)):
                    f = sigmoid(W[0] @ x[t] + U_f @ h + b[0])
                    n = numpy.tanh(W[1] @ x[t] + U_n @ (f * h) + b[1])
                    h = y[t] = (1 - f) * h + f * n
                finals[k, j] = h
                per_direction.append(y)
            outs.append(numpy.concatenate(per_direction, axis=1))
        xs = outs
    return xs, finals


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_the_equations(num_layers, bidirectional):
    layer = MGU(3, 4, num_layers, bidirectional=bidirectional, dtype="float64")
    rng = numpy.random.default_rng(0)
    xs = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    h0 = rng.standard_normal((num_layers * layer.directions, 3, 4))
    ys, final = layer(xs, state=h0)
    want_ys, want_final = reference(layer, xs, h0)
    for y, want in zip(ys, want_ys):
        numpy.testing.assert_allclose(y.data, want, rtol=1e-12)
    numpy.testing.assert_allclose(final.data, want_final, rtol=1e-12)


def test_options_are_constructor_arguments():
    accepted = inspect.signature(MGU).parameters
    assert all(field.name in accepted for field in dataclasses.fields(MGUOptions))


def test_bad_input_is_a_one_line_value_error():
    layer = MGU(3, 4)
    with pytest.raises(ValueError, match="MGU: expected 3 input features, got 5"):
        layer([numpy.zeros((2, 5), "float32")])
    with pytest.raises(ValueError, match=r"initial state must be \(1, 1, 4\)"):
        layer([numpy.zeros((2, 3), "float32")], state=numpy.zeros((1, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"lengths \[3, 0\] must be 2 values in \[1, 2\]"):
        layer(numpy.zeros((2, 2, 3), "float32"), lengths=[3, 0])
    with pytest.raises(ValueError, match="bidirectional layer cannot run one step"):
        MGU(3, 4, bidirectional=True).step(numpy.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="sizes must be positive"):
        MGU(0, 4)


def test_found_by_name_and_alias(seqkit_plugin_manager):
    layers = seqkit_plugin_manager.registry("layer")
    assert layers.get("mgu") is MGU and layers.get("minimal_gated_unit") is MGU
    entry = layers.entry("mgu")
    assert entry.plugin == "example" and entry.options is MGUOptions


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_seq2seq_model_uses_it_by_name(bidirectional, seqkit_plugin_manager):
    """What a recipe does: name the layer in the model options; the model finds it in the plugin manager's
    layer registry."""
    seqkit.random.seed(0)
    options = Seq2SeqOptions(
        embed_size=6, hidden_size=6, encoder="mgu", decoder="mgu", bidirectional=bidirectional, dropout=0.0
    )
    model = Seq2Seq(12, 12, options, layers=seqkit_plugin_manager.registry("layer"))
    assert isinstance(model.encoder, MGU) and isinstance(model.decoder, MGU)
    rng = numpy.random.default_rng(0)
    src = [rng.integers(4, 12, size=n) for n in (3, 5, 1)]
    tgt = [rng.integers(4, 12, size=n) for n in (2, 4, 3)]
    with seqkit.using_config("train", False):
        loss, n_tokens = model.loss(src, tgt)
        state = model.initial_state(model.encode(src))  # the teacher-forced loss equals step-by-step decoding
        prev, total = numpy.full(3, model.bos_id), 0.0
        targets = [[*t, model.eos_id] for t in tgt]
        for t in range(max(map(len, targets))):
            logp, state = model.step(state, prev)
            total -= sum(logp.data[b, y[t]] for b, y in enumerate(targets) if t < len(y))
            prev = numpy.array([y[min(t, len(y) - 1)] for y in targets])
    assert loss.item() == pytest.approx(total / n_tokens, rel=1e-5)
    loss, _ = model.loss(src, tgt)
    loss.backward()
    assert all(p.grad is not None for p in model.encoder.params())


def test_the_plugin_guide_shows_this_layer_whole():
    """docs/plugins.md shows the MGU class as the minimal complete RecurrentLayer (and its tests run that copy);
    it must stay this plugin's source, word for word."""
    guide = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"
    if not guide.is_file():
        pytest.skip("outside seqkit's checkout")
    assert inspect.getsource(MGU) in guide.read_text(encoding="utf-8")


# ---- the kit catches what a layer author gets wrong ------------------------------------------------------------
class DetachedGate(MGU):
    """Computes the gate from the state's values: no gradient reaches U_f through it."""

    def cell(self, gx, weights, state):
        (h,) = state
        g_f, g_n = F.split_axis(gx, 2, axis=1)
        f = F.sigmoid(g_f + F.linear(seqkit.Variable(h.data), weights.U_f))
        n = F.tanh(g_n + F.linear(f * h, weights.U_n))
        return (h + f * (n - h),)


class ForwardOnlyRecurrence(MGU):
    """A fused recurrence that walks the reverse direction forward too."""

    def recurrence(self, gx, weights, init, batch_sizes, reverse=False):
        return super().recurrence(gx, weights, init, batch_sizes, False)


class NoisyCell(MGU):
    """Draws fresh noise at every call, in training and evaluation alike: not deterministic."""

    def cell(self, gx, weights, state):
        (h,) = super().cell(gx, weights, state)
        return (h + numpy.random.default_rng().standard_normal(h.shape).astype(h.dtype) * 1e-3,)


class LostWeight(MGU):
    """Keeps U_n as a plain array, not a parameter: it is neither trained nor saved."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frozen = {}

    def cell(self, gx, weights, state):
        key = id(weights)
        if key not in self.frozen:
            self.frozen[key] = numpy.random.default_rng().standard_normal(weights.U_n.shape).astype(weights.U_n.dtype)
        (h,) = state
        g_f, g_n = F.split_axis(gx, 2, axis=1)
        f = F.sigmoid(g_f + F.linear(h, weights.U_f))
        n = F.tanh(g_n + F.linear(f * h, self.frozen[key]))
        return (h + f * (n - h),)


@pytest.mark.parametrize(
    ("cls", "check", "problem"),
    [
        (DetachedGate, "check_gradients", "gradient of the inputs disagrees with central differences"),
        (ForwardOnlyRecurrence, "check_rnn_contract", r"the layer vs rnn_reference \(its cell, step by step\)"),
        (NoisyCell, "check_deterministic", "two seeded runs give different gradients"),
        (LostWeight, "check_save_load", "outputs after a save/load round trip: differ by up to"),
    ],
)
def test_the_layer_kit_catches_a_planted_bug(cls, check, problem, tmp_path):
    """Each copy has one bug a layer author could make; the kit's check fails on it with a one-line message, and
    passes on the real MGU."""
    from seqkit.registry import Registry
    from seqkit.testing import LayerCase

    kwargs = {"in_size": 3, "hidden_size": 4, "bidirectional": True}
    for layer, buggy in ((cls, True), (MGU, False)):
        registry = Registry("layer")
        registry.add("mgu", layer)
        case = LayerCase("mgu", SHAPES, kwargs, registry)
        arguments = [tmp_path] if check == "check_save_load" else []
        if buggy:
            with pytest.raises(AssertionError, match=f"^layer 'mgu': {problem}"):
                getattr(case, check)(*arguments)
        else:
            getattr(case, check)(*arguments)
