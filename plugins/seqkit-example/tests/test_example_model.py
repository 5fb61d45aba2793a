"""The rnn_encdec model: seqkit's model kit (with seqkit's LSTM and with the plugin's MGU), the teacher-forced loss
against step-by-step decoding, the model a recipe builds, and planted bugs that the kit or that comparison catch."""

import numpy
import pytest
import seqkit
from seqkit.errors import UserError
from seqkit.recipes import load_recipe
from seqkit.registry import Registry
from seqkit.runs import build_model
from seqkit.testing.models import ModelCase, ModelTests

from seqkit_example import MGU
from seqkit_example.model import RNNEncDec, RNNEncDecOptions

SMALL = {"embed_size": 6, "hidden_size": 5, "maxout_size": 4}


class TestRNNEncDecLSTM(ModelTests):
    name = "rnn_encdec"
    options = {**SMALL, "encoder": "lstm", "decoder": "lstm"}


class TestRNNEncDecMGU(ModelTests):
    name = "rnn_encdec"
    options = {**SMALL, "encoder": "mgu", "decoder": "mgu", "encoder_layers": 2, "decoder_layers": 2}


def assert_loss_matches_steps(model) -> None:
    """The teacher-forced loss equals the mean negative log-probability of the same targets decoded step by step
    (``AssertionError`` otherwise)."""
    rng = numpy.random.default_rng(0)
    src = [rng.integers(4, 12, size=n) for n in (3, 5, 1)]
    tgt = [rng.integers(4, 12, size=n) for n in (2, 4, 3)]
    with seqkit.using_config("train", False):
        loss, n_tokens = model.loss(src, tgt)
        state = model.initial_state(model.encode(src))
        prev, total = numpy.full(3, model.bos_id), 0.0
        targets = [[*t, model.eos_id] for t in tgt]
        for t in range(max(map(len, targets))):
            logp, state = model.step(state, prev)
            total -= sum(logp.data[b, y[t]] for b, y in enumerate(targets) if t < len(y))
            prev = numpy.array([y[min(t, len(y) - 1)] for y in targets])
    assert n_tokens == sum(map(len, targets))
    assert loss.item() == pytest.approx(total / n_tokens, rel=1e-5)


def build(cls, layer: str, decoder_layers: int, pm) -> RNNEncDec:
    seqkit.random.seed(0)
    options = RNNEncDecOptions(**SMALL, encoder=layer, decoder=layer, decoder_layers=decoder_layers, dropout=0.3)
    return cls(12, 12, options, layers=pm.registry("layer"))


@pytest.mark.parametrize("layer", ["lstm", "gru", "mgu"])
@pytest.mark.parametrize("decoder_layers", [1, 2])
def test_loss_equals_step_by_step_decoding(layer, decoder_layers, seqkit_plugin_manager):
    assert_loss_matches_steps(build(RNNEncDec, layer, decoder_layers, seqkit_plugin_manager))


RECIPE = """
schema = 2
[model]
name = "rnn_encdec"
embed_size = 8
hidden_size = 10
encoder = "{encoder}"
encoder_layers = 2
decoder = "mgu"
maxout_size = 3
dropout = 0.0
"""


def test_a_recipe_builds_it(tmp_path, seqkit_plugin_manager):
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE.format(encoder="minimal_gated_unit"), encoding="utf-8")
    recipe = load_recipe(path, registries=seqkit_plugin_manager.registry)
    model = build_model(recipe, None, seqkit_plugin_manager)
    assert isinstance(model, RNNEncDec) and isinstance(model.encoder, MGU) and isinstance(model.decoder, MGU)
    assert model.options == RNNEncDecOptions(8, 10, "minimal_gated_unit", 2, "mgu", 1, 3, 0.0)
    assert model.encoder.num_layers == 2 and model.readout.W.shape == (6, 10 + 8 + 10)
    entry = seqkit_plugin_manager.registry("model").entry("rnn_encdec")
    assert entry.plugin == "example" and entry.obj is RNNEncDec and entry.options is RNNEncDecOptions


def test_a_layer_of_the_wrong_kind_is_a_one_line_error(tmp_path, seqkit_plugin_manager):
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE.format(encoder="general_attention"), encoding="utf-8")
    recipe = load_recipe(path, registries=seqkit_plugin_manager.registry)
    with pytest.raises(UserError) as raised:
        build_model(recipe, None, seqkit_plugin_manager)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: model.encoder: layer 'general_attention' (")
    assert message.endswith("does not extend seqkit.layers.RNNLayer")


# ---- what the checks catch ---------------------------------------------------------------------------------------
class ContextFreeStep(RNNEncDec):
    """Decodes with zeros in place of c at every step: training sees the source, search does not."""

    def step(self, state, prev_tokens):
        c = state.rows["c"]
        blind = state.after_step(c=self.xp.zeros(c.shape, dtype=c.dtype))
        logp, after = super().step(blind, prev_tokens)
        return logp, after.after_step(c=c)


class UntrainedBridge(RNNEncDec):
    """Starts the decoder from zeros rather than tanh(V c), leaving V in the model: it never gets a gradient."""

    def initial_state(self, c):
        zeros = self.xp.zeros((self.options.decoder_layers, *c.shape), dtype=c.dtype)
        return super().initial_state(c).after_step(rnn=(zeros, zeros) if self.decoder.has_cell else zeros)


def test_the_loss_against_steps_catches_a_step_without_c(seqkit_plugin_manager):
    with pytest.raises(AssertionError):
        assert_loss_matches_steps(build(ContextFreeStep, "mgu", 1, seqkit_plugin_manager))
    assert_loss_matches_steps(build(RNNEncDec, "mgu", 1, seqkit_plugin_manager))


class _Manager:
    """A plugin manager whose model registry holds ``cls`` as rnn_encdec; layers are the real manager's."""

    def __init__(self, cls, pm) -> None:
        self.models, self.pm = Registry("model"), pm
        self.models.add("rnn_encdec", cls, options=RNNEncDecOptions)

    def registry(self, kind):
        return self.models if kind == "model" else self.pm.registry(kind)


def test_the_kit_catches_a_parameter_without_gradient(seqkit_plugin_manager):
    options = {**SMALL, "encoder": "mgu", "decoder": "lstm"}
    bad = ModelCase("rnn_encdec", options, _Manager(UntrainedBridge, seqkit_plugin_manager))
    with pytest.raises(AssertionError, match=r"^model 'rnn_encdec': parameters \['init\.W', 'init\.b'\] got no "):
        bad.check_training()
    ModelCase("rnn_encdec", options, _Manager(RNNEncDec, seqkit_plugin_manager)).check_training()
