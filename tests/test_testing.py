"""seqkit.testing, the author kit: it passes seqkit's own layers and catches each kind of broken layer with a
one-line message; its pytest plugin (fixtures, base classes, header) works in a separate pytest run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import ClassVar

import numpy
import pytest

import seqkit.functions as F
from seqkit import Parameter, initializers
from seqkit.backend import get_array_module
from seqkit.core import FunctionNode
from seqkit.layers import GRU, Layer, RNNLayer
from seqkit.plugins import Registry
from seqkit.plugins.manager import KINDS
from seqkit.testing import LayerCase, LayerTests, RNNLayerTests, check_layer


# ---- seqkit's own layers pass -----------------------------------------------------------------------------
class TestLSTMWithTheKit(RNNLayerTests):
    name = "lstm"
    kwargs: ClassVar = {"in_size": 3, "hidden_size": 4}
    shapes: ClassVar = [(3, 3), (1, 3), (5, 3)]


class TestBidirectionalGRUWithTheKit(RNNLayerTests):
    name = "gru"
    kwargs: ClassVar = {"in_size": 2, "hidden_size": 3, "num_layers": 2, "bidirectional": True}
    shapes: ClassVar = [(2, 2), (4, 2), (1, 2), (4, 2)]


class TestLinearWithTheKit(LayerTests):
    name = "linear"
    kwargs: ClassVar = {"in_size": 3, "out_size": 2}
    shapes = (4, 3)


def test_the_fixture_runs_every_check(seqkit_layer_check):
    seqkit_layer_check("gru", [(2, 3), (1, 3)], kwargs={"in_size": 3, "hidden_size": 2})


def test_check_layer_without_pytest_fixtures():
    check_layer("lstm", [(2, 2), (3, 2)], kwargs={"in_size": 2, "hidden_size": 2})


def test_an_unknown_name_suggests_the_closest(seqkit_plugin_manager):
    case = LayerCase("lstn", [(2, 2)], registry=seqkit_plugin_manager.registry("layer"))
    with pytest.raises(KeyError, match="did you mean 'lstm'"):
        case.check_gradients()


# ---- broken layers are caught --------------------------------------------------------------------------------
class ToyRNN(RNNLayer):
    """A correct tanh RNN (one layer, one direction), one sequence at a time; the subclasses below each break one
    thing."""

    def __init__(
        self, in_size: int, hidden_size: int, num_layers: int = 1, *, bidirectional=False, dropout=0.0, dtype=None
    ) -> None:
        super().__init__()
        if num_layers != 1 or bidirectional:
            raise ValueError("ToyRNN: one unidirectional layer only")
        self.in_size, self.out_size, self.directions = in_size, hidden_size, 1
        self.W = Parameter(initializers.create(initializers.uniform(0.5), (hidden_size, in_size), dtype))
        self.U = Parameter(initializers.create(initializers.uniform(0.5), (hidden_size, hidden_size), dtype))

    def cell(self, x, h):
        return F.tanh(F.linear(x, self.W) + F.linear(h, self.U))

    def step(self, x, state=None):
        h = get_array_module(x).zeros((len(x), self.out_size), self.W.dtype) if state is None else state[0]
        h = self.cell(x, h)
        return h, F.expand_dims(h, 0)

    def __call__(self, xs, state=None, lengths=None):
        if lengths is not None:
            ys, final = self([xs[i, :n] for i, n in enumerate(lengths)], state)
            return F.stack([F.pad(y, ((0, xs.shape[1] - len(y)), (0, 0))) for y in ys]), final
        if not xs or any(x.shape[1] != self.in_size for x in xs):
            raise ValueError("ToyRNN: bad input")
        ys, finals = [], []
        for j, x in enumerate(xs):
            h = get_array_module(x).zeros((1, self.out_size), self.W.dtype) if state is None else state[0, j : j + 1]
            outs = []
            for t in range(len(x)):
                h = self.cell(x[t : t + 1], h)
                outs.append(h)
            ys.append(F.concat(outs, axis=0))
            finals.append(h)
        return ys, F.expand_dims(F.concat(finals, axis=0), 0)


class BadTanh(FunctionNode):
    def forward(self, inputs):
        self.retain_outputs((0,))
        return (numpy.tanh(inputs[0]),)

    def backward(self, indexes, grad_outputs):
        return (grad_outputs[0],)  # forgets the factor 1 - y**2


class WrongGradient(ToyRNN):
    def cell(self, x, h):
        return BadTanh().apply((F.linear(x, self.W) + F.linear(h, self.U),))[0]


class IgnoresState(ToyRNN):
    def __call__(self, xs, state=None, lengths=None):
        return super().__call__(xs, None, lengths)


class BatchDependent(ToyRNN):
    def __call__(self, xs, state=None, lengths=None):
        ys, final = super().__call__(xs, state)
        return [y * float(len(xs)) for y in ys], final


class AlwaysFloat32(ToyRNN):
    def __init__(self, in_size: int, hidden_size: int) -> None:
        super().__init__(in_size, hidden_size, dtype="float32")


class UnseededInit(ToyRNN):
    def __init__(self, in_size: int, hidden_size: int) -> None:
        super().__init__(in_size, hidden_size)
        self.W.data[...] = numpy.random.default_rng().standard_normal(self.W.shape)


class UnusedParameter(ToyRNN):
    def __init__(self, *args, dtype=None, **kwargs) -> None:
        super().__init__(*args, dtype=dtype, **kwargs)
        self.spare = Parameter(initializers.create(0.0, (2,), dtype))


class HiddenBuffer(ToyRNN):
    """Keeps random numbers outside its parameters, so loading parameters does not restore it."""

    def __init__(self, in_size: int, hidden_size: int, *, dtype=None) -> None:
        super().__init__(in_size, hidden_size, dtype=dtype)
        self.offset = initializers.create(initializers.uniform(1.0), (hidden_size,), dtype)

    def __call__(self, xs, state=None, lengths=None):
        ys, final = super().__call__(xs, state)
        return [y + self.offset for y in ys], final


class OnlyOutputs(ToyRNN):
    def __call__(self, xs, state=None, lengths=None):
        return super().__call__(xs, state, lengths)[0]


class NoOutSize(ToyRNN):
    def __init__(self, *args, dtype=None, **kwargs) -> None:
        super().__init__(*args, dtype=dtype, **kwargs)
        self.out_size = None


class AcceptsEmpty(ToyRNN):
    def __call__(self, xs, state=None, lengths=None):
        if lengths is None and not xs:
            return [], None
        return super().__call__(xs, state, lengths)


class PaddedGarbage(ToyRNN):
    def __call__(self, xs, state=None, lengths=None):
        ys, final = super().__call__(xs, state, lengths)
        return (ys + 1.0 if lengths is not None else ys), final


class NoStep(ToyRNN):
    step = None


class StepForgets(ToyRNN):
    def step(self, x, state=None):
        return super().step(x, None)


class FusedDisagrees(GRU):
    """A RecurrentLayer whose fused recurrence drops the recurrent bias that its cell uses."""

    def __init__(self, in_size: int, hidden_size: int, num_layers: int = 1, **kwargs) -> None:
        super().__init__(in_size, hidden_size, num_layers, **kwargs)
        self.b_hh_l0.data[...] = 0.5

    def recurrence(self, gx, weights, init, batch_sizes, reverse=False):
        return F.gru_recurrence(gx, weights.W_hh, weights.b_hh * 0, init[0], batch_sizes, reverse)


class NotAnRNNLayer(Layer):
    """A ToyRNN wrapped in a plain Layer: it computes the right thing, but models do not take it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()
        self.rnn = ToyRNN(*args, **kwargs)
        self.out_size, self.directions = self.rnn.out_size, 1

    def __call__(self, xs, state=None, lengths=None):
        return self.rnn(xs, state, lengths)

    def step(self, x, state=None):
        return self.rnn.step(x, state)


class NotALayer:
    def __init__(self, in_size: int, hidden_size: int) -> None:
        pass


def factory_of_something_else(in_size: int, hidden_size: int):
    return NotALayer(in_size, hidden_size)


@pytest.fixture
def toys() -> Registry:
    registry = Registry("layer", KINDS["layer"][1])
    for cls in (
        ToyRNN,
        WrongGradient,
        IgnoresState,
        BatchDependent,
        AlwaysFloat32,
        UnseededInit,
        UnusedParameter,
        HiddenBuffer,
        OnlyOutputs,
        NoOutSize,
        AcceptsEmpty,
        PaddedGarbage,
        NoStep,
        StepForgets,
        FusedDisagrees,
        NotAnRNNLayer,
    ):
        registry.add(cls.__name__, cls)
    registry.add("factory", factory_of_something_else)
    return registry


def case(registry: Registry, name: str) -> LayerCase:
    return LayerCase(name, [(3, 2), (1, 2), (2, 2)], {"in_size": 2, "hidden_size": 3}, registry)


def test_the_toy_rnn_passes(toys, tmp_path):
    case(toys, "ToyRNN").check_all(tmp_path)


@pytest.mark.parametrize(
    ("name", "check", "message"),
    [
        ("WrongGradient", "check_gradients", "gradient of the inputs disagrees with central differences"),
        ("IgnoresState", "check_rnn_contract", r"the initial state is ignored \(same outputs with and without it\)"),
        ("BatchDependent", "check_rnn_contract", "sequence 0 run alone vs in the batch, outputs: differ by up to"),
        ("AlwaysFloat32", "check_gradients", "parameter 'W' is float32 but config.dtype is float64; create"),
        ("UnseededInit", "check_deterministic", "two seeded runs give different parameters"),
        ("UnusedParameter", "check_gradients", r"parameter 'spare' got no gradient \(is it used in the forward\?\)"),
        ("HiddenBuffer", "check_save_load", "outputs after a save/load round trip: differ by up to"),
        ("OnlyOutputs", "check_rnn_contract", r"layer\(xs\) must return \(ys, final_state\), got list"),
        ("NoOutSize", "check_rnn_contract", "needs an int attribute out_size > 0, got None"),
        ("AcceptsEmpty", "check_rnn_contract", "an empty list must raise ValueError, but the call succeeded"),
        ("NotAnRNNLayer", "check_rnn_contract", "models take as encoder or decoder only a seqkit.layers.RNNLayer"),
        ("factory", "check_gradients", "the factory returned a NotALayer, not a Layer"),
        ("AlwaysFloat32", "check_rnn_contract", r"recipes build RNN layers as factory\(in_size, hidden_size, num_l"),
        ("PaddedGarbage", "check_rnn_contract", "padded vs list input, sequence 0: differ by up to"),
        ("NoStep", "check_rnn_step", r"a decoder needs step\(x, state\) -> \(h, state\)"),
        ("FusedDisagrees", "check_rnn_contract", r"the layer vs rnn_reference \(its cell, step by step\), sequence 0"),
        ("StepForgets", "check_rnn_step", "step 1 of sequence 0 vs the whole sequence: differ by up to"),
    ],
)
def test_a_broken_layer_fails_its_check_in_one_line(toys, tmp_path, name, check, message):
    args = (tmp_path,) if check == "check_save_load" else ()
    with pytest.raises(AssertionError, match=message) as e:
        getattr(case(toys, name), check)(*args)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"layer {name!r}")


# ---- the pytest plugin in its own pytest run -----------------------------------------------------------------
def test_the_pytest_plugin_in_a_separate_run(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toys.py").write_text(
        textwrap.dedent("""
        from seqkit.layers import GRU
        from seqkit.plugins import hookimpl

        class IgnoresState(GRU):
            def __call__(self, xs, state=None, lengths=None):
                return super().__call__(xs, None, lengths)

        @hookimpl
        def seqkit_register_layers(registry):
            registry.add("toy_ignores_state", IgnoresState)
        """)
    )
    (tmp_path / "test_author.py").write_text(
        textwrap.dedent("""
        from seqkit.testing import RNNLayerTests

        class TestGood(RNNLayerTests):
            name = "gru"
            kwargs = {"in_size": 2, "hidden_size": 3}
            shapes = [(2, 2), (3, 2)]

        class TestBad(RNNLayerTests):
            name = "toy_ignores_state"
            kwargs = {"in_size": 2, "hidden_size": 3}
            shapes = [(2, 2), (3, 2)]

        def test_fixture(seqkit_layer_check):
            seqkit_layer_check("lstm", [(2, 3), (1, 3)], kwargs={"in_size": 3, "hidden_size": 2})
        """)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQKIT_", "PYTEST_"))}
    env.update(
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        COLUMNS="400",
        SEQKIT_PLUGINS_DIR=str(plugins),
        SEQKIT_LOAD_PLUGINS="toys",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "seqkit.testing.pytest_plugin", "-q", "-rfs", "test_author.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "3 failed, 10 passed, 2 skipped" in out, out
    bad = "AssertionError: layer 'toy_ignores_state': the initial state"
    assert f"FAILED test_author.py::TestBad::test_rnn_contract - {bad} is ignored" in out
    assert f"FAILED test_author.py::TestBad::test_gradients - {bad} got no gradient" in out
    assert "FAILED test_author.py::TestBad::test_rnn_step - AssertionError: layer 'toy_ignores_state': step" in out
    verbose = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "seqkit.testing.pytest_plugin", "--co", "test_author.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert "seqkit 0.1.0, plugins: toys\n" in verbose
