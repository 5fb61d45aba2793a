"""ALiBi, a position scheme a Transformer recipe names: its slopes and bias against the paper's formulas, the
layer kit, a recipe that builds a Transformer with it, and teacher forcing equal to cached step-by-step decoding
(the bias is right at every incremental step)."""

import numpy
import pytest
import seqkit.random
from seqkit.config import no_grad, using_config
from seqkit.errors import UserError
from seqkit.layers import PositionEncoding
from seqkit.models import Transformer, TransformerLM, TransformerLMOptions, TransformerOptions
from seqkit.plugins import get_plugin_manager
from seqkit.recipes import load_recipe
from seqkit.runs import build_model
from seqkit.testing import LayerTests
from seqkit.testing.models import ModelTests

from seqkit_example.positions import ALiBi, alibi_slopes

SMALL = {"d_model": 8, "heads": 4, "ffn_size": 12, "dropout": 0.0, "positions": "alibi"}


def test_slopes_are_the_papers_geometric_sequence():
    numpy.testing.assert_allclose(alibi_slopes(8), [2.0**-k for k in range(1, 9)], rtol=0, atol=0)
    numpy.testing.assert_allclose(alibi_slopes(4), [2.0**-k for k in (2, 4, 6, 8)], rtol=0, atol=0)
    numpy.testing.assert_allclose(alibi_slopes(1), [2.0**-8], rtol=0, atol=0)
    # not a power of two: the 4 slopes of 4 heads, then every other slope of 8 heads
    numpy.testing.assert_allclose(alibi_slopes(6), [2.0**-k for k in (2, 4, 6, 8, 1, 3)], rtol=0, atol=0)


def test_bias_is_minus_slope_times_distance():
    layer = ALiBi(3)
    bias = layer.attention_bias(numpy.arange(2, 5), numpy.arange(6))
    want = numpy.zeros((3, 3, 6))
    for h, m in enumerate(alibi_slopes(3)):
        for a, i in enumerate(range(2, 5)):
            for j in range(6):
                want[h, a, j] = -m * abs(i - j)
    assert bias.shape == (3, 3, 6)
    numpy.testing.assert_array_equal(bias, want)
    x = numpy.ones((2, 3, 8))
    assert layer.embed(x, 5) is x  # no change to the embeddings
    assert isinstance(layer, PositionEncoding) and isinstance(ALiBi.from_sizes(8, 3, 16), ALiBi)


class TestALiBiKit(LayerTests):
    name = "alibi"
    kwargs = {"heads": 2}
    shapes = (2, 3, 4)


class TestTransformerWithALiBi(ModelTests):
    name = "transformer"
    options = {**SMALL, "encoder_layers": 2, "decoder_layers": 2}


class TestTransformerLMWithALiBi(ModelTests):
    name = "transformer_lm"
    options = {**SMALL, "layers": 2}


def _model(cls, seed=0):
    pm = get_plugin_manager(strict=True)
    seqkit.random.seed(seed)
    with using_config("dtype", "float64"):
        if cls is Transformer:
            options = TransformerOptions(**SMALL, encoder_layers=2, decoder_layers=2)
            model = Transformer(14, 14, options, layers=pm.registry("layer"))
        else:
            model = TransformerLM(14, TransformerLMOptions(**SMALL, layers=2), layers=pm.registry("layer"))
    rng = numpy.random.default_rng(seed)
    for name, p in model.named_params():  # biases and norms away from 0 and 1 too
        if p.ndim == 1:
            p.data[...] = rng.standard_normal(p.shape) * 0.3 + (1.0 if "gamma" in name else 0.0)
    return model


def _sentences(n, seed, longest=6):
    rng = numpy.random.default_rng(seed)
    return [rng.integers(4, 14, size=int(k)) for k in rng.integers(1, longest + 1, size=n)]


def _teacher_forced_steps(model, src, tgt):
    """The mean negative log-probability of each target (plus EOS) from cached ``step`` calls."""
    state = model.initial_state(model.encode(src))
    longest = max(len(t) for t in tgt) + 1
    ins = numpy.full((len(tgt), longest), model.eos_id)
    outs = numpy.full((len(tgt), longest), -1)
    for b, t in enumerate(tgt):
        ins[b, : len(t) + 1] = [model.bos_id, *t]
        outs[b, : len(t) + 1] = [*t, model.eos_id]
    total, count = 0.0, 0
    for t in range(longest):
        logp, state = model.step(state, ins[:, t])
        real = outs[:, t] >= 0
        total -= logp.data[numpy.nonzero(real)[0], outs[real, t]].sum()
        count += int(real.sum())
    return total / count, count


@pytest.mark.parametrize("cls", [Transformer, TransformerLM])
def test_loss_equals_cached_step_by_step_decoding(cls):
    model = _model(cls)
    assert isinstance(model.tgt_positions if cls is Transformer else model.positions, ALiBi)
    src, tgt = _sentences(4, 1), _sentences(4, 2)
    with using_config("train", False), no_grad():
        loss, n = model.loss(src, tgt) if cls is Transformer else model.loss(tgt)
        stepped, m = _teacher_forced_steps(model, src, tgt)
    assert n == m
    assert float(loss.data) == pytest.approx(stepped, rel=1e-12)


@pytest.mark.parametrize("cls", [Transformer, TransformerLM])
def test_the_bias_is_what_tells_positions_apart(cls, monkeypatch):
    """Without its bias the model has no position information; with it, the loss is another."""
    model = _model(cls)
    src, tgt = _sentences(4, 1), _sentences(4, 2)
    with using_config("train", False), no_grad():
        biased = float((model.loss(src, tgt) if cls is Transformer else model.loss(tgt))[0].data)
        monkeypatch.setattr(ALiBi, "attention_bias", lambda self, q, k: None)
        plain = float((model.loss(src, tgt) if cls is Transformer else model.loss(tgt))[0].data)
    assert abs(biased - plain) > 1e-6


def test_a_recipe_names_it(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text('schema = 2\n[model]\nname = "transformer"\npositions = "alibi"\nd_model = 8\nheads = 4\n'
                    "encoder_layers = 1\ndecoder_layers = 1\nffn_size = 12\n")  # fmt: skip
    pm = get_plugin_manager(strict=True)
    recipe = load_recipe(path, registries=pm.registry)
    model = build_model(recipe, None, pm)
    assert isinstance(model, Transformer) and model.options.positions == "alibi"
    assert isinstance(model.src_positions, ALiBi) and model.src_positions.heads == 4
    assert not any("positions" in name for name, _ in model.named_params())  # no position embedding


def test_without_the_plugins_registry_the_name_is_unknown():
    with pytest.raises(UserError, match="alibi"):
        Transformer(14, 14, TransformerOptions(**SMALL))  # seqkit's own layers only
